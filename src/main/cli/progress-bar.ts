// Renders ProgressEvents on stderr: on a terminal one bar redrawn in place; otherwise (logs, CI) a plain
// line at most every few seconds and at the end, so logs stay readable.
import type { ProgressEvent } from '../../common/progress';

const WIDTH = 28;
const PLAIN_INTERVAL_MS = 5000;

function formatEta(s: number | null): string {
  if (s === null) return '--';
  if (s < 60) return `${Math.round(s)}s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

export function formatProgressLine(e: ProgressEvent): string {
  const pct = e.total > 0 ? Math.min(1, e.done / e.total) : 0;
  const failed = e.failed ? `, ${e.failed} failed` : '';
  return `${e.kind} ${e.done}/${e.total} (${Math.round(pct * 100)}%${failed}) eta ${formatEta(e.etaSeconds)}`;
}

export class ProgressBar {
  private lastPlain = 0;
  private drawn = false;

  constructor(private readonly stream: NodeJS.WriteStream = process.stderr, private readonly tty = Boolean(stream.isTTY)) {}

  update(e: ProgressEvent): void {
    const finished = e.state !== 'running';
    if (this.tty) {
      const pct = e.total > 0 ? Math.min(1, e.done / e.total) : 0;
      const filled = Math.round(pct * WIDTH);
      const bar = `[${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}]`;
      const cols = this.stream.columns ?? 100;
      const line = `${bar} ${formatProgressLine(e)}${e.current ? ` ${e.current}` : ''}`.slice(0, cols - 1);
      this.stream.write(`\r\x1b[2K${line}`);
      this.drawn = true;
      if (finished) {
        this.stream.write(`\n`);
        this.drawn = false;
      }
      return;
    }
    const now = Date.now();
    if (finished || now - this.lastPlain >= PLAIN_INTERVAL_MS) {
      this.lastPlain = now;
      this.stream.write(`${formatProgressLine(e)}${finished ? ` ${e.state}` : ''}\n`);
    }
  }

  /** Ends a half-drawn bar before other output. */
  clear(): void {
    if (this.drawn) this.stream.write('\r\x1b[2K');
    this.drawn = false;
  }
}
