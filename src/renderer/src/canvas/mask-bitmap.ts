// Turns a BinaryMask into RGBA pixels cropped to its bounding box, for drawing as a canvas layer, and
// finds the box an edit changed (so only that is repainted). Pure (no DOM) so it is unit-tested; the
// engine wraps the pixels in canvases. Outlines are not painted here: the engine strokes them as
// vectors so they stay crisp at every zoom.
import { maskBbox, runsIn, runsXor, type BinaryMask } from '../../../common/mask';

export interface MaskBox {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Bounding box of the mask's pixels, or null when it is empty. */
export function maskBox(mask: BinaryMask): MaskBox | null {
  const [x, y, w, h] = maskBbox(mask);
  return w === 0 ? null : { x, y, w, h };
}

/** RGBA (width box.w, height box.h) of the mask inside `box`: `rgb` at alpha `alpha` where set. */
export function maskRgba(mask: BinaryMask, box: MaskBox, rgb: [number, number, number], alpha: number): Uint8ClampedArray {
  const out = new Uint8ClampedArray(box.w * box.h * 4);
  // One 32-bit write per pixel, a native fill per run: megapixel boxes cost a few ms, not tens.
  const pixels = new Uint32Array(out.buffer);
  const color = new Uint32Array(Uint8ClampedArray.of(rgb[0], rgb[1], rgb[2], alpha).buffer)[0];
  const { width, data } = mask;
  for (let j = 0; j < box.h; j++) {
    const runs = runsIn(data, (box.y + j) * width + box.x, box.w);
    for (let k = 0; k < runs.length; k += 2) pixels.fill(color, j * box.w + runs[k], j * box.w + runs[k + 1]);
  }
  return out;
}

/** A mask placed on the image: its pixel (0, 0) is image pixel (x, y). */
export interface PlacedBits {
  mask: BinaryMask;
  x: number;
  y: number;
}

/**
 * The smallest box (image pixels) inside `within` where `next` differs from `prev` (pixels outside a
 * mask read as 0), or null where they agree: after an edit only that box of a cached layer is redrawn.
 * `within` must lie inside `next`'s mask.
 */
export function changedBox(prev: PlacedBits, next: PlacedBits, within: MaskBox): MaskBox | null {
  const rows = changedRows(prev, next, within);
  if (!rows) return null;
  const pm = prev.mask, nm = next.mask;
  // prev's columns inside `within`: [a, b) in image pixels.
  const a = Math.max(prev.x, within.x), b = Math.min(prev.x + pm.width, within.x + within.w);
  let x0 = Infinity, x1 = -1, y0 = -1, y1 = -1;
  for (let y = rows[0]; y <= rows[1]; y++) {
    // Both rows as runs from within.x; the runs covered by one of them only are the changed pixels.
    const now = runsIn(nm.data, (y - next.y) * nm.width + within.x - next.x, within.w);
    const before = y >= prev.y && y < prev.y + pm.height && a < b ? runsIn(pm.data, (y - prev.y) * pm.width + a - prev.x, b - a) : [];
    for (let k = 0; k < before.length; k++) before[k] += a - within.x;
    const changed = runsXor(before, now);
    if (changed.length === 0) continue;
    x0 = Math.min(x0, within.x + changed[0]);
    x1 = Math.max(x1, within.x + changed[changed.length - 1] - 1);
    if (y0 < 0) y0 = y;
    y1 = y;
  }
  return y0 < 0 ? null : { x: x0, y: y0, w: x1 - x0 + 1, h: y1 - y0 + 1 };
}

/**
 * The first and last rows of `within` that may differ. When both masks have the same placement (an
 * edit inside the box), the unchanged rows above and below are skipped four bytes at a time.
 */
function changedRows(prev: PlacedBits, next: PlacedBits, within: MaskBox): [number, number] | null {
  const pm = prev.mask, nm = next.mask;
  const all: [number, number] = [within.y, within.y + within.h - 1];
  const samePlace = prev.x === next.x && prev.y === next.y && pm.width === nm.width && pm.height === nm.height;
  if (!samePlace || pm.data.byteOffset % 4 !== 0 || nm.data.byteOffset % 4 !== 0) return all;
  const pd = pm.data, nd = nm.data, words = pd.length >> 2;
  const a = new Uint32Array(pd.buffer, pd.byteOffset, words);
  const b = new Uint32Array(nd.buffer, nd.byteOffset, words);
  let lo = -1, hi = -1; // first and last bytes that may differ
  for (let i = 0; i < words; i++) {
    if (a[i] !== b[i]) {
      lo = 4 * i;
      break;
    }
  }
  for (let i = words - 1; i >= 0; i--) {
    if (a[i] !== b[i]) {
      hi = 4 * i + 3;
      break;
    }
  }
  for (let i = 4 * words; i < pd.length; i++) {
    if (pd[i] === nd[i]) continue;
    if (lo < 0) lo = i;
    hi = i;
  }
  if (lo < 0) return null;
  const y0 = Math.max(all[0], next.y + Math.floor(lo / nm.width)), y1 = Math.min(all[1], next.y + Math.floor(hi / nm.width));
  return y0 <= y1 ? [y0, y1] : null;
}
