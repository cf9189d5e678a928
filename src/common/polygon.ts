// Polygons ↔ masks. Rasterising reproduces pycocotools' rleFrPoly step for step (same pixels as
// `frPyObjects` + `merge` + `decode`); tracing follows pixel corners so that re-rasterising is exact.
import { componentSummary, cropMask, eulerNumber, maskBbox, type BinaryMask, type ComponentSummary } from './mask';
import { compressCounts, countsToCroppedMask, countsToMask, mergeCounts } from './rle';
import type { Rle } from './api';

export { maskHasHoles } from './mask';

/** C's (int) cast of a double: truncation toward zero. */
const cInt = Math.trunc;

/**
 * Run lengths of one polygon ring, as pycocotools' rleFrPoly: walk every edge densely at 5× scale,
 * keep the points where the walk crosses a pixel column's centre, and toggle each column there.
 */
export function polygonToCounts(xy: ArrayLike<number>, h: number, w: number): number[] {
  const scale = 5;
  const k = xy.length >> 1;
  const x = new Int32Array(k + 1);
  const y = new Int32Array(k + 1);
  for (let j = 0; j < k; j++) x[j] = cInt(scale * xy[2 * j] + 0.5);
  for (let j = 0; j < k; j++) y[j] = cInt(scale * xy[2 * j + 1] + 0.5);
  x[k] = x[0];
  y[k] = y[0];
  // Walk every edge densely; the walk is consumed as it goes (pycocotools stores it), so memory stays
  // proportional to the column crossings however long the edges are.
  const a: number[] = [];
  let pu = 0, pv = 0, started = false;
  const visit = (cu: number, cv: number): void => {
    if (started && cu !== pu) {
      // A step between columns: keep it when it crosses a column centre inside the image.
      let xd = cu < pu ? cu : cu - 1;
      xd = (xd + 0.5) / scale - 0.5;
      if (Math.floor(xd) === xd && xd >= 0 && xd <= w - 1) {
        let yd = cv < pv ? cv : pv;
        yd = (yd + 0.5) / scale - 0.5;
        if (yd < 0) yd = 0;
        else if (yd > h) yd = h;
        a.push(xd * h + Math.ceil(yd));
      }
    }
    pu = cu;
    pv = cv;
    started = true;
  };
  for (let j = 0; j < k; j++) {
    let xs = x[j], xe = x[j + 1], ys = y[j], ye = y[j + 1];
    const dx = Math.abs(xe - xs), dy = Math.abs(ys - ye);
    const flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
    if (flip) {
      let t = xs; xs = xe; xe = t;
      t = ys; ys = ye; ye = t;
    }
    // A repeated vertex gives 0/0 = NaN here, as in C; that point's column equals its neighbours', so it is never used.
    const s = dx >= dy ? (ye - ys) / dx : (xe - xs) / dy;
    if (dx >= dy) {
      for (let d = 0; d <= dx; d++) {
        const t = flip ? dx - d : d;
        visit(t + xs, cInt(ys + s * t + 0.5));
      }
    } else {
      for (let d = 0; d <= dy; d++) {
        const t = flip ? dy - d : d;
        visit(cInt(xs + s * t + 0.5), t + ys);
      }
    }
  }
  a.push(h * w);
  const sorted = Float64Array.from(a).sort();
  // Differences between toggles are the run lengths; a zero-length run merges its neighbours.
  let p = 0;
  for (let j = 0; j < sorted.length; j++) {
    const t = sorted[j];
    sorted[j] -= p;
    p = t;
  }
  const counts: number[] = [sorted[0]];
  for (let j = 1; j < sorted.length; ) {
    if (sorted[j] > 0) counts.push(sorted[j++]);
    else {
      j++;
      if (j < sorted.length) counts[counts.length - 1] += sorted[j++];
    }
  }
  return counts;
}

