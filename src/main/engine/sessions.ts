// ORT sessions of one bundle on one execution provider: opened once, graph interfaces checked against the
// manifest, warmed up; a provider that fails mid-run is replaced by CPU for the rest of the process.
import * as ort from 'onnxruntime-node';
import { PeakLabelError } from '../../common/errors';
import type { Bundle } from './bundle';
import { openIam, runIam, SAM_REGIONS_CONFIG_FILE, type IamInput, type IamModel } from './iam';
import type { GraphSpec } from './manifest';
import { precheckProvider, providerOrder, summarizeProviderError, type ProviderName } from './providers';

export interface BackboneOutput {
  crm: Float32Array;
  /** The head's input [1,D,h,w]: fetched when the image head or an IAM graph reads it. */
  features?: ort.Tensor;
  /** The three levels an IAM graph reads: fetched only when the bundle has one. */
  iamFeatures?: IamInput['features'];
  /** CRM grid size and class count. */
  C: number;
  h: number;
  w: number;
}

export interface SessionOptions {
  /** Forced provider; when it fails, opening fails (no silent fallback for an explicit choice). */
  provider?: ProviderName;
  /** Intra-op threads per session (0 = ORT default). */
  threads?: number;
  log?: (line: string) => void;
}

export class ModelSessions {
  provider: ProviderName;
  readonly fallbackReasons: string[];
  private backbone: ort.InferenceSession;
  private prm: ort.InferenceSession | null;
  private iam: IamModel | null;
  /** The bundle's second IAM graph, for method sam's regions (bundle.samRegions 'sam-regions'). */
  private regionIam: IamModel | null;
  private headW: ort.Tensor;
  private headB: ort.Tensor;
  /** Milliseconds spent inside session.run since the last reset (for bench: app overhead vs ORT). */
  ortMs = 0;

  private constructor(
    private readonly bundle: Bundle,
    private readonly opts: SessionOptions,
    opened: Opened,
    reasons: string[],
  ) {
    this.provider = opened.provider;
    this.backbone = opened.backbone;
    this.prm = opened.prm;
    this.iam = opened.iam;
    this.regionIam = opened.regionIam;
    this.fallbackReasons = reasons;
    const C = bundle.manifest.classes.length;
    this.headW = new ort.Tensor('float32', bundle.headWeight, [C, bundle.manifest.head.channels]);
    this.headB = new ort.Tensor('float32', bundle.headBias, [C]);
  }

  /** Tries providers in order (or only the forced one), checks graph interfaces, warms up. */
  static async open(bundle: Bundle, opts: SessionOptions = {}): Promise<ModelSessions> {
    const order = opts.provider ? [opts.provider] : providerOrder();
    const reasons: string[] = [];
    for (const p of order) {
      const pre = precheckProvider(p);
      if (pre) {
        reasons.push(pre);
        continue;
      }
      try {
        const opened = await openOn(bundle, p, opts.threads ?? 0);
        const s = new ModelSessions(bundle, opts, opened, reasons);
        await s.warmUp();
        return s;
      } catch (err) {
        if (err instanceof PeakLabelError) throw err; // a bundle problem, not a provider problem
        reasons.push(summarizeProviderError(p, err));
      }
    }
    throw new PeakLabelError('PROVIDER_FAILED', `No execution provider could run the model: ${reasons.join('; ')}.`, {
      detail: reasons.join('\n'),
    });
  }

  get hasPrm(): boolean {
    return this.prm !== null;
  }

  get hasIam(): boolean {
    return this.iam !== null;
  }

  async runBackbone(image: Float32Array, H: number, W: number): Promise<BackboneOutput> {
    const needIam = this.iam !== null || this.regionIam !== null;
    const needFeatures = needIam || this.bundle.imageHead !== null;
    const fetches = ['crm', ...(needFeatures ? ['features'] : []), ...(needIam ? ['features_s8', 'features_s4'] : [])];
    const out = await this.run('backbone', { image: new ort.Tensor('float32', image, [1, 3, H, W]), head_weight: this.headW, head_bias: this.headB }, fetches);
    const crm = out.crm;
    const [, C, h, w] = crm.dims as number[];
    const iamFeatures = needIam ? { features_s4: out.features_s4, features_s8: out.features_s8, features: out.features } : undefined;
    return { crm: crm.data as Float32Array, C, h, w, features: needFeatures ? out.features : undefined, iamFeatures };
  }

  /** The head's input features [1,D,h,w] only (training's feature cache; any head gives the same features). */
  async runFeatures(image: Float32Array, H: number, W: number): Promise<{ data: Float32Array; D: number; h: number; w: number }> {
    const out = await this.run('backbone', { image: new ort.Tensor('float32', image, [1, 3, H, W]), head_weight: this.headW, head_bias: this.headB }, ['features']);
    const [, D, h, w] = out.features.dims as number[];
    return { data: out.features.data as Float32Array, D, h, w };
  }

