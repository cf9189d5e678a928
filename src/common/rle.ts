// COCO run-length encoding, bit-exact with pycocotools (maskApi.c).
// Counts run over the mask in column-major (Fortran) order and start with a run of zeros (possibly 0 long);
// the compressed string packs each count (from the fourth on, as a delta against the count two before)
// into 5-bit groups, least significant first, each char = 48 + group | 0x20 when more groups follow;
// the last group's bit 0x10 is the sign. See docs/adr/rle-format.md.
import type { Rle } from './api';
import { createMask, maskBbox, runsIn, runsXor, type Bbox, type BinaryMask } from './mask';

export type { Rle } from './api';

/** Run lengths (column-major, zeros first) of a row-major mask. Only the bounding box is scanned. */
export function maskToCounts(m: BinaryMask): number[] {
  return windowMaskToCounts(m, 0, 0, m.height, m.width);
}

/**
 * Run lengths over an h×w image of a mask that covers only the window at (x0, y0) — the inverse of
 * countsToWindowMask. Costs the window's foreground box, not the image: a brush stroke on a
 * 4000×3000 image is encoded without materialising a 12 MB full-size mask. Same counts as
 * maskToCounts of the window pasted into an empty h×w mask; foreground outside the image throws.
 *
 * Column-major runs are found row by row (a row-major mask read down its columns misses the cache on
 * every pixel): a column changes value between two rows exactly where the rows' runs differ, so the
 * work is the rows' runs plus the outline's length, not the box's area.
 */
export function windowMaskToCounts(m: BinaryMask, x0: number, y0: number, h: number, w: number): number[] {
  const { width: mw, data: d } = m;
  const [lx, ly, bw, bh] = maskBbox(m);
  if (bw === 0) return [w * h];
  const bx = x0 + lx, by = y0 + ly; // the foreground box in image pixels
  if (bx < 0 || by < 0 || bx + bw > w || by + bh > h) {
    throw new RangeError(`mask foreground at [${bx}, ${by}, ${bw}, ${bh}] lies outside the ${w}×${h} image`);
  }
  // Value changes (column, row) in raster order, rows relative to the box; row bh is the background below it.
  const changeX: number[] = [], changeY: number[] = [];
  let above: number[] = []; // runs [start, end) of the row above, box columns; none above the box
  for (let y = 0; y <= bh; y++) {
    const runs = y < bh ? runsIn(d, (ly + y) * mw + lx, bw) : [];
    const changed = runsXor(above, runs);
    for (let k = 0; k < changed.length; k += 2) {
      for (let x = changed[k]; x < changed[k + 1]; x++) {
        changeX.push(x);
        changeY.push(y);
      }
    }
    above = runs;
  }
  // Column by column (stable: rows stay in order), as image positions in column-major order.
  const perColumn = new Int32Array(bw + 1);
  for (const x of changeX) perColumn[x + 1]++;
  for (let x = 0; x < bw; x++) perColumn[x + 1] += perColumn[x];
  const rows = new Int32Array(changeX.length);
  for (let k = 0; k < changeX.length; k++) rows[perColumn[changeX[k]]++] = changeY[k];
  const total = h * w;
  const counts: number[] = [];
  let last = 0; // position of the last change (or 0)
  let pending = -1; // a change not yet emitted: it cancels against a change at the same position
  const change = (p: number): void => {
    if (p === pending) {
      pending = -1; // a run of ones continues from the bottom of one column into the top of the next
      return;
    }
    if (pending >= 0) {
      counts.push(pending - last);
      last = pending;
    }
    pending = p;
  };
  for (let x = 0, k = 0; x < bw; x++) {
    const column = (bx + x) * h + by;
    for (const end = perColumn[x]; k < end; k++) {
      const p = column + rows[k];
      if (p < total) change(p);
    }
  }
  if (pending >= 0) {
    counts.push(pending - last);
    last = pending;
  }
  counts.push(total - last);
  return counts;
}

/** Same string as pycocotools' `mask.encode(np.asfortranarray(m))['counts']`. */
export function encodeMask(m: BinaryMask): Rle {
  return { size: [m.height, m.width], counts: compressCounts(maskToCounts(m)) };
}

/** The RLE (h×w image) of a mask covering the window at (x0, y0); see windowMaskToCounts. */
export function encodeWindowMask(m: BinaryMask, x0: number, y0: number, h: number, w: number): Rle {
  return { size: [h, w], counts: compressCounts(windowMaskToCounts(m, x0, y0, h, w)) };
}

export function decodeRle(r: Rle): BinaryMask {
  return countsToMask(decompressCounts(r.counts), r.size[0], r.size[1]);
}

