// Binary masks as flat row-major bytes (0|1): the in-memory form of an instance between RLE and pixels.
// Every op is a typed-array loop with no per-pixel allocation (masks can be 4k×4k, ~1,000 per image).

export interface BinaryMask {
  width: number;
  height: number;
  /** Row-major, one byte per pixel, 0 or 1. */
  data: Uint8Array;
}

/** [x, y, w, h] in pixels; all zero for an empty mask (as pycocotools' toBbox). */
export type Bbox = [number, number, number, number];

export function createMask(width: number, height: number): BinaryMask {
  return { width, height, data: new Uint8Array(width * height) };
}

export function cloneMask(m: BinaryMask): BinaryMask {
  return { width: m.width, height: m.height, data: m.data.slice() };
}

export function maskArea(m: BinaryMask): number {
  const d = m.data;
  let n = 0;
  for (let i = 0; i < d.length; i++) n += d[i];
  return n;
}

/** Tight pixel bounding box: x = first column with a pixel, w = last − first + 1. */
export function maskBbox(m: BinaryMask): Bbox {
  const { width: w, data: d } = m;
  // indexOf/lastIndexOf are native scans; empty rows are skipped by jumping to the next hit.
  const first = d.indexOf(1);
  if (first < 0) return [0, 0, 0, 0];
  const y0 = Math.floor(first / w);
  const y1 = Math.floor(d.lastIndexOf(1) / w);
  let x0 = w, x1 = -1;
  for (let y = y0; y <= y1; ) {
    const rs = y * w;
    const f = d.indexOf(1, rs);
    const fy = Math.floor(f / w);
    if (fy > y) {
      y = fy;
      continue;
    }
    if (f - rs < x0) x0 = f - rs;
    const l = d.lastIndexOf(1, rs + w - 1) - rs;
    if (l > x1) x1 = l;
    y++;
  }
  return [x0, y0, x1 - x0 + 1, y1 - y0 + 1];
}

function assertSameSize(a: BinaryMask, b: BinaryMask): void {
  if (a.width !== b.width || a.height !== b.height) {
    throw new RangeError(`mask sizes differ: ${a.width}×${a.height} vs ${b.width}×${b.height}`);
  }
}

export function maskIntersectionArea(a: BinaryMask, b: BinaryMask): number {
  assertSameSize(a, b);
  const da = a.data, db = b.data;
  let n = 0;
  for (let i = 0; i < da.length; i++) n += da[i] & db[i];
  return n;
}

/** Intersection over union; two empty masks have IoU 0. */
export function maskIou(a: BinaryMask, b: BinaryMask): number {
  assertSameSize(a, b);
  const da = a.data, db = b.data;
  let inter = 0, union = 0;
  for (let i = 0; i < da.length; i++) {
    inter += da[i] & db[i];
    union += da[i] | db[i];
  }
  return union === 0 ? 0 : inter / union;
}

export function maskUnion(a: BinaryMask, b: BinaryMask): BinaryMask {
  assertSameSize(a, b);
  const out = createMask(a.width, a.height);
  for (let i = 0; i < out.data.length; i++) out.data[i] = a.data[i] | b.data[i];
  return out;
}

export function maskIntersection(a: BinaryMask, b: BinaryMask): BinaryMask {
  assertSameSize(a, b);
  const out = createMask(a.width, a.height);
  for (let i = 0; i < out.data.length; i++) out.data[i] = a.data[i] & b.data[i];
  return out;
}

/** a AND NOT b. */
export function maskSubtract(a: BinaryMask, b: BinaryMask): BinaryMask {
  assertSameSize(a, b);
  const out = createMask(a.width, a.height);
  for (let i = 0; i < out.data.length; i++) out.data[i] = a.data[i] & (b.data[i] ^ 1);
  return out;
}

/**
 * Background pixels reachable from the image border through 4-connected background (value 1 in the result).
 * 4-connected background is the dual of 8-connected foreground, the connectivity maskToPolygons traces.
 */