/** Union of the rings' rasters as run lengths (pycocotools: frPyObjects then merge). */
export function polygonsToCounts(polys: ArrayLike<number>[], width: number, height: number): number[] {
  if (polys.length === 0) return [height * width];
  let counts = polygonToCounts(polys[0], height, width);
  for (let i = 1; i < polys.length; i++) counts = mergeCounts(counts, polygonToCounts(polys[i], height, width));
  return counts;
}

export function polygonsToRle(polys: ArrayLike<number>[], width: number, height: number): Rle {
  return { size: [height, width], counts: compressCounts(polygonsToCounts(polys, width, height)) };
}

/** Same pixels as pycocotools `decode(merge(frPyObjects(polys, height, width)))`. */
export function polygonsToMask(polys: ArrayLike<number>[], width: number, height: number): BinaryMask {
  return countsToMask(polygonsToCounts(polys, width, height), height, width);
}

/**
 * polygonsToMask cut to the rings' raster box: the same pixels, placed at (x0, y0), so drawing an
 * object on a 4000×3000 image costs the object, not a 12 MB mask. 0×0 when nothing is inside the image.
 */
export function polygonsToWindowMask(polys: ArrayLike<number>[], width: number, height: number): { mask: BinaryMask; x0: number; y0: number } {
  return countsToCroppedMask(polygonsToCounts(polys, width, height), height, width);
}

export interface TraceOptions {
  /** Douglas–Peucker tolerance in pixels (0 = exact staircase outline; at most 0.5 keeps IoU high). */
  tolerance?: number;
  /** Components smaller than this many pixels are dropped (default 1: keep all). */
  minArea?: number;
}

// Directions in y-down image coordinates: east, south, west, north.
const DX = [1, 0, -1, 0];
const DY = [0, 1, 0, -1];
// Offsets from a vertex to the pixels ahead-left and ahead-right of it, per direction.
const AHEAD_LEFT_X = [0, 0, -1, -1];
const AHEAD_LEFT_Y = [-1, 0, 0, -1];
const AHEAD_RIGHT_X = [0, -1, -1, 0];
const AHEAD_RIGHT_Y = [0, 0, -1, -1];

/**
 * One closed ring per 8-connected component, along pixel corners (pixel (x, y) spans [x, x+1]×[y, y+1]),
 * so that polygonsToMask of the rings gives back the mask with its holes filled. Only turns are kept as
 * vertices; `tolerance` > 0 simplifies further.
 */
export function maskToPolygons(m: BinaryMask, opts: TraceOptions = {}): number[][] {
  return outline(m, opts, false) ?? [];
}

/**
 * maskToPolygons for export: null when the mask has holes (COCO polygons cannot represent them), decided
 * from the same component labelling (holes = components − Euler number) so the mask is scanned once.
 */
export function maskToPolygonsIfNoHoles(m: BinaryMask, opts: TraceOptions = {}): number[][] | null {
  return outline(m, opts, true);
}

function outline(m: BinaryMask, opts: TraceOptions, refuseHoles: boolean): number[][] | null {
  // Work inside the bounding box only: instances are usually small against the image.
  const [bx, by, bw, bh] = maskBbox(m);
  if (bw === 0) return [];
  const win = bx === 0 && by === 0 && bw === m.width && bh === m.height ? m : cropMask(m, bx, by, bw, bh);
  const comps = componentSummary(win, 8);
  if (refuseHoles && bw >= 3 && bh >= 3 && comps.count - eulerNumber(win) > 0) return null;
  const rings = traceRings(win, comps, opts);
  for (const ring of rings) {
    for (let j = 0; j < ring.length; j += 2) {
      ring[j] += bx;
      ring[j + 1] += by;
    }
  }
  return rings;
}

/**
 * Walks each component's outer boundary on the mask itself, without a label image: the four pixels
 * around a corner are pairwise 8-adjacent and one of them (right of the edge just walked) is the
 * component's, so any foreground pixel the walk looks at belongs to the same component.
 */
