// From Peak Response Maps to instance masks: proposal retrieval (PRM paper score, or the ICN
// size-rebalanced score), class-wise NMS that merges the PRMs of suppressed peaks, and the papers'
// baselines (Rect., Ellipse, thresholded PRM). Normalisations: docs/adr/proposals-retrieval.md.
import { DEFAULT_MIN_REGION_FRACTION, removeSmallRegions, resizeMaskNearest, type BinaryMask } from './mask';
import type { Proposal } from './proposals/index';
import { spanArea, spanIou, spansToMask, type SpanMask } from './proposals/spans';
import { resizeBilinear, resizeMass, type FloatMap } from './retrieval/float-map';

export type { FloatMap } from './retrieval/float-map';

export type RetrievalMethod = 'prm' | 'icn' | 'rect' | 'ellipse' | 'threshold';

export interface RetrievalOptions {
  method?: RetrievalMethod;
  /** PRM score: weight of the PRM mass inside the proposal (the paper's α; official code 0.8). */
  alpha?: number;
  /** PRM score: weight of the background fraction inside the proposal (β, per unit image area). */
  beta?: number;
  /** Background cue Q: class response below bgFactor × its mean (official code 0.95). */
  bgFactor?: number;
  /** Proposals outside [min, max) fraction of the image are not retrieved (official code 2e-5, 0.85). */
  minAreaFraction?: number;
  maxAreaFraction?: number;
  /** ICN weights for mean PRM inside, mean PRM on the contour, background fraction (0.95, 0.1, 0.8). */
  icnWeights?: [number, number, number];
  /** Baselines: PRM support = PRM ≥ tau × max (rect: its box; ellipse: its moments; threshold: itself). */
  tau?: number;
  /** NMS: same-class instances with IoU ≥ this are suppressed into the higher-scoring one. */
  nmsIou?: number;
  /** Islands and holes of a retrieved mask under this fraction of the output are removed (0: kept). */
  minRegionFraction?: number;
}

export const DEFAULT_RETRIEVAL = {
  method: 'prm',
  alpha: 0.8,
  beta: 1,
  bgFactor: 0.95,
  minAreaFraction: 2e-5,
  maxAreaFraction: 0.85,
  icnWeights: [0.95, 0.1, 0.8],
  tau: 0.1,
  nmsIou: 0.3,
  minRegionFraction: DEFAULT_MIN_REGION_FRACTION,
} as const satisfies Required<RetrievalOptions>;

/** Pixels of Q inside each proposal, computed once per class (Q from the class response map). */
export interface BackgroundCue {
  counts: Float64Array;
}

/**
 * Q = class response (bilinearly resampled to the proposal grid) below bgFactor × its mean;
 * returns |S ∩ Q| for every proposal S.
 */
export function backgroundCue(proposals: readonly Proposal[], classResponse: FloatMap, opts: RetrievalOptions = {}): BackgroundCue {
  const counts = new Float64Array(proposals.length);
  if (proposals.length === 0) return { counts };
  checkMap(classResponse, 'class response map');
  const { width, height } = proposals[0].mask;
  const crm = resizeBilinear(classResponse, width, height).data;
  let mean = 0;
  for (let i = 0; i < crm.length; i++) mean += crm[i];
  mean /= crm.length;
  const cut = (opts.bgFactor ?? DEFAULT_RETRIEVAL.bgFactor) * mean;
  const q = new Float32Array(crm.length);
  for (let i = 0; i < crm.length; i++) q[i] = crm[i] < cut ? 1 : 0;
  const prefix = rowPrefix(q, width, height);
  for (let p = 0; p < proposals.length; p++) counts[p] = runSum(prefix, width, proposals[p].mask.runs);
  return { counts };
}

/**
 * Score every proposal for one PRM (any resolution; mass-resampled to the proposal grid and
 * normalised to sum 1). Proposals outside the size limits get -Infinity.
 *   prm: α·Σ_S R + Σ_contour(S) R − β·|S ∩ Q| / N
 *   icn: w1·mean_S R̂ + w2·mean_contour(S) R̂ + w3·(−|S ∩ Q| / |S|), R̂ = R / max R
 */
export function scoreProposals(proposals: readonly Proposal[], prm: FloatMap, background: BackgroundCue, opts: RetrievalOptions = {}): Float32Array {
  return scoreProposalsBatch(proposals, [prm], background, opts)[0];
}

/**
 * scoreProposals for several PRMs sharing one background cue (peaks of one class). The run lists are
 * read once for all PRMs: their prefix sums are interleaved, so each run costs two short
 * contiguous reads — memory traffic over the runs, not arithmetic, is what scoring costs.
 */
