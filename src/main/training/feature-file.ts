// The training feature cache's file format: one file per (bundle modelId, image content hash) under
// `<project>.cache/features/<modelId>/<hash>.f16`. A 40-byte header, then the backbone's `features`
// (the class head's input) as float16, cell-major [h·w, D] so a cell's D values are contiguous.
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
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

/** What is wrong with a file's header and length, or null when they fit (the data itself is not read). */
function headerProblem(head: Buffer, length: number, expectD?: number): string | null {
  if (length < HEADER || head.readUInt32LE(0) !== MAGIC) return 'not a PeakLabel feature file';
  if (head.readUInt32LE(4) !== VERSION) return `version ${head.readUInt32LE(4)}`;
  const [D, h, w] = [2, 3, 4].map((i) => head.readUInt32LE(i * 4));
  if (expectD !== undefined && D !== expectD) return `${D} features per cell, expected ${expectD}`;
  if (length !== HEADER + D * h * w * 2) return `${length} bytes for [${h}×${w}, ${D}]`;
  return null;
}

/**
 * Why a cached file cannot be used (damaged, cut short, another format or D), or null when it can; reads
 * only its header. The trainer computes such files again rather than failing on them.
 */
export function featureFileProblem(file: string, expectD: number): string | null {
  let fd: number | null = null;
  try {
    fd = openSync(file, 'r');
    const head = Buffer.alloc(HEADER);
    const n = readSync(fd, head, 0, HEADER, 0);
    return headerProblem(head, n < HEADER ? n : fstatSync(fd).size, expectD);
  } catch (err) {
    return (err as Error).message;
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

/** Reads a cached file; a damaged or foreign file is an error naming it. */
export function readFeatures(file: string, expectD?: number): CachedFeatures {
  const buf = readFileSync(file);
  const why = headerProblem(buf, buf.length, expectD);
  if (why) throw new PeakLabelError('PROJECT_CORRUPT', `The cached features ${file} are unusable (${why}).`, { file });
  const [D, h, w, origWidth, origHeight, width, height] = [2, 3, 4, 5, 6, 7, 8].map((i) => buf.readUInt32LE(i * 4));
  // Copy into an aligned buffer (readFileSync's pool offset may be odd).
  const data = new Uint16Array(D * h * w);
  Buffer.from(data.buffer).set(buf.subarray(HEADER));
  return { D, h, w, origWidth, origHeight, width, height, features: { D, h, w, data } };
}
