// The model bundle's manifest.json: its type and a validator that names the file and the field at fault.
import { PeakLabelError } from '../../common/errors';
import { DEFAULT_RETRIEVAL as RETRIEVAL_DEFAULTS } from '../../common/retrieval';

export const BUNDLE_FORMAT = 'peaklabel-bundle';
export const BUNDLE_VERSION = 1;

export interface ManifestClass {
  name: string;
  aliases: string[];
  color: string;
}

export interface InputPolicy {
  shorterSide: number;
  maxLongerSide: number;
  multipleOf: number;
}

export interface GraphSpec {
  file: string;
  inputs: string[];
  outputs: string[];
  /** prm graph: peaks per call (its memory grows with them); absent: all of an image's peaks in one call. */
  peaksPerCall?: number;
}

/**
 * Retrieval and peak parameters: src/common/retrieval's options plus the engine's peak selection.
 * Defaults here; the manifest's `retrieval` section and resources/models/retrieval.json (tuned) override.
 */
export interface RetrievalParams {
  /** PRM paper score α·Σ_S R + Σ_contour R − β·|S∩Q|/N. */
  alpha: number;
  beta: number;
  /** Q = class response below bgFactor × its mean. */
  bgFactor: number;
  /** Baselines: PRM support = PRM ≥ tau × max. */
  tau: number;
  /** Class-wise NMS IoU. */
  nmsIou: number;
  /** Proposals outside [min, max) of the image area are not retrieved. */
  minAreaFraction: number;
  maxAreaFraction: number;
  /** Peaks below this fraction of their class's strongest peak are dropped. */
  peakRelThreshold: number;
  /** Untagged mode: a class is present when its score (mean peak response) passes this. */
  classScoreThreshold: number;
  /** At most this many peaks per image go to prm.onnx. */
  maxPeaks: number;
  /** prm method: instance score = retrieval score + peakScoreWeight × peak response. */
  peakScoreWeight: number;
}

export const DEFAULT_RETRIEVAL_PARAMS: RetrievalParams = {
  alpha: RETRIEVAL_DEFAULTS.alpha,
  beta: RETRIEVAL_DEFAULTS.beta,
  bgFactor: RETRIEVAL_DEFAULTS.bgFactor,
  tau: RETRIEVAL_DEFAULTS.tau,
  nmsIou: RETRIEVAL_DEFAULTS.nmsIou,
  minAreaFraction: RETRIEVAL_DEFAULTS.minAreaFraction,
  maxAreaFraction: RETRIEVAL_DEFAULTS.maxAreaFraction,
  peakRelThreshold: 0.3,
  classScoreThreshold: 1,
  maxPeaks: 24,
  peakScoreWeight: 0,
};

/** Backbones this PeakLabel knows how to run (the graphs' pre-/post-processing contract). */
export const KNOWN_BACKBONES = ['squeezenet1.1', 'efficientnet-lite0', 'efficientnet-lite1', 'efficientnet-lite2'] as const;
export type BackboneName = (typeof KNOWN_BACKBONES)[number];

export interface Manifest {
  format: typeof BUNDLE_FORMAT;
  version: number;
  modelId: string;
  /** The feature extractor; bundles from before the field existed are SqueezeNet 1.1. */
  backbone: { name: BackboneName };
  classes: ManifestClass[];
  /** Tensor planes in channelOrder; value = (pixel − mean[plane]) · scale (mean listed in channelOrder). */
  preprocess: { channelOrder: 'BGR' | 'RGB'; mean: [number, number, number]; scale: number; inputPolicy: InputPolicy };
  stride: number;
  /** CRM cell i is centred on input pixel stride·i + centerOffset (default: the cell's centre). */
  crmGeometry: { centerOffset: number };
  head: { file: string; channels: number };
  /** The image head (src/common/image-head.ts): same layout as the class head, read on max-pooled features. */
  imageHead?: { file: string; channels: number };
  graphs: { backbone: GraphSpec; prm?: GraphSpec; iam?: GraphSpec };
  peaks: { window: number; subPixelFactor: number; classScoreThreshold?: number };
  retrieval?: Partial<RetrievalParams>;
  provenance?: unknown;
  metrics?: unknown;
}