/** Paints runs into a row-major mask; counts beyond h·w are ignored, missing ones read as background. */
export function countsToMask(counts: ArrayLike<number>, h: number, w: number): BinaryMask {
  return countsToWindowMask(counts, h, w, [0, 0, w, h]).mask;
}

/**
 * Paints only the window [x, y, w, h] of the runs (column-major over an h×w image), so work on one
 * instance costs the object's size rather than the image's (polygon export of 100,000 instances).
 */
export function countsToWindowMask(
  counts: ArrayLike<number>, h: number, w: number, window: [number, number, number, number],
): { mask: BinaryMask; x0: number; y0: number } {
  const x0 = Math.max(0, Math.floor(window[0]));
  const y0 = Math.max(0, Math.floor(window[1]));
  const x1 = Math.min(w, Math.ceil(window[0] + window[2]));
  const y1 = Math.min(h, Math.ceil(window[1] + window[3]));
  const cw = Math.max(0, x1 - x0), ch = Math.max(0, y1 - y0);
  const mask = createMask(cw, ch);
  const d = mask.data;
  const total = h * w;
  let pos = 0;
  for (let j = 0; j < counts.length && pos < total; j++) {
    const end = Math.min(total, pos + counts[j]);
    if (j & 1) {
      // Walk the run column by column without dividing per pixel.
      let y = pos % h;
      let x = (pos - y) / h;
      let p = pos;
      while (p < end) {
        const runInCol = Math.min(end - p, h - y);
        if (x >= x0 && x < x1) {
          const ya = Math.max(y, y0), yb = Math.min(y + runInCol, y1);
          for (let yy = ya; yy < yb; yy++) d[(yy - y0) * cw + (x - x0)] = 1;
        }
        p += runInCol;
        y = 0;
        x++;
      }
    }
    pos = end;
  }
  return { mask, x0, y0 };
}

/** The runs decoded over their foreground's box alone (countsToBbox), placed at (x0, y0); 0×0 when empty. */
export function countsToCroppedMask(counts: ArrayLike<number>, h: number, w: number): { mask: BinaryMask; x0: number; y0: number } {
  return countsToWindowMask(counts, h, w, countsToBbox(counts, h, w));
}

/** pycocotools' rleToString. Uses arithmetic, not 32-bit bit ops, so counts up to 2^53 survive. */
export function compressCounts(counts: ArrayLike<number>): string {
  let s = '';
  const chars: number[] = [];
  for (let i = 0; i < counts.length; i++) {
    let x = counts[i];
    if (i > 2) x -= counts[i - 2];
    let more = true;
    while (more) {
      const q = Math.floor(x / 32); // arithmetic shift, also for negative deltas
      let c = x - q * 32;
      x = q;
      more = c & 0x10 ? x !== -1 : x !== 0;
      if (more) c |= 0x20;
      chars.push(c + 48);
    }
    if (chars.length > 8192) {
      s += String.fromCharCode(...chars);
      chars.length = 0;
    }
  }
  return s + String.fromCharCode(...chars);
}

/** pycocotools' rleFrString. Throws RangeError on characters outside the alphabet, a truncated or an absurdly long count. */
export function decompressCounts(s: string): number[] {
  const counts: number[] = [];
  let p = 0;
  while (p < s.length) {
    let x = 0;
    let more = true;
    let scale = 1;
    while (more) {
      if (p >= s.length) throw new RangeError('RLE string ends inside a count');
      const c = s.charCodeAt(p) - 48;
      if (c < 0 || c > 63) throw new RangeError(`RLE string has an invalid character at ${p}`);
      if (scale > 2 ** 50) throw new RangeError(`RLE string has an impossibly long count at ${p}`);
      x += (c & 0x1f) * scale;
      scale *= 32;
      more = (c & 0x20) !== 0;
      p++;
      if (!more && c & 0x10) x -= scale; // sign-extend
    }
    const m = counts.length;
    if (m > 2) x += counts[m - 2];
    counts.push(x);
  }
  return counts;
}

/** An RLE from uncompressed counts (pycocotools' frUncompressedRLE): `{size, counts: number[]}` as in crowd annotations. */
export function rleFromUncompressed(o: { size: [number, number]; counts: ArrayLike<number> }): Rle {
  return { size: [o.size[0], o.size[1]], counts: compressCounts(o.counts) };
}

export function countsArea(counts: ArrayLike<number>): number {
  let a = 0;
  for (let j = 1; j < counts.length; j += 2) a += counts[j];
  return a;
}

export function rleArea(r: Rle): number {
  return countsArea(decompressCounts(r.counts));
}

