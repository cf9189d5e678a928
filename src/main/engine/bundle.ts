// Reads a model bundle folder (manifest, graphs, head weights, tuned retrieval parameters) and checks
// everything that can be checked without ORT. Graph input/output names are checked when sessions open.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PeakLabelError } from '../../common/errors';
import type { SuggestionMethod } from '../../common/api';
import { IAM_CONFIG_FILE, readIamConfig, SAM_REGIONS_CONFIG_FILE } from './iam';
import { mergeRetrieval, parseManifest, type Manifest, type RetrievalParams } from './manifest';

export interface Bundle {
  dir: string;
  manifest: Manifest;
  /** Class head: weight [C,512] row-major and bias [C]. */
  headWeight: Float32Array;
  headBias: Float32Array;
  /** The image head (weight [C,D], bias [C]) whose logits add to the class scores, or null (class score = peaks). */
  imageHead: { weight: Float32Array; bias: Float32Array } | null;
  retrieval: RetrievalParams;
  /**
   * Where method sam reads each peak's region (second click, agreement): the masks of method iam's graph
   * ('iam'), of a second IAM graph trained for it ('sam-regions': sam-regions.json), or the class response
   * map ('crm', src/main/engine/sam-method.ts crmRegions). retrieval.json's `samRegions`; without it the
   * best the bundle has, in that order: sam-regions, iam, crm.
   */
  samRegions: SamRegionSource;
  /** Graph files; samRegions is sam-regions.onnx when bundle.samRegions is 'sam-regions'. */
  paths: { backbone: string; prm: string | null; iam: string | null; samRegions: string | null };
  methods: SuggestionMethod[];
  /** Why a method is unavailable (e.g. "iam: the bundle has no iam graph"). */
  unavailable: string[];
  /** Set when a project's trained head is applied (project-head.ts): its key and the class rows it supplies. */
  projectHead?: {
    key: string;
    rows: number[];
    /** Rows that get method sam's peak click alone (HeadOverride.fineTuned). */
    peakClickRows: number[];
  };
}

/** resources/models of this checkout (or PEAKLABEL_MODEL_DIR). */
export function defaultBundleDir(): string {
  if (process.env.PEAKLABEL_MODEL_DIR) return resolve(process.env.PEAKLABEL_MODEL_DIR);
  const here = dirname(fileURLToPath(import.meta.url));
  return resolve(here, '..', '..', '..', 'resources', 'models');
}

export const RETRIEVAL_FILE = 'retrieval.json';
export const SAM_REGION_SOURCES = ['sam-regions', 'iam', 'crm'] as const;
export type SamRegionSource = (typeof SAM_REGION_SOURCES)[number];

