// The per-image pipeline, run inside an engine worker:
// decode → preprocess → backbone (CRMs) → class scores + peaks → prm.onnx (all K peaks, one call)
// → proposals (cached) → retrieval per peak → class-wise NMS → instances in original pixels.
// The last few images' backbone results and proposals stay in memory, so a click costs one PRM call.
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { PeakLabelError } from '../../common/errors';
import type { ActivationKind, Rle, SuggestionMethod } from '../../common/api';
import { decoderMaskChoice, type MaskChoice } from '../../common/sam-prompts';
import { imageHeadLogits } from '../../common/image-head';
import { classConfidence, findPeaks, type Peak } from '../../common/peaks';
import { decodeRle, encodeMask } from '../../common/rle';
import { DEFAULT_MIN_REGION_FRACTION, maskArea, maskBbox, resizeMaskNearest } from '../../common/mask';
import type { Bundle } from './bundle';
import type { RetrievalParams } from './manifest';
import { crmFrame, decodeOriented, gridToInput, type CrmGrid, inputToGrid, preprocess, toInput, toOriginal, type Preprocessed } from './preprocess';
import type { BackboneOutput, ModelSessions } from './sessions';
import type { ClassSelection, EngineInstance, ImageRef, ImageResult, PeakInfo, ResponseMap, StageTimings } from './protocol';
import { ProposalCache, type ProposalSet } from './proposal-cache';
import { classwiseNms, retrieveInstances, type Candidate, type FloatMap, type PeakResponse, type RetrievalMethod } from '../../common/retrieval';
import { maskToSpans, spansToMask } from '../../common/proposals/spans';
import { iamMapAt, iamMasks, runIam } from './iam';
import { bestIouProposal, proposalsAt } from '../../common/proposals/pick';
import { gaussianBlur } from '../../common/proposals/image';
import type { BinaryMask } from '../../common/mask';
import { crmRegions, rankInstances, segmentPeaks, workFrame, type SamHost, type SamPeak } from './sam-method';
import { samMaskPixels, type SamPrompt } from './segmenter';

/** A peak in CRM-grid coordinates with its class. */
export interface GridPeak extends Peak {
  classIndex: number;
}

interface Analysis {
  key: string;
  image: ImageRef;
  name: string;
  hash: string;
  pre: Preprocessed;
  crm: BackboneOutput;
  peaks: GridPeak[][];
  classScores: number[];
  proposals?: ProposalSet;
  /** PRMs already computed for this image, by class and grid position (clicks on a known peak reuse them). */
  prms: { classIndex: number; y: number; x: number; map: Float32Array }[];
}

const CACHED_IMAGES = 4;
/** Gaussian sigma, as a fraction of the longer input side, of the PRM shown for a peak. */
const PRM_VIEW_BLUR = 0.015;

export class Pipeline {
  private readonly recent: Analysis[] = [];

  constructor(
    private readonly bundle: Bundle,
    private readonly sessions: ModelSessions,
    private readonly proposals: ProposalCache,
    /** IAM CRF refinement: undefined follows iam.json's crfByDefault. */
    private readonly iamCrf?: boolean,
    /** The segmenter for method `sam`; null when none could be found (the reason is in the bundle's unavailable list). */
    private readonly sam: SamHost | null = null,
  ) {}

  /** Full pipeline for one image. `check` throws when the request was cancelled. */
  async processImage(image: ImageRef, sel: ClassSelection, method: SuggestionMethod, check: () => void): Promise<ImageResult> {
    const t = newTimings();
    const ortBefore = this.sessions.ortMs;
    const a = await this.analyze(image, t, check);
    const chosen = this.choosePeaks(a, sel);
    check();
    const instances = await this.instancesFor(a, chosen, method, t, check);
    t.ort = this.sessions.ortMs - ortBefore + t.samEncoder + t.samDecoder;
    return { width: a.pre.geometry.origWidth, height: a.pre.geometry.origHeight, instances, classScores: a.classScores, timings: t };
  }

