// What the service's parts share: the open project, one progress channel, and the jobs that can be
// cancelled. The engine methods (src/main/api/engine-methods.ts) are built against this context and
// injected into createService, so the service never imports the engine and runs without a bundle.
import type { PeakLabelApi } from '../../common/api';
import { PeakLabelError } from '../../common/errors';
import { ProgressTracker, type ProgressEvent, type ProgressListener } from '../../common/progress';
import type { ProjectStore } from '../store/project-store';

/** The engine's part of the API; without it these methods reject with MODEL_UNAVAILABLE. */
export type EngineMethodName = 'engineInfo' | 'engineSettings' | 'saveEngineSettings' | 'findPeaks' | 'classResponse' | 'suggestForPeak' | 'peakMap' | 'snapToProposal' | 'proposalAt' | 'segmentPrompt' | 'prepareImage' | 'prelabel' | 'trainHead' | 'cancelTraining' | 'headStatus';
export type EngineMethods = Pick<PeakLabelApi, EngineMethodName>;
export const ENGINE_METHOD_NAMES: readonly EngineMethodName[] = ['engineInfo', 'engineSettings', 'saveEngineSettings', 'findPeaks', 'classResponse', 'suggestForPeak', 'peakMap', 'snapToProposal', 'proposalAt', 'segmentPrompt', 'prepareImage', 'prelabel', 'trainHead', 'cancelTraining', 'headStatus'];

/** Fan-out of progress events to every subscriber (CLI bar, IPC, bridge clients). */
export class ProgressHub {
  private readonly listeners = new Set<ProgressListener>();

  on(listener: ProgressListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(e: ProgressEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch {
        // A broken subscriber (closed socket) must not stop the job.
      }
    }
  }
}

/** One long job: its id (the one ProgressEvents carry), an AbortSignal, and its progress tracker. */
export interface Job {
  readonly id: string;
  readonly signal: AbortSignal;
  /** Fired by stop(id): take no new items, finish the ones in progress (Ctrl-C in the CLI). */
  readonly stopSignal: AbortSignal;
  readonly tracker: ProgressTracker;
  /** Throws CANCELLED when cancelJob(id) was called; call between items. */
  throwIfCancelled(): void;
  /** Reports the end state and removes the job from the registry. */
  finish(state: 'done' | 'cancelled' | 'failed', message?: string): void;
}

export class JobRegistry {
  private readonly jobs = new Map<string, { cancel: AbortController; stop: AbortController }>();
  private next = 1;

  constructor(private readonly progress: ProgressHub) {}

  start(kind: string, total: number, signal?: AbortSignal): Job {
    const id = `${kind}-${Date.now().toString(36)}-${this.next++}`;
    const controller = new AbortController();
    const stopper = new AbortController();
    if (signal) signal.addEventListener('abort', () => controller.abort(), { once: true });
    this.jobs.set(id, { cancel: controller, stop: stopper });
    const tracker = new ProgressTracker(id, kind, total, (e) => this.progress.emit(e));
    const jobs = this.jobs;
    return {
      id,
      signal: controller.signal,
      stopSignal: stopper.signal,
      tracker,
      throwIfCancelled() {
        if (controller.signal.aborted) throw new PeakLabelError('CANCELLED', `The ${kind} job was cancelled.`);
      },
      finish(state, message) {
        jobs.delete(id);
        tracker.finish(state, message);
      },
    };
  }

  /** Cancels a running job; unknown ids (already finished) are ignored. */
  cancel(id: string): void {
    this.jobs.get(id)?.cancel.abort();
  }

  /** Asks a running job to finish the items in progress and take no more; unknown ids are ignored. */
  stop(id: string): void {
    this.jobs.get(id)?.stop.abort();
  }

  running(): string[] {
    return [...this.jobs.keys()];
  }
}

/** The shared state of one service instance. */
export class ServiceContext {
  readonly progress = new ProgressHub();
  readonly jobs = new JobRegistry(this.progress);
  private current: ProjectStore | null = null;

  /** The open project, or NO_PROJECT. */
  store(): ProjectStore {
    if (!this.current) throw new PeakLabelError('NO_PROJECT', 'No project is open: create or open a .peaklabel file first.');
    return this.current;
  }

  get project(): ProjectStore | null {
    return this.current;
  }

  /** Replaces the open project (closing the previous one). */
  setProject(store: ProjectStore | null): void {
    if (this.current && this.current !== store) this.current.close();
    this.current = store;
  }

  close(): void {
    this.setProject(null);
  }
}

/** Builds the engine methods for a context (what engine-methods.ts exports). */
export type EngineFactory = (ctx: ServiceContext) => EngineMethods;
