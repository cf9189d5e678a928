// Method `sam`: the bundle's peaks say where instances are and of which class; the segmenter draws them.
// Each peak, strongest first, becomes one prompt: a click at the peak plus one at the innermost pixel of
// its IAM region (choices in src/common/sam-prompts.ts); a peak falling inside a mask already drawn for
// its class supports that mask, so the decoder runs about once per instance rather than once per peak,
// unless that mask is far larger than the peak's own region (a group: it is then split off with one
// click). A class learnt from scratch has no such region: its peak is decoded against the mask's own peak and
// split off when its mask is far smaller, and a bunch's members are then decoded against each other
// (probeSplit). Masks are scored and suppressed class-wise.
import { maskArea, maskIntersectionArea, maskIou, resizeMaskNearest, type BinaryMask } from '../../common/mask';
import { crmPeakRegions, type GridPoint } from '../../common/crm-regions';
import { maskToSpans } from '../../common/proposals/spans';
import { classwiseNms, type Candidate, type FloatMap } from '../../common/retrieval';
import type * as ort from 'onnxruntime-node';
import { combineScore, decoderMaskChoice, stabilityScore, DEFAULT_SAM_PROMPT_OPTIONS, innermostPoint, maskHas, type Point, type SamPromptOptions, type ScoreParts } from '../../common/sam-prompts';
import { EmbeddingCache } from './embedding-cache';
import type { ImageRef } from './protocol';
import type { ProviderName } from './providers';
import { toInput, toOriginal, type InputGeometry } from './preprocess';
import { samMaskPixels, Segmenter, type SamEmbedding, type SamPrompt, type SegmenterFiles } from './segmenter';

/**
 * One peak as the method sees it; `point` in original pixels, `region` in the work frame: its IAM mask, or its
 * class-response region (a bundle without IAM, a class a project learnt from scratch).
 */
export interface SamPeak {
  classIndex: number;
  value: number;
  point: Point;
  region: BinaryMask | null;
  /**
   * Whether the region may place a second click: for the bundle's own classes (the IAM module was trained
   * with their rows) and a project's rows fine-tuned from one of them. A row learnt from scratch keeps one
   * click: two make the segmenter's whole object, a balloon's whole bunch (docs/adr/sam-prompts.md).
   */
  regionClicks: boolean;
  /**
   * Whether `region` is an IAM graph's learnt instance extent, sized like its object, so that a mask many times
   * its area holds a group (groupSplit). A class-response region is a thresholded map, often a small part.
   */
  regionIsExtent: boolean;
  /** The peak's own response map, carried to the result (the editor's overlay). */
  prm: FloatMap;
}

export interface SamInstance {
  peakIndex: number;
  classIndex: number;
  mask: BinaryMask;
  /** The mask's pixel count, counted once: every later peak's holder test and the ranking compare it. */
  area: number;
  parts: ScoreParts;
  score: number;
  /** The peakIndex of the group mask this instance was split from (groupSplit): not a part of it. */
  splitFrom?: number;
}

/** The frame masks are decoded in: the original size, or long side 1024 for larger images (toInput/toOriginal map into it). */
export function workFrame(width: number, height: number): InputGeometry {
  const s = Math.min(1, 1024 / Math.max(width, height));
  return { origWidth: width, origHeight: height, width: Math.max(1, Math.round(width * s)), height: Math.max(1, Math.round(height * s)) };
}

