// Messages between the trainer (main thread) and the training thread (train-worker.ts).
import type { ErrorInfo } from '../../common/errors';
import type { EpochStats, TrainOptions } from '../../common/training/peak-head';

export interface TrainItem {
  /** Cached feature file (feature-file.ts). */
  file: string;
  /** Per trained class: 1 present, 0 absent (tagged with other classes), -1 unknown. */
  labels: number[];
  /** Point labels (accepted instances of training images), original image pixels. */
  points: { k: number; x: number; y: number }[];
  /** Boxes of accepted instances of held-out images (pointwise localisation), original pixels. */
  boxes: { k: number; x0: number; y0: number; x1: number; y1: number }[];
  heldOut: boolean;
}

export interface TrainJob {
  items: TrainItem[];
  K: number;
  D: number;
  stride: number;
  centerOffset: number;
  /** Starting head; rows with fromBuiltin[k] false start from the class's feature centroids instead. */
  init: { weight: Float32Array; bias: Float32Array; fromBuiltin: boolean[] };
  /** Norm of a centroid-initialised row. */
  initNorm: number;
  /**
   * The bundle's rows: a new class starts from the one that best separates its training images when its AP
   * is ≥ minAp and its alignment with the class's feature direction is ≥ minCosineRatio × the next row's
   * (the same concept under another name, e.g. "person" for "pedestrian") and is fine-tuned, keeping that
   * row's localisation; else from centroids.
   */
  candidates: { names: string[]; weight: Float32Array; bias: Float32Array; minAp: number; minCosineRatio: number };
  /** Rows in use before this training (built-in or a previous head), evaluated on the same held-out images. */
  before: ({ k: number; weight: Float32Array; bias: number } | null)[];
  options: Partial<Omit<TrainOptions, 'fineTune'>>;
  /** The engine's class-score threshold for untagged images: each trained class's best threshold is moved there. */
  calibrateTo: number;
}

export interface WorkerClassResult {
  /** Where the row started: the built-in class of the same name, the nearest built-in class, or centroids. */
  initFrom: string;
  /** Started as a built-in row of the same concept and only fine-tuned (TrainOptions.fineTune). */
  fineTuned: boolean;
  apBefore: number | null;
  apAfter: number | null;
  pointwiseBefore: number | null;
  pointwiseAfter: number | null;
  pointwisePairs: number;
  biasShift: number;
}

export interface WorkerResult {
  weight: Float32Array;
  bias: Float32Array;
  curve: EpochStats[];
  classes: WorkerClassResult[];
  mAP: number | null;
  pointwise: number | null;
  trainSeconds: number;
  loadSeconds: number;
  trainImages: number;
  heldOutImages: number;
}

export type TrainWorkerMessage =
  | { type: 'loaded'; done: number; total: number }
  | { type: 'epoch'; stats: EpochStats; seconds: number }
  | { type: 'done'; result: WorkerResult }
  | { type: 'error'; error: ErrorInfo };