/** pycocotools' rleToBbox: the tight box [x, y, w, h] of the foreground, zeros when empty. */
export function countsToBbox(counts: ArrayLike<number>, h: number, w: number): Bbox {
  const m = counts.length - (counts.length % 2);
  if (m === 0) return [0, 0, 0, 0];
  let xs = w, ys = h, xe = 0, ye = 0, cc = 0, xp = 0;
  for (let j = 0; j < m; j++) {
    cc += counts[j];
    const t = cc - (j % 2);
    const y = t % h;
    const x = (t - y) / h;
    if (j % 2 === 0) xp = x;
    else if (xp < x) {
      // A run that wraps into the next column covers the whole height.
      ys = 0;
      ye = h - 1;
    }
    xs = Math.min(xs, x);
    xe = Math.max(xe, x);
    ys = Math.min(ys, y);
    ye = Math.max(ye, y);
  }
  return [xs, ys, xe - xs + 1, ye - ys + 1];
}

export function rleToBbox(r: Rle): Bbox {
  return countsToBbox(decompressCounts(r.counts), r.size[0], r.size[1]);
}

/** Pixels in both run lists, by walking the two lists together (no decoding). */
export function countsIntersectionArea(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ia = 0, ib = 0;
  let ea = a.length > 0 ? a[0] : Infinity; // end (exclusive) of the current run of a
  let eb = b.length > 0 ? b[0] : Infinity;
  let pos = 0;
  let inter = 0;
  while (ia < a.length && ib < b.length) {
    const end = ea < eb ? ea : eb;
    if (ia & 1 && ib & 1) inter += end - pos;
    pos = end;
    if (ea === end) {
      ia++;
      ea = ia < a.length ? ea + a[ia] : Infinity;
    }
    if (eb === end) {
      ib++;
      eb = ib < b.length ? eb + b[ib] : Infinity;
    }
  }
  return inter;
}

/**
 * IoU of two run lists of the same size. With `crowd`, b is a crowd region and the score is
 * intersection over a's area (pycocotools' iscrowd convention).
 */
export function countsIou(a: ArrayLike<number>, b: ArrayLike<number>, crowd = false): number {
  const inter = countsIntersectionArea(a, b);
  const aa = countsArea(a);
  const union = crowd ? aa : aa + countsArea(b) - inter;
  return union === 0 ? 0 : inter / union;
}

export function rleIou(a: Rle, b: Rle, crowd = false): number {
  if (a.size[0] !== b.size[0] || a.size[1] !== b.size[1]) throw new RangeError('rleIou: RLE sizes differ');
  return countsIou(decompressCounts(a.counts), decompressCounts(b.counts), crowd);
}

/** pycocotools' rleMerge on run lists: union (or intersection) in one walk; output equals encoding the merged mask. */
export function mergeCounts(a: ArrayLike<number>, b: ArrayLike<number>, intersect = false): number[] {
  const out: number[] = [];
  let ia = 0, ib = 0;
  let ca = a.length > 0 ? a[0] : 0;
  let cb = b.length > 0 ? b[0] : 0;
  let va = 0, vb = 0, v = 0;
  let cc = 0;
  let ct = 1;
  while (ct > 0) {
    const c = Math.min(ca, cb);
    cc += c;
    ct = 0;
    ca -= c;
    if (!ca && ia + 1 < a.length) {
      ca = a[++ia];
      va ^= 1;
    }
    ct += ca;
    cb -= c;
    if (!cb && ib + 1 < b.length) {
      cb = b[++ib];
      vb ^= 1;
    }
    ct += cb;
    const vp = v;
    v = intersect ? va & vb : va | vb;
    if (v !== vp || ct === 0) {
      out.push(cc);
      cc = 0;
    }
  }
  return out;
}

/** Union (default) or intersection of RLEs of one size, as pycocotools' mask.merge. */
export function rleMerge(rles: Rle[], intersect = false): Rle {
  if (rles.length === 0) throw new RangeError('rleMerge needs at least one RLE');
  const [h, w] = rles[0].size;
  let counts = decompressCounts(rles[0].counts);
  for (let i = 1; i < rles.length; i++) {
    if (rles[i].size[0] !== h || rles[i].size[1] !== w) throw new RangeError('rleMerge: RLE sizes differ');
    counts = mergeCounts(counts, decompressCounts(rles[i].counts), intersect);
  }
  return { size: [h, w], counts: rles.length === 1 ? rles[0].counts : compressCounts(counts) };
}

/** Sum of counts; a well-formed RLE has exactly h·w. */
export function countsTotal(counts: ArrayLike<number>): number {
  let t = 0;
  for (let j = 0; j < counts.length; j++) t += counts[j];
  return t;
}
