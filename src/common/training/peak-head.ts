// Peak stimulation for a 1×1 class head on frozen, cached backbone features (PRM, Zhou et al. 2018),
// environment-free: Float32Array math, seeded, no I/O.
//
// For class k the class response map is M_k(cell) = w_k · f(cell) + b_k over the feature grid. Its class
// score is the mean of M_k at its peaks (3×3 local maxima above the map's median, src/common/peaks.ts),
// and the loss is the binary cross-entropy of that score against the image's tag, so the gradient
// reaches the head only through the peak cells: ∂s/∂w_k = mean of f over the peaks, ∂s/∂b_k = 1.
// Images with point labels (the locations of accepted instances) add a localisation loss: the
// cross-entropy of a spatial softmax of M_k against the labelled cells, which pulls the map's maxima
// (its peaks) onto the instances.
import { findPeaks } from '../peaks';
import { seededRandom } from '../random';
import { HALF_TO_FLOAT } from './f16';

/** One image's cached features: cell-major [h·w, D] (the D values of a cell are contiguous). */
export interface FeatureGrid {
  h: number;
  w: number;
  D: number;
  /** float16 bits (the cache's format) or float32 values. */
  data: Uint16Array | Float32Array;
}

/** A point label: a grid cell (row-major index) of one trained class. */
export interface PointLabel {
  k: number;
  cell: number;
}

/** A box of one trained class in continuous grid coordinates (for the pointwise localisation metric). */
export interface GridBox {
  k: number;
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

export interface Sample {
  features: FeatureGrid;
  /** Per trained class: 1 tagged, 0 a negative (tagged with other classes), -1 unknown (ignored). */
  labels: Int8Array;
  points?: PointLabel[];
  boxes?: GridBox[];
}

/** K classes × D features. */
export interface Head {
  K: number;
  D: number;
  weight: Float32Array;
  bias: Float32Array;
}

export interface TrainOptions {
  epochs: number;
  batchSize: number;
  lr: number;
  seed: number;
  /** Weight of the localisation loss (0 = image labels only). */
  lambdaLoc: number;
  /** Temperature of the localisation loss's spatial softmax (map values are divided by it). */
  locTemperature: number;
  /** L2 pull towards the initial head: λ/2 · ‖w − w₀‖². */
  l2: number;
  /**
   * Per class: the row starts as a built-in row of the same concept and is only fine-tuned, at
   * `fineTuneLr` instead of `lr` (Adam moves every weight by about the learning rate per step, gradient or
   * not, and at `lr` that loses the built-in row's localisation: docs/adr/training-project-heads.md).
   */
  fineTune: readonly boolean[];
  fineTuneLr: number;
}

export const DEFAULT_TRAIN_OPTIONS: TrainOptions = { epochs: 30, batchSize: 16, lr: 0.001, seed: 0, lambdaLoc: 0.5, locTemperature: 20, l2: 1e-3, fineTune: [], fineTuneLr: 1e-4 };

export interface EpochStats {
  epoch: number;
  /** Mean training loss of the epoch (classification + weighted localisation). */
  loss: number;
  /** Mean held-out AP over classes that have both positives and negatives there (null: none has). */
  valAp: number | null;
  /** Held-out pointwise localisation (null: no held-out instances). */
  valPointwise: number | null;
}

export function cloneHead(h: Head): Head {
  return { K: h.K, D: h.D, weight: h.weight.slice(), bias: h.bias.slice() };
}

/** M_k over the grid. */
export function classMap(f: FeatureGrid, w: Float32Array, wOff: number, b: number, out = new Float32Array(f.h * f.w)): Float32Array {
  const { D } = f;
  const n = f.h * f.w;
  const data = f.data;
  if (data instanceof Float32Array) {
    for (let c = 0, o = 0; c < n; c++, o += D) {
      let s = b;
      for (let d = 0; d < D; d++) s += w[wOff + d] * data[o + d];
      out[c] = s;
    }
  } else {
    const lut = HALF_TO_FLOAT;
    for (let c = 0, o = 0; c < n; c++, o += D) {
      let s = b;
      for (let d = 0; d < D; d++) s += w[wOff + d] * lut[data[o + d]];
      out[c] = s;
    }
  }
  return out;
}

/** Adds scale · f(cell) to g[gOff …]. */
function addFeature(f: FeatureGrid, cell: number, scale: number, g: Float32Array, gOff: number): void {
  const { D } = f;
  const o = cell * D;
  const data = f.data;
  if (data instanceof Float32Array) for (let d = 0; d < D; d++) g[gOff + d] += scale * data[o + d];
  else for (let d = 0; d < D; d++) g[gOff + d] += scale * HALF_TO_FLOAT[data[o + d]];
}

/** Peak cells of a map (rounded plateau centroids) and the class score (mean peak value; 0 without peaks). */
export function peakScore(map: Float32Array, h: number, w: number): { score: number; cells: number[] } {
  const peaks = findPeaks(map, h, w);
  if (!peaks.length) return { score: 0, cells: [] };
  let s = 0;
  const cells: number[] = [];
  for (const p of peaks) {
    s += p.value;
    cells.push(Math.round(p.y) * w + Math.round(p.x));
  }
  return { score: s / peaks.length, cells };
}

const softplus = (x: number) => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)));
const sigmoid = (x: number) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));

