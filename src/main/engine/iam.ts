// The IAM suggestion path (Zhu et al., CVPR 2019): peaks + the backbone's three feature levels → iam.onnx
// (one call for all K: each peak's PRM back-propagated to stride 16, then instance extent filling) →
// Instance Activation Maps at stride 8 → upsampled → optional CRF → threshold → one mask per peak.
// prm.onnx (full-resolution PRMs) is not involved: docs/adr/iam-stride16-prm.md says why.
//
//   const iam = await openIam(bundleDir);                  // once; throws MODEL_UNAVAILABLE without iam.onnx
//   const maps = await runIam(iam, {
//     peaks: [{ classIndex, y, x }, …],                    // on the CRM grid, as prm.onnx takes them
//     head: { weight, bias },                              // the bundle's class head ([C,512], [C])
//     features: { features_s4, features_s8, features },   // backbone.onnx outputs (ort.Tensor or {data, dims})
//   });
//   const out = iamMasks(iam, maps, { width: W, height: H, image, peaks });
//                      // masks at W×H over the model input; its RGB for the CRF; each peak in those pixels
//   out[i].spans are its runs at W×H; out[i].activation the mean (recalibrated) IAM inside it.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { crfReach, crfRefine, DEFAULT_CRF_OPTIONS, type CrfOptions } from '../../common/crf';
import { PeakLabelError } from '../../common/errors';
import { connectedComponents, componentMask, removeSmallRegions, type BinaryMask } from '../../common/mask';
import { maskToSpans, type SpanMask } from '../../common/proposals/spans';

export const IAM_CONFIG_FILE = 'iam.json';
/** A second IAM graph whose masks method sam reads as peak regions (retrieval.json: samRegions "sam-regions"). */
export const SAM_REGIONS_CONFIG_FILE = 'sam-regions.json';
export const IAM_INPUTS = ['peaks', 'head_weight', 'head_bias', 'features_s4', 'features_s8', 'features'] as const;
export const IAM_OUTPUTS = ['iam', 'prm'] as const;

/** resources/models/iam.json: the graph, how its output becomes a mask, and where it came from. */
export interface IamConfig {
  graph: { file: string; inputs: string[]; outputs: string[] };
  /** IAM value (0..1) at which a pixel belongs to the instance. */
  threshold: number;
  /** CRF options (false: no CRF configured); per-call options override them. */
  crf: CrfOptions | false;
  /** Whether iamMasks refines with the CRF when the call does not say (default true when crf is set). */
  crfByDefault?: boolean;
  provenance?: unknown;
  training?: unknown;
  metrics?: unknown;
}