  /** Peaks of the given classes (or of classes passing the score threshold), in original pixels. */
  async findPeaks(image: ImageRef, sel: ClassSelection, check: () => void): Promise<PeakInfo[]> {
    const a = await this.analyze(image, newTimings(), check);
    return this.choosePeaks(a, sel, false).map((p) => {
      const inp = gridToInput(this.grid, p.y, p.x);
      const o = toOriginal(a.pre.geometry, inp.x, inp.y);
      return { classIndex: p.classIndex, x: o.x, y: o.y, score: p.value };
    });
  }

  /** One class's response map as 8-bit gray at CRM resolution, with the value range. */
  async classResponse(image: ImageRef, classIndex: number, check: () => void): Promise<ResponseMap> {
    const a = await this.analyze(image, newTimings(), check);
    const { width: w, height: h, data } = this.classMap(a, classIndex);
    return { ...toGray(data, w, h), frame: crmFrame(this.grid, a.pre.geometry, w, h) };
  }

  /** One peak's PRM (cached per image, so the peak's suggestion already paid for it) or IAM map, at input size. */
  async peakMap(image: ImageRef, classIndex: number, x: number, y: number, kind: ActivationKind, check: () => void): Promise<ResponseMap> {
    const a = await this.analyze(image, newTimings(), check);
    const peak = this.gridPeakAt(a, image, classIndex, x, y);
    const g = a.pre.geometry;
    if (kind === 'iam') {
      const maps = await runIam(this.sessions.iamModel(), { peaks: [peak], head: this.sessions.head, features: this.iamFeatures(a) });
      return toGray(iamMapAt(maps, 0, g.width, g.height), g.width, g.height);
    }
    const { prm } = await this.responses(a, [peak], false, newTimings(), check);
    // A raw PRM is a sparse scatter of back-propagated evidence: smoothed, it reads as a region, and a
    // threshold on it grows one connected mask (the editor's threshold slider).
    return toGray(gaussianBlur(prm, g.width, g.height, PRM_VIEW_BLUR * Math.max(g.width, g.height)), g.width, g.height);
  }

  /** WISE refinement: the proposal with the highest IoU with `mask` (original size), at original size. */
  async snapToProposal(image: ImageRef, mask: Rle, check: () => void): Promise<{ mask: Rle; iou: number } | null> {
    const a = await this.analyze(image, newTimings(), check);
    const set = await this.proposalSet(a);
    const g = a.pre.geometry;
    const target = resizeMaskNearest(decodeRle(mask), set.width, set.height);
    const best = bestIouProposal(set.proposals, maskToSpans(target).runs);
    if (!best) return null;
    return { mask: encodeMask(resizeMaskNearest(spansToMask(set.proposals[best.index].mask), g.origWidth, g.origHeight)), iou: best.iou };
  }

  /** The smallest proposal containing original pixel (x, y) of at least 0.5 % of the image, filling ≥ 30 % of its box. */
  async proposalAt(image: ImageRef, x: number, y: number, check: () => void): Promise<Rle | null> {
    const a = await this.analyze(image, newTimings(), check);
    const set = await this.proposalSet(a);
    const g = a.pre.geometry;
    // The proposal grid is smaller than the model input: map from original pixels straight onto it.
    const px = Math.min(Math.max(Math.round(((x + 0.5) * set.width) / g.origWidth - 0.5), 0), set.width - 1);
    const py = Math.min(Math.max(Math.round(((y + 0.5) * set.height) / g.origHeight - 0.5), 0), set.height - 1);
    const [first] = proposalsAt(set.proposals, px, py, 0.005 * set.width * set.height, 0.3);
    if (first === undefined) return null;
    return encodeMask(resizeMaskNearest(spansToMask(set.proposals[first].mask), g.origWidth, g.origHeight));
  }

