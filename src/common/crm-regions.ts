// A rough region per peak read from its class response map, for bundles without an IAM module: method
// `sam` places its second click and measures agreement with it (src/main/engine/sam-method.ts). Coarser
// than an IAM map, but it says the same thing: where this peak's evidence spreads. Measured against IAM
// and no region in docs/adr/sam-prompts.md (2026-12-03).
import type { BinaryMask } from './mask';
import type { FloatMap } from './retrieval/float-map';

export interface GridPoint {
  /** Column and row in the map's grid (cell centres at integers). */
  x: number;
  y: number;
  value: number;
}

/**
 * For each peak of one class, the cells at or above `fraction` × its value that connect to it (4-neighbour),
 * each shared cell given to the nearest of the peaks claiming it, so touching instances of a class get one
 * region each instead of one blob. Masks are on the map's grid; an empty one when the peak's cell fails.
 */
export function crmPeakRegions(map: FloatMap, peaks: readonly GridPoint[], fraction: number): BinaryMask[] {
  const { width: w, height: h } = map;
  const claims = peaks.map((p) => reachable(map, cellOf(p, w, h), Math.max(p.value, 0) * fraction));
  return peaks.map((p, i) => {
    const out: BinaryMask = { width: w, height: h, data: new Uint8Array(w * h) };
    for (let c = 0; c < w * h; c++) {
      if (!claims[i][c]) continue;
      const x = c % w, y = (c - x) / w;
      const d = (x - p.x) ** 2 + (y - p.y) ** 2;
      let nearest = true;
      for (let j = 0; j < peaks.length && nearest; j++) {
        if (j === i || !claims[j][c]) continue;
        const e = (x - peaks[j].x) ** 2 + (y - peaks[j].y) ** 2;
        nearest = d < e || (d === e && i < j);
      }
      if (nearest) out.data[c] = 1;
    }
    return out;
  });
}

/**
 * A grid mask drawn into a W×H frame: pixel centres are mapped to grid coordinates per axis (`cols[x]`,
 * `rows[y]`, linear in the frame) and the mask is read bilinearly, above 0.5, so cell blocks become rounded.
 */
export function gridMaskToFrame(m: BinaryMask, cols: Float32Array, rows: Float32Array): BinaryMask {
  const W = cols.length, H = rows.length, { width: w, height: h } = m;
  const out: BinaryMask = { width: W, height: H, data: new Uint8Array(W * H) };
  const at = (gx: number, gy: number) => (gx < 0 || gy < 0 || gx >= w || gy >= h ? 0 : m.data[gy * w + gx]);
  for (let y = 0; y < H; y++) {
    const gy = Math.min(h - 1, Math.max(0, rows[y]));
    const y0 = Math.floor(gy), fy = gy - y0;
    for (let x = 0; x < W; x++) {
      const gx = Math.min(w - 1, Math.max(0, cols[x]));
      const x0 = Math.floor(gx), fx = gx - x0;
      const top = at(x0, y0) + (at(x0 + 1, y0) - at(x0, y0)) * fx;
      const bottom = at(x0, y0 + 1) + (at(x0 + 1, y0 + 1) - at(x0, y0 + 1)) * fx;
      if (top + (bottom - top) * fy > 0.5) out.data[y * W + x] = 1; // > : disjoint cell masks stay disjoint
    }
  }
  return out;
}

function cellOf(p: GridPoint, w: number, h: number): number {
  const x = Math.min(w - 1, Math.max(0, Math.round(p.x)));
  const y = Math.min(h - 1, Math.max(0, Math.round(p.y)));
  return y * w + x;
}

/** Cells at or above `floor` 4-connected to `start` (none when `start` itself is below). */
function reachable(map: FloatMap, start: number, floor: number): Uint8Array {
  const { width: w, height: h, data } = map;
  const seen = new Uint8Array(w * h);
  if (!(data[start] >= floor)) return seen;
  const stack = [start];
  seen[start] = 1;
  while (stack.length) {
    const c = stack.pop()!;
    const x = c % w;
    for (const n of [x > 0 ? c - 1 : -1, x < w - 1 ? c + 1 : -1, c >= w ? c - w : -1, c + w < w * h ? c + w : -1]) {
      if (n < 0 || seen[n] || !(data[n] >= floor)) continue;
      seen[n] = 1;
      stack.push(n);
    }
  }
  return seen;
}