export function scoreProposalsBatch(proposals: readonly Proposal[], prms: readonly FloatMap[], background: BackgroundCue, opts: RetrievalOptions = {}): Float32Array[] {
  const o = { ...DEFAULT_RETRIEVAL, ...opts };
  const K = prms.length;
  const scores = prms.map(() => new Float32Array(proposals.length).fill(-Infinity));
  if (proposals.length === 0 || K === 0) return scores;
  const { width, height } = proposals[0].mask;
  const n = width * height;
  const stride = width + 1;
  // prefix[((y·(W+1)) + x)·K + k] = Σ_{x' < x} R_k[y, x'].
  const prefix = new Float32Array(height * stride * K);
  const valid: boolean[] = [];
  for (let k = 0; k < K; k++) {
    checkMap(prms[k], 'PRM');
    const r = resizeMass(prms[k], width, height).data;
    let total = 0;
    let max = 0;
    for (let i = 0; i < n; i++) {
      total += r[i];
      if (r[i] > max) max = r[i];
    }
    valid.push(total > 0);
    if (!(total > 0)) continue;
    const norm = o.method === 'icn' ? 1 / max : 1 / total;
    for (let y = 0; y < height; y++) {
      let acc = 0;
      const row = y * stride;
      for (let x = 0; x < width; x++) {
        acc += r[y * width + x] * norm;
        prefix[(row + x + 1) * K + k] = acc;
      }
    }
  }
  const minArea = o.minAreaFraction * n;
  const maxArea = o.maxAreaFraction * n;
  const [w1, w2, w3] = o.icnWeights;
  const inside = new Float64Array(K);
  const contour = new Float64Array(K);
  for (let p = 0; p < proposals.length; p++) {
    const prop = proposals[p];
    if (prop.area < minArea || prop.area >= maxArea) continue;
    runSums(prefix, stride, K, prop.mask.runs, inside);
    runSums(prefix, stride, K, prop.contour, contour);
    const bg = background.counts[p];
    const cArea = o.method === 'icn' ? spanArea(prop.contour) : 0;
    for (let k = 0; k < K; k++) {
      if (!valid[k]) continue;
      scores[k][p] =
        o.method === 'icn'
          ? (w1 * inside[k]) / prop.area + (cArea > 0 ? (w2 * contour[k]) / cArea : 0) - (w3 * bg) / prop.area
          : o.alpha * inside[k] + contour[k] - (o.beta * bg) / n;
    }
  }
  return scores;
}

/** Index of the best score (first on ties), or null when every proposal was excluded. */
function bestOf(scores: Float32Array): { index: number; score: number } | null {
  let index = -1;
  for (let p = 0; p < scores.length; p++) if (scores[p] > -Infinity && (index < 0 || scores[p] > scores[index])) index = p;
  return index < 0 ? null : { index, score: scores[index] };
}

/**
 * Indices of the k best-scoring proposals, best first (ties: lower index), skipping excluded ones —
 * e.g. IAM's pseudo-mask pool (top 5 by α·inside + contour, i.e. scoreProposals with beta 0).
 */
export function topProposals(scores: Float32Array, k: number): number[] {
  const idx: number[] = [];
  for (let p = 0; p < scores.length; p++) if (scores[p] > -Infinity) idx.push(p);
  idx.sort((a, b) => scores[b] - scores[a] || a - b);
  return idx.slice(0, Math.max(0, k));
}

/** The best-scoring proposal (first on ties), or null when none passes the size limits. */
export function retrieveProposal(proposals: readonly Proposal[], prm: FloatMap, background: BackgroundCue, opts: RetrievalOptions = {}): { index: number; score: number } | null {
  return bestOf(scoreProposals(proposals, prm, background, opts));
}

// ---- baselines on the PRM's own grid ----

/** PRM support: pixels with value ≥ tau × max (empty for an all-zero map). */
export function prmSupport(prm: FloatMap, tau: number): SpanMask {
  checkMap(prm, 'PRM');
  let max = 0;
  for (let i = 0; i < prm.data.length; i++) if (prm.data[i] > max) max = prm.data[i];
  const runs: number[] = [];
  if (max > 0) {
    const cut = tau * max;
    for (let y = 0; y < prm.height; y++) {
      const row = y * prm.width;
      let x = 0;
      while (x < prm.width) {
        if (!(prm.data[row + x] >= cut)) {
          x++;
          continue;
        }
        let e = x + 1;
        while (e < prm.width && prm.data[row + e] >= cut) e++;
        runs.push(y, x, e);
        x = e;
      }
    }
  }
  return { width: prm.width, height: prm.height, runs: Int32Array.from(runs) };
}