  /** A click at original pixel (x, y) for a class becomes a peak → its instance. */
  async suggestAt(image: ImageRef, classIndex: number, x: number, y: number, method: SuggestionMethod, check: () => void): Promise<EngineInstance | null> {
    const a = await this.analyze(image, newTimings(), check);
    const peak = this.gridPeakAt(a, image, classIndex, x, y);
    const out =
      method === 'sam'
        ? await this.retrieveSam(a, [peak], false, newTimings(), check, { x, y })
        : await this.instancesFor(a, [peak], method, newTimings(), check, false);
    if (!out.length) return null;
    // Report the clicked point itself, not the grid-snapped one.
    return { ...out[0], peak: { x, y } };
  }

  /** The CRM-grid peak a point (original pixels) of a class stands for. */
  private gridPeakAt(a: Analysis, image: ImageRef, classIndex: number, x: number, y: number): GridPeak {
    const g = a.pre.geometry;
    if (!(x >= 0 && y >= 0 && x < g.origWidth && y < g.origHeight)) {
      throw new PeakLabelError('BAD_ARGUMENT', `The point (${x}, ${y}) lies outside the image ${a.name} (${g.origWidth}×${g.origHeight}).`, { file: image.file });
    }
    const inp = toInput(g, x, y);
    const grid = inputToGrid(this.grid, inp.x, inp.y);
    const { h, w } = a.crm;
    const gy = Math.min(Math.max(grid.gy, 0), h - 1);
    const gx = Math.min(Math.max(grid.gx, 0), w - 1);
    const value = a.crm.crm[classIndex * h * w + Math.round(gy) * w + Math.round(gx)];
    return { classIndex, y: gy, x: gx, value };
  }

  private get grid(): CrmGrid {
    return { stride: this.bundle.manifest.stride, centerOffset: this.bundle.manifest.crmGeometry.centerOffset };
  }

  forget(): void {
    this.recent.length = 0;
  }

  async release(): Promise<void> {
    await this.sam?.release();
  }

  private async analyze(image: ImageRef, t: StageTimings, check: () => void): Promise<Analysis> {
    const { file } = image;
    let t0 = performance.now();
    let st;
    try {
      st = await stat(file);
    } catch {
      throw new PeakLabelError('UNREADABLE', `The image ${file} cannot be read: it does not exist or is not accessible.`, { file });
    }
    const key = `${file}|${st.size}|${st.mtimeMs}|${image.size?.width}x${image.size?.height}`;
    const hit = this.recent.find((r) => r.key === key);
    if (hit) return hit;
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (err) {
      throw new PeakLabelError('UNREADABLE', `The image ${file} cannot be read (${(err as Error).message}).`, { file });
    }
    const hash = createHash('sha1').update(bytes).digest('hex');
    const img = await decodeOriented(bytes, file);
    t.decode = performance.now() - t0;
    t0 = performance.now();
    const pre = await preprocess(img, this.bundle.manifest, image.size);
    t.preprocess = performance.now() - t0;
    check();
    t0 = performance.now();
    const crm = await this.sessions.runBackbone(pre.tensor, pre.geometry.height, pre.geometry.width);
    t.backbone = performance.now() - t0;
    t0 = performance.now();
    const { subPixelFactor } = this.bundle.manifest.peaks;
    const peaks: GridPeak[][] = [];
    const classScores: number[] = [];
    const { imageHead } = this.bundle;
    const imageLogits = imageHead && crm.features ? imageHeadLogits(crm.features.data as Float32Array, this.bundle.manifest.head.channels, imageHead.weight, imageHead.bias, crm.C) : null;
    for (let c = 0; c < crm.C; c++) {
      const map = crm.crm.subarray(c * crm.h * crm.w, (c + 1) * crm.h * crm.w);
      const found = findPeaks(map, crm.h, crm.w, { subPixelFactor }).map((p) => ({ ...p, classIndex: c }));
      peaks.push(found);
      classScores.push(classConfidence(found) + (imageLogits ? imageLogits[c] : 0));
    }
    t.peaks = performance.now() - t0;
    const a: Analysis = { key, image, name: basename(file), hash, pre, crm, peaks, classScores, prms: [] };
    this.recent.unshift(a);
    if (this.recent.length > CACHED_IMAGES) this.recent.pop();
    return a;
  }