function outsideBackground(m: BinaryMask): Uint8Array {
  const { width: w, height: h, data: d } = m;
  const seen = new Uint8Array(w * h);
  const stack = new Int32Array(w * h);
  let top = 0;
  const push = (i: number): void => {
    if (!d[i] && !seen[i]) {
      seen[i] = 1;
      stack[top++] = i;
    }
  };
  for (let x = 0; x < w; x++) {
    push(x);
    push((h - 1) * w + x);
  }
  for (let y = 0; y < h; y++) {
    push(y * w);
    push(y * w + w - 1);
  }
  while (top > 0) {
    const i = stack[--top];
    const x = i % w;
    if (x > 0) push(i - 1);
    if (x < w - 1) push(i + 1);
    if (i >= w) push(i - w);
    if (i < w * (h - 1)) push(i + w);
  }
  return seen;
}

/**
 * True when some background pixel is enclosed by foreground (not 4-connected to the image border):
 * holes = 8-connected components − Euler number.
 */
export function maskHasHoles(m: BinaryMask): boolean {
  const [x, y, w, h] = maskBbox(m);
  if (w < 3 || h < 3) return false;
  const win = x === 0 && y === 0 && w === m.width && h === m.height ? m : cropMask(m, x, y, w, h);
  return connectedComponents(win, 8).count - eulerNumber(win) > 0;
}

/** The mask with every enclosed background region set to foreground. */
export function fillHoles(m: BinaryMask): BinaryMask {
  const out = cloneMask(m);
  const [x, y, w, h] = maskBbox(m);
  if (w < 3 || h < 3) return out;
  const win = cropMask(m, x - 1, y - 1, w + 2, h + 2);
  const outside = outsideBackground(win);
  for (let yy = 0; yy < h; yy++) {
    for (let xx = 0; xx < w; xx++) {
      const i = (yy + 1) * (w + 2) + xx + 1;
      if (!outside[i]) out.data[(y + yy) * m.width + x + xx] = 1;
    }
  }
  return out;
}

/**
 * Max (dilate) or min (erode) over a (2r+1)×(2r+1) square, separably, via running counts: O(pixels) for any r.
 * Outside the image counts as background for dilation and as foreground for erosion (no border erosion).
 */
function squareMorph(m: BinaryMask, r: number, dilateMode: boolean): BinaryMask {
  const { width: w, height: h, data: src } = m;
  if (r <= 0) return cloneMask(m);
  const tmp = new Uint8Array(w * h);
  const out = createMask(w, h);
  const want = dilateMode ? 1 : 0; // the value whose presence in the window decides
  // Horizontal pass.
  for (let y = 0; y < h; y++) {
    const row = y * w;
    let count = 0;
    for (let x = 0; x < Math.min(r, w); x++) if (src[row + x] === want) count++;
    for (let x = 0; x < w; x++) {
      const add = x + r, drop = x - r - 1;
      if (add < w && src[row + add] === want) count++;
      if (drop >= 0 && src[row + drop] === want) count--;
      tmp[row + x] = count > 0 ? want : 1 - want;
    }
  }
  // Vertical pass.
  for (let x = 0; x < w; x++) {
    let count = 0;
    for (let y = 0; y < Math.min(r, h); y++) if (tmp[y * w + x] === want) count++;
    for (let y = 0; y < h; y++) {
      const add = y + r, drop = y - r - 1;
      if (add < h && tmp[add * w + x] === want) count++;
      if (drop >= 0 && tmp[drop * w + x] === want) count--;
      out.data[y * w + x] = count > 0 ? want : 1 - want;
    }
  }
  return out;
}

export function dilateMask(m: BinaryMask, radius = 1): BinaryMask {
  return squareMorph(m, radius, true);
}

export function erodeMask(m: BinaryMask, radius = 1): BinaryMask {
  return squareMorph(m, radius, false);
}

/** Components without their per-pixel labels: enough to find and trace each one (see componentSummary). */
export interface ComponentSummary {
  count: number;
  /** areas[k] = pixel count of component k (areas[0] unused, 0). */
  areas: number[];
  /** first[k] = row-major index of component k's first pixel in raster order (first[0] unused, -1). */
  first: number[];
}

export interface Components extends ComponentSummary {
  /** Per pixel: 0 for background, 1..count for the component. */
  labels: Int32Array;
}

/**
 * Connected components of the foreground, 8-connected by default. Works on row runs with union-find
 * (no per-pixel flood fill); labels are numbered in raster order of each component's first pixel.
 */
export function connectedComponents(m: BinaryMask, connectivity: 4 | 8 = 8): Components {
  const { runs, runLabel, ...summary } = labelRuns(m, connectivity);
  const w = m.width;
  const labels = new Int32Array(w * m.height);
  for (let i = 0; i < runs.count; i++) labels.fill(runLabel[i], runs.y[i] * w + runs.xs[i], runs.y[i] * w + runs.xe[i]);
  return { labels, ...summary };
}