/** Rect.: the bounding box of the PRM support, filled. */
export function rectFromPrm(prm: FloatMap, tau: number): SpanMask {
  const s = prmSupport(prm, tau);
  if (s.runs.length === 0) return s;
  let x0 = Infinity;
  let x1 = -Infinity;
  for (let i = 0; i < s.runs.length; i += 3) {
    x0 = Math.min(x0, s.runs[i + 1]);
    x1 = Math.max(x1, s.runs[i + 2]);
  }
  const runs: number[] = [];
  for (let y = s.runs[0]; y <= s.runs[s.runs.length - 3]; y++) runs.push(y, x0, x1);
  return { ...s, runs: Int32Array.from(runs) };
}

/**
 * Ellipse: the ellipse with the support's mean and covariance (semi-axes 2√λ, exact for a filled
 * ellipse; each pixel adds the variance 1/12 of a unit square so one-pixel supports stay one pixel).
 */
export function ellipseFromPrm(prm: FloatMap, tau: number): SpanMask {
  const s = prmSupport(prm, tau);
  if (s.runs.length === 0) return s;
  let n = 0, sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
  for (let i = 0; i < s.runs.length; i += 3) {
    const y = s.runs[i];
    for (let x = s.runs[i + 1]; x < s.runs[i + 2]; x++) {
      n++;
      sx += x;
      sy += y;
      sxx += x * x;
      syy += y * y;
      sxy += x * y;
    }
  }
  const mx = sx / n;
  const my = sy / n;
  const cxx = sxx / n - mx * mx + 1 / 12;
  const cyy = syy / n - my * my + 1 / 12;
  const cxy = sxy / n - mx * my;
  const det = cxx * cyy - cxy * cxy;
  // Inside when dᵀ Σ⁻¹ d ≤ 4.
  const ixx = cyy / det, iyy = cxx / det, ixy = -cxy / det;
  const runs: number[] = [];
  const ry = 2 * Math.sqrt(cyy);
  for (let y = Math.max(0, Math.ceil(my - ry)); y <= Math.min(prm.height - 1, Math.floor(my + ry)); y++) {
    // Solve ixx·dx² + 2·ixy·dx·dy + iyy·dy² = 4 for dx.
    const dy = y - my;
    const b = ixy * dy;
    const disc = b * b - ixx * (iyy * dy * dy - 4);
    if (disc < 0) continue;
    const root = Math.sqrt(disc);
    const xa = Math.max(0, Math.ceil(mx + (-b - root) / ixx));
    const xb = Math.min(prm.width, Math.floor(mx + (-b + root) / ixx) + 1);
    if (xb > xa) runs.push(y, xa, xb);
  }
  return { ...s, runs: Int32Array.from(runs) };
}

// ---- per-image pipeline ----

export interface PeakResponse {
  classId: number;
  /** The peak's class response value (the score of baseline instances). */
  peakValue: number;
  /** Peak Response Map at any resolution (all PRMs of one call share one size). */
  prm: FloatMap;
}

export interface RetrievedInstance {
  classId: number;
  score: number;
  /** Mask at the requested output resolution. */
  mask: BinaryMask;
  /** Index of the kept peak in the input, and of the peaks suppressed into it by NMS. */
  peakIndex: number;
  mergedPeaks: number[];
  /** The kept peak's PRM plus the PRMs of the peaks it suppressed. */
  prm: FloatMap;
  /** Index of the retrieved proposal (prm / icn methods). */
  proposalIndex?: number;
}

export interface Candidate {
  classId: number;
  score: number;
  mask: SpanMask;
  peakIndex: number;
  prm: FloatMap;
  proposalIndex?: number;
}

/**
 * Every peak to one instance with the chosen method, then class-wise NMS; masks rendered at
 * outSize by nearest-neighbour resampling. `classResponse(c)` gives class c's response map (the
 * background cue; only used by prm / icn). Result sorted by score, highest first.
 */
