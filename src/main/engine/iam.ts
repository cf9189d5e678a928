// The IAM suggestion path (Zhu et al., CVPR 2019): K Peak Response Maps + the backbone's three feature
// levels → iam.onnx (instance extent filling, one call for all K) → Instance Activation Maps at model
// input size → optional CRF refinement (src/common/crf) → threshold → one mask per peak.
//
// Hooking it in (`--method iam`), per image, after backbone.onnx and prm.onnx have run:
//   const iam = await openIam(bundleDir);                 // once; throws MODEL_UNAVAILABLE without iam.onnx
//   const out = await iamInstances(iam, {
//     prm, k, width: W, height: H,                        // prm.onnx output, K×H×W at model input size
//     features: { features_s4, features_s8, features },  // backbone.onnx outputs (ort.Tensor or {data, dims})
//     image: pre.rgb,                                     // model-input RGB, for the CRF (omit → no CRF)
//     peaks: [{ x, y }, …],                               // each peak in input pixels (keeps its component)
//   });
//   out[i].mask is a BinaryMask at model input size (map it to the original image like the PRM path does);
//   out[i].activation is the mean IAM inside it (multiply by the peak's class score for a ranking score).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { crfRefine, type CrfOptions } from '../../common/crf';
import { PeakLabelError } from '../../common/errors';
import { connectedComponents, componentMask, type BinaryMask } from '../../common/mask';

export const IAM_CONFIG_FILE = 'iam.json';
export const IAM_INPUTS = ['prm', 'features_s4', 'features_s8', 'features'] as const;
export const IAM_OUTPUTS = ['iam'] as const;

/** resources/models/iam.json: the graph, how its output becomes a mask, and where it came from. */
export interface IamConfig {
  graph: { file: string; inputs: string[]; outputs: string[] };
  /** IAM value (0..1) at which a pixel belongs to the instance. */
  threshold: number;
  /** CRF options (false: no CRF configured); per-call options override them. */
  crf: CrfOptions | false;
  /** Whether iamInstances refines with the CRF when the call does not say (default true when crf is set). */
  crfByDefault?: boolean;
  provenance?: unknown;
  training?: unknown;
  metrics?: unknown;
}

/** What iamInstances needs from an ORT session (an ort.InferenceSession satisfies it). */
export interface IamRunner {
  run(feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>>;
}

export interface IamModel {
  session: IamRunner;
  config: IamConfig;
}

type FeatureMap = ort.Tensor | { data: Float32Array; dims: readonly number[] };

export interface IamInput {
  /** K maps of H×W (prm.onnx's output, K×H×W), any non-negative scale. */
  prm: Float32Array;
  k: number;
  width: number;
  height: number;
  /** backbone.onnx outputs by name: [1,128,·,·], [1,256,·,·], [1,512,·,·]. */
  features: { features_s4: FeatureMap; features_s8: FeatureMap; features: FeatureMap };
  /** RGB at model input size (width × height); needed for the CRF. */
  image?: { width: number; height: number; data: Uint8Array };
  /** One per map, in input pixels: the instance is the IAM component holding its peak. */
  peaks?: { x: number; y: number }[];
}

export interface IamOptions {
  /** Overrides config.threshold. */
  threshold?: number;
  /** Omitted: config.crf when config.crfByDefault; true: config.crf (or the CRF defaults); false: none; object: these options. */
  crf?: boolean | CrfOptions;
}

export interface IamInstance {
  /** At model input size; may be empty when nothing passes the threshold. */
  mask: BinaryMask;
  /** Mean activation inside the mask, recalibrated so the threshold sits at 0.5 (0 for an empty mask). */
  activation: number;
}

/** Reads iam.json and opens iam.onnx of a bundle folder; MODEL_UNAVAILABLE when the bundle has no IAM. */
export async function openIam(dir: string, sessionOptions: ort.InferenceSession.SessionOptions = {}): Promise<IamModel> {
  const config = readIamConfig(dir);
  const file = join(dir, config.graph.file);
  if (!existsSync(file)) {
    throw new PeakLabelError('MODEL_UNAVAILABLE', `IAM is unavailable: ${file} is missing (use --method prm).`, { file });
  }
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(file, sessionOptions);
  } catch (err) {
    throw new PeakLabelError('MODEL_INVALID', `The IAM graph ${file} cannot be loaded: ${(err as Error).message}`, { file, cause: err });
  }
  const missing = IAM_INPUTS.filter((n) => !session.inputNames.includes(n));
  if (missing.length || !session.outputNames.includes('iam')) {
    throw new PeakLabelError(
      'MODEL_INVALID',
      `The IAM graph ${file} has inputs [${session.inputNames.join(', ')}] and outputs [${session.outputNames.join(', ')}]; expected inputs [${IAM_INPUTS.join(', ')}] and output iam.`,
      { file },
    );
  }
  return { session, config };
}

export function readIamConfig(dir: string): IamConfig {
  const file = join(dir, IAM_CONFIG_FILE);
  if (!existsSync(file)) {
    throw new PeakLabelError('MODEL_UNAVAILABLE', `IAM is unavailable: the model bundle has no ${file} (use --method prm).`, { file });
  }
  let json: Partial<IamConfig>;
  try {
    json = JSON.parse(readFileSync(file, 'utf8')) as Partial<IamConfig>;
  } catch (err) {
    throw new PeakLabelError('MODEL_INVALID', `${file} is not valid JSON (${(err as Error).message}).`, { file });
  }
  const bad = (what: string) => new PeakLabelError('MODEL_INVALID', `${file}: ${what}.`, { file });
  if (typeof json.graph?.file !== 'string') throw bad('graph.file must name the IAM graph');
  if (typeof json.threshold !== 'number' || !(json.threshold > 0 && json.threshold < 1)) throw bad('threshold must be a number in (0, 1)');
  if (json.crf !== false && (typeof json.crf !== 'object' || json.crf === null)) throw bad('crf must be false or an options object');
  if (json.crfByDefault !== undefined && typeof json.crfByDefault !== 'boolean') throw bad('crfByDefault must be true or false');
  return json as IamConfig;
}