/**
 * connectedComponents without the label image (4 bytes per pixel of the mask's box): counting and
 * outlining components needs only their areas and first pixels.
 */
export function componentSummary(m: BinaryMask, connectivity: 4 | 8 = 8): ComponentSummary {
  const { count, areas, first } = labelRuns(m, connectivity);
  return { count, areas, first };
}

interface Runs {
  y: Int32Array;
  xs: Int32Array;
  xe: Int32Array;
  count: number;
}

/** Union-find over row runs: each run's component label, plus the components' areas and first pixels. */
function labelRuns(m: BinaryMask, connectivity: 4 | 8): ComponentSummary & { runs: Runs; runLabel: Int32Array } {
  const w = m.width;
  const runs = rowRuns(m);
  const { y: ry, xs: rxs, xe: rxe, count: n } = runs;
  const parent = new Int32Array(n);
  for (let i = 0; i < n; i++) parent[i] = i;
  const find = (i: number): number => {
    while (parent[i] !== i) {
      parent[i] = parent[parent[i]];
      i = parent[i];
    }
    return i;
  };
  // Runs of consecutive rows touch when they overlap (8-connectivity: also diagonally, one pixel further).
  const reach = connectivity === 8 ? 1 : 0;
  let prevStart = 0, prevEnd = 0; // runs of the previous row: [prevStart, prevEnd)
  for (let i = 0; i < n; ) {
    const y = ry[i];
    let rowEnd = i;
    while (rowEnd < n && ry[rowEnd] === y) rowEnd++;
    if (prevEnd > prevStart && ry[prevStart] === y - 1) {
      let p = prevStart;
      for (let c = i; c < rowEnd; c++) {
        while (p < prevEnd && rxe[p] + reach <= rxs[c]) p++;
        for (let q = p; q < prevEnd && rxs[q] < rxe[c] + reach; q++) {
          const a = find(c), b = find(q);
          if (a !== b) {
            if (a < b) parent[b] = a;
            else parent[a] = b;
          }
        }
      }
    }
    prevStart = i;
    prevEnd = rowEnd;
    i = rowEnd;
  }
  const runLabel = new Int32Array(n);
  const labelOfRoot = new Int32Array(n);
  const areas = [0];
  const first = [-1];
  let count = 0;
  // Roots are the smallest run index of their set, so raster order of runs numbers components in raster order.
  for (let i = 0; i < n; i++) {
    const r = find(i);
    if (labelOfRoot[r] === 0) {
      labelOfRoot[r] = ++count;
      areas.push(0);
      first.push(ry[i] * w + rxs[i]);
    }
    const label = labelOfRoot[r];
    runLabel[i] = label;
    areas[label] += rxe[i] - rxs[i];
  }
  return { runs, runLabel, count, areas, first };
}

/** Horizontal runs of foreground, in raster order: row y, columns [xs, xe). */
function rowRuns(m: BinaryMask): Runs {
  const { width: w, data: d } = m;
  let cap = 64;
  let y: Int32Array = new Int32Array(cap), xs: Int32Array = new Int32Array(cap), xe: Int32Array = new Int32Array(cap);
  let n = 0;
  // Empty rows are skipped in one native scan.
  for (let hit = d.indexOf(1); hit >= 0; hit = d.indexOf(1, hit)) {
    const row = Math.floor(hit / w);
    const runs = runsIn(d, row * w, w);
    for (let k = 0; k < runs.length; k += 2) {
      if (n === cap) {
        cap *= 2;
        const grow = (a: Int32Array): Int32Array => {
          const b = new Int32Array(cap);
          b.set(a);
          return b;
        };
        y = grow(y);
        xs = grow(xs);
        xe = grow(xe);
      }
      y[n] = row;
      xs[n] = runs[k];
      xe[n] = runs[k + 1];
      n++;
    }
    hit = (row + 1) * w;
  }
  return { y, xs, xe, count: n };
}

/**
 * Runs of ones among the n pixels of `data` from `start`, as [start, end, start, end, …] counted from
 * `start`. Native scans (indexOf) find them, so a row costs its runs rather than a loop over its pixels.
 */