/** Per-class weights of positives and negatives so both count equally (capped at 10×). */
export function classBalance(samples: readonly Sample[], K: number): { pos: Float32Array; neg: Float32Array } {
  const pos = new Float32Array(K);
  const neg = new Float32Array(K);
  for (let k = 0; k < K; k++) {
    let p = 0;
    let n = 0;
    for (const s of samples) {
      if (s.labels[k] === 1) p++;
      else if (s.labels[k] === 0) n++;
    }
    const tot = p + n;
    pos[k] = p ? Math.min(10, tot / (2 * p)) : 1;
    neg[k] = n ? Math.min(10, tot / (2 * n)) : 1;
  }
  return { pos, neg };
}

/**
 * Loss of a batch and its gradient (peaks located at the current head, then held fixed: the loss is
 * piecewise smooth in the head, which the numerical gradient check relies on).
 */
export function lossAndGradient(
  head: Head,
  batch: readonly Sample[],
  opts: { lambdaLoc: number; locTemperature?: number; balance?: { pos: Float32Array; neg: Float32Array } },
  grad?: { weight: Float32Array; bias: Float32Array },
): { loss: number; cls: number; loc: number } {
  const { K, D } = head;
  let cls = 0;
  let loc = 0;
  let clsTerms = 0;
  let locTerms = 0;
  const contributions: { s: Sample; k: number; kind: 'cls' | 'loc'; cells: number[]; coef: number | Float32Array }[] = [];
  for (const s of batch) {
    const { h, w } = s.features;
    for (let k = 0; k < K; k++) {
      const y = s.labels[k];
      const pts = s.points?.filter((p) => p.k === k) ?? [];
      if (y < 0 && !pts.length) continue;
      const map = classMap(s.features, head.weight, k * D, head.bias[k]);
      if (y >= 0) {
        const { score, cells } = peakScore(map, h, w);
        const bw = opts.balance ? (y === 1 ? opts.balance.pos[k] : opts.balance.neg[k]) : 1;
        cls += bw * (softplus(score) - y * score);
        clsTerms++;
        if (grad && cells.length) contributions.push({ s, k, kind: 'cls', cells, coef: bw * (sigmoid(score) - y) });
      }
      if (pts.length && opts.lambdaLoc > 0) {
        // Spatial softmax cross-entropy: −(1/P) Σ_p log softmax(M/T)[p].
        const T = opts.locTemperature ?? 1;
        let max = -Infinity;
        for (const v of map) if (v / T > max) max = v / T;
        let z = 0;
        for (let i = 0; i < map.length; i++) z += Math.exp(map[i] / T - max);
        const logZ = max + Math.log(z);
        let l = 0;
        for (const p of pts) l -= map[p.cell] / T - logZ;
        loc += l / pts.length;
        locTerms++;
        if (grad) {
          const g = new Float32Array(map.length);
          for (let i = 0; i < map.length; i++) g[i] = Math.exp(map[i] / T - logZ) / T;
          for (const p of pts) g[p.cell] -= 1 / pts.length / T;
          contributions.push({ s, k, kind: 'loc', cells: [], coef: g });
        }
      }
    }
  }
  const clsMean = clsTerms ? cls / clsTerms : 0;
  const locMean = locTerms ? loc / locTerms : 0;
  if (grad) {
    for (const c of contributions) {
      if (c.kind === 'cls') {
        const coef = (c.coef as number) / clsTerms;
        const per = coef / c.cells.length;
        for (const cell of c.cells) addFeature(c.s.features, cell, per, grad.weight, c.k * D);
        grad.bias[c.k] += coef;
      } else {
        const g = c.coef as Float32Array;
        const scale = opts.lambdaLoc / locTerms;
        for (let i = 0; i < g.length; i++) if (Math.abs(g[i]) > 1e-7) addFeature(c.s.features, i, scale * g[i], grad.weight, c.k * D);
        // a softmax is invariant to the bias: no bias gradient
      }
    }
  }
  return { loss: clsMean + opts.lambdaLoc * locMean, cls: clsMean, loc: locMean };
}