export function retrieveInstances(
  peaks: readonly PeakResponse[],
  proposals: readonly Proposal[],
  classResponse: (classId: number) => FloatMap,
  outSize: { width: number; height: number },
  opts: RetrievalOptions = {},
): RetrievedInstance[] {
  const o = { ...DEFAULT_RETRIEVAL, ...opts };
  const candidates: Candidate[] = [];
  if (o.method === 'prm' || o.method === 'icn') {
    // One batched scoring pass per class (the background cue is per class).
    const byClass = new Map<number, number[]>();
    peaks.forEach((pk, i) => byClass.set(pk.classId, [...(byClass.get(pk.classId) ?? []), i]));
    for (const [classId, idx] of byClass) {
      const cue = backgroundCue(proposals, classResponse(classId), o);
      const all = scoreProposalsBatch(proposals, idx.map((i) => peaks[i].prm), cue, o);
      idx.forEach((peakIndex, j) => {
        const best = bestOf(all[j]);
        if (best) candidates.push({ classId, score: best.score, mask: proposals[best.index].mask, peakIndex, prm: peaks[peakIndex].prm, proposalIndex: best.index });
      });
    }
  } else {
    const make = o.method === 'rect' ? rectFromPrm : o.method === 'ellipse' ? ellipseFromPrm : prmSupport;
    peaks.forEach((pk, peakIndex) => {
      const mask = make(pk.prm, o.tau);
      if (mask.runs.length > 0) candidates.push({ classId: pk.classId, score: pk.peakValue, mask, peakIndex, prm: pk.prm });
    });
  }
  // Proposals are unions of superpixels: a retrieved one keeps their slivers and pinholes unless cleaned.
  const minArea = Math.round(o.minRegionFraction * outSize.width * outSize.height);
  return classwiseNms(candidates, o.nmsIou).map(({ kept, merged, prm }) => ({
    classId: kept.classId,
    score: kept.score,
    mask: removeSmallRegions(resizeMaskNearest(spansToMask(kept.mask), outSize.width, outSize.height), minArea),
    peakIndex: kept.peakIndex,
    mergedPeaks: merged.map((c) => c.peakIndex),
    prm,
    ...(kept.proposalIndex === undefined ? {} : { proposalIndex: kept.proposalIndex }),
  }));
}

/**
 * Class-wise NMS as in the PRM code: candidates by descending score (stable); a candidate whose
 * IoU with an already kept one of its class is ≥ iou is dropped and its PRM added to that one's.
 */
export function classwiseNms(candidates: readonly Candidate[], iou: number): { kept: Candidate; merged: Candidate[]; prm: FloatMap }[] {
  const order = candidates.map((_, i) => i).sort((a, b) => candidates[b].score - candidates[a].score || a - b);
  const out: { kept: Candidate; merged: Candidate[]; prm: FloatMap }[] = [];
  for (const i of order) {
    const c = candidates[i];
    const into = out.find((k) => k.kept.classId === c.classId && spanIou(k.kept.mask.runs, c.mask.runs) >= iou);
    if (!into) {
      out.push({ kept: c, merged: [], prm: c.prm });
      continue;
    }
    into.merged.push(c);
    const add = c.prm.width === into.prm.width && c.prm.height === into.prm.height ? c.prm : resizeMass(c.prm, into.prm.width, into.prm.height);
    const sum = new Float32Array(into.prm.data);
    for (let k = 0; k < sum.length; k++) sum[k] += add.data[k];
    into.prm = { width: into.prm.width, height: into.prm.height, data: sum };
  }
  return out;
}

function checkMap(m: FloatMap, what: string): void {
  if (!(m.width > 0 && m.height > 0) || m.data.length !== m.width * m.height) {
    throw new RangeError(`retrieval: ${what} has ${m.data.length} values for ${m.width}×${m.height}`);
  }
}

// Row prefix sums: P[y·(W+1) + x] = Σ_{x' < x} map[y, x'].
function rowPrefix(map: Float32Array, width: number, height: number): Float64Array {
  const p = new Float64Array(height * (width + 1));
  for (let y = 0; y < height; y++) {
    const o = y * (width + 1);
    const m = y * width;
    let s = 0;
    for (let x = 0; x < width; x++) {
      s += map[m + x];
      p[o + x + 1] = s;
    }
  }
  return p;
}

// Σ over the runs for each of K interleaved prefix maps, into out[0..K).
function runSums(prefix: Float32Array, stride: number, K: number, runs: Int32Array, out: Float64Array): void {
  out.fill(0);
  if (K === 1) {
    let s = 0;
    for (let i = 0; i < runs.length; i += 3) {
      const o = runs[i] * stride;
      s += prefix[o + runs[i + 2]] - prefix[o + runs[i + 1]];
    }
    out[0] = s;
    return;
  }
  for (let i = 0; i < runs.length; i += 3) {
    const o = runs[i] * stride;
    const a = (o + runs[i + 1]) * K;
    const b = (o + runs[i + 2]) * K;
    for (let k = 0; k < K; k++) out[k] += prefix[b + k] - prefix[a + k];
  }
}

function runSum(prefix: Float64Array, width: number, runs: Int32Array): number {
  let s = 0;
  const stride = width + 1;
  for (let i = 0; i < runs.length; i += 3) {
    const o = runs[i] * stride;
    s += prefix[o + runs[i + 2]] - prefix[o + runs[i + 1]];
  }
  return s;
}