/** Validates parsed manifest JSON; throws MODEL_INVALID naming the file and the field. */
export function parseManifest(json: unknown, file: string): Manifest {
  const bad = (what: string): never => {
    throw new PeakLabelError('MODEL_INVALID', `Model manifest ${file} is invalid: ${what}.`, { file });
  };
  if (!isObj(json)) bad('it is not a JSON object');
  const m = json as Record<string, unknown>;
  if (m.format !== BUNDLE_FORMAT) bad(`format is ${JSON.stringify(m.format)}, expected "${BUNDLE_FORMAT}"`);
  if (m.version !== BUNDLE_VERSION) {
    throw new PeakLabelError(
      'MODEL_INVALID',
      `Model manifest ${file} has version ${JSON.stringify(m.version)}; this PeakLabel reads version ${BUNDLE_VERSION} bundles.`,
      { file },
    );
  }
  if (typeof m.modelId !== 'string' || !m.modelId) bad('modelId is missing');
  const backboneName = m.backbone === undefined ? 'squeezenet1.1' : isObj(m.backbone) ? (m.backbone as Record<string, unknown>).name : undefined;
  if (typeof backboneName !== 'string' || !(KNOWN_BACKBONES as readonly string[]).includes(backboneName)) {
    throw new PeakLabelError(
      'MODEL_INVALID',
      `Model manifest ${file} is for the backbone ${JSON.stringify(backboneName ?? m.backbone)}, which this PeakLabel cannot run (it knows ${KNOWN_BACKBONES.join(', ')}).`,
      { file },
    );
  }
  if (!Array.isArray(m.classes) || m.classes.length === 0) bad('classes must be a non-empty list');
  const classes = (m.classes as unknown[]).map((c, i) => {
    if (!isObj(c) || typeof c.name !== 'string' || !c.name) bad(`classes[${i}] has no name`);
    const o = c as Record<string, unknown>;
    const aliases = Array.isArray(o.aliases) ? o.aliases.filter((a): a is string => typeof a === 'string') : [];
    return { name: o.name as string, aliases, color: typeof o.color === 'string' ? o.color : '#ff0000' };
  });
  const pre = m.preprocess as Record<string, unknown> | undefined;
  if (!isObj(pre)) bad('preprocess is missing');
  const p = pre as Record<string, unknown>;
  if (p.channelOrder !== 'BGR' && p.channelOrder !== 'RGB') bad(`preprocess.channelOrder is ${JSON.stringify(p.channelOrder)}, expected "BGR" or "RGB"`);
  if (p.scale !== undefined && !(typeof p.scale === 'number' && Number.isFinite(p.scale) && p.scale > 0)) bad('preprocess.scale must be a positive number');
  const mean = p.mean;
  if (!Array.isArray(mean) || mean.length !== 3 || !mean.every((v) => typeof v === 'number')) bad('preprocess.mean must be three numbers');
  const pol = p.inputPolicy as Record<string, unknown> | undefined;
  if (!isObj(pol) || !posInt(pol!.shorterSide) || !posInt(pol!.multipleOf)) bad('preprocess.inputPolicy needs shorterSide and multipleOf');
  const inputPolicy: InputPolicy = {
    shorterSide: pol!.shorterSide as number,
    maxLongerSide: posInt(pol!.maxLongerSide) ? (pol!.maxLongerSide as number) : Math.round((pol!.shorterSide as number) * 2),
    multipleOf: pol!.multipleOf as number,
  };
  if (!posInt(m.stride)) bad('stride must be a positive integer');
  const head = m.head as Record<string, unknown> | undefined;
  if (!isObj(head) || typeof head!.file !== 'string' || !posInt(head!.channels)) bad('head needs file and channels');
  const imageHead = m.imageHead as Record<string, unknown> | undefined;
  if (imageHead !== undefined) {
    if (!isObj(imageHead) || typeof imageHead.file !== 'string') bad('imageHead needs file');
    if (imageHead!.channels !== head!.channels) bad(`imageHead.channels is ${JSON.stringify(imageHead!.channels)}, expected the head's ${head!.channels}`);
    if (imageHead!.pooling !== undefined && imageHead!.pooling !== 'max') bad(`imageHead.pooling is ${JSON.stringify(imageHead!.pooling)}; this PeakLabel reads "max"`);
  }
  const graphs = m.graphs as Record<string, unknown> | undefined;
  if (!isObj(graphs)) bad('graphs is missing');
  const backbone = parseGraph((graphs as Record<string, unknown>).backbone, 'graphs.backbone', bad);
  if (!backbone) bad('graphs.backbone is missing');
  const prm = parseGraph((graphs as Record<string, unknown>).prm, 'graphs.prm', bad);
  const iam = parseGraph((graphs as Record<string, unknown>).iam, 'graphs.iam', bad);
  const peaksRaw = isObj(m.peaks) ? (m.peaks as Record<string, unknown>) : {};
  return {
    format: BUNDLE_FORMAT,
    version: BUNDLE_VERSION,
    modelId: m.modelId as string,
    backbone: { name: backboneName as BackboneName },
    classes,
    preprocess: { channelOrder: p.channelOrder as 'BGR' | 'RGB', mean: mean as [number, number, number], scale: typeof p.scale === 'number' ? p.scale : 1, inputPolicy },
    stride: m.stride as number,
    crmGeometry: {
      centerOffset:
        isObj(m.crmGeometry) && typeof (m.crmGeometry as Record<string, unknown>).centerOffset === 'number'
          ? ((m.crmGeometry as Record<string, unknown>).centerOffset as number)
          : ((m.stride as number) - 1) / 2,
    },
    head: { file: head!.file as string, channels: head!.channels as number },
    ...(imageHead ? { imageHead: { file: imageHead.file as string, channels: imageHead.channels as number } } : {}),
    graphs: { backbone: backbone!, ...(prm ? { prm } : {}), ...(iam ? { iam } : {}) },
    peaks: {
      window: posInt(peaksRaw.window) ? (peaksRaw.window as number) : 3,
      subPixelFactor: posInt(peaksRaw.subPixelFactor) ? (peaksRaw.subPixelFactor as number) : 1,
      classScoreThreshold: typeof peaksRaw.classScoreThreshold === 'number' ? peaksRaw.classScoreThreshold : undefined,
    },
    retrieval: isObj(m.retrieval) ? (m.retrieval as Partial<RetrievalParams>) : undefined,
    provenance: m.provenance,
    metrics: m.metrics,
  };
}

