// Hierarchical grouping of selective search (Uijlings et al., IJCV 2013): starting from a
// graph-based segmentation, repeatedly merge the most similar pair of adjacent regions until one
// region remains; every region ever formed (initial and merged) is returned as a run-length mask.
import { COLOR_BINS, TEXTURE_BINS } from './image';
import { labelRuns, unionDisjoint } from './spans';

export interface Similarities {
  color: boolean;
  texture: boolean;
  size: boolean;
  fill: boolean;
}

export interface GroupingInput {
  labels: Int32Array;
  count: number;
  width: number;
  height: number;
  /** Colour-histogram bin per channel and pixel, [3][n]. */
  colorCodes: Uint8Array;
  /** Texture-histogram bin per channel and pixel, [3][n]. */
  textureCodes: Uint8Array;
}

const CB = 3 * COLOR_BINS;
const TB = 3 * TEXTURE_BINS;

/** Run lists of all regions in creation order: the `count` initial regions, then each merge. */
export function hierarchicalGrouping(input: GroupingInput, sim: Similarities): Int32Array[] {
  const { labels, count, width, height, colorCodes, textureCodes } = input;
  const n = width * height;
  const total = 2 * count - 1;
  const size = new Float64Array(total);
  const box = new Int32Array(4 * total); // x0, y0, x1, y1 (inclusive)
  const colorHist = sim.color ? new Float32Array(total * CB) : null;
  const textureHist = sim.texture ? new Float32Array(total * TB) : null;
  for (let r = 0; r < count; r++) {
    box[4 * r] = width;
    box[4 * r + 1] = height;
    box[4 * r + 2] = -1;
    box[4 * r + 3] = -1;
  }
  for (let y = 0, i = 0; y < height; y++) {
    for (let x = 0; x < width; x++, i++) {
      const r = labels[i];
      size[r]++;
      const b = 4 * r;
      if (x < box[b]) box[b] = x;
      if (y < box[b + 1]) box[b + 1] = y;
      if (x > box[b + 2]) box[b + 2] = x;
      if (y > box[b + 3]) box[b + 3] = y;
      for (let c = 0; c < 3; c++) {
        if (colorHist) colorHist[r * CB + c * COLOR_BINS + colorCodes[c * n + i]]++;
        if (textureHist) textureHist[r * TB + c * TEXTURE_BINS + textureCodes[c * n + i]]++;
      }
    }
  }

  const runs: Int32Array[] = labelRuns(labels, width, height, count);
  const neighbours: Set<number>[] = [];
  for (let r = 0; r < total; r++) neighbours.push(new Set<number>());
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const a = labels[i];
      // Right, down-left, down, down-right (8-connectivity, as FH's graph).
      for (let d = 0; d < 4; d++) {
        let j: number;
        if (d === 0) {
          if (x + 1 >= width) continue;
          j = i + 1;
        } else {
          if (y + 1 >= height) break;
          if (x + d - 2 < 0 || x + d - 2 >= width) continue;
          j = i + width + d - 2;
        }
        const b = labels[j];
        if (a !== b) {
          neighbours[a].add(b);
          neighbours[b].add(a);
        }
      }
    }
  }

  const similarity = (a: number, b: number): number => {
    let s = 0;
    const sa = size[a];
    const sb = size[b];
    if (colorHist) s += histIntersection(colorHist, a * CB, b * CB, CB, sa, sb);
    if (textureHist) s += histIntersection(textureHist, a * TB, b * TB, TB, sa, sb);
    if (sim.size) s += 1 - (sa + sb) / n;
    if (sim.fill) {
      const bw = Math.max(box[4 * a + 2], box[4 * b + 2]) - Math.min(box[4 * a], box[4 * b]) + 1;
      const bh = Math.max(box[4 * a + 3], box[4 * b + 3]) - Math.min(box[4 * a + 1], box[4 * b + 1]) + 1;
      s += 1 - (bw * bh - sa - sb) / n;
    }
    return s;
  };

  const heap = new PairHeap();
  for (let a = 0; a < count; a++) for (const b of neighbours[a]) if (a < b) heap.push(similarity(a, b), a, b);

  const alive = new Uint8Array(total);
  alive.fill(1, 0, count);
  let next = count;
  while (heap.size > 0 && next < total) {
    const a = heap.topA;
    const b = heap.topB;
    heap.pop();
    if (!alive[a] || !alive[b]) continue;
    const t = next++;
    alive[a] = alive[b] = 0;
    alive[t] = 1;
    size[t] = size[a] + size[b];
    box[4 * t] = Math.min(box[4 * a], box[4 * b]);
    box[4 * t + 1] = Math.min(box[4 * a + 1], box[4 * b + 1]);
    box[4 * t + 2] = Math.max(box[4 * a + 2], box[4 * b + 2]);
    box[4 * t + 3] = Math.max(box[4 * a + 3], box[4 * b + 3]);
    if (colorHist) for (let i = 0; i < CB; i++) colorHist[t * CB + i] = colorHist[a * CB + i] + colorHist[b * CB + i];
    if (textureHist) for (let i = 0; i < TB; i++) textureHist[t * TB + i] = textureHist[a * TB + i] + textureHist[b * TB + i];
    runs.push(unionDisjoint(runs[a], runs[b]));
    const nt = neighbours[t];
    for (const u of neighbours[a]) if (u !== b) nt.add(u);
    for (const u of neighbours[b]) if (u !== a) nt.add(u);
    for (const u of nt) {
      neighbours[u].delete(a);
      neighbours[u].delete(b);
      neighbours[u].add(t);
      heap.push(similarity(t, u), u, t);
    }
    neighbours[a].clear();
    neighbours[b].clear();
  }
  return runs;
}

// Σ min of two L1-normalised histograms (each pixel casts 3 votes, one per channel).
function histIntersection(h: Float32Array, oa: number, ob: number, len: number, sa: number, sb: number): number {
  const ia = 1 / (3 * sa);
  const ib = 1 / (3 * sb);
  let s = 0;
  for (let i = 0; i < len; i++) {
    const va = h[oa + i] * ia;
    const vb = h[ob + i] * ib;
    s += va < vb ? va : vb;
  }
  return s;
}

/** Max-heap of (similarity, a, b); ties broken by smaller a, then smaller b, for determinism. */
class PairHeap {
  private sim: number[] = [];
  private a: number[] = [];
  private b: number[] = [];

  get size(): number {
    return this.sim.length;
  }

  push(s: number, a: number, b: number): void {
    this.sim.push(s);
    this.a.push(a);
    this.b.push(b);
    let i = this.sim.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }

  /** Removes the top pair; read it first with topA / topB. */
  pop(): void {
    const last = this.sim.length - 1;
    this.swap(0, last);
    this.sim.pop();
    this.a.pop();
    this.b.pop();
    let i = 0;
    const n = this.sim.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.before(l, m)) m = l;
      if (r < n && this.before(r, m)) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
  }

  get topA(): number {
    return this.a[0];
  }

  get topB(): number {
    return this.b[0];
  }

  private before(i: number, j: number): boolean {
    if (this.sim[i] !== this.sim[j]) return this.sim[i] > this.sim[j];
    if (this.a[i] !== this.a[j]) return this.a[i] < this.a[j];
    return this.b[i] < this.b[j];
  }

  private swap(i: number, j: number): void {
    const s = this.sim[i];
    this.sim[i] = this.sim[j];
    this.sim[j] = s;
    const a = this.a[i];
    this.a[i] = this.a[j];
    this.a[j] = a;
    const b = this.b[i];
    this.b[i] = this.b[j];
    this.b[j] = b;
  }
}
