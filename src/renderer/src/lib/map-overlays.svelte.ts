// The model's maps over the image, beside the editor session: the class heat map, the selected peak's
// activation (PRM or IAM) with the threshold slider that regrows its mask, and the segment proposal under
// the cursor. Each is fetched when its layer is on, dropped when the image or the selection changes, and
// an engine error turns its layer off with a notice instead of leaving a stale picture.
import type { ActivationKind, ImageRow } from '../../../common/api';
import { toErrorInfo, type ErrorInfo } from '../../../common/errors';
import { cropMask, maskArea, maskBbox } from '../../../common/mask';
import { countsArea, countsToCroppedMask, decompressCounts } from '../../../common/rle';
import type { Layers } from '../canvas/canvas-model';
import { heatColor } from '../canvas/color';
import type { CanvasEngine } from '../canvas/engine';
import { outlineRings, placed, type PlacedMask } from '../canvas/placed-mask';
import { regrowMask, toMapPoint, type GrayActivation } from '../canvas/regrow';
import { pixelsBitmap } from './format';
import type { AppState } from './state.svelte';

/** The instance an activation belongs to. */
export interface OverlayInstance extends PlacedMask {
  id: number;
  classId: number;
  peak: { x: number; y: number } | null;
}

export interface OverlayHost {
  imageId(): number;
  row(): ImageRow | null;
  selected(): OverlayInstance | null;
  engine(): CanvasEngine | null;
  layers(): Layers;
  /** Turns a layer off (after an error), in the session's toggles and on the canvas. */
  layerOff(k: keyof Layers): void;
  /** Shows `mask` in place of the instance's saved mask until the next re-read. */
  preview(id: number, mask: PlacedMask): void;
  /** Saves the mask to the instance (one undo step). */
  save(inst: OverlayInstance, mask: PlacedMask): Promise<void>;
  /** Re-reads the image's instances (drops a preview). */
  refresh(): Promise<void>;
}

export class MapOverlays {
  /** Which activation of the selected instance's peak the activation layer shows. */
  activationKind = $state<ActivationKind>('prm');
  /** The activation shown, for the threshold slider (null: none loaded for the selection). */
  activation = $state<{ instanceId: number; kind: ActivationKind; map: GrayActivation; peak: { x: number; y: number } } | null>(null);
  /** Threshold slider: fraction of the activation's maximum. */
  tau = $state(0.3);
  /** Area (pixels) of the proposal outlined under the cursor, shown beside its layer toggle. */
  proposalArea = $state<number | null>(null);
  /** The class chosen for the heat map (null: the selection's or the active class). */
  heatClassId = $state<number | null>(null);
  /** The class whose heat map is on the canvas (null: none yet); the UI and tests read that it arrived. */
  heatShownClassId = $state<number | null>(null);
  private hoverPoint: { x: number; y: number } | null = null;
  private hoverTimer: ReturnType<typeof setTimeout> | null = null;
  private hoverBusy = false;
  private proposalKey: string | null = null;

  constructor(
    private readonly app: AppState,
    private readonly host: OverlayHost,
  ) {}

  /** A new image: every map of the previous one goes. */
  reset(): void {
    this.host.engine()?.setHeatmap(null);
    this.heatShownClassId = null;
    this.clearActivation();
    this.clearProposal();
  }

  detach(): void {
    if (this.hoverTimer) clearTimeout(this.hoverTimer);
  }

  /** A layer was switched on or off. */
  layerToggled(k: keyof Layers, on: boolean): void {
    if (k === 'heatmap' && on) void this.loadHeatmap();
    if (k === 'activation') void (on ? this.loadActivation(true) : this.clearActivation());
    if (k === 'proposals') this.clearProposal();
  }

  selectionChanged(): void {
    if (this.host.layers().activation) void this.loadActivation();
  }

  setHeatClass(classId: number): void {
    this.heatClassId = classId;
    if (this.host.layers().heatmap) void this.loadHeatmap();
  }

  setActivationKind(kind: ActivationKind): void {
    this.activationKind = kind;
    if (this.host.layers().activation) void this.loadActivation(true);
  }

  async loadHeatmap(): Promise<void> {
    const cls = this.heatClassId ?? this.host.selected()?.classId ?? this.app.activeClassId;
    if (cls === null) return;
    this.heatClassId = cls;
    const id = this.host.imageId();
    try {
      const map = await this.app.api.classResponse(id, cls);
      const bmp = await pixelsBitmap(map);
      if (id !== this.host.imageId()) return;
      this.host.engine()?.setHeatmap(colorize(bmp), map.frame);
      this.heatShownClassId = cls;
    } catch (err) {
      this.app.error(explained(err, 'No heat map'));
      this.host.layerOff('heatmap');
    }
  }