function traceRings(m: BinaryMask, comps: ComponentSummary, opts: TraceOptions): number[][] {
  const { width: w, height: h, data } = m;
  const rings: number[][] = [];
  const minArea = opts.minArea ?? 1;
  for (let label = 1; label <= comps.count; label++) {
    if (comps.areas[label] < minArea) continue;
    // The first pixel in raster order has background above: trace from its top-left corner heading east,
    // foreground on the right, which walks the outer boundary clockwise (on screen).
    const start = comps.first[label];
    const sx = start % w, sy = (start - sx) / w;
    const ring: number[] = [sx, sy];
    let vx = sx, vy = sy, dir = 0;
    do {
      // The two pixels ahead of vertex (vx, vy) when facing `dir`: ahead-left and ahead-right.
      const lx = vx + AHEAD_LEFT_X[dir], ly = vy + AHEAD_LEFT_Y[dir];
      const rx = vx + AHEAD_RIGHT_X[dir], ry = vy + AHEAD_RIGHT_Y[dir];
      const l = lx >= 0 && ly >= 0 && lx < w && ly < h && data[ly * w + lx] === 1;
      let nd: number;
      if (l) nd = (dir + 3) & 3; // turn left: ahead-left is ours (also at a diagonal touch: 8-connectivity)
      else if (rx >= 0 && ry >= 0 && rx < w && ry < h && data[ry * w + rx] === 1) nd = dir; // straight on
      else nd = (dir + 1) & 3; // turn right
      if (nd !== dir && (vx !== sx || vy !== sy)) ring.push(vx, vy);
      dir = nd;
      vx += DX[dir];
      vy += DY[dir];
    } while (vx !== sx || vy !== sy); // the start corner is no saddle, so it is met only once
    rings.push(opts.tolerance && opts.tolerance > 0 ? simplifyRing(ring, opts.tolerance) : ring);
  }
  return rings;
}

/** Douglas–Peucker on a closed ring (flat xy); keeps at least 3 vertices. */
export function simplifyRing(ring: number[], tolerance: number): number[] {
  const n = ring.length >> 1;
  if (n <= 4) return ring.slice();
  // Split at vertex 0 and the vertex farthest from it, simplify both open chains.
  let far = 0, farD = -1;
  for (let j = 1; j < n; j++) {
    const d = (ring[2 * j] - ring[0]) ** 2 + (ring[2 * j + 1] - ring[1]) ** 2;
    if (d > farD) {
      farD = d;
      far = j;
    }
  }
  const keep = new Uint8Array(n + 1);
  keep[0] = keep[far] = keep[n] = 1;
  // Coordinates with vertex 0 repeated as vertex n, so the inner loop reads them without a modulo.
  const px = new Float64Array(n + 1), py = new Float64Array(n + 1);
  for (let j = 0; j < n; j++) {
    px[j] = ring[2 * j];
    py[j] = ring[2 * j + 1];
  }
  px[n] = px[0];
  py[n] = py[0];
  const tol2 = tolerance * tolerance;
  const stack: number[] = [0, far, far, n];
  while (stack.length > 0) {
    const b = stack.pop()!, a = stack.pop()!;
    const ax = px[a], ay = py[a], bx = px[b], by = py[b];
    const ex = bx - ax, ey = by - ay;
    const len2 = ex * ex + ey * ey;
    let best = -1, bestD = tol2;
    for (let j = a + 1; j < b; j++) {
      const qx = px[j] - ax, qy = py[j] - ay;
      const cross = qx * ey - qy * ex;
      const d = len2 === 0 ? qx * qx + qy * qy : (cross * cross) / len2;
      if (d > bestD) {
        bestD = d;
        best = j;
      }
    }
    if (best >= 0) {
      keep[best] = 1;
      stack.push(a, best, best, b);
    }
  }
  const out: number[] = [];
  for (let j = 0; j < n; j++) if (keep[j]) out.push(ring[2 * j], ring[2 * j + 1]);
  return out.length >= 6 ? out : ring.slice();
}