/** What runIam needs from an ORT session (an ort.InferenceSession satisfies it). */
export interface IamRunner {
  run(feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>>;
}

export interface IamModel {
  session: IamRunner;
  config: IamConfig;
}

type FeatureMap = ort.Tensor | { data: Float32Array; dims: readonly number[] };

export interface IamInput {
  /** K peaks on the CRM grid (fractional allowed): class index, row, column. */
  peaks: { classIndex: number; y: number; x: number }[];
  /** The bundle's class head: weight [C,512], bias [C]. */
  head: { weight: FeatureMap; bias: FeatureMap };
  /** backbone.onnx outputs by name: [1,128,·,·], [1,256,·,·], [1,512,·,·]. */
  features: { features_s4: FeatureMap; features_s8: FeatureMap; features: FeatureMap };
}

/** iam.onnx's outputs: K Instance Activation Maps (0..1) at stride 8 and the stride-16 PRMs they came from. */
export interface IamMaps {
  k: number;
  iam: Float32Array;
  width: number;
  height: number;
  prm: Float32Array;
  prmWidth: number;
  prmHeight: number;
}

/** Where the masks go: width × height pixels covering the model input (at its size, or any other). */
export interface IamTarget {
  width: number;
  height: number;
  /** RGB at width × height; needed for the CRF. */
  image?: { width: number; height: number; data: Uint8Array };
  /** One per map, in target pixels: the instance is the IAM component holding its peak. */
  peaks?: { x: number; y: number }[];
}

export interface IamOptions {
  /** Overrides config.threshold. */
  threshold?: number;
  /** Omitted: config.crf when config.crfByDefault; true: config.crf (or the CRF defaults); false: none; object: these options. */
  crf?: boolean | CrfOptions;
  /**
   * Islands and holes under this fraction of the target removed (removeSmallRegions; default 0): suggestions
   * are cleaned, method sam's regions, which only place clicks and score masks, are not.
   */
  minRegionFraction?: number;
}

export interface IamInstance {
  /** Runs at the target size (spansToMask for a bitmap); none when nothing passes the threshold. */
  spans: SpanMask;
  /** Mean activation inside the mask, recalibrated so the threshold sits at 0.5 (0 for an empty mask). */
  activation: number;
}

/** Reads iam.json (or another IAM config) and opens its graph; MODEL_UNAVAILABLE when the bundle has no IAM. */
export async function openIam(dir: string, sessionOptions: ort.InferenceSession.SessionOptions = {}, configFile = IAM_CONFIG_FILE): Promise<IamModel> {
  const config = readIamConfig(dir, configFile);
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

export function readIamConfig(dir: string, configFile = IAM_CONFIG_FILE): IamConfig {
  const file = join(dir, configFile);
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

/** The graph call alone. */
export async function runIam(model: IamModel, input: IamInput): Promise<IamMaps> {
  const k = input.peaks.length;
  const f = input.features;
  const [h16, w16] = f.features.dims.slice(2) as number[];
  const [h8, w8] = f.features_s8.dims.slice(2) as number[];
  if (k === 0) return { k, iam: new Float32Array(0), width: w8, height: h8, prm: new Float32Array(0), prmWidth: w16, prmHeight: h16 };
  const peaks = new Float32Array(k * 3);
  input.peaks.forEach((p, i) => peaks.set([p.classIndex, p.y, p.x], i * 3));
  const out = await model.session.run({
    peaks: new ort.Tensor('float32', peaks, [k, 3]),
    head_weight: asTensor(input.head.weight),
    head_bias: asTensor(input.head.bias),
    features_s4: asTensor(f.features_s4),
    features_s8: asTensor(f.features_s8),
    features: asTensor(f.features),
  });
  const checked = (name: string, h: number, w: number): Float32Array => {
    const t = out[name];
    if (!t || t.dims.length !== 3 || t.dims[0] !== k || t.dims[1] !== h || t.dims[2] !== w) {
      throw new PeakLabelError('MODEL_INVALID', `The IAM graph returned ${t ? `[${t.dims.join(',')}]` : 'nothing'} as ${name}; expected [${k},${h},${w}].`);
    }
    return t.data as Float32Array;
  };
  return { k, iam: checked('iam', h8, w8), width: w8, height: h8, prm: checked('prm', h16, w16), prmWidth: w16, prmHeight: h16 };
}

/**
 * runIam's maps → masks at the target size: bilinear upsampling of the logits as the model was trained
 * (align-corners off, over the whole image), optional CRF, threshold, the peak's component. Only a box is
 * upsampled: without the CRF the pixels that can pass the threshold (a pixel passes only if a source cell
 * does), with it the pixels the CRF can change (crfBox).
 */
export function iamMasks(model: IamModel, maps: IamMaps, target: IamTarget, opts: IamOptions = {}): IamInstance[] {
  const { k, width: w, height: h } = maps;
  const { width: W, height: H } = target;
  const crf = crfChoice(opts.crf, model.config.crf, model.config.crfByDefault ?? true);
  if (crf && !target.image) throw new PeakLabelError('BAD_ARGUMENT', 'iamMasks: the CRF needs the model-input image.');
  const cut = logit(opts.threshold ?? model.config.threshold);
  const cols = axisSamples(w, W);
  const rows = axisSamples(h, H);
  const minArea = Math.round((opts.minRegionFraction ?? 0) * W * H);

  const result: IamInstance[] = [];
  for (let i = 0; i < k; i++) {
    // Logits shifted so the threshold sits at 0; their sigmoid is the recalibrated activation (the CRF's
    // unary reads it as a probability, and a trained IAM is not calibrated at 0.5: iam.json says where).
    const z = new Float32Array(w * h);
    const src = maps.iam.subarray(i * w * h, (i + 1) * w * h);
    for (let j = 0; j < z.length; j++) z[j] = logit(src[j]) - cut;
    const box = crf ? crfBox(z, w, h, W, H, crf) : passingBox(z, w, h, W, H, 0);
    if (!box) {
      result.push({ spans: { width: W, height: H, runs: new Int32Array(0) }, activation: 0 });
      continue;
    }
    const bw = box.x1 - box.x0, bh = box.y1 - box.y0;
    const zb = upsample(z, w, rows, cols, box);
    const inBox: BinaryMask = { width: bw, height: bh, data: new Uint8Array(bw * bh) };
    let prob: Float32Array | null = null;
    if (crf) {
      prob = new Float32Array(zb.length);
      for (let j = 0; j < zb.length; j++) prob[j] = sigmoid(zb[j]);
      prob = crfRefine(prob, cropRgb(target.image!, box), crf);
      for (let j = 0; j < prob.length; j++) inBox.data[j] = prob[j] >= 0.5 ? 1 : 0;
    } else {
      for (let j = 0; j < zb.length; j++) inBox.data[j] = zb[j] >= 0 ? 1 : 0;
    }
    const peak = target.peaks?.[i];
    // Pinholes where the activation dips inside an object (the box is the whole mask's extent).
    const kept = removeSmallRegions(keepPeakComponent(inBox, peak && { x: peak.x - box.x0, y: peak.y - box.y0 }), minArea);
    let sum = 0, n = 0;
    for (let j = 0; j < kept.data.length; j++) {
      if (!kept.data[j]) continue;
      sum += prob ? prob[j] : sigmoid(zb[j]);
      n++;
    }
    result.push({ spans: boxSpans(kept, box, W, H), activation: n ? sum / n : 0 });
  }
  return result;
}

/** Map i of runIam's output upsampled to W×H (bilinear, as iamMasks reads it): for display. */
export function iamMapAt(maps: IamMaps, i: number, W: number, H: number): Float32Array {
  const { width: w, height: h } = maps;
  return upsample(maps.iam.subarray(i * w * h, (i + 1) * w * h), w, axisSamples(h, H), axisSamples(w, W), { x0: 0, y0: 0, x1: W, y1: H });
}

function sigmoid(z: number): number {
  return 1 / (1 + Math.exp(-z));
}

/** The runs of a box-local mask, placed in the W×H frame. */
function boxSpans(m: BinaryMask, box: Box, W: number, H: number): SpanMask {
  const local = maskToSpans(m).runs;
  for (let j = 0; j < local.length; j += 3) {
    local[j] += box.y0;
    local[j + 1] += box.x0;
    local[j + 2] += box.x0;
  }
  return { width: W, height: H, runs: local };
}

/** A probability's logit, finite at 0 and 1. */
function logit(p: number): number {
  const q = Math.min(1 - 1e-7, Math.max(1e-7, p));
  return Math.log(q / (1 - q));
}

interface AxisSamples {
  a: Int32Array;
  b: Int32Array;
  f: Float32Array;
}

/** Per target pixel along one axis: its two source cells and the second one's weight (align-corners off, clamped). */
function axisSamples(n: number, N: number): AxisSamples {
  const a = new Int32Array(N), b = new Int32Array(N), f = new Float32Array(N);
  for (let x = 0; x < N; x++) {
    const s = Math.min(n - 1, Math.max(0, ((x + 0.5) * n) / N - 0.5));
    a[x] = Math.floor(s);
    b[x] = Math.min(n - 1, a[x] + 1);
    f[x] = s - a[x];
  }
  return { a, b, f };
}

interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** The target pixels that read a cell at or above `floor` (cells of a w×h map onto W×H); null when no cell is. */
function passingBox(z: Float32Array, w: number, h: number, W: number, H: number, floor: number): Box | null {
  let cx0 = w, cy0 = h, cx1 = -1, cy1 = -1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (z[y * w + x] < floor) continue;
      cx0 = Math.min(cx0, x);
      cx1 = Math.max(cx1, x);
      cy0 = Math.min(cy0, y);
      cy1 = Math.max(cy1, y);
    }
  }
  if (cx1 < 0) return null;
  // Pixel x reads cells floor(s), floor(s) + 1 with s = (x + 0.5)·n/N − 0.5: it can pass only if cell0 − 1 < s < cell1 + 1.
  const lo = (c: number, n: number, N: number) => Math.max(0, Math.floor(((c - 0.5) * N) / n - 0.5));
  const hi = (c: number, n: number, N: number) => Math.min(N, Math.ceil(((c + 1.5) * N) / n - 0.5) + 1);
  return { x0: lo(cx0, w, W), y0: lo(cy0, h, H), x1: hi(cx1, w, W), y1: hi(cy1, h, H) };
}

/**
 * Where the CRF can change anything: every pixel not certainly background (recalibrated probability above
 * `uncertain`) plus the CRF's reach. Outside it the probability stays at or below `uncertain` < 0.5, so
 * the CRF on this crop gives the same mask as on the whole image, for a fraction of the work.
 */
function crfBox(z: Float32Array, w: number, h: number, W: number, H: number, crf: CrfOptions): Box | null {
  const box = passingBox(z, w, h, W, H, logit(crf.uncertain ?? DEFAULT_CRF_OPTIONS.uncertain));
  if (!box) return null;
  const r = crfReach(crf);
  return { x0: Math.max(0, box.x0 - r), y0: Math.max(0, box.y0 - r), x1: Math.min(W, box.x1 + r), y1: Math.min(H, box.y1 + r) };
}

function cropRgb(image: { width: number; height: number; data: Uint8Array }, box: Box): { width: number; height: number; data: Uint8Array } {
  const bw = box.x1 - box.x0, bh = box.y1 - box.y0;
  const data = new Uint8Array(bw * bh * 3);
  for (let y = 0; y < bh; y++) data.set(image.data.subarray(((box.y0 + y) * image.width + box.x0) * 3, ((box.y0 + y) * image.width + box.x1) * 3), y * bw * 3);
  return { width: bw, height: bh, data };
}

/** Bilinear samples of a w-wide map at the target pixels of a box (row-major over the box). */
function upsample(z: Float32Array, w: number, rows: AxisSamples, cols: AxisSamples, box: Box): Float32Array {
  const bw = box.x1 - box.x0;
  const out = new Float32Array(bw * (box.y1 - box.y0));
  for (let y = box.y0; y < box.y1; y++) {
    const ra = rows.a[y] * w, rb = rows.b[y] * w, fy = rows.f[y];
    const o = (y - box.y0) * bw - box.x0;
    for (let x = box.x0; x < box.x1; x++) {
      const ca = cols.a[x], cb = cols.b[x], fx = cols.f[x];
      const top = z[ra + ca] + (z[ra + cb] - z[ra + ca]) * fx;
      const bottom = z[rb + ca] + (z[rb + cb] - z[rb + ca]) * fx;
      out[o + x] = top + (bottom - top) * fy;
    }
  }
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

/**
 * The component holding the peak (a thresholded IAM may also light up a touching neighbour's fragment);
 * when the peak pixel itself is off, the component nearest to it; without a peak, the mask as is.
 */
function keepPeakComponent(m: BinaryMask, peak: { x: number; y: number } | undefined): BinaryMask {
  if (!peak) return m;
  const c = connectedComponents(m);
  if (c.count <= 1) return m;
  const px = Math.round(peak.x), py = Math.round(peak.y);
  const inside = px >= 0 && py >= 0 && px < m.width && py < m.height;
  let label = inside ? c.labels[py * m.width + px] : 0;
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
