// Hit testing in image coordinates: which peak or instance is under the pointer.
import type { BinaryMask } from '../../../common/mask';

export interface PeakLike {
  x: number;
  y: number;
}

/** Index of the peak nearest to (x, y) within `radius` image pixels, or -1. */
export function hitPeak(peaks: readonly PeakLike[], x: number, y: number, radius: number): number {
  let best = -1;
  let bestD = radius * radius;
  for (let i = 0; i < peaks.length; i++) {
    const dx = peaks[i].x - x, dy = peaks[i].y - y;
    const d = dx * dx + dy * dy;
    if (d <= bestD) {
      bestD = d;
      best = i;
    }
  }
  return best;
}

export interface MaskLike {
  id: number;
  /** The mask, possibly cropped: its pixel (0, 0) lies at image pixel (x, y). */
  mask: BinaryMask;
  x: number;
  y: number;
  area: number;
}

/**
 * The instance whose mask covers pixel (x, y); where several overlap the smallest wins, so a small
 * object lying on a large one stays selectable.
 */
export function hitInstance(instances: readonly MaskLike[], x: number, y: number): number | null {
  let best: MaskLike | null = null;
  for (const inst of instances) {
    const m = inst.mask;
    const px = Math.floor(x) - inst.x, py = Math.floor(y) - inst.y;
    if (px < 0 || py < 0 || px >= m.width || py >= m.height) continue;
    if (!m.data[py * m.width + px]) continue;
    if (!best || inst.area < best.area) best = inst;
  }
  return best ? best.id : null;
}

/** The vertex of `rings` (flat [x1, y1, x2, y2, …]) nearest to (x, y) within `radius`, or null. */
export function hitVertex(rings: readonly number[][], x: number, y: number, radius: number): { ring: number; index: number } | null {
  let best: { ring: number; index: number } | null = null;
  let bestD = radius * radius;
  rings.forEach((r, ring) => {
    for (let j = 0; j < r.length; j += 2) {
      const dx = r[j] - x, dy = r[j + 1] - y;
      const d = dx * dx + dy * dy;
      if (d <= bestD) {
        bestD = d;
        best = { ring, index: j };
      }
    }
  });
  return best;
}