  /** The selected instance's peak activation (PRM or IAM), for the overlay and the threshold slider. */
  async loadActivation(explicit = false): Promise<void> {
    const s = this.host.selected();
    const kind = this.activationKind;
    if (!s?.peak) {
      this.clearActivation();
      if (explicit) this.app.info(s ? 'The selected instance was drawn by hand: it has no peak, so no activation map.' : 'Select an instance made from a peak to see its activation map.');
      return;
    }
    const id = this.host.imageId();
    try {
      const px = await this.app.api.peakMap(id, { classId: s.classId, x: s.peak.x, y: s.peak.y }, kind);
      const bmp = await pixelsBitmap(px);
      if (id !== this.host.imageId() || this.host.selected()?.id !== s.id || !this.host.layers().activation || kind !== this.activationKind) return;
      const { canvas, gray } = colorizeGray(bmp);
      const map = { width: px.width, height: px.height, gray, min: px.min, max: px.max };
      const row = this.host.row()!;
      this.activation = { instanceId: s.id, kind, map, peak: toMapPoint(map, row.width, row.height, s.peak.x, s.peak.y) };
      this.host.engine()?.setActivation(canvas);
    } catch (err) {
      if (id !== this.host.imageId()) return;
      this.app.error(explained(err, 'No activation map'));
      this.clearActivation();
      this.host.layerOff('activation');
    }
  }

  /** Threshold slider moved: regrow the selected mask from its activation (saved when `commit`). */
  async setTau(tau: number, commit = false): Promise<void> {
    this.tau = tau;
    const s = this.host.selected();
    const a = this.activation;
    const row = this.host.row();
    if (!s || !row || !a || a.instanceId !== s.id) return;
    // Only the regrown part's window of the image: a full-size mask per slider step froze the slider.
    const grown = placed(regrowMask(a.map, tau, a.peak, row.width, row.height));
    const area = maskArea(grown.bits);
    if (!commit) {
      if (area === 0) return;
      const [x, y, w, h] = maskBbox(grown.bits);
      this.host.preview(s.id, { bits: cropMask(grown.bits, x, y, w, h), ox: grown.ox + x, oy: grown.oy + y });
      return;
    }
    if (area === 0) {
      this.app.info('Nothing of the activation is above that threshold: the mask was kept.');
      return void (await this.host.refresh());
    }
    await this.host.save(s, grown);
  }

  /** Pointer moved over the image: ask for the proposal under it, at most one request at a time. */
  hover(x: number, y: number): void {
    if (!this.host.layers().proposals || !this.host.row()) return;
    this.hoverPoint = { x, y };
    if (this.hoverBusy || this.hoverTimer) return;
    this.hoverTimer = setTimeout(() => {
      this.hoverTimer = null;
      void this.fetchProposal();
    }, 80);
  }

  private clearActivation(): void {
    this.activation = null;
    this.host.engine()?.setActivation(null);
  }

  private clearProposal(): void {
    this.proposalKey = null;
    this.host.engine()?.setProposalRings(null);
  }

  private async fetchProposal(): Promise<void> {
    const p = this.hoverPoint;
    const row = this.host.row();
    const id = this.host.imageId();
    if (!p || !row) return;
    if (p.x < 0 || p.y < 0 || p.x >= row.width || p.y >= row.height) return this.clearProposal();
    this.hoverBusy = true;
    try {
      const rle = await this.app.api.proposalAt(id, p.x, p.y);
      if (id !== this.host.imageId() || !this.host.layers().proposals) return;
      const key = rle?.counts ?? null;
      if (key !== this.proposalKey) {
        this.proposalKey = key;
        // Decoded over its own box: a full-size decode per hovered proposal cost the image's size.
        const counts = rle ? decompressCounts(rle.counts) : null;
        this.proposalArea = counts ? countsArea(counts) : null;
        this.host.engine()?.setProposalRings(rle && counts ? outlineRings(placed(countsToCroppedMask(counts, rle.size[0], rle.size[1]))) : null);
      }
    } catch (err) {
      this.app.error(explained(err, 'No proposal outlines'));
      this.host.layerOff('proposals');
    } finally {
      this.hoverBusy = false;
      const next = this.hoverPoint;
      if (next && next !== p && this.host.layers().proposals) this.hover(next.x, next.y);
    }
  }
}

/** An engine error as a notice; a missing model says what it stopped. */
export function explained(err: unknown, what: string): ErrorInfo {
  const info = toErrorInfo(err);
  return info.code === 'MODEL_UNAVAILABLE' ? { ...info, message: `${what}: ${info.message}` } : info;
}

/** A grayscale activation PNG → its gray values and a coloured overlay (transparent where low). */
function colorizeGray(src: ImageBitmap): { canvas: HTMLCanvasElement; gray: Uint8Array } {
  const canvas = colorize(src);
  const c = document.createElement('canvas');
  c.width = src.width;
  c.height = src.height;
  const ctx = c.getContext('2d')!;
  ctx.drawImage(src, 0, 0);
  const d = ctx.getImageData(0, 0, c.width, c.height).data;
  const gray = new Uint8Array(c.width * c.height);
  for (let i = 0; i < gray.length; i++) gray[i] = d[i * 4];
  return { canvas, gray };
}

/** Grayscale class response → coloured, transparent where the response is low. */
function colorize(src: ImageBitmap): HTMLCanvasElement {
  const c = document.createElement('canvas');
  c.width = src.width;
  c.height = src.height;
  const ctx = c.getContext('2d')!;
  ctx.drawImage(src, 0, 0);
  const img = ctx.getImageData(0, 0, c.width, c.height);
  const d = img.data;
  for (let i = 0; i < d.length; i += 4) {
    const t = d[i] / 255;
    const [r, g, b] = heatColor(t);
    d[i] = r; d[i + 1] = g; d[i + 2] = b; d[i + 3] = Math.round(255 * Math.min(1, t * 1.8));
  }
  ctx.putImageData(img, 0, 0);
  return c;
}
