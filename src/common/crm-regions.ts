// A rough region per peak read from its class response map, for bundles without an IAM module: method
// `sam` places its second click and measures agreement with it (src/main/engine/sam-method.ts). Coarser
// than an IAM map, but it says the same thing: where this peak's evidence spreads. Measured against IAM,
// a per-cell variant and no region in docs/adr/sam-prompts.md (2026-12-03).
import { componentMask, connectedComponents, type BinaryMask } from './mask';
import type { FloatMap } from './retrieval/float-map';

export interface GridPoint {
  /** Column and row in the map's grid (cell centres at integers). */
  x: number;
  y: number;
  value: number;
}

/**
 * For each peak of one class, its region in a W×H frame: the pixels where the map, read bilinearly, stays at
 * or above `fraction` × the peak's value, each given to the nearest of the peaks whose floor it passes (so
 * touching instances of a class get one region each instead of one blob), then the part connected to the
 * peak. `cols[x]` and `rows[y]` are the grid coordinates of the frame's pixel centres. An empty mask when
 * the peak's own pixel is not its.
 */
export function crmPeakRegions(map: FloatMap, peaks: readonly GridPoint[], fraction: number, cols: Float32Array, rows: Float32Array): BinaryMask[] {
  const W = cols.length, H = rows.length, { width: w, height: h, data } = map;
  const floors = peaks.map((p) => Math.max(p.value, 0) * fraction);
  const owner = new Int16Array(W * H).fill(-1);
  for (let y = 0; y < H; y++) {
    const gy = Math.min(h - 1, Math.max(0, rows[y]));
    const y0 = Math.floor(gy), y1 = Math.min(h - 1, y0 + 1), fy = gy - y0;
    for (let x = 0; x < W; x++) {
      const gx = Math.min(w - 1, Math.max(0, cols[x]));
      const x0 = Math.floor(gx), x1 = Math.min(w - 1, x0 + 1), fx = gx - x0;
      const top = data[y0 * w + x0] + (data[y0 * w + x1] - data[y0 * w + x0]) * fx;
      const bottom = data[y1 * w + x0] + (data[y1 * w + x1] - data[y1 * w + x0]) * fx;
      const v = top + (bottom - top) * fy;
      let best = -1, bestD = Infinity;
      for (let k = 0; k < peaks.length; k++) {
        if (v < floors[k]) continue;
        const d = (cols[x] - peaks[k].x) ** 2 + (rows[y] - peaks[k].y) ** 2;
        if (d < bestD) (bestD = d), (best = k);
      }
      owner[y * W + x] = best;
    }
  }
  return peaks.map((p, k) => {
    const m: BinaryMask = { width: W, height: H, data: new Uint8Array(W * H) };
    for (let i = 0; i < owner.length; i++) if (owner[i] === k) m.data[i] = 1;
    // The frame pixel nearest the peak.
    let px = 0, py = 0, bx = Infinity, by = Infinity;
    for (let x = 0; x < W; x++) if (Math.abs(cols[x] - p.x) < bx) (bx = Math.abs(cols[x] - p.x)), (px = x);
    for (let y = 0; y < H; y++) if (Math.abs(rows[y] - p.y) < by) (by = Math.abs(rows[y] - p.y)), (py = y);
    if (!m.data[py * W + px]) return { width: W, height: H, data: new Uint8Array(W * H) };
    const c = connectedComponents(m, 4);
    return componentMask(c, c.labels[py * W + px], W, H);
  });
}
