// Run-length masks: the proposal representation. A mask is a sorted list of horizontal runs
// (y, x0, x1) with x1 exclusive, stored flat in an Int32Array. Sums of a float map over a mask are
// one subtraction of row prefix sums per run, which makes scoring thousands of proposals cheap.
import type { BinaryMask, Bbox } from '../mask';

export interface SpanMask {
  width: number;
  height: number;
  /** Flat triples (y, x0, x1), sorted by y then x0; runs in one row are disjoint and non-touching. */
  runs: Int32Array;
}

export function spanArea(runs: Int32Array): number {
  let a = 0;
  for (let i = 0; i < runs.length; i += 3) a += runs[i + 2] - runs[i + 1];
  return a;
}

/** [x, y, w, h] of the mask (COCO order); zeros for an empty mask. */
export function spanBbox(runs: Int32Array): Bbox {
  if (runs.length === 0) return [0, 0, 0, 0];
  let x0 = Infinity;
  let x1 = -Infinity;
  for (let i = 0; i < runs.length; i += 3) {
    if (runs[i + 1] < x0) x0 = runs[i + 1];
    if (runs[i + 2] > x1) x1 = runs[i + 2];
  }
  const y0 = runs[0];
  const y1 = runs[runs.length - 3] + 1;
  return [x0, y0, x1 - x0, y1 - y0];
}

/** Runs of every label of a label map, one run list per label (labels 0..count-1). */
export function labelRuns(labels: Int32Array, width: number, height: number, count: number): Int32Array[] {
  const lengths = new Int32Array(count);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) if (x === 0 || labels[row + x] !== labels[row + x - 1]) lengths[labels[row + x]] += 3;
  }
  const out = Array.from(lengths, (l) => new Int32Array(l));
  const fill = new Int32Array(count);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    let x = 0;
    while (x < width) {
      const l = labels[row + x];
      let e = x + 1;
      while (e < width && labels[row + e] === l) e++;
      const r = out[l];
      r[fill[l]++] = y;
      r[fill[l]++] = x;
      r[fill[l]++] = e;
      x = e;
    }
  }
  return out;
}

/** Union of two disjoint run lists (touching runs are joined). */
export function unionDisjoint(a: Int32Array, b: Int32Array): Int32Array {
  const out = new Int32Array(a.length + b.length);
  let i = 0;
  let j = 0;
  let n = 0;
  while (i < a.length || j < b.length) {
    let src: Int32Array;
    let k: number;
    if (j >= b.length || (i < a.length && (a[i] < b[j] || (a[i] === b[j] && a[i + 1] < b[j + 1])))) {
      src = a;
      k = i;
      i += 3;
    } else {
      src = b;
      k = j;
      j += 3;
    }
    if (n > 0 && out[n - 3] === src[k] && out[n - 1] >= src[k + 1]) {
      if (src[k + 2] > out[n - 1]) out[n - 1] = src[k + 2];
    } else {
      out[n++] = src[k];
      out[n++] = src[k + 1];
      out[n++] = src[k + 2];
    }
  }
  return n === out.length ? out : out.subarray(0, n);
}

/** Pixels in both masks. */
export function intersectionArea(a: Int32Array, b: Int32Array): number {
  let i = 0;
  let j = 0;
  let s = 0;
  while (i < a.length && j < b.length) {
    if (a[i] < b[j]) i += 3;
    else if (b[j] < a[i]) j += 3;
    else {
      const lo = Math.max(a[i + 1], b[j + 1]);
      const hi = Math.min(a[i + 2], b[j + 2]);
      if (hi > lo) s += hi - lo;
      if (a[i + 2] < b[j + 2]) i += 3;
      else j += 3;
    }
  }
  return s;
}

export function spanIou(a: Int32Array, b: Int32Array): number {
  const inter = intersectionArea(a, b);
  const union = spanArea(a) + spanArea(b) - inter;
  return union > 0 ? inter / union : 0;
}

// Growable scratch buffers for the contour computation (interval lists as flat [x0, x1, …]).
class IntervalBuffer {
  data = new Int32Array(64);
  length = 0;
  push(a: number, b: number): void {
    if (this.length + 2 > this.data.length) {
      const d = new Int32Array(this.data.length * 2);
      d.set(this.data);
      this.data = d;
    }
    this.data[this.length++] = a;
    this.data[this.length++] = b;
  }
  push3(a: number, b: number, c: number): void {
    this.push(a, b);
    this.push(c, 0);
    this.length--;
  }
}

// Reused work buffers (module-local: each worker thread has its own); every function that uses
// them copies its result out before returning.
const SCRATCH = [new IntervalBuffer(), new IntervalBuffer(), new IntervalBuffer(), new IntervalBuffer()];

// Index of each row's first run: rowStart[t - y0] .. rowStart[t - y0 + 1] are the runs of row t.
function rowIndex(runs: Int32Array, y0: number, y1: number): Int32Array {
  const rowStart = new Int32Array(y1 - y0 + 1);
  for (let i = 0, t = y0; t <= y1; t++) {
    while (i < runs.length && runs[i] < t) i += 3;
    rowStart[t - y0] = i;
  }
  return rowStart;
}