/** Decodes one mask per instance (see the header), unscored and unsuppressed, in peak order. */
export async function segmentPeaks(seg: Segmenter, emb: SamEmbedding, peaks: readonly SamPeak[], opts: SamPromptOptions, check: () => void = () => undefined): Promise<SamInstance[]> {
  const work = workFrame(emb.width, emb.height);
  const top = new Map<number, number>();
  for (const p of peaks) top.set(p.classIndex, Math.max(top.get(p.classIndex) ?? 0, p.value));
  const minArea = opts.minAreaFraction * work.width * work.height;
  const out: SamInstance[] = [];
  const order = peaks.map((_, i) => i).sort((a, b) => peaks[b].value - peaks[a].value || a - b);
  for (const i of order) {
    const p = peaks[i];
    const at = toInput(work, p.point.x, p.point.y);
    // The mask this peak's instance is split from, and whether it was probed (a class clicked once).
    let splitFrom: SamInstance | undefined;
    let probed = false;
    if (opts.mergeInside) {
      const regionArea = p.region && opts.regionInside <= 1 ? maskArea(p.region) : 0;
      const covers = (o: SamInstance) => regionArea > 0 && maskIntersectionArea(o.mask, p.region!) >= opts.regionInside * regionArea;
      const holders = out.filter((o) => o.classIndex === p.classIndex && (maskHas(o.mask, at) || covers(o)));
      // Splitting, a peak belongs to the smallest mask around it: a person split from its group, not the group.
      const holder = opts.groupSplit > 0 && holders.length ? holders.reduce((a, b) => (b.area < a.area ? b : a)) : holders[0];
      if (holder) {
        // The peak supports the mask around it; inside a mask far larger than its own region it is one of a
        // group (a crowd, a row of bottles) and also starts its own instance, with one click. A class clicked
        // once has no region to compare: its peak is decoded and kept if its mask is far smaller (probeSplit).
        holder.parts.support++;
        const ownArea = p.region && p.regionIsExtent ? maskArea(p.region) : 0;
        probed = !p.regionClicks && opts.probeSplit > 0;
        if (!probed && !(opts.groupSplit > 0 && ownArea > 0 && holder.area >= opts.groupSplit * ownArea)) continue;
        splitFrom = holder;
      }
    }
    check();
    const placement = p.regionClicks && splitFrom === undefined ? opts.click : 'peak';
    // A probed peak says "not that one" at its holder's peak: one click on a balloon is often read as the bunch.
    const holderPeak = splitFrom && peaks[splitFrom.peakIndex].point;
    const negatives = probed && holderPeak ? [{ ...holderPeak, label: 0 as const }] : [];
    const best = await decodeMask(seg, emb, { points: [...clicks(placement, at, p.region).map((c) => ({ ...toOriginal(work, c.x, c.y), label: 1 as const })), ...negatives] }, work, p.region, opts);
    const area = maskArea(best.mask);
    if (area < minArea) continue;
    // probeSplit: the probed mask is one of a bunch when the mask around it is many times larger and it leaves out that one's peak.
    if (probed && splitFrom && holderPeak && (splitFrom.area < opts.probeSplit * area || maskHas(best.mask, toInput(work, holderPeak.x, holderPeak.y)))) continue;
    const peakRel = (top.get(p.classIndex) ?? 0) > 0 ? Math.max(p.value, 0) / top.get(p.classIndex)! : 1;
    out.push({ peakIndex: i, classIndex: p.classIndex, mask: best.mask, area, parts: { iouPred: best.iou, agreement: best.agreement, peakRel, support: 0, stability: best.stability }, score: 0, splitFrom: splitFrom?.peakIndex });
  }
  if (opts.probeSplit > 0) out.push(...(await ownMasksOfBunches(seg, emb, work, peaks, out, opts, minArea, check)));
  return out;
}

/**
 * probeSplit, second step: a holder that had peaks split off is a bunch. Its members are decoded again against
 * each other, and its own peak gets a mask of its own too, clicked with its members' peaks as negatives, kept
 * when far smaller than the bunch (which stays, supported).
 */
async function ownMasksOfBunches(seg: Segmenter, emb: SamEmbedding, work: { width: number; height: number }, peaks: readonly SamPeak[], found: readonly SamInstance[], opts: SamPromptOptions, minArea: number, check: () => void): Promise<SamInstance[]> {
  const out: SamInstance[] = [];
  for (const h of found) {
    const p = peaks[h.peakIndex];
    const members = found.filter((o) => o.splitFrom === h.peakIndex);
    if (p.regionClicks || members.length === 0) continue;
    // Each member was probed against the bunch's peak only; with two or more, it is decoded again against all
    // the others, and the smaller mask is kept (two balloons of one bunch come apart).
    if (members.length > 1) {
      for (const m of members) {
        check();
        const q = peaks[m.peakIndex];
        const others = [h, ...members.filter((o) => o !== m)].map((o) => ({ ...peaks[o.peakIndex].point, label: 0 as const }));
        const apart = await decodeMask(seg, emb, { points: [{ ...q.point, label: 1 as const }, ...others] }, work, q.region, opts);
        const area = maskArea(apart.mask);
        if (area >= minArea && area < m.area) Object.assign(m, { mask: apart.mask, area, parts: { ...m.parts, iouPred: apart.iou, agreement: apart.agreement, stability: apart.stability } });
      }
    }
    check();
    const points = [{ ...p.point, label: 1 as const }, ...members.map((m) => ({ ...peaks[m.peakIndex].point, label: 0 as const }))];
    const own = await decodeMask(seg, emb, { points }, work, p.region, opts);
    const area = maskArea(own.mask);
    if (area < minArea || h.area < opts.probeSplit * area) continue;
    out.push({ peakIndex: h.peakIndex, classIndex: h.classIndex, mask: own.mask, area, parts: { iouPred: own.iou, agreement: own.agreement, peakRel: h.parts.peakRel, support: 0, stability: own.stability }, score: 0, splitFrom: h.peakIndex });
  }
  return out;
}

/**
 * Without an IAM module, each peak's region from its class response map (src/common/crm-regions.ts), drawn
 * into the work frame; `toGrid` maps a work pixel to map-grid coordinates. Null where a region is empty.
 */