/** Merges defaults ← manifest.retrieval ← retrieval.json, keeping only known numeric fields. */
export function mergeRetrieval(...layers: (Partial<RetrievalParams> | undefined)[]): RetrievalParams {
  const out: RetrievalParams = { ...DEFAULT_RETRIEVAL_PARAMS };
  for (const layer of layers) {
    if (!layer) continue;
    for (const key of Object.keys(DEFAULT_RETRIEVAL_PARAMS) as (keyof RetrievalParams)[]) {
      const v = (layer as Record<string, unknown>)[key];
      if (typeof v === 'number' && Number.isFinite(v)) out[key] = v;
    }
  }
  return out;
}

function parseGraph(g: unknown, where: string, bad: (what: string) => never): GraphSpec | undefined {
  if (g === undefined || g === null) return undefined;
  if (!isObj(g) || typeof (g as Record<string, unknown>).file !== 'string') bad(`${where}.file is missing`);
  const o = g as Record<string, unknown>;
  if (o.peaksPerCall !== undefined && !posInt(o.peaksPerCall)) bad(`${where}.peaksPerCall must be a positive integer`);
  return {
    file: o.file as string,
    inputs: names(o.inputs, `${where}.inputs`, bad),
    outputs: names(o.outputs, `${where}.outputs`, bad),
    ...(o.peaksPerCall !== undefined ? { peaksPerCall: o.peaksPerCall as number } : {}),
  };
}

/** Graph inputs/outputs may be listed as names or as {name, shape, …} objects. */
function names(v: unknown, where: string, bad: (what: string) => never): string[] {
  if (Array.isArray(v)) {
    return v.map((x, i) => {
      if (typeof x === 'string') return x;
      if (isObj(x) && typeof (x as Record<string, unknown>).name === 'string') return (x as Record<string, unknown>).name as string;
      return bad(`${where}[${i}] has no name`);
    });
  }
  if (isObj(v)) return Object.keys(v as object); // { name: shape } form
  return bad(`${where} is missing`);
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function posInt(v: unknown): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v > 0;
}
