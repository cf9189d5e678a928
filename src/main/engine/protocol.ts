// Messages between the engine (main thread) and its workers. Everything is structured-cloneable.
import type { ActivationKind, ImageRect, Rle, SuggestionMethod } from '../../common/api';
import type { ErrorInfo } from '../../common/errors';
import type { RetrievalParams } from './manifest';
import type { ProviderName } from './providers';
import type { SamPrompt, SegmenterFiles } from './segmenter';
import type { HeadOverride } from './project-head';
import type { FeatureHeader } from '../training/feature-file';

export interface OpenRequest {
  bundleDir: string;
  provider?: ProviderName;
  threads?: number;
  cacheDir?: string | null;
  /** The segmenter for method sam: resolved files, or null when none was found. */
  segmenter?: SegmenterFiles | null;
  /** IAM: refine with the CRF (true/false), or undefined for the bundle's iam.json default. */
  iamCrf?: boolean;
  /** Overrides of the bundle's retrieval parameters (user settings). */
  retrieval?: Partial<RetrievalParams>;
  /** A project's trained class head in place of the bundle's (src/main/engine/project-head.ts). */
  head?: HeadOverride | null;
}

/** Features for the training cache: one image through the backbone, stored as float16 cell-major at `out`. */
export interface FeatureRequest {
  image: ImageRef;
  out: string;
}

/** What a cached feature file's header holds (src/main/training/feature-file.ts). */
export type FeatureResult = FeatureHeader;

export interface OpenResult {
  provider: ProviderName;
  fallbackReasons: string[];
}

/** An image file; `size` is its displayed size when the file is a downscaled working copy. */
export interface ImageRef {
  file: string;
  size?: { width: number; height: number };
}

/**
 * Which classes get peaks: `classes`, the image's tags (class indices); when null, the classes whose class
 * score passes the threshold, only among `among` when given (a project with its own head: its classes).
 */
export interface ClassSelection {
  classes: number[] | null;
  among?: number[];
}

export interface ImageRequest extends ClassSelection {
  image: ImageRef;
  method: SuggestionMethod;
}

export interface StageTimings {
  decode: number;
  preprocess: number;
  backbone: number;
  peaks: number;
  prm: number;
  proposals: number;
  /** ORT time of the IAM graph (method iam); not part of `retrieval`. */
  iam: number;
  /** Method sam: segmenter encoder ms (0 when the embedding was cached), decoder ms and decoder calls. */
  samEncoder: number;
  samDecoder: number;
  samPrompts: number;
  /** Mask selection without ORT: proposal scoring (prm), thresholding + CRF (iam), NMS. */
  retrieval: number;
  encode: number;
  /** Time inside ORT session.run (backbone + prm + iam + the segmenter's encoder and decoder). */
  ort: number;
  /** Number of peaks sent to prm.onnx. */
  peakCount: number;
  proposalCacheHit: boolean;
  embeddingCacheHit: boolean;
}

export interface EngineInstance {
  classIndex: number;
  mask: Rle;
  bbox: [number, number, number, number];
  area: number;
  score: number;
  /** Original (oriented) image pixel coordinates. */
  peak: { x: number; y: number };
  /** The peak's class response (the class confidence at this instance). */
  peakValue: number;
  method: SuggestionMethod;
}

export interface ImageResult {
  width: number;
  height: number;
  instances: EngineInstance[];
  /** Class scores (mean peak response) of every model class. */
  classScores: number[];
  timings: StageTimings;
}

export interface PeakInfo {
  classIndex: number;
  x: number;
  y: number;
  score: number;
}

export interface ResponseMap {
  width: number;
  height: number;
  /** Grayscale 0–255 scaled from [min, max]. */
  gray: Uint8Array;
  min: number;
  max: number;
  /** Where the map is drawn on the original image; absent: over the whole image. */
  frame?: ImageRect;
}

export type WorkerRequest =
  | { id: number; op: 'open'; args: OpenRequest }
  | { id: number; op: 'image'; args: ImageRequest }
  | { id: number; op: 'peaks'; args: { image: ImageRef } & ClassSelection }
  | { id: number; op: 'response'; args: { image: ImageRef; classIndex: number } }
  | { id: number; op: 'suggest'; args: { image: ImageRef; classIndex: number; x: number; y: number; method: SuggestionMethod } }
  | { id: number; op: 'peakMap'; args: { image: ImageRef; classIndex: number; x: number; y: number; kind: ActivationKind } }
  | { id: number; op: 'snap'; args: { image: ImageRef; mask: Rle } }
  | { id: number; op: 'segmentPrompt'; args: { image: ImageRef; classIndex: number; prompt: SamPrompt } }
  | { id: number; op: 'prepare'; args: { image: ImageRef } }
  | { id: number; op: 'segmenter'; args: Record<string, never> }
  | { id: number; op: 'proposalAt'; args: { image: ImageRef; x: number; y: number } }
  | { id: number; op: 'features'; args: FeatureRequest }
  | { id: number; op: 'setHead'; args: { head: HeadOverride | null } }
  | { id: number; op: 'cancel'; args: { target: number } }
  | { id: number; op: 'status'; args: Record<string, never> }
  | { id: number; op: 'close'; args: Record<string, never> };

export type WorkerReply =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: ErrorInfo }
  | { log: string };