/** One mask per PRM; see the header for how the inputs come from the backbone and PRM graphs. */
export async function iamInstances(model: IamModel, input: IamInput, opts: IamOptions = {}): Promise<IamInstance[]> {
  return iamMasks(model, await runIam(model, input), input, opts);
}

/** The graph call alone: K Instance Activation Maps (K×H×W, 0..1) at model input size. */
export async function runIam(model: IamModel, input: IamInput): Promise<Float32Array> {
  const { k, width: W, height: H } = input;
  if (k === 0) return new Float32Array(0);
  if (input.prm.length !== k * H * W) {
    throw new PeakLabelError('BAD_ARGUMENT', `iamInstances: ${input.prm.length} PRM values for K=${k} maps of ${W}×${H}.`);
  }
  const f = input.features;
  const out = await model.session.run({
    prm: new ort.Tensor('float32', input.prm, [k, 1, H, W]),
    features_s4: asTensor(f.features_s4),
    features_s8: asTensor(f.features_s8),
    features: asTensor(f.features),
  });
  const iam = out.iam;
  if (!iam || iam.dims.length !== 3 || iam.dims[0] !== k || iam.dims[1] !== H || iam.dims[2] !== W) {
    throw new PeakLabelError('MODEL_INVALID', `The IAM graph returned ${iam ? `[${iam.dims.join(',')}]` : 'no iam output'}; expected [${k},${H},${W}].`);
  }
  return iam.data as Float32Array;
}

/** Post-processing of runIam's maps: optional CRF, threshold, the peak's component. */
export function iamMasks(model: IamModel, maps: Float32Array, input: Omit<IamInput, 'prm' | 'features'>, opts: IamOptions = {}): IamInstance[] {
  const { k, width: W, height: H } = input;
  const threshold = opts.threshold ?? model.config.threshold;
  const crf = crfChoice(opts.crf, model.config.crf, model.config.crfByDefault ?? true);
  if (crf && !input.image) throw new PeakLabelError('BAD_ARGUMENT', 'iamInstances: the CRF needs the model-input image.');

  const result: IamInstance[] = [];
  for (let i = 0; i < k; i++) {
    let p = calibrate(maps.subarray(i * H * W, (i + 1) * H * W), threshold);
    if (crf) p = crfRefine(p, input.image!, crf);
    const mask = thresholdMap(p, W, H, 0.5);
    const kept = keepPeakComponent(mask, input.peaks?.[i]);
    result.push({ mask: kept, activation: meanInside(p, kept) });
  }
  return result;
}

/**
 * Shifts the maps' logits so that the threshold lands on 0.5: p' = p(1−t) / (p(1−t) + (1−p)t). The CRF's
 * unary reads p' as a probability, and a trained IAM is not calibrated at 0.5 (iam.json says where).
 */
function calibrate(p: Float32Array, t: number): Float32Array {
  if (t === 0.5) return p;
  const out = new Float32Array(p.length);
  for (let i = 0; i < p.length; i++) out[i] = (p[i] * (1 - t)) / (p[i] * (1 - t) + (1 - p[i]) * t);
  return out;
}

function crfChoice(choice: boolean | CrfOptions | undefined, config: CrfOptions | false, byDefault: boolean): CrfOptions | null {
  if (choice === undefined) return config === false || !byDefault ? null : config;
  if (choice === false) return null;
  if (choice === true) return config === false ? {} : config;
  return choice;
}

function asTensor(m: FeatureMap): ort.Tensor {
  return m instanceof ort.Tensor ? m : new ort.Tensor('float32', m.data, m.dims);
}

function thresholdMap(p: Float32Array, W: number, H: number, t: number): BinaryMask {
  const data = new Uint8Array(W * H);
  for (let i = 0; i < data.length; i++) data[i] = p[i] >= t ? 1 : 0;
  return { width: W, height: H, data };
}

/**
 * The component holding the peak (a thresholded IAM may also light up a touching neighbour's fragment);
 * when the peak pixel itself is off, the component nearest to it; without a peak, the mask as is.
 */
function keepPeakComponent(m: BinaryMask, peak: { x: number; y: number } | undefined): BinaryMask {
  if (!peak) return m;
  const c = connectedComponents(m);
  if (c.count <= 1) return m;
  const px = Math.min(m.width - 1, Math.max(0, Math.round(peak.x)));
  const py = Math.min(m.height - 1, Math.max(0, Math.round(peak.y)));
  let label = c.labels[py * m.width + px];
  if (label === 0) {
    let best = Infinity;
    for (let i = 0; i < c.labels.length; i++) {
      if (!c.labels[i]) continue;
      const x = i % m.width, y = (i - x) / m.width;
      const d = (x - px) ** 2 + (y - py) ** 2;
      if (d < best) {
        best = d;
        label = c.labels[i];
      }
    }
  }
  return componentMask(c, label, m.width, m.height);
}

function meanInside(p: Float32Array, m: BinaryMask): number {
  let s = 0, n = 0;
  for (let i = 0; i < m.data.length; i++) {
    if (m.data[i]) {
      s += p[i];
      n++;
    }
  }
  return n ? s / n : 0;
}