  /** Replaces the class head fed to every graph (a project's trained head: weight [C,D], bias [C]). */
  setHead(weight: Float32Array, bias: Float32Array): void {
    const D = this.bundle.manifest.head.channels;
    const C = bias.length;
    if (C < 1 || weight.length !== C * D) {
      throw new PeakLabelError('MODEL_INVALID', `A class head of ${weight.length} weights and ${C} biases does not fit this bundle's ${D} features.`);
    }
    this.headW = new ort.Tensor('float32', weight, [C, D]);
    this.headB = new ort.Tensor('float32', bias, [C]);
  }

  /**
   * An IAM graph as an IamRunner whose calls count as ORT time and fall back like the others: method iam's
   * (iam.json), or the one for method sam's regions (sam-regions.json).
   */
  iamModel(which: IamGraphName = 'iam'): IamModel {
    const model = this.iamGraph(which);
    if (!model) {
      throw new PeakLabelError('MODEL_UNAVAILABLE', which === 'iam' ? 'The model bundle has no IAM graph (iam.json + iam.onnx): use --method prm.' : `The model bundle has no ${SAM_REGIONS_CONFIG_FILE} graph.`);
    }
    return { config: model.config, session: { run: (feeds) => this.run(which, feeds, ['iam', 'prm']) } };
  }

  /** The bundle's class head as graph inputs (backbone, prm and iam graphs take it). */
  get head(): { weight: ort.Tensor; bias: ort.Tensor } {
    return { weight: this.headW, bias: this.headB };
  }

  /**
   * PRMs of K peaks: peaks = K × (class, y, x) in CRM-grid coordinates; returns K × H × W. The graph holds
   * every peak's backward pass at once, so its memory grows with K (EfficientNet-Lite0: ~5 GB for 24 peaks
   * on a COCO photo); a bundle that says so (graphs.prm.peaksPerCall) is called with that many at a time.
   */
  async runPrm(image: Float32Array, H: number, W: number, peaks: Float32Array): Promise<Float32Array> {
    if (!this.prm) throw new PeakLabelError('MODEL_UNAVAILABLE', 'The model bundle has no prm graph, so peak response maps are unavailable.');
    const K = peaks.length / 3;
    const tensor = new ort.Tensor('float32', image, [1, 3, H, W]);
    const call = async (chunk: Float32Array) => {
      const r = await this.run('prm', { image: tensor, head_weight: this.headW, head_bias: this.headB, peaks: new ort.Tensor('float32', chunk, [chunk.length / 3, 3]) }, ['prm']);
      return r.prm.data as Float32Array;
    };
    const perCall = this.bundle.manifest.graphs.prm?.peaksPerCall ?? K;
    if (perCall >= K) return call(peaks); // one call: its output as it is, no copy
    const out = new Float32Array(K * H * W);
    for (let k = 0; k < K; k += perCall) out.set(await call(peaks.subarray(k * 3, Math.min(K, k + perCall) * 3)), k * H * W);
    return out;
  }

  async release(): Promise<void> {
    await this.backbone.release();
    await this.prm?.release();
    for (const m of [this.iam, this.regionIam]) await (m?.session as ort.InferenceSession | undefined)?.release?.();
  }

  private iamGraph(which: IamGraphName): IamModel | null {
    return which === 'iam' ? this.iam : this.regionIam;
  }

  private session(which: GraphName): (feeds: Record<string, ort.Tensor>, fetches: string[]) => Promise<Record<string, ort.Tensor>> {
    if (which === 'iam' || which === 'sam-regions') {
      const iam = this.iamGraph(which)!.session;
      return (feeds) => iam.run(feeds);
    }
    const s = which === 'backbone' ? this.backbone : this.prm!;
    return (feeds, fetches) => s.run(feeds, fetches);
  }

  private async run(which: GraphName, feeds: Record<string, ort.Tensor>, fetches: string[]): Promise<Record<string, ort.Tensor>> {
    const t0 = performance.now();
    try {
      return await this.session(which)(feeds, fetches);
    } catch (err) {
      if (this.provider === 'cpu') throw new PeakLabelError('INTERNAL', `The ${which} graph failed on the CPU: ${(err as Error).message}`, { cause: err });
      const reason = `${this.provider}: failed mid-run (${summarizeProviderError(this.provider, err)}); using cpu for the rest of the run`;
      this.fallbackReasons.push(reason);
      this.opts.log?.(`provider fallback: ${reason}`);
      const opened = await openOn(this.bundle, 'cpu', this.opts.threads ?? 0);
      await this.backbone.release().catch(() => undefined);
      await this.prm?.release().catch(() => undefined);
      this.backbone = opened.backbone;
      this.prm = opened.prm;
      this.iam = opened.iam;
      this.regionIam = opened.regionIam;
      this.provider = 'cpu';
      return await this.session(which)(feeds, fetches);
    } finally {
      this.ortMs += performance.now() - t0;
    }
  }