  /**
   * Tagged: peaks of the tagged classes; untagged: of classes whose score passes the tuned threshold.
   * Within a class, weak peaks (below a fraction of the strongest) are dropped. At most maxPeaks overall,
   * taken round-robin over the classes (each class's strongest first), so a class whose responses run
   * high cannot crowd out another class's peaks.
   */
  private choosePeaks(a: Analysis, { classes, among }: ClassSelection, limit = true): GridPeak[] {
    const r = this.bundle.retrieval;
    const candidate = (c: number) => !among || among.includes(c);
    const chosen = classes ?? a.classScores.flatMap((s, c) => (s >= r.classScoreThreshold && candidate(c) ? [c] : []));
    const ranked: { p: GridPeak; rank: number }[] = [];
    for (const c of chosen) {
      const list = a.peaks[c] ?? [];
      if (!list.length) continue;
      const top = list[0].value;
      const floor = top > 0 ? top * r.peakRelThreshold : top;
      list.filter((p) => p.value >= floor).forEach((p, rank) => ranked.push({ p, rank }));
    }
    ranked.sort((x, y) => x.rank - y.rank || y.p.value - x.p.value);
    const out = (limit ? ranked.slice(0, r.maxPeaks) : ranked).map((x) => x.p);
    return out.sort((p, q) => q.value - p.value);
  }

  private async instancesFor(
    a: Analysis,
    peaks: GridPeak[],
    method: SuggestionMethod,
    t: StageTimings,
    check: () => void,
    nms = true,
  ): Promise<EngineInstance[]> {
    if (!peaks.length) return [];
    if (method === 'iam') return this.retrieveIam(a, peaks, this.bundle.retrieval, nms, t);
    if (method === 'sam') return this.retrieveSam(a, peaks, nms, t, check);
    const { prm, proposals } = await this.responses(a, peaks, method === 'prm', t, check);
    return this.retrieve(a, peaks, prm, proposals, method, this.bundle.retrieval, nms, t);
  }

  /** prm.onnx for all peaks in one call, and the image's proposals when the method needs them. */
  private async responses(a: Analysis, peaks: GridPeak[], needProposals: boolean, t: StageTimings, check: () => void) {
    const { geometry: g } = a.pre;
    t.peakCount = peaks.length;
    let t0 = performance.now();
    const plane = g.width * g.height;
    // A peak within half a grid cell of one already back-propagated has (nearly) the same PRM: reuse it.
    const known = peaks.map((p) => a.prms.find((q) => q.classIndex === p.classIndex && Math.abs(q.y - p.y) <= 0.5 && Math.abs(q.x - p.x) <= 0.5));
    const missing = peaks.filter((_, i) => !known[i]);
    const prm = new Float32Array(peaks.length * plane);
    if (missing.length) {
      const flat = new Float32Array(missing.length * 3);
      missing.forEach((p, i) => flat.set([p.classIndex, p.y, p.x], i * 3));
      const fresh = await this.sessions.runPrm(a.pre.tensor, g.height, g.width, flat);
      missing.forEach((p, i) => a.prms.push({ classIndex: p.classIndex, y: p.y, x: p.x, map: fresh.subarray(i * plane, (i + 1) * plane) }));
    }
    peaks.forEach((p, i) => {
      const q = known[i] ?? a.prms.find((r) => r.classIndex === p.classIndex && r.y === p.y && r.x === p.x)!;
      prm.set(q.map, i * plane);
    });
    t.prm = performance.now() - t0;
    check();
    t0 = performance.now();
    const proposals = needProposals ? await this.proposalSet(a, t) : null;
    t.proposals = performance.now() - t0;
    check();
    return { prm, proposals };
  }