export function runsIn(data: Uint8Array, start: number, n: number): number[] {
  const row = data.subarray(start, start + n);
  const runs: number[] = [];
  for (let a = row.indexOf(1); a >= 0; a = row.indexOf(1, a)) {
    let b = row.indexOf(0, a);
    if (b < 0) b = n;
    runs.push(a, b);
    a = b;
  }
  return runs;
}

/**
 * Where two rows differ: the columns covered by exactly one of two run lists (flat [start, end, …],
 * ascending, as runsIn gives them), as a run list. Boundaries of both are merged; a shared one cancels.
 */
export function runsXor(a: number[], b: number[]): number[] {
  const out: number[] = [];
  let i = 0, j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && a[i] < b[j])) out.push(a[i++]);
    else if (i >= a.length || b[j] < a[i]) out.push(b[j++]);
    else {
      i++;
      j++;
    }
  }
  return out;
}

/** 4 × (Euler contribution) of each 2×2 pattern (bits TL 1, BL 2, TR 4, BR 8): +1 for one pixel, −1 for three, −2 diagonal. */
const EULER_QUAD = Int8Array.from({ length: 16 }, (_, q) => {
  const ones = (q & 1) + ((q >> 1) & 1) + ((q >> 2) & 1) + (q >> 3);
  return ones === 1 ? 1 : ones === 3 ? -1 : q === 9 || q === 6 ? -2 : 0;
});

/**
 * Euler number of the foreground (8-connected components minus holes), by counting 2×2 pixel patterns
 * over the zero-padded mask (Gray's bit quads): E = (n1 − n3 − 2·nDiagonal) / 4.
 */
export function eulerNumber(m: BinaryMask): number {
  const { width: w, height: h, data: d } = m;
  let sum = 0;
  // Windows with top-left corner at (x, y), x in [-1, w), y in [-1, h).
  for (let y = -1; y < h; y++) {
    const top = y * w;
    const bottom = top + w;
    const hasTop = y >= 0, hasBottom = y + 1 < h;
    let left = 0; // bits of the window's left column: top = 1, bottom = 2
    for (let xr = 0; xr <= w; xr++) {
      const right = xr < w ? (hasTop ? d[top + xr] : 0) | ((hasBottom ? d[bottom + xr] : 0) << 1) : 0;
      sum += EULER_QUAD[left | (right << 2)];
      left = right;
    }
  }
  return sum / 4;
}

/**
 * Connected pieces (8-connected) and holes (enclosed 4-connected background) of a mask: what an annotator
 * would have to erase or fill before accepting it.
 */
export function piecesAndHoles(m: BinaryMask): { pieces: number; holes: number } {
  const pieces = componentSummary(m, 8).count;
  return { pieces, holes: pieces - eulerNumber(m) };
}

/** The pixels of component `label` as a mask. */
export function componentMask(c: Components, label: number, width: number, height: number): BinaryMask {
  const out = createMask(width, height);
  const l = c.labels;
  for (let i = 0; i < l.length; i++) out.data[i] = l[i] === label ? 1 : 0;
  return out;
}

/** The largest connected component only (empty mask stays empty). */
export function largestComponent(m: BinaryMask, connectivity: 4 | 8 = 8): BinaryMask {
  const c = connectedComponents(m, connectivity);
  if (c.count <= 1) return cloneMask(m);
  let best = 1;
  for (let k = 2; k <= c.count; k++) if (c.areas[k] > c.areas[best]) best = k;
  return componentMask(c, best, m.width, m.height);
}

/**
 * Islands and holes under this fraction of the image are specks (removeSmallRegions): tuned for method `sam`
 * on the dev splits (docs/adr/sam-prompts.md) and used for every method's suggestions.
 */
export const DEFAULT_MIN_REGION_FRACTION = 0.002;

/**
 * The mask without its specks: foreground islands (8-connected) smaller than `minArea` pixels are dropped,
 * except the largest, and background holes (4-connected, not touching the image border) smaller than
 * `minArea` are filled, as segment-anything's automatic mask generator cleans its masks.
 */