/** Dilation by a (2r+1)×(2r+1) square, clipped to the image. */
export function spanDilate(mask: SpanMask, r: number): Int32Array {
  const { width: W, height: H, runs } = mask;
  if (runs.length === 0 || r <= 0) return runs;
  const y0 = runs[0];
  const y1 = runs[runs.length - 3] + 1;
  const rowStart = rowIndex(runs, y0, y1);
  const dil = SCRATCH[0];
  const out = SCRATCH[1];
  out.length = 0;
  for (let y = Math.max(0, y0 - r); y < Math.min(H, y1 + r); y++) {
    // Runs of rows y-r..y+r, widened by r, sorted by start (insertion sort: few runs) and joined.
    dil.length = 0;
    for (let t = Math.max(y0, y - r); t <= Math.min(y1 - 1, y + r); t++) {
      for (let i = rowStart[t - y0]; i < rowStart[t - y0 + 1]; i += 3) {
        const a = Math.max(0, runs[i + 1] - r);
        const b = Math.min(W, runs[i + 2] + r);
        let k = dil.length;
        dil.push(a, b);
        const d = dil.data;
        while (k > 0 && d[k - 2] > a) {
          d[k] = d[k - 2];
          d[k + 1] = d[k - 1];
          k -= 2;
        }
        d[k] = a;
        d[k + 1] = b;
      }
    }
    const d = dil.data;
    let lo = -1;
    let hi = -1;
    for (let k = 0; k < dil.length; k += 2) {
      if (lo >= 0 && d[k] <= hi) {
        if (d[k + 1] > hi) hi = d[k + 1];
      } else {
        if (lo >= 0) out.push3(y, lo, hi);
        lo = d[k];
        hi = d[k + 1];
      }
    }
    if (lo >= 0) out.push3(y, lo, hi);
  }
  return out.data.slice(0, out.length);
}

/** Erosion by a (2r+1)×(2r+1) square; outside the image counts as foreground (OpenCV's rule). */
export function spanErode(mask: SpanMask, r: number): Int32Array {
  const { width: W, height: H, runs } = mask;
  if (runs.length === 0 || r <= 0) return runs;
  const y0 = runs[0];
  const y1 = runs[runs.length - 3] + 1;
  const rowStart = rowIndex(runs, y0, y1);
  let ero = SCRATCH[0];
  let spare = SCRATCH[2];
  const tmp = SCRATCH[3];
  const out = SCRATCH[1];
  out.length = 0;
  for (let y = y0; y < y1; y++) {
    // Intersection of rows y-r..y+r (rows outside the image are full), each narrowed by r.
    let first = true;
    ero.length = 0;
    for (let t = y - r; t <= y + r; t++) {
      if (t < 0 || t >= H) continue;
      if (t < y0 || t >= y1) {
        ero.length = 0; // an empty row of the image
        break;
      }
      tmp.length = 0;
      for (let i = rowStart[t - y0]; i < rowStart[t - y0 + 1]; i += 3) {
        const a = runs[i + 1] === 0 ? 0 : runs[i + 1] + r;
        const b = runs[i + 2] === W ? W : runs[i + 2] - r;
        if (b > a) tmp.push(a, b);
      }
      if (first) {
        for (let k = 0; k < tmp.length; k += 2) ero.push(tmp.data[k], tmp.data[k + 1]);
        first = false;
      } else {
        intersectInto(ero, tmp, spare);
        [ero, spare] = [spare, ero];
      }
      if (ero.length === 0) break;
    }
    for (let k = 0; k < ero.length; k += 2) out.push3(y, ero.data[k], ero.data[k + 1]);
  }
  return out.data.slice(0, out.length);
}

/** Runs of a minus b (both sorted run lists of one grid). */
export function spanSubtract(a: Int32Array, b: Int32Array): Int32Array {
  const out = SCRATCH[1];
  out.length = 0;
  let j = 0;
  for (let i = 0; i < a.length; i += 3) {
    const y = a[i];
    let lo = a[i + 1];
    const hi = a[i + 2];
    while (j < b.length && (b[j] < y || (b[j] === y && b[j + 2] <= lo))) j += 3;
    let q = j;
    while (q < b.length && b[q] === y && b[q + 1] < hi) {
      if (b[q + 1] > lo) out.push3(y, lo, b[q + 1]);
      lo = Math.max(lo, b[q + 2]);
      q += 3;
    }
    if (lo < hi) out.push3(y, lo, hi);
  }
  return out.data.slice(0, out.length);
}

/**
 * Morphological gradient (dilation minus erosion) with a (2r+1)×(2r+1) square, as OpenCV's
 * MORPH_GRADIENT: outside the image counts as foreground for the erosion, so image borders are no
 * contour. The band is 2r px wide (r inside, r outside the mask).
 */