  /** The image's proposals: in memory after the first use, else from the disk cache or generated. */
  private async proposalSet(a: Analysis, t?: StageTimings): Promise<ProposalSet> {
    if (t) t.proposalCacheHit = !!a.proposals;
    if (!a.proposals) {
      const { set, cacheHit } = await this.proposals.get(a.hash, a.pre.rgb);
      a.proposals = set;
      if (t) t.proposalCacheHit = cacheHit;
    }
    return a.proposals;
  }

  /** Retrieval per peak, class-wise NMS, masks in original pixels as RLE. */
  private retrieve(
    a: Analysis,
    peaks: GridPeak[],
    prm: Float32Array,
    proposals: ProposalSet | null,
    method: SuggestionMethod,
    r: RetrievalParams,
    nms: boolean,
    t: StageTimings,
  ): EngineInstance[] {
    const { geometry: g } = a.pre;
    let t0 = performance.now();
    const plane = g.width * g.height;
    const responses: PeakResponse[] = peaks.map((p, i) => ({
      classId: p.classIndex,
      peakValue: p.value,
      prm: { width: g.width, height: g.height, data: prm.subarray(i * plane, (i + 1) * plane) },
    }));
    const selected = retrieveInstances(responses, proposals?.proposals ?? [], (c) => this.classMap(a, c), { width: g.origWidth, height: g.origHeight }, {
      method: method as RetrievalMethod,
      alpha: r.alpha,
      beta: r.beta,
      bgFactor: r.bgFactor,
      tau: r.tau,
      minAreaFraction: r.minAreaFraction,
      maxAreaFraction: r.maxAreaFraction,
      // A click asks for exactly one instance: nothing to suppress.
      nmsIou: nms ? r.nmsIou : Infinity,
    });
    t.retrieval = performance.now() - t0;

    t0 = performance.now();
    const out: EngineInstance[] = [];
    for (const s of selected) {
      const area = maskArea(s.mask);
      if (area === 0) continue;
      const p = peaks[s.peakIndex];
      const inp = gridToInput(this.grid, p.y, p.x);
      const o = toOriginal(g, inp.x, inp.y);
      // Proposal scores say how well a mask fits its PRM; the peak's response says how sure the class is.
      const score = method === 'prm' ? s.score + r.peakScoreWeight * p.value : s.score;
      out.push({ classIndex: p.classIndex, mask: encodeMask(s.mask), bbox: maskBbox(s.mask), area, score, peak: { x: o.x, y: o.y }, peakValue: p.value, method });
    }
    t.encode = performance.now() - t0;
    return out;
  }

  /**
   * IAM (iam.ts): one graph call turns all K peaks into instance activation maps (through stride-16 PRMs,
   * not prm.onnx); each becomes a mask (CRF + threshold there), ranked by mean activation × peak response,
   * then the same class-wise NMS.
   */
  private async retrieveIam(a: Analysis, peaks: GridPeak[], r: RetrievalParams, nms: boolean, t: StageTimings): Promise<EngineInstance[]> {
    const g = a.pre.geometry;
    t.peakCount = peaks.length;
    let t0 = performance.now();
    const inputPeaks = peaks.map((p) => gridToInput(this.grid, p.y, p.x));
    const ortBefore = this.sessions.ortMs;
    const model = this.sessions.iamModel();
    const maps = await runIam(model, { peaks, head: this.sessions.head, features: this.iamFeatures(a) });
    t.iam = this.sessions.ortMs - ortBefore;
    const masks = iamMasks(model, maps, { width: g.width, height: g.height, image: a.pre.rgb, peaks: inputPeaks }, { crf: this.iamCrf, minRegionFraction: DEFAULT_MIN_REGION_FRACTION });
    const plane = maps.prmWidth * maps.prmHeight;
    const candidates: Candidate[] = [];
    masks.forEach((m, i) => {
      if (m.spans.runs.length === 0) return;
      const p = peaks[i];
      const prm = { width: maps.prmWidth, height: maps.prmHeight, data: maps.prm.subarray(i * plane, (i + 1) * plane) };
      candidates.push({ classId: p.classIndex, score: m.activation * p.value, mask: m.spans, peakIndex: i, prm });
    });
    const kept = nms ? classwiseNms(candidates, r.nmsIou).map((k) => k.kept) : candidates;
    t.retrieval = performance.now() - t0 - t.iam; // the IAM graph itself is ORT time, reported as `iam`
    t0 = performance.now();
    const out: EngineInstance[] = [];
    for (const c of kept) {
      const mask = resizeMaskNearest(spansToMask(c.mask), g.origWidth, g.origHeight);
      const area = maskArea(mask);
      if (area === 0) continue;
      const p = peaks[c.peakIndex];
      const o = toOriginal(g, inputPeaks[c.peakIndex].x, inputPeaks[c.peakIndex].y);
      out.push({ classIndex: p.classIndex, mask: encodeMask(mask), bbox: maskBbox(mask), area, score: c.score, peak: { x: o.x, y: o.y }, peakValue: p.value, method: 'iam' });
    }
    t.encode = performance.now() - t0;
    return out;
  }