/** Adam on the head's weight and bias. */
class Adam {
  private t = 0;
  private readonly m: Float32Array[];
  private readonly v: Float32Array[];
  /** `rowLength[i]`: values of params[i] per class row (D for the weights, 1 for the biases). */
  constructor(
    private readonly params: Float32Array[],
    private readonly rowLength: number[],
    private readonly b1 = 0.9,
    private readonly b2 = 0.999,
    private readonly eps = 1e-8,
  ) {
    this.m = params.map((p) => new Float32Array(p.length));
    this.v = params.map((p) => new Float32Array(p.length));
  }
  /** One step with a learning rate per class row. */
  step(grads: Float32Array[], rowLr: Float32Array): void {
    this.t++;
    const c1 = 1 - this.b1 ** this.t;
    const c2 = 1 - this.b2 ** this.t;
    this.params.forEach((p, i) => {
      const g = grads[i];
      const m = this.m[i];
      const v = this.v[i];
      const n = this.rowLength[i];
      for (let j = 0; j < p.length; j++) {
        m[j] = this.b1 * m[j] + (1 - this.b1) * g[j];
        v[j] = this.b2 * v[j] + (1 - this.b2) * g[j] * g[j];
        p[j] -= (rowLr[Math.floor(j / n)] * (m[j] / c1)) / (Math.sqrt(v[j] / c2) + this.eps);
      }
    });
  }
}

/**
 * Trains `init` (copied) on `train`, evaluating on `val` after every epoch. `onEpoch` returning false
 * stops early (cancel); the head so far is returned with the curve.
 */
export function trainHead(
  init: Head,
  train: readonly Sample[],
  val: readonly Sample[],
  options: Partial<TrainOptions> = {},
  onEpoch?: (stats: EpochStats, head: Head) => boolean | void,
): { head: Head; curve: EpochStats[]; stopped: boolean } {
  const o = { ...DEFAULT_TRAIN_OPTIONS, ...options };
  const head = cloneHead(init);
  const w0 = init.weight;
  const adam = new Adam([head.weight, head.bias], [head.D, 1]);
  const baseLr = Float32Array.from({ length: head.K }, (_, k) => (o.fineTune[k] ? o.fineTuneLr : o.lr));
  const rowLr = new Float32Array(head.K);
  const rand = seededRandom(o.seed);
  const balance = classBalance(train, head.K);
  const order = train.map((_, i) => i);
  const curve: EpochStats[] = [];
  const gw = new Float32Array(head.weight.length);
  const gb = new Float32Array(head.bias.length);
  for (let epoch = 1; epoch <= o.epochs; epoch++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    // cosine learning-rate decay over the epochs
    const decay = 0.5 * (1 + Math.cos((Math.PI * (epoch - 1)) / o.epochs));
    for (let k = 0; k < head.K; k++) rowLr[k] = baseLr[k] * decay;
    let lossSum = 0;
    let batches = 0;
    for (let start = 0; start < order.length; start += o.batchSize) {
      const batch = order.slice(start, start + o.batchSize).map((i) => train[i]);
      gw.fill(0);
      gb.fill(0);
      const { loss } = lossAndGradient(head, batch, { lambdaLoc: o.lambdaLoc, locTemperature: o.locTemperature, balance }, { weight: gw, bias: gb });
      if (o.l2 > 0) for (let j = 0; j < gw.length; j++) gw[j] += o.l2 * (head.weight[j] - w0[j]);
      adam.step([gw, gb], rowLr);
      lossSum += loss;
      batches++;
    }
    const ev = val.length ? evaluateHead(head, val) : null;
    const stats: EpochStats = { epoch, loss: batches ? lossSum / batches : 0, valAp: ev?.mAP ?? null, valPointwise: ev?.pointwise ?? null };
    curve.push(stats);
    if (onEpoch?.(stats, head) === false) return { head, curve, stopped: true };
  }
  return { head, curve, stopped: false };
}

