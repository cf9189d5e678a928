// Felzenszwalb–Huttenlocher graph-based segmentation (IJCV 2004): 8-neighbour grid graph weighted by
// the Euclidean colour distance of the Gaussian-smoothed image, edges taken in increasing weight,
// components joined when the edge is no heavier than both internal differences + k/|C|, then
// components smaller than minSize absorbed along the lightest remaining edges.

export interface Segmentation {
  /** Component index per pixel, 0..count-1, numbered in raster order of first appearance. */
  labels: Int32Array;
  count: number;
}

/** Weights are quantised to 1/WEIGHT_STEPS so that a counting sort replaces the comparison sort. */
const WEIGHT_STEPS = 8;

/** The grid graph's edges sorted by weight (shared by all k of one colour space). */
export interface SortedEdges {
  n: number;
  a: Int32Array;
  b: Int32Array;
  /** Weight × WEIGHT_STEPS, ascending. */
  w: Int32Array;
}

/**
 * Segment three planar channels (Float32Array [3][h·w], already smoothed) with scale k and minimum size.
 * Deterministic: ties in weight keep raster order of the edges.
 */
export function felzenszwalb(planes: Float32Array, width: number, height: number, k: number, minSize: number): Segmentation {
  return segmentGraph(sortedEdges(planes, width, height), k, minSize);
}

/** 8-neighbour edges of the grid weighted by colour distance, counting-sorted by weight (stable). */
export function sortedEdges(planes: Float32Array, width: number, height: number): SortedEdges {
  const n = width * height;
  if (planes.length !== 3 * n) throw new RangeError(`felzenszwalb: expected 3 planes of ${width}×${height}`);
  const c0 = planes.subarray(0, n);
  const c1 = planes.subarray(n, 2 * n);
  const c2 = planes.subarray(2 * n, 3 * n);
  // Edges: right, down-left, down, down-right per pixel.
  const maxEdges = 4 * n;
  const ea = new Int32Array(maxEdges);
  const eb = new Int32Array(maxEdges);
  const ew = new Int32Array(maxEdges);
  let m = 0;
  let maxW = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const a = y * width + x;
      for (let d = 0; d < 4; d++) {
        let b: number;
        if (d === 0) {
          if (x + 1 >= width) continue;
          b = a + 1;
        } else {
          if (y + 1 >= height) break;
          const dx = d - 2;
          if (x + dx < 0 || x + dx >= width) continue;
          b = a + width + dx;
        }
        const d0 = c0[a] - c0[b];
        const d1 = c1[a] - c1[b];
        const d2 = c2[a] - c2[b];
        const w = Math.round(Math.sqrt(d0 * d0 + d1 * d1 + d2 * d2) * WEIGHT_STEPS);
        ea[m] = a;
        eb[m] = b;
        ew[m++] = w;
        if (w > maxW) maxW = w;
      }
    }
  }
  // Counting sort by weight (stable).
  const counts = new Int32Array(maxW + 2);
  for (let e = 0; e < m; e++) counts[ew[e] + 1]++;
  for (let v = 1; v < counts.length; v++) counts[v] += counts[v - 1];
  // Scatter the edges themselves (not an index) so the merge loops below read memory in order.
  const sa = new Int32Array(m);
  const sb = new Int32Array(m);
  const sw = new Int32Array(m);
  for (let e = 0; e < m; e++) {
    const t = counts[ew[e]]++;
    sa[t] = ea[e];
    sb[t] = eb[e];
    sw[t] = ew[e];
  }
  return { n, a: sa, b: sb, w: sw };
}

/** FH merging over pre-sorted edges. */
export function segmentGraph(edges: SortedEdges, k: number, minSize: number): Segmentation {
  const { n, a: sa, b: sb, w: sw } = edges;
  const m = sa.length;

  const parent = new Int32Array(n);
  const size = new Int32Array(n).fill(1);
  const threshold = new Float64Array(n).fill(k);
  for (let i = 0; i < n; i++) parent[i] = i;
  const find = (i: number): number => {
    let r = i;
    while (parent[r] !== r) r = parent[r];
    while (parent[i] !== r) {
      const next = parent[i];
      parent[i] = r;
      i = next;
    }
    return r;
  };
  const join = (a: number, b: number): number => {
    // Union by size; the larger root survives (ties: the smaller index) for determinism.
    if (size[a] < size[b] || (size[a] === size[b] && a > b)) {
      const t = a;
      a = b;
      b = t;
    }
    parent[b] = a;
    size[a] += size[b];
    return a;
  };
  for (let t = 0; t < m; t++) {
    const a = find(sa[t]);
    const b = find(sb[t]);
    if (a === b) continue;
    const w = sw[t] / WEIGHT_STEPS;
    if (w <= threshold[a] && w <= threshold[b]) {
      const r = join(a, b);
      threshold[r] = w + k / size[r];
    }
  }
  if (minSize > 1) {
    for (let t = 0; t < m; t++) {
      const a = find(sa[t]);
      const b = find(sb[t]);
      if (a !== b && (size[a] < minSize || size[b] < minSize)) join(a, b);
    }
  }
  const labels = new Int32Array(n);
  const index = new Int32Array(n).fill(-1);
  let count = 0;
  for (let i = 0; i < n; i++) {
    const r = find(i);
    if (index[r] < 0) index[r] = count++;
    labels[i] = index[r];
  }
  return { labels, count };
}