  /** First runs pay for kernel selection and allocation; do it before the user waits. */
  private async warmUp(): Promise<void> {
    const { multipleOf } = this.bundle.manifest.preprocess.inputPolicy;
    const side = Math.max(multipleOf, Math.ceil(64 / multipleOf) * multipleOf);
    const img = new Float32Array(3 * side * side);
    const out = await this.runBackbone(img, side, side);
    if (this.prm) await this.runPrm(img, side, side, new Float32Array([0, 1, 1]));
    for (const which of ['iam', 'sam-regions'] as const) {
      if (this.iamGraph(which) && out.iamFeatures) await runIam(this.iamModel(which), { peaks: [{ classIndex: 0, y: 0, x: 0 }], head: this.head, features: out.iamFeatures });
    }
  }
}

/** Session options shared by every graph of a worker (the provider is set per session). */
export function sessionOptions(threads: number): ort.InferenceSession.SessionOptions {
  return { graphOptimizationLevel: 'all', ...(threads > 0 ? { intraOpNumThreads: threads, interOpNumThreads: 1 } : {}) };
}

type IamGraphName = 'iam' | 'sam-regions';
type GraphName = 'backbone' | 'prm' | IamGraphName;
interface Opened {
  provider: ProviderName;
  backbone: ort.InferenceSession;
  prm: ort.InferenceSession | null;
  iam: IamModel | null;
  regionIam: IamModel | null;
}

async function openOn(bundle: Bundle, provider: ProviderName, threads: number): Promise<Opened> {
  const options: ort.InferenceSession.SessionOptions = { ...sessionOptions(threads), executionProviders: [provider] };
  const backbone = await createChecked(bundle.paths.backbone, bundle.manifest.graphs.backbone, options);
  const prm = bundle.paths.prm && bundle.manifest.graphs.prm ? await createChecked(bundle.paths.prm, bundle.manifest.graphs.prm, options) : null;
  if (bundle.paths.iam || bundle.paths.samRegions) {
    const missing = ['features', 'features_s8', 'features_s4'].filter((n) => !backbone.outputNames.includes(n));
    if (missing.length) throw new PeakLabelError('MODEL_INVALID', `The backbone graph ${bundle.paths.backbone} lacks outputs ${missing.join(', ')} that the IAM graph needs.`, { file: bundle.paths.backbone });
  }
  const iam = bundle.paths.iam ? await openIam(bundle.dir, options) : null;
  const regionIam = bundle.paths.samRegions ? await openIam(bundle.dir, options, SAM_REGIONS_CONFIG_FILE) : null;
  return { provider, backbone, prm, iam, regionIam };
}

/** Opens a graph and checks its input/output names against the manifest (MODEL_INVALID naming the file). */
async function createChecked(file: string, spec: GraphSpec, options: ort.InferenceSession.SessionOptions): Promise<ort.InferenceSession> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(file, options);
  } catch (err) {
    const msg = (err as Error).message ?? String(err);
    // Protobuf/graph errors are the file's fault; provider errors are reported by the caller.
    if (/protobuf|parse|Load model|ModelProto|invalid model|INVALID_GRAPH|INVALID_PROTOBUF|NO_SUCHFILE/i.test(msg)) {
      throw new PeakLabelError('MODEL_INVALID', `The model graph ${file} cannot be loaded: ${msg.replace(/\s+/g, ' ').slice(0, 300)}`, { file, cause: err });
    }
    throw err;
  }
  const missingIn = spec.inputs.filter((n) => !session.inputNames.includes(n));
  const missingOut = spec.outputs.filter((n) => !session.outputNames.includes(n));
  if (missingIn.length || missingOut.length) {
    await session.release().catch(() => undefined);
    const parts = [
      missingIn.length ? `inputs ${missingIn.join(', ')} (it has ${session.inputNames.join(', ')})` : '',
      missingOut.length ? `outputs ${missingOut.join(', ')} (it has ${session.outputNames.join(', ')})` : '',
    ].filter(Boolean);
    throw new PeakLabelError('MODEL_INVALID', `The model graph ${file} does not match the manifest: it lacks ${parts.join(' and ')}.`, { file });
  }
  return session;
}