export function removeSmallRegions(m: BinaryMask, minArea: number): BinaryMask {
  const out = cloneMask(m);
  const [x0, y0, bw, bh] = maskBbox(m);
  if (minArea <= 1 || bw === 0) return out;
  // Work in the mask's box with a 1-px background margin: the margin joins all outside background (and,
  // where the box meets the image border, stands for it), so a hole is a background piece not touching it.
  const w = bw + 2;
  const h = bh + 2;
  const win = cropMask(m, x0 - 1, y0 - 1, w, h);
  const fg = connectedComponents(win, 8);
  let largest = 1;
  for (let k = 2; k <= fg.count; k++) if (fg.areas[k] > fg.areas[largest]) largest = k;
  const inverted = createMask(w, h);
  for (let i = 0; i < win.data.length; i++) {
    const k = fg.labels[i];
    if (k && k !== largest && fg.areas[k] < minArea) win.data[i] = 0;
    inverted.data[i] = win.data[i] ? 0 : 1;
  }
  // Holes after the islands are gone: the hole of a dropped ring is open background by then.
  const bg = connectedComponents(inverted, 4);
  const outside = bg.labels[0]; // the margin's component
  for (let y = 1; y < h - 1; y++) {
    const row = (y0 + y - 1) * m.width + x0 - 1;
    for (let x = 1; x < w - 1; x++) {
      const i = y * w + x;
      const k = bg.labels[i];
      out.data[row + x] = win.data[i] || (k !== outside && bg.areas[k] < minArea) ? 1 : 0;
    }
  }
  return out;
}

/** The w×h window at (x, y); parts outside the source are background. */
export function cropMask(m: BinaryMask, x: number, y: number, w: number, h: number): BinaryMask {
  const out = createMask(w, h);
  const xs = Math.max(0, x), xe = Math.min(m.width, x + w);
  if (xe <= xs) return out;
  for (let yy = Math.max(0, y); yy < Math.min(m.height, y + h); yy++) {
    out.data.set(m.data.subarray(yy * m.width + xs, yy * m.width + xe), (yy - y) * w + (xs - x));
  }
  return out;
}

/** Nearest-neighbour resize; pixel centres map to pixel centres. */
export function resizeMaskNearest(m: BinaryMask, width: number, height: number): BinaryMask {
  if (m.width === 0 || m.height === 0) return createMask(width, height);
  return resample(m, nearestSource(m.width, width), nearestSource(m.height, height), 0, 0, width, height);
}

/**
 * resizeMaskNearest cut to the columns and rows that sample the source's foreground box: the same
 * pixels, placed at (x0, y0), costing the object rather than width×height (a regrown mask on a
 * 4000×3000 image). An empty source gives an empty 0×0 mask.
 */
export function resizeMaskNearestCropped(m: BinaryMask, width: number, height: number): { mask: BinaryMask; x0: number; y0: number } {
  const [bx, by, bw, bh] = maskBbox(m);
  if (bw === 0) return { mask: createMask(0, 0), x0: 0, y0: 0 };
  const xmap = nearestSource(m.width, width), ymap = nearestSource(m.height, height);
  const [x0, x1] = sampling(xmap, bx, bx + bw), [y0, y1] = sampling(ymap, by, by + bh);
  return { mask: resample(m, xmap, ymap, x0, y0, x1 - x0, y1 - y0), x0, y0 };
}

/** Per destination index, the source index whose centre is nearest to its centre. */
function nearestSource(src: number, dst: number): Int32Array {
  const map = new Int32Array(dst);
  for (let i = 0; i < dst; i++) map[i] = Math.min(src - 1, Math.floor(((i + 0.5) * src) / dst));
  return map;
}

/** [first, end) of the destination indices sampling source indices in [lo, hi) (the map is ascending). */
function sampling(map: Int32Array, lo: number, hi: number): [number, number] {
  let first = 0;
  while (first < map.length && map[first] < lo) first++;
  let end = first;
  while (end < map.length && map[end] < hi) end++;
  return [first, end];
}

/** The w×h window at (x0, y0) of the resize given by the index maps. */
function resample(m: BinaryMask, xmap: Int32Array, ymap: Int32Array, x0: number, y0: number, w: number, h: number): BinaryMask {
  const out = createMask(w, h);
  for (let y = 0; y < h; y++) {
    const srow = ymap[y0 + y] * m.width, drow = y * w;
    for (let x = 0; x < w; x++) out.data[drow + x] = m.data[srow + xmap[x0 + x]];
  }
  return out;
}

/** Masks equal pixel for pixel (and in size). */
export function masksEqual(a: BinaryMask, b: BinaryMask): boolean {
  if (a.width !== b.width || a.height !== b.height) return false;
  for (let i = 0; i < a.data.length; i++) if (a.data[i] !== b.data[i]) return false;
  return true;
}