export function readBundle(dir: string = defaultBundleDir()): Bundle {
  const manifestPath = join(dir, 'manifest.json');
  if (!existsSync(manifestPath)) {
    throw new PeakLabelError('MODEL_INVALID', `No model bundle: ${manifestPath} does not exist.`, { file: manifestPath });
  }
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(manifestPath, 'utf8'));
  } catch (err) {
    throw new PeakLabelError('MODEL_INVALID', `Model manifest ${manifestPath} is not valid JSON (${(err as Error).message}).`, { file: manifestPath });
  }
  const manifest = parseManifest(json, manifestPath);
  const C = manifest.classes.length;
  const need = (rel: string, what: string): string => {
    const p = join(dir, rel);
    if (!existsSync(p)) throw new PeakLabelError('MODEL_INVALID', `The model bundle's ${what} ${p} is missing.`, { file: p });
    return p;
  };

  const backbone = need(manifest.graphs.backbone.file, 'backbone graph');
  const head = readHeadFile(need(manifest.head.file, 'class head'), 'class head', C, manifest.head.channels);
  const imageHead = manifest.imageHead ? readHeadFile(need(manifest.imageHead.file, 'image head'), 'image head', C, manifest.head.channels) : null;

  const unavailable: string[] = [];
  const optional = (spec: { file: string } | undefined, name: string): string | null => {
    if (!spec) {
      unavailable.push(`${name}: the bundle's manifest lists no ${name} graph`);
      return null;
    }
    const p = join(dir, spec.file);
    if (!existsSync(p)) {
      unavailable.push(`${name}: ${p} is missing`);
      return null;
    }
    return p;
  };
  const prm = optional(manifest.graphs.prm, 'prm');
  // IAM is described by its own iam.json beside the manifest (src/main/engine/iam.ts reads it).
  const iam = iamGraph(dir, IAM_CONFIG_FILE, 'iam', unavailable);
  // These methods start from prm.onnx's full-resolution maps; IAM computes its own (stride 16, in iam.onnx).
  const methods: SuggestionMethod[] = prm ? ['prm', 'threshold', 'rect', 'ellipse'] : [];
  if (!prm) unavailable.push('prm, threshold, rect, ellipse: they need the prm graph');
  if (iam) methods.push('iam');

  let tuned: Partial<RetrievalParams> | undefined;
  const tunedPath = join(dir, RETRIEVAL_FILE);
  if (existsSync(tunedPath)) {
    try {
      tuned = JSON.parse(readFileSync(tunedPath, 'utf8')) as Partial<RetrievalParams>;
    } catch (err) {
      throw new PeakLabelError('MODEL_INVALID', `${tunedPath} is not valid JSON (${(err as Error).message}).`, { file: tunedPath });
    }
  }
  const fromManifest = { ...manifest.retrieval, ...(manifest.peaks.classScoreThreshold !== undefined ? { classScoreThreshold: manifest.peaks.classScoreThreshold } : {}) };
  const retrieval = mergeRetrieval(fromManifest, tuned);
  const asked = (tuned as { samRegions?: unknown } | undefined)?.samRegions;
  if (asked !== undefined && !SAM_REGION_SOURCES.includes(asked as SamRegionSource)) {
    throw new PeakLabelError('MODEL_INVALID', `${tunedPath}: samRegions is ${JSON.stringify(asked)}; expected one of ${SAM_REGION_SOURCES.join(', ')}.`, { file: tunedPath });
  }
  const hasSecond = asked === 'sam-regions' || (asked === undefined && existsSync(join(dir, SAM_REGIONS_CONFIG_FILE)));
  const second = hasSecond ? iamGraph(dir, SAM_REGIONS_CONFIG_FILE, 'sam regions', unavailable) : null;
  // A source the bundle cannot give falls to the next (its reason is in `unavailable`): sam works on.
  const samRegions: SamRegionSource = second ? 'sam-regions' : iam && asked !== 'crm' ? 'iam' : 'crm';
  return { dir, manifest, headWeight: head.weight, headBias: head.bias, imageHead, retrieval, samRegions, paths: { backbone, prm, iam, samRegions: second }, methods, unavailable };
}

/** A head file: little-endian float32 weight [C,D] then bias [C]; refused (naming it) when the size is off or a value is not finite. */
function readHeadFile(path: string, what: string, C: number, D: number): { weight: Float32Array; bias: Float32Array } {
  const expected = C * (D + 1) * 4;
  const size = statSync(path).size;
  if (size !== expected) {
    throw new PeakLabelError('MODEL_INVALID', `The ${what} ${path} has ${size} bytes; ${C} classes × (${D}+1) float32 need ${expected}.`, { file: path });
  }
  const buf = readFileSync(path);
  const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  if (!all.every(Number.isFinite)) {
    throw new PeakLabelError('MODEL_INVALID', `The ${what} ${path} contains NaN or infinite values.`, { file: path });
  }
  return { weight: all.slice(0, C * D), bias: all.slice(C * D) };
}

/** The bundle with some retrieval parameters overridden (the user's settings); unknown keys are ignored. */
export function withRetrieval(bundle: Bundle, overrides: Partial<RetrievalParams> | undefined): Bundle {
  return overrides ? { ...bundle, retrieval: mergeRetrieval(bundle.retrieval, overrides) } : bundle;
}

/** The graph file an IAM config names, or null with the reason under `what` in `unavailable`. */
function iamGraph(dir: string, configFile: string, what: string, unavailable: string[]): string | null {
  try {
    const config = readIamConfig(dir, configFile);
    const p = join(dir, config.graph.file);
    if (existsSync(p)) return p;
    unavailable.push(`${what}: ${p} is missing`);
  } catch (err) {
    unavailable.push(`${what}: ${(err as Error).message}`);
  }
  return null;
}

/** Class index of a tag name (class name or alias, case-insensitive), or -1. */
export function classIndexOf(manifest: Manifest, tag: string): number {
  const t = tag.trim().toLowerCase();
  return manifest.classes.findIndex((c) => c.name.toLowerCase() === t || c.aliases.some((a) => a.toLowerCase() === t));
}
