// Segment-anything prompting in the editor, beside the editor session: Shift+click adds a point inside the
// selected instance's object, Alt+click one outside, Shift+drag a box; each change re-segments the
// instance at once (a preview), and the preview is saved as one edit — one undo step — when the person
// accepts, selects something else, or leaves the image. Esc drops the preview. It also asks the engine for
// each image's embedding when the image opens, and for the next image's, so clicks need only the decoder.
import type { Rle } from '../../../common/api';
import { toErrorInfo } from '../../../common/errors';
import type { AppState } from './state.svelte';

type Point = { x: number; y: number; label: 0 | 1 };
type Box = [number, number, number, number];

export interface PromptTarget {
  id: number;
  classId: number;
  peak: { x: number; y: number } | null;
}

export interface PromptHost {
  imageId(): number;
  /** Shows `mask` in place of the instance's saved mask (null: the saved one again). */
  preview(id: number, mask: Rle | null): void;
  /** Saves the instance's mask (one undo step). */
  save(id: number, mask: Rle): Promise<void>;
  marksChanged(marks: { points: Point[]; box: Box | null }): void;
}

export class PromptController {
  points = $state<Point[]>([]);
  box = $state<Box | null>(null);
  /** The embedding of the open image: being computed (the canvas says so), ready, or unavailable. */
  embedding = $state<'computing' | 'ready' | null>(null);
  /** Points of the shown preview (it lags `points` while the segmenter answers). */
  shownPoints = $state(0);
  private target = $state.raw<PromptTarget | null>(null);
  private pending: Rle | null = null;
  private inflight: Promise<void> | null = null;
  /** Each re-segmentation gets a number: a slow answer to an older prompt never replaces a newer one. */
  private seq = 0;

  constructor(
    private readonly app: AppState,
    private readonly host: PromptHost,
  ) {}

  get available(): boolean {
    return !!this.app.engine?.methods.includes('sam');
  }

  get active(): boolean {
    return this.target !== null;
  }

  /** The image opened: compute its embedding, then the next image's (review order). */
  async imageOpened(id: number, nextId: () => Promise<number | null>): Promise<void> {
    this.reset();
    if (!this.available) return;
    this.embedding = 'computing';
    try {
      await this.app.api.prepareImage(id);
      if (this.host.imageId() === id) this.embedding = 'ready';
    } catch (err) {
      if (this.host.imageId() === id) {
        this.embedding = null;
        this.app.error(err);
      }
      return;
    }
    const next = await nextId().catch(() => null);
    if (next !== null && this.host.imageId() === id) void this.app.api.prepareImage(next).catch(() => undefined);
  }

  /** Shift+click (inside) or Alt+click (outside) on the instance being refined. */
  async addPoint(t: PromptTarget, x: number, y: number, label: 0 | 1): Promise<void> {
    this.retarget(t);
    this.points = [...this.points, { x, y, label }];
    await (this.inflight = this.segment());
  }

  async setBox(t: PromptTarget, box: Box): Promise<void> {
    this.retarget(t);
    this.box = box;
    await (this.inflight = this.segment());
  }

  /**
   * Saves the preview (one undo step) and ends the refinement; a prompt still being answered is waited for.
   * True when a mask was saved (the instance is then the person's edit).
   */
  async commit(): Promise<boolean> {
    await this.inflight;
    const t = this.target;
    const mask = this.pending;
    this.reset();
    if (!t || !mask) return false;
    await this.host.save(t.id, mask);
    return true;
  }

  /** Drops the preview: the saved mask shows again. */
  discard(): void {
    const t = this.target;
    this.reset();
    if (t) this.host.preview(t.id, null);
  }

  private retarget(t: PromptTarget): void {
    if (this.target?.id === t.id) return;
    this.reset();
    this.target = t;
    // The instance's own peak is its first inside point, so refining starts from what was suggested.
    if (t.peak) this.points = [{ x: t.peak.x, y: t.peak.y, label: 1 }];
  }

  private reset(): void {
    this.target = null;
    this.pending = null;
    this.points = [];
    this.box = null;
    this.shownPoints = 0;
    this.inflight = null;
    this.seq++;
    this.host.marksChanged({ points: [], box: null });
  }

  private async segment(): Promise<void> {
    const t = this.target;
    if (!t) return;
    const seq = ++this.seq;
    const points = this.points;
    const box = this.box;
    this.host.marksChanged({ points, box });
    try {
      const r = await this.app.api.segmentPrompt(this.host.imageId(), { classId: t.classId, points, ...(box ? { box } : {}) });
      if (seq !== this.seq) return;
      if (!r) return this.app.info('That prompt gives an empty mask: add a point inside the object.');
      this.pending = r.mask;
      this.shownPoints = points.length + (box ? 1 : 0);
      this.host.preview(t.id, r.mask);
    } catch (err) {
      if (seq === this.seq) this.app.error(toErrorInfo(err));
    }
  }
}
