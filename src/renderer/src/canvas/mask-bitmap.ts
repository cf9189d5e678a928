// Turns a BinaryMask into RGBA pixels cropped to its bounding box, for drawing as a canvas layer.
// Pure (no DOM) so it is unit-tested; the engine wraps the result in a canvas. Outlines are not
// painted here: the engine strokes them as vectors so they stay crisp at every zoom.
import { maskBbox, type BinaryMask } from '../../../common/mask';

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
  const { width, data } = mask;
  const [r, g, b] = rgb;
  for (let j = 0; j < box.h; j++) {
    const row = (box.y + j) * width + box.x;
    for (let i = 0; i < box.w; i++) {
      if (!data[row + i]) continue;
      const o = (j * box.w + i) * 4;
      out[o] = r; out[o + 1] = g; out[o + 2] = b; out[o + 3] = alpha;
    }
  }
  return out;
}