  /**
   * Method `sam` (sam-method.ts): the peaks' regions (an IAM graph's masks or class-response regions: bundle.samRegions)
   * place each click and check the segmenter's mask; the segmenter draws the instances. `click` replaces a lone peak's grid position
   * with the exact point a person clicked.
   */
  private async retrieveSam(a: Analysis, peaks: GridPeak[], nms: boolean, t: StageTimings, check: () => void, click?: { x: number; y: number }): Promise<EngineInstance[]> {
    const sam = this.samHost();
    const g = a.pre.geometry;
    t.peakCount = peaks.length;
    const seg = await sam.segmenter();
    const before = { enc: seg.encoderMs, dec: seg.decoderMs, calls: seg.decoderCalls };
    const { embedding, hit } = await sam.embedding(a.image, a.hash);
    t.embeddingCacheHit = hit;
    check();
    let t0 = performance.now();
    const work = workFrame(g.origWidth, g.origHeight);
    const points = peaks.map((p) => (click && peaks.length === 1 ? click : this.originalPoint(a, p)));
    const regions: (BinaryMask | null)[] = peaks.map(() => null);
    const prms: FloatMap[] = peaks.map(() => ({ width: 1, height: 1, data: new Float32Array(1) }));
    // A class a project learnt from scratch gets its region from its own class response: the IAM module
    // never saw it (docs/adr/sam-prompts.md, 2026-12-05). So does every class of a bundle without IAM.
    const peakClickOnly = new Set(this.bundle.projectHead?.peakClickRows ?? []);
    const iamGraph = this.bundle.samRegions === 'crm' ? null : this.bundle.samRegions;
    const readsIam = (p: GridPeak) => iamGraph !== null && !peakClickOnly.has(p.classIndex);
    const byIam = peaks.flatMap((p, i) => (readsIam(p) ? [i] : []));
    const byCrm = peaks.flatMap((p, i) => (readsIam(p) ? [] : [i]));
    if (iamGraph && byIam.length > 0) {
      const ortBefore = this.sessions.ortMs;
      const model = this.sessions.iamModel(iamGraph);
      const maps = await runIam(model, { peaks: byIam.map((i) => peaks[i]), head: this.sessions.head, features: this.iamFeatures(a) });
      t.iam = this.sessions.ortMs - ortBefore;
      const masks = iamMasks(model, maps, { width: work.width, height: work.height, peaks: byIam.map((i) => toInput(work, points[i].x, points[i].y)) }, { crf: false });
      const plane = maps.prmWidth * maps.prmHeight;
      masks.forEach((m, k) => {
        regions[byIam[k]] = m.spans.runs.length ? spansToMask(m.spans) : null;
        prms[byIam[k]] = { width: maps.prmWidth, height: maps.prmHeight, data: maps.prm.subarray(k * plane, (k + 1) * plane) };
      });
    }
    if (byCrm.length > 0 && sam.prompts.crmFraction > 0) {
      // Work pixel → original → input → grid.
      const toGrid = (x: number, y: number) => {
        const o = toOriginal(work, x, y);
        const i = toInput(g, o.x, o.y);
        return inputToGrid(this.grid, i.x, i.y);
      };
      crmRegions((c) => this.classMap(a, c), byCrm.map((i) => peaks[i]), work, toGrid, sam.prompts.crmFraction).forEach((r, k) => (regions[byCrm[k]] = r));
    }
    const samPeaks: SamPeak[] = peaks.map((p, i) => ({ classIndex: p.classIndex, value: p.value, point: points[i], region: regions[i], regionClicks: !peakClickOnly.has(p.classIndex), regionIsExtent: readsIam(p), prm: prms[i] }));
    const found = await segmentPeaks(seg, embedding, samPeaks, sam.prompts, check);
    const ranked = rankInstances(found, samPeaks, sam.prompts, nms);
    t.samEncoder = seg.encoderMs - before.enc;
    t.samDecoder = seg.decoderMs - before.dec;
    t.samPrompts = seg.decoderCalls - before.calls;
    t.retrieval = performance.now() - t0 - t.iam - t.samDecoder;
    t0 = performance.now();
    const out = ranked.map((r) => this.toInstance(g, r.mask, r.classIndex, r.score, points[r.peakIndex], peaks[r.peakIndex].value, 'sam'));
    t.encode = performance.now() - t0;
    return out.filter((o) => o.area > 0);
  }

