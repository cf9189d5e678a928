// The training feature cache's file format: one file per (bundle modelId, image content hash) under
// `<project>.cache/features/<modelId>/<hash>.f16`. A 40-byte header, then the backbone's `features`
// (the class head's input) as float16, cell-major [h·w, D] so a cell's D values are contiguous.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PeakLabelError } from '../../common/errors';
import { encodeHalf } from '../../common/training/f16';
import type { FeatureGrid } from '../../common/training/peak-head';
import { writeFileAtomicSync } from '../fs/atomic-write';

const MAGIC = 0x54464c50; // "PLFT"
const VERSION = 1;
const HEADER = 40;

export interface FeatureHeader {
  D: number;
  h: number;
  w: number;
  /** Original (oriented) image size and model input size: grid ↔ image geometry. */
  origWidth: number;
  origHeight: number;
  width: number;
  height: number;
}

export interface CachedFeatures extends FeatureHeader {
  features: FeatureGrid;
}

/** Folder of one bundle's features ("/" and other unsafe characters of the modelId replaced). */
export function featureDir(cacheDir: string, modelId: string): string {
  return join(cacheDir, 'features', modelId.replace(/[^A-Za-z0-9._-]/g, '_'));
}

export function featureFile(cacheDir: string, modelId: string, imageHash: string): string {
  return join(featureDir(cacheDir, modelId), `${imageHash}.f16`);
}

/** CHW float32 (ORT's [1,D,h,w]) → the file's bytes. */
export function encodeFeatures(chw: Float32Array, head: FeatureHeader): Buffer {
  const { D, h, w } = head;
  const n = h * w;
  if (chw.length !== D * n) throw new PeakLabelError('INTERNAL', `Features of ${chw.length} values do not fill [${D},${h},${w}].`);
  const hwc = new Float32Array(D * n);
  for (let d = 0; d < D; d++) {
    const src = d * n;
    for (let c = 0; c < n; c++) hwc[c * D + d] = chw[src + c];
  }
  const half = encodeHalf(hwc);
  const buf = Buffer.allocUnsafe(HEADER + half.byteLength);
  const fields = [MAGIC, VERSION, D, h, w, head.origWidth, head.origHeight, head.width, head.height, 0];
  fields.forEach((v, i) => buf.writeUInt32LE(v, i * 4));
  Buffer.from(half.buffer, half.byteOffset, half.byteLength).copy(buf, HEADER);
  return buf;
}

export function writeFeatures(file: string, chw: Float32Array, head: FeatureHeader): void {
  writeFileAtomicSync(file, encodeFeatures(chw, head));
}

/** Reads a cached file; a damaged or foreign file is an error naming it (the caller recomputes it). */
export function readFeatures(file: string, expectD?: number): CachedFeatures {
  const buf = readFileSync(file);
  const bad = (why: string): never => {
    throw new PeakLabelError('PROJECT_CORRUPT', `The cached features ${file} are unusable (${why}).`, { file });
  };
  if (buf.length < HEADER || buf.readUInt32LE(0) !== MAGIC) bad('not a PeakLabel feature file');
  if (buf.readUInt32LE(4) !== VERSION) bad(`version ${buf.readUInt32LE(4)}`);
  const [D, h, w, origWidth, origHeight, width, height] = [2, 3, 4, 5, 6, 7, 8].map((i) => buf.readUInt32LE(i * 4));
  if (expectD !== undefined && D !== expectD) bad(`${D} features per cell, expected ${expectD}`);
  if (buf.length !== HEADER + D * h * w * 2) bad(`${buf.length} bytes for [${h}×${w}, ${D}]`);
  // Copy into an aligned buffer (readFileSync's pool offset may be odd).
  const data = new Uint16Array(D * h * w);
  Buffer.from(data.buffer).set(buf.subarray(HEADER));
  return { D, h, w, origWidth, origHeight, width, height, features: { D, h, w, data } };
}