export function crmRegions(classMap: (classIndex: number) => FloatMap, peaks: readonly (GridPoint & { classIndex: number })[], work: { width: number; height: number }, toGrid: (x: number, y: number) => { gx: number; gy: number }, fraction: number): (BinaryMask | null)[] {
  const cols = Float32Array.from({ length: work.width }, (_, x) => toGrid(x, 0).gx);
  const rows = Float32Array.from({ length: work.height }, (_, y) => toGrid(0, y).gy);
  const out: (BinaryMask | null)[] = peaks.map(() => null);
  for (const c of new Set(peaks.map((p) => p.classIndex))) {
    const of = peaks.flatMap((p, i) => (p.classIndex === c ? [i] : []));
    const regions = crmPeakRegions(classMap(c), of.map((i) => peaks[i]), fraction, cols, rows);
    of.forEach((i, k) => {
      out[i] = maskArea(regions[k]) > 0 ? regions[k] : null;
    });
  }
  return out;
}

/** Scores (combineScore) and class-wise NMS; highest score first. */
export function rankInstances(found: readonly SamInstance[], peaks: readonly SamPeak[], opts: SamPromptOptions, nms = true): SamInstance[] {
  const scored = found.map((f) => ({ ...f, score: combineScore(f.parts, opts.score) }));
  if (!nms) return scored.sort((a, b) => b.score - a.score);
  const candidates: (Candidate & { index: number })[] = scored.map((f, index) => ({ classId: f.classIndex, score: f.score, mask: maskToSpans(f.mask), peakIndex: f.peakIndex, prm: peaks[f.peakIndex].prm, index }));
  const kept = classwiseNms(candidates, opts.nmsIou).map((k) => scored[(k.kept as Candidate & { index: number }).index]);
  if (opts.containment > 1) return kept;
  // Parts (a head, a bag) inside a better mask of the same class: NMS keeps them, since their IoU is small.
  const out: SamInstance[] = [];
  for (const k of kept) {
    if (!out.some((o) => o.classIndex === k.classIndex && o.peakIndex !== k.splitFrom && maskIntersectionArea(o.mask, k.mask) >= opts.containment * k.area)) out.push(k);
  }
  return out;
}

/**
 * The positive clicks for a peak at `at` (work frame): at the peak, at its IAM region's innermost pixel, or
 * both (two clicks on one object tell the segmenter its extent; one alone is often read as a part).
 */
function clicks(placement: SamPromptOptions['click'], at: Point, region: BinaryMask | null): Point[] {
  const inner = placement !== 'peak' && region ? innermostPoint(region, at) : null;
  if (!inner) return [at];
  if (placement === 'innermost') return [inner];
  return Math.abs(inner.x - at.x) < 2 && Math.abs(inner.y - at.y) < 2 ? [at] : [at, inner];
}

async function decodeMask(seg: Segmenter, emb: SamEmbedding, prompt: SamPrompt, work: { width: number; height: number }, region: BinaryMask | null, opts: SamPromptOptions) {
  const m = await seg.decode(emb, prompt, work, decoderMaskChoice(opts.maskChoice, prompt.points));
  const mask = samMaskPixels(m, opts.minRegionFraction);
  const agreement = region ? maskIou(mask, region.width === mask.width && region.height === mask.height ? region : resizeMaskNearest(region, mask.width, mask.height)) : 1;
  return { mask, iou: m.iou, agreement, stability: stabilityScore(m.logits) };
}

export interface SamHostOptions {
  files: SegmenterFiles;
  provider: ProviderName;
  sessionOptions: ort.InferenceSession.SessionOptions;
  prompts?: Partial<SamPromptOptions>;
  log?: (line: string) => void;
}

/**
 * A worker's segmenter: opened on first use (the other methods never pay for it, and a broken segmenter
 * fails only `sam`), with the embedding cache that batch runs, clicks and prefetches share.
 */
export class SamHost {
  readonly prompts: SamPromptOptions;
  readonly embeddings = new EmbeddingCache(EMBEDDING_CACHE_BYTES);
  private opening: Promise<Segmenter> | null = null;

  constructor(private readonly o: SamHostOptions) {
    this.prompts = { ...DEFAULT_SAM_PROMPT_OPTIONS, ...o.prompts };
  }

  segmenter(): Promise<Segmenter> {
    // A failed open is not kept: the next request tries again (the user may have fixed the file).
    this.opening ??= Segmenter.open(this.o.files, this.o.provider, this.o.sessionOptions, this.o.log).catch((err) => {
      this.opening = null;
      throw err;
    });
    return this.opening;
  }

  /** The image's embedding (cached by content hash); `hit` says whether the encoder ran. */
  async embedding(image: ImageRef, hash: string): Promise<{ embedding: SamEmbedding; hit: boolean }> {
    const seg = await this.segmenter();
    return this.embeddings.get(hash, () => seg.embed(image.file, image.size));
  }

  async release(): Promise<void> {
    if (this.opening) await (await this.opening.catch(() => null))?.release();
  }
}

/** 16 embeddings of 4 MB: a batch worker's current image plus the editor's current and prefetched ones. */
const EMBEDDING_CACHE_BYTES = 16 * 4 * 1024 * 1024;
