// Peak finding on class response maps (PRM, Zhou et al. 2018): local maxima of a 3×3 window that lie
// strictly above the map's median. Plateaus (connected equal values) give one peak, so the result is
// deterministic whatever the tie pattern.
import { median, upsampleBicubic } from './retrieval/float-map';

export interface Peak {
  /** Row and column in the ORIGINAL map grid (pixel centres at integers; fractional with sub-pixel search). */
  y: number;
  x: number;
  /** Map value at the peak (of the upsampled map when subPixelFactor > 1). */
  value: number;
}

export interface PeakOptions {
  /**
   * Upsampling factor applied before the search (1 = search the map itself); samples stay in place.
   * Bicubic, not bilinear: a bilinear interpolant has its maxima on the original samples, so it
   * cannot refine a peak.
   */
  subPixelFactor?: number;
  /** Peaks must also reach this value (applied after the median rule). */
  minValue?: number;
}

/**
 * Local maxima of `map` (row-major h×w). A peak is a plateau of equal values with no strictly higher
 * 8-neighbour, above the median of the original map (and ≥ minValue), reported at the plateau's
 * centroid. Sorted by value, then position.
 */
export function findPeaks(map: Float32Array, h: number, w: number, opts: PeakOptions = {}): Peak[] {
  if (map.length !== h * w) throw new RangeError(`findPeaks: map has ${map.length} values, expected ${h}×${w}`);
  const f = Math.max(1, Math.round(opts.subPixelFactor ?? 1));
  const floor = median(map);
  const minValue = opts.minValue ?? -Infinity;
  const grid = f === 1 ? { width: w, height: h, data: map } : upsampleBicubic({ width: w, height: h, data: map }, f);
  const found = plateauMaxima(grid.data, grid.height, grid.width, (v) => v > floor && v >= minValue);
  return found.map((p) => ({ y: p.y / f, x: p.x / f, value: p.value }));
}

/** Class confidence of a map from its peaks: the mean peak response (0 without peaks). */
export function classConfidence(peaks: readonly Peak[]): number {
  if (peaks.length === 0) return 0;
  let s = 0;
  for (const p of peaks) s += p.value;
  return s / peaks.length;
}

const NEIGHBOURS = [-1, -1, -1, 0, -1, 1, 0, -1, 0, 1, 1, -1, 1, 0, 1, 1];

// Each candidate (no strictly larger neighbour) is flood-filled over its plateau of equal values; the
// plateau is a maximum when none of its pixels has a strictly larger neighbour.
function plateauMaxima(data: ArrayLike<number>, h: number, w: number, accept: (v: number) => boolean): Peak[] {
  const visited = new Uint8Array(h * w);
  const out: Peak[] = [];
  const stack: number[] = [];
  const members: number[] = [];
  for (let i = 0; i < h * w; i++) {
    if (visited[i]) continue;
    const v = data[i];
    if (!accept(v) || Number.isNaN(v)) continue;
    if (hasLargerNeighbour(data, h, w, i, v)) continue;
    // Flood the plateau.
    let isMax = true;
    members.length = 0;
    stack.push(i);
    visited[i] = 1;
    while (stack.length) {
      const p = stack.pop()!;
      members.push(p);
      const py = (p / w) | 0;
      const px = p - py * w;
      for (let k = 0; k < 16; k += 2) {
        const y = py + NEIGHBOURS[k];
        const x = px + NEIGHBOURS[k + 1];
        if (y < 0 || y >= h || x < 0 || x >= w) continue;
        const q = y * w + x;
        const u = data[q];
        if (u > v) isMax = false;
        else if (u === v && !visited[q]) {
          visited[q] = 1;
          stack.push(q);
        }
      }
    }
    if (!isMax) continue;
    out.push(representative(members, w, v));
  }
  out.sort((a, b) => b.value - a.value || a.y - b.y || a.x - b.x);
  return out;
}

function hasLargerNeighbour(data: ArrayLike<number>, h: number, w: number, i: number, v: number): boolean {
  const py = (i / w) | 0;
  const px = i - py * w;
  for (let k = 0; k < 16; k += 2) {
    const y = py + NEIGHBOURS[k];
    const x = px + NEIGHBOURS[k + 1];
    if (y >= 0 && y < h && x >= 0 && x < w && data[y * w + x] > v) return true;
  }
  return false;
}

// A plateau's position is its centroid (a symmetric peak upsampled by an even factor is a 2×2
// plateau whose centroid is the true centre); one pixel is itself.
function representative(members: number[], w: number, value: number): Peak {
  let cy = 0;
  let cx = 0;
  for (const p of members) {
    cy += (p / w) | 0;
    cx += p % w;
  }
  return { y: cy / members.length, x: cx / members.length, value };
}