/** Per-class average precision (non-interpolated, as sklearn's); null without positives or negatives. */
export function averagePrecision(scores: readonly number[], labels: readonly number[]): number | null {
  const idx = scores.map((_, i) => i).sort((a, b) => scores[b] - scores[a] || a - b);
  const P = labels.filter((l) => l === 1).length;
  const N = labels.filter((l) => l === 0).length;
  if (!P || !N) return null;
  let tp = 0;
  let fp = 0;
  let ap = 0;
  for (let r = 0; r < idx.length; ) {
    // tied scores enter together
    let e = r;
    let dtp = 0;
    while (e < idx.length && scores[idx[e]] === scores[idx[r]]) {
      if (labels[idx[e]] === 1) dtp++;
      else if (labels[idx[e]] === 0) fp++;
      e++;
    }
    tp += dtp;
    if (dtp) ap += (dtp / P) * (tp / (tp + fp));
    r = e;
  }
  return ap;
}

export interface HeadEvaluation {
  /** Per class: AP (null where the held-out images lack positives or negatives). */
  ap: (number | null)[];
  mAP: number | null;
  /** Per class: held-out (image, class) pairs with boxes, and those whose map maximum lies in a box. */
  pointwiseHits: number[];
  pointwiseTotal: number[];
  pointwise: number | null;
  /** Class scores of the samples, [sample][k] (NaN where unlabelled). */
  scores: number[][];
}

/** Classification AP per class and pointwise localisation (the map's maximum inside a box of its class). */
export function evaluateHead(head: Head, samples: readonly Sample[]): HeadEvaluation {
  const { K, D } = head;
  const scores: number[][] = [];
  const hits = new Array<number>(K).fill(0);
  const total = new Array<number>(K).fill(0);
  for (const s of samples) {
    const { h, w } = s.features;
    const row: number[] = [];
    for (let k = 0; k < K; k++) {
      const boxes = s.boxes?.filter((b) => b.k === k) ?? [];
      if (s.labels[k] < 0 && !boxes.length) {
        row.push(NaN);
        continue;
      }
      const map = classMap(s.features, head.weight, k * D, head.bias[k]);
      row.push(peakScore(map, h, w).score);
      if (boxes.length) {
        let best = 0;
        for (let i = 1; i < map.length; i++) if (map[i] > map[best]) best = i;
        const gy = Math.floor(best / w);
        const gx = best - gy * w;
        total[k]++;
        if (boxes.some((b) => gx >= b.x0 && gx <= b.x1 && gy >= b.y0 && gy <= b.y1)) hits[k]++;
      }
    }
    scores.push(row);
  }
  const ap: (number | null)[] = [];
  for (let k = 0; k < K; k++) {
    const idx = samples.map((s, i) => i).filter((i) => samples[i].labels[k] >= 0);
    ap.push(averagePrecision(idx.map((i) => scores[i][k]), idx.map((i) => samples[i].labels[k])));
  }
  const defined = ap.filter((a): a is number => a !== null);
  const T = total.reduce((a, b) => a + b, 0);
  return {
    ap,
    mAP: defined.length ? defined.reduce((a, b) => a + b, 0) / defined.length : null,
    pointwiseHits: hits,
    pointwiseTotal: total,
    pointwise: T ? hits.reduce((a, b) => a + b, 0) / T : null,
    scores,
  };
}

/**
 * Starting row for a class without a built-in one: the normalised difference of the mean feature of its
 * positive and negative images (a nearest-centroid classifier), scaled to `norm`. Deterministic.
 */
export function centroidInit(samples: readonly Sample[], k: number, D: number, norm: number): Float32Array {
  const pos = new Float64Array(D);
  const neg = new Float64Array(D);
  let np = 0;
  let nn = 0;
  const tmp = new Float32Array(D);
  for (const s of samples) {
    const y = s.labels[k];
    if (y < 0) continue;
    tmp.fill(0);
    const n = s.features.h * s.features.w;
    for (let c = 0; c < n; c++) addFeature(s.features, c, 1 / n, tmp, 0);
    const acc = y === 1 ? pos : neg;
    for (let d = 0; d < D; d++) acc[d] += tmp[d];
    if (y === 1) np++;
    else nn++;
  }
  const out = new Float32Array(D);
  let sq = 0;
  for (let d = 0; d < D; d++) {
    out[d] = (np ? pos[d] / np : 0) - (nn ? neg[d] / nn : 0);
    sq += out[d] * out[d];
  }
  const scale = sq > 0 ? norm / Math.sqrt(sq) : 0;
  for (let d = 0; d < D; d++) out[d] *= scale;
  return out;
}

export interface SameConceptRow {
  row: number;
  /** AP of the row's class scores on the samples, and its cosine ratio (below). */
  ap: number;
  cosineRatio: number;
}