  /**
   * The editor's prompt refinement: the person's points (and box) go to the segmenter as they are, for one
   * instance of a class. Null when the mask is empty.
   */
  async segmentPrompt(image: ImageRef, classIndex: number, prompt: SamPrompt, check: () => void): Promise<EngineInstance | null> {
    const a = await this.analyze(image, newTimings(), check);
    const g = a.pre.geometry;
    const sam = this.samHost();
    const seg = await sam.segmenter();
    const { embedding } = await sam.embedding(a.image, a.hash);
    check();
    const m = await seg.decode(embedding, prompt, workFrame(g.origWidth, g.origHeight), decoderMaskChoice(sam.prompts.maskChoice, prompt.points));
    const mask = samMaskPixels(m, sam.prompts.minRegionFraction);
    const anchor = prompt.points.find((p) => p.label === 1) ?? { x: prompt.box ? (prompt.box[0] + prompt.box[2]) / 2 : 0, y: prompt.box ? (prompt.box[1] + prompt.box[3]) / 2 : 0 };
    const peak = this.gridPeakAt(a, image, classIndex, Math.min(Math.max(anchor.x, 0), g.origWidth - 1), Math.min(Math.max(anchor.y, 0), g.origHeight - 1));
    const inst = this.toInstance(g, mask, classIndex, m.iou, anchor, peak.value, 'sam');
    return inst.area > 0 ? inst : null;
  }

  /** Computes (or finds cached) the image's segmenter embedding ahead of the first click; true when it was cached. */
  async prepareEmbedding(image: ImageRef, check: () => void): Promise<boolean> {
    const a = await this.analyze(image, newTimings(), check);
    return (await this.samHost().embedding(a.image, a.hash)).hit;
  }

  /**
   * Opens the segmenter (graphs checked) and says which provider runs it, and which of its masks method
   * sam takes (a decoder without a mask choice to bias gives its own pick whatever the option says).
   */
  async segmenterInfo(): Promise<{ provider: string; maskChoice: MaskChoice }> {
    const host = this.samHost();
    const seg = await host.segmenter();
    return { provider: seg.provider, maskChoice: seg.choosesWhole ? host.prompts.maskChoice : 'estimate' };
  }

  private samHost(): SamHost {
    if (!this.sam) throw new PeakLabelError('MODEL_UNAVAILABLE', 'Method sam is unavailable: no segmenter was found (see peaklabel info).');
    return this.sam;
  }

  private originalPoint(a: Analysis, p: GridPeak): { x: number; y: number } {
    const inp = gridToInput(this.grid, p.y, p.x);
    return toOriginal(a.pre.geometry, inp.x, inp.y);
  }

