// One progress mechanism for every long job: the CLI's progress bar and the UI's read the same events.

export interface ProgressEvent {
  jobId: string;
  /** What the job is doing, e.g. "import", "prelabel", "export". */
  kind: string;
  done: number;
  total: number;
  /** Seconds left, estimated from the rate so far; null until it can be estimated. */
  etaSeconds: number | null;
  /** The item being worked on (usually a file name). */
  current?: string;
  /** Items that failed so far (they are reported, the job goes on). */
  failed: number;
  state: 'running' | 'done' | 'cancelled' | 'failed';
  message?: string;
}

export type ProgressListener = (e: ProgressEvent) => void;

/** Tracks rate and ETA for a job; emits at most every `minIntervalMs` except on state changes. */
export class ProgressTracker {
  private readonly started = Date.now();
  private lastEmit = 0;
  done = 0;
  failed = 0;

  constructor(
    readonly jobId: string,
    readonly kind: string,
    public total: number,
    private readonly listener: ProgressListener,
    private readonly minIntervalMs = 100,
  ) {}

  step(current?: string, ok = true): void {
    this.done++;
    if (!ok) this.failed++;
    const now = Date.now();
    if (now - this.lastEmit >= this.minIntervalMs || this.done === this.total) {
      this.lastEmit = now;
      this.listener(this.event('running', current));
    }
  }

  finish(state: 'done' | 'cancelled' | 'failed', message?: string): ProgressEvent {
    const e = { ...this.event(state), message };
    this.listener(e);
    return e;
  }

  event(state: ProgressEvent['state'], current?: string): ProgressEvent {
    const elapsed = (Date.now() - this.started) / 1000;
    const rate = this.done > 0 ? this.done / elapsed : 0;
    const etaSeconds = rate > 0 ? Math.max(0, (this.total - this.done) / rate) : null;
    return { jobId: this.jobId, kind: this.kind, done: this.done, total: this.total, etaSeconds, current, failed: this.failed, state };
  }
}