export function spanContour(mask: SpanMask, r: number): Int32Array {
  if (mask.runs.length === 0 || r <= 0) return new Int32Array(0);
  return spanSubtract(spanDilate(mask, r), spanErode(mask, r));
}

/** Closing (dilation then erosion) by a (2r+1)×(2r+1) square: fills notches narrower than 2r+1. */
export function spanClose(mask: SpanMask, r: number): Int32Array {
  return spanErode({ ...mask, runs: spanDilate(mask, r) }, r);
}

// out = a ∩ b for sorted disjoint interval lists.
function intersectInto(a: IntervalBuffer, b: IntervalBuffer, out: IntervalBuffer): void {
  out.length = 0;
  let i = 0;
  let j = 0;
  const A = a.data;
  const B = b.data;
  while (i < a.length && j < b.length) {
    const lo = Math.max(A[i], B[j]);
    const hi = Math.min(A[i + 1], B[j + 1]);
    if (hi > lo) out.push(lo, hi);
    if (A[i + 1] < B[j + 1]) i += 2;
    else j += 2;
  }
}

/**
 * The mask with its holes filled: gaps between runs that are not 4-connected to the background
 * outside the mask (beyond its first/last run of a row, or above/below it) become foreground.
 */
export function fillSpanHoles(mask: SpanMask): Int32Array {
  const { width: W, runs } = mask;
  if (runs.length === 0) return runs;
  const y0 = runs[0];
  const rows = runs[runs.length - 3] + 1 - y0;
  // Per row: extent of the runs (exterior background lies outside [first, last)) and its gaps.
  const first = new Int32Array(rows).fill(W);
  const last = new Int32Array(rows);
  const gapStart = new Int32Array(rows + 1);
  const ga: number[] = [];
  const gb: number[] = [];
  for (let i = 0, r = 0; r < rows; r++) {
    gapStart[r] = ga.length;
    let prevEnd = -1;
    while (i < runs.length && runs[i] === y0 + r) {
      if (prevEnd < 0) first[r] = runs[i + 1];
      else {
        ga.push(prevEnd);
        gb.push(runs[i + 1]);
      }
      prevEnd = last[r] = runs[i + 2];
      i += 3;
    }
  }
  gapStart[rows] = ga.length;
  if (ga.length === 0) return runs;
  const exterior = ga.length;
  const parent = new Int32Array(exterior + 1);
  for (let k = 0; k <= exterior; k++) parent[k] = k;
  const find = (k: number): number => {
    while (parent[k] !== k) k = parent[k] = parent[parent[k]];
    return k;
  };
  const union = (a: number, b: number): void => {
    parent[find(a)] = find(b);
  };
  const touchesExterior = (r: number, a: number, b: number): boolean => r < 0 || r >= rows || a < first[r] || b > last[r];
  for (let r = 0; r < rows; r++) {
    for (let g = gapStart[r]; g < gapStart[r + 1]; g++) {
      if (touchesExterior(r - 1, ga[g], gb[g]) || touchesExterior(r + 1, ga[g], gb[g])) union(g, exterior);
      if (r + 1 < rows) {
        for (let h = gapStart[r + 1]; h < gapStart[r + 2]; h++) if (Math.max(ga[g], ga[h]) < Math.min(gb[g], gb[h])) union(g, h);
      }
    }
  }
  const out: number[] = [];
  for (let i = 0, r = 0; r < rows; r++) {
    let g = gapStart[r];
    let start = -1;
    let end = -1;
    while (i < runs.length && runs[i] === y0 + r) {
      if (start < 0) start = runs[i + 1];
      else if (find(g++) === find(exterior)) {
        out.push(y0 + r, start, end);
        start = runs[i + 1];
      }
      end = runs[i + 2];
      i += 3;
    }
    if (start >= 0) out.push(y0 + r, start, end);
  }
  return Int32Array.from(out);
}

/** Run list as a BinaryMask at the run list's own resolution (resize with resizeMaskNearest). */
export function spansToMask(mask: SpanMask): BinaryMask {
  const data = new Uint8Array(mask.width * mask.height);
  const r = mask.runs;
  for (let i = 0; i < r.length; i += 3) data.fill(1, r[i] * mask.width + r[i + 1], r[i] * mask.width + r[i + 2]);
  return { width: mask.width, height: mask.height, data };
}

/** Runs of a BinaryMask-like bitmap. */
export function maskToSpans(mask: BinaryMask): SpanMask {
  const { width, height, data } = mask;
  const out: number[] = [];
  for (let y = 0; y < height; y++) {
    let x = 0;
    const row = y * width;
    while (x < width) {
      if (!data[row + x]) {
        x++;
        continue;
      }
      let e = x + 1;
      while (e < width && data[row + e]) e++;
      out.push(y, x, e);
      x = e;
    }
  }
  return { width, height, runs: Int32Array.from(out) };
}

/** FNV-1a hash of a run list (for de-duplication; equal masks hash equal). */
export function spanHash(runs: Int32Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < runs.length; i++) {
    h ^= runs[i];
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function spansEqual(a: Int32Array, b: Int32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