/**
 * The row of `rows` that is the same concept as class 0 of `samples`, if one is (docs/adr/training-project-
 * heads.md): the row whose class scores best rank the samples (AP ≥ minAp), when it also stands out in the
 * class's own feature direction (the centroid start), its cosine to it at least minCosineRatio × the next
 * row's. Another concept may rank two image sets as well (bottle for balloons, with EfficientNet) but is
 * then one of several rows about as aligned.
 */
export function sameConceptRow(samples: readonly Sample[], rows: Head, minAp: number, minCosineRatio: number): SameConceptRow | null {
  const { K, D } = rows;
  const rowOf = (r: number) => rows.weight.subarray(r * D, (r + 1) * D);
  let best: { row: number; ap: number } | null = null;
  for (let r = 0; r < K; r++) {
    const ap = evaluateHead({ K: 1, D, weight: rowOf(r), bias: rows.bias.subarray(r, r + 1) }, samples).ap[0];
    if (ap !== null && ap >= minAp && (!best || ap > best.ap)) best = { row: r, ap };
  }
  if (!best) return null;
  const direction = centroidInit(samples, 0, D, 1);
  const cos = Array.from({ length: K }, (_, r) => cosine(direction, rowOf(r)));
  const next = Math.max(...cos.filter((_, r) => r !== best.row), 0);
  const cosineRatio = next > 0 ? cos[best.row] / next : cos[best.row] > 0 ? Infinity : 0;
  return cosineRatio >= minCosineRatio ? { ...best, cosineRatio } : null;
}

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : 0;
}

/** Sigmoid of a class score (the probability the loss models). */
export function probability(score: number): number {
  return sigmoid(score);
}

/**
 * The score threshold that best separates positives from negatives (highest balanced accuracy; the
 * midpoint between neighbouring scores), or null without both.
 */
export function bestThreshold(scores: readonly number[], labels: readonly number[]): number | null {
  const pairs = scores.map((s, i) => ({ s, y: labels[i] })).filter((p) => p.y >= 0 && Number.isFinite(p.s));
  const P = pairs.filter((p) => p.y === 1).length;
  const N = pairs.length - P;
  if (!P || !N) return null;
  pairs.sort((a, b) => a.s - b.s);
  // threshold below everything: all predicted positive
  let tpr = 1;
  let tnr = 0;
  let best = { acc: (tpr + tnr) / 2, t: pairs[0].s - 1 };
  let fn = 0;
  let tn = 0;
  for (let i = 0; i < pairs.length; i++) {
    if (pairs[i].y === 1) fn++;
    else tn++;
    if (i + 1 < pairs.length && pairs[i + 1].s === pairs[i].s) continue;
    tpr = (P - fn) / P;
    tnr = tn / N;
    const t = i + 1 < pairs.length ? (pairs[i].s + pairs[i + 1].s) / 2 : pairs[i].s + 1;
    if ((tpr + tnr) / 2 > best.acc) best = { acc: (tpr + tnr) / 2, t };
  }
  return best.t;
}

/** Class scores of class k on labelled samples, with their labels. */
export function classScores(head: Head, samples: readonly Sample[], k: number): { scores: number[]; labels: number[] } {
  const scores: number[] = [];
  const labels: number[] = [];
  for (const s of samples) {
    if (s.labels[k] < 0) continue;
    const map = classMap(s.features, head.weight, k * head.D, head.bias[k]);
    scores.push(peakScore(map, s.features.h, s.features.w).score);
    labels.push(s.labels[k]);
  }
  return { scores, labels };
}

/**
 * Shifts class k's bias so that its best separating threshold on `samples` lands on `target`. A bias
 * moves every map value, so every peak, and so the class score by the same amount: peak positions,
 * PRMs and AP do not change, but an untagged image is judged against the engine's one threshold. What
 * the engine reads relative to a class's strongest peak does change (the peak floor, top × peakRelThreshold,
 * and method sam's peak score, value / top): at inference the bias is not a free parameter.
 */
export function calibrateBias(head: Head, samples: readonly Sample[], k: number, target: number): number {
  const { scores, labels } = classScores(head, samples, k);
  const t = bestThreshold(scores, labels);
  if (t === null) return 0;
  const shift = target - t;
  head.bias[k] += shift;
  return shift;
}

/** FNV-1a 32-bit of a string (stable split keys). */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** Stable hold-out: one image in `folds` (by the hash of its key, e.g. its content hash) is held out. */
export function isHeldOut(key: string, folds = 5): boolean {
  return fnv1a(`split:${key}`) % folds === 0;
}
