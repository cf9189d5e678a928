// Thumbnails as object URLs: fetched with bounded concurrency, newest requests first, and evicted
// (URL revoked) beyond a cap so long scrolls through big projects keep memory flat.
import type { PeakLabelApi } from '../../../common/api';
import { pixelsUrl } from './format';

export class ThumbCache {
  private urls = new Map<number, string>(); // insertion order = age
  private queue: number[] = [];
  private inFlight = new Set<number>();
  private wanted = new Set<number>();
  private failed = new Set<number>();
  private closed = false;

  constructor(
    private readonly api: PeakLabelApi,
    private readonly cap: number,
    private readonly concurrency: number,
    private readonly onReady: (id: number, url: string) => void,
    private readonly onEvict: (id: number) => void,
  ) {}

  want(id: number): void {
    if (this.urls.has(id) || this.inFlight.has(id) || this.failed.has(id) || this.queue.includes(id)) return;
    this.queue.push(id);
    this.pump();
  }

  /** Drop queued requests that scrolled out of view. */
  keep(visible: Set<number>): void {
    this.wanted = visible;
    this.queue = this.queue.filter((id) => visible.has(id));
  }

  clear(): void {
    // Revoke a little later: an <img> of the grid being torn down may still be decoding its URL, and a
    // revoked blob URL mid-load is a console error.
    const urls = [...this.urls.values()];
    setTimeout(() => urls.forEach((u) => URL.revokeObjectURL(u)), 5000);
    this.urls.clear();
    this.queue = [];
    this.closed = true;
  }

  private pump(): void {
    while (this.inFlight.size < this.concurrency && this.queue.length) {
      const id = this.queue.pop()!;
      this.inFlight.add(id);
      this.api
        .thumbnail(id)
        .then((p) => {
          if (this.closed) return;
          const url = pixelsUrl(p);
          this.urls.set(id, url);
          this.onReady(id, url);
          this.evict();
        })
        .catch(() => this.failed.add(id)) // the tile shows the image's own error status
        .finally(() => {
          this.inFlight.delete(id);
          this.pump();
        });
    }
  }

  private evict(): void {
    for (const [id, url] of this.urls) {
      if (this.urls.size <= this.cap) break;
      if (this.wanted.has(id)) continue;
      URL.revokeObjectURL(url);
      this.urls.delete(id);
      this.onEvict(id);
    }
  }
}