  /** A mask in any frame of the image's aspect → an instance at original size. */
  private toInstance(g: Preprocessed['geometry'], m: BinaryMask, classIndex: number, score: number, peak: { x: number; y: number }, peakValue: number, method: SuggestionMethod): EngineInstance {
    const mask = m.width === g.origWidth && m.height === g.origHeight ? m : resizeMaskNearest(m, g.origWidth, g.origHeight);
    return { classIndex, mask: encodeMask(mask), bbox: maskBbox(mask), area: maskArea(mask), score, peak, peakValue, method };
  }

  /** Class c's response map on the CRM grid. */
  private classMap(a: Analysis, c: number): FloatMap {
    const { h, w } = a.crm;
    return { width: w, height: h, data: a.crm.crm.subarray(c * h * w, (c + 1) * h * w) };
  }

  private iamFeatures(a: Analysis) {
    if (!a.crm.iamFeatures) throw new PeakLabelError('MODEL_UNAVAILABLE', 'IAM needs the backbone features, which this bundle does not provide.');
    return a.crm.iamFeatures;
  }

  /**
   * Tuning: one image's PRMs and proposals computed once, then instances for every configuration
   * (method × retrieval parameters). Used by tune.ts on the dev splits.
   */
  async sweep(image: ImageRef, classes: number[] | null, configs: { method: SuggestionMethod; params: RetrievalParams }[], check: () => void = () => undefined) {
    const t = newTimings();
    const a = await this.analyze(image, t, check);
    const peaks = this.choosePeaks(a, { classes });
    const base = { width: a.pre.geometry.origWidth, height: a.pre.geometry.origHeight, classScores: a.classScores };
    if (!peaks.length || !configs.length) return { ...base, results: configs.map(() => [] as EngineInstance[]), timings: t };
    // IAM does not use prm.onnx's maps: computed only when another method needs them.
    const needPrm = configs.some((c) => c.method !== 'iam');
    const { prm, proposals } = needPrm ? await this.responses(a, peaks, configs.some((c) => c.method === 'prm'), t, check) : { prm: new Float32Array(0), proposals: null };
    const results: EngineInstance[][] = [];
    // Configurations differing only in the peak-score weight share one retrieval (only scores change).
    const done = new Map<string, { list: EngineInstance[]; weight: number }>();
    for (const c of configs) {
      const key = `${c.method}|${JSON.stringify({ ...c.params, peakScoreWeight: 0 })}`;
      const prev = done.get(key);
      if (prev && c.method === 'prm') {
        results.push(prev.list.map((i) => ({ ...i, score: i.score + (c.params.peakScoreWeight - prev.weight) * i.peakValue })));
        continue;
      }
      const list =
        c.method === 'iam'
          ? await this.retrieveIam(a, peaks, c.params, true, newTimings())
          : this.retrieve(a, peaks, prm, c.method === 'prm' ? proposals : null, c.method, c.params, true, newTimings());
      done.set(key, { list, weight: c.params.peakScoreWeight });
      results.push(list);
    }
    return { ...base, results, timings: t };
  }
}

/** A float map as 8-bit gray scaled from its [min, max]. */
function toGray(map: Float32Array, width: number, height: number): ResponseMap {
  let min = Infinity;
  let max = -Infinity;
  for (const v of map) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const range = max - min || 1;
  const gray = new Uint8Array(width * height);
  for (let i = 0; i < gray.length; i++) gray[i] = Math.round(((map[i] - min) / range) * 255);
  return { width, height, gray, min, max };
}

export function newTimings(): StageTimings {
  return { decode: 0, preprocess: 0, backbone: 0, peaks: 0, prm: 0, proposals: 0, iam: 0, samEncoder: 0, samDecoder: 0, samPrompts: 0, retrieval: 0, encode: 0, ort: 0, peakCount: 0, proposalCacheHit: false, embeddingCacheHit: false };
}

