// The threshold slider on a peak's activation map: the instance regrown from the map, live while the
// slider moves. Pure (no DOM) so it is unit-tested; the session saves the result on release.
import { componentMask, connectedComponents, createMask, resizeMaskNearestCropped, type BinaryMask } from '../../../common/mask';

/** A peak activation map as 8-bit gray (0–255 scaled from [min, max]), at map resolution. */
export interface GrayActivation {
  width: number;
  height: number;
  gray: Uint8Array;
  min: number;
  max: number;
}

/**
 * Pixels whose activation is at least tau·max, keeping the connected part holding the peak (map
 * pixel coordinates) or, when the peak itself is below the threshold, the part nearest to it;
 * upsampled to imageW×imageH. Only the part's window of the image is returned, placed at (x0, y0) —
 * the same pixels as the full-size upsampling, without a 12 MB mask per slider step on a 4000×3000
 * image; 0×0 when nothing is above the threshold.
 */
export function regrowMask(
  map: GrayActivation, tau: number, peak: { x: number; y: number }, imageW: number, imageH: number,
): { mask: BinaryMask; x0: number; y0: number } {
  const { width: w, height: h, gray, min, max } = map;
  const range = max - min || 1;
  const level = Math.max(0, Math.ceil(((tau * max - min) / range) * 255 - 1e-6));
  const on = createMask(w, h);
  for (let i = 0; i < gray.length; i++) on.data[i] = gray[i] >= level && gray[i] > 0 ? 1 : 0;
  const comps = connectedComponents(on, 8);
  if (comps.count === 0) return { mask: createMask(0, 0), x0: 0, y0: 0 };
  const px = Math.min(w - 1, Math.max(0, Math.round(peak.x)));
  const py = Math.min(h - 1, Math.max(0, Math.round(peak.y)));
  let label = comps.labels[py * w + px];
  if (!label) {
    let best = Infinity;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const l = comps.labels[y * w + x];
        const d = l ? (x - px) ** 2 + (y - py) ** 2 : Infinity;
        if (d < best) [best, label] = [d, l];
      }
    }
  }
  return resizeMaskNearestCropped(componentMask(comps, label, w, h), imageW, imageH);
}

/** An image point (original pixels) in map pixels, for a map covering the whole image. */
export function toMapPoint(map: { width: number; height: number }, imageW: number, imageH: number, x: number, y: number): { x: number; y: number } {
  return { x: ((x + 0.5) * map.width) / imageW - 0.5, y: ((y + 0.5) * map.height) / imageH - 0.5 };
}
