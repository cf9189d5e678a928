// One open image in the editor: loads pixels, instances and peaks, and turns the canvas engine's
// intents (peak clicked, stroke, polygon…) into API calls. Every change goes straight to the API
// (autosave); after each one the instances are re-read so undo/redo and the view never disagree.
import type { ImageRow, InstanceRow, Peak, Rle } from '../../../common/api';
import { toErrorInfo } from '../../../common/errors';
import { componentMask, connectedComponents, createMask, cropMask, fillHoles, maskArea, maskUnion, type Bbox, type BinaryMask } from '../../../common/mask';
import { polygonsToWindowMask } from '../../../common/polygon';
import { countsToWindowMask, decompressCounts, encodeWindowMask, rleArea, rleToBbox } from '../../../common/rle';
import { paintStroke, strokeBounds } from '../canvas/brush';
import { DEFAULT_LAYERS, type Layers, type Tool } from '../canvas/canvas-model';
import { CanvasEngine } from '../canvas/engine';
import { hitInstance } from '../canvas/hit';
import { outlineRings, placed, reshapeOutline, type PlacedMask } from '../canvas/placed-mask';
import { nextSuggestion, suggestionsAbove, suggestionsBelow } from '../canvas/review';
import { levelFor, type View } from '../canvas/view';
import { pixelsBitmap } from './format';
import { explained, MapOverlays } from './map-overlays.svelte';
import { PromptController } from './prompt-controller.svelte';
import type { AppState } from './state.svelte';

/** An instance with its mask decoded to its bounding box. */
export interface LoadedInstance extends InstanceRow, PlacedMask {}

/** Decodes only the instance's bounding box (the row's bbox), never the whole image. */
function decodeCropped(r: InstanceRow): PlacedMask {
  const [x, y, w, h] = r.bbox;
  return placed(countsToWindowMask(decompressCounts(r.mask.counts), r.mask.size[0], r.mask.size[1], [x, y, Math.max(1, w), Math.max(1, h)]));
}

/** The placed masks together in one window spanning all of them. */
function unionOf(parts: PlacedMask[]): PlacedMask {
  const ox = Math.min(...parts.map((p) => p.ox)), oy = Math.min(...parts.map((p) => p.oy));
  const w = Math.max(...parts.map((p) => p.ox + p.bits.width)) - ox, h = Math.max(...parts.map((p) => p.oy + p.bits.height)) - oy;
  const bits = parts.map((p) => cropMask(p.bits, ox - p.ox, oy - p.oy, w, h)).reduce(maskUnion);
  return { bits, ox, oy };
}

/** [x, y, w, h] on the image spanning the instance and the stroke's reach; null when off the image. */
function strokeWindow(points: { x: number; y: number }[], radius: number, inst: PlacedMask | null, width: number, height: number): Bbox | null {
  const b = strokeBounds(points, radius);
  const x0 = Math.max(0, inst ? Math.min(b.x0, inst.ox) : b.x0), y0 = Math.max(0, inst ? Math.min(b.y0, inst.oy) : b.y0);
  const x1 = Math.min(width, inst ? Math.max(b.x1, inst.ox + inst.bits.width) : b.x1);
  const y1 = Math.min(height, inst ? Math.max(b.y1, inst.oy + inst.bits.height) : b.y1);
  return x1 > x0 && y1 > y0 ? [x0, y0, x1 - x0, y1 - y0] : null;
}

export class EditorSession {
  row = $state<ImageRow | null>(null);
  /** Raw (not deeply proxied) state, always replaced whole: the canvas caches each instance's layer by
   * its mask object, and a deep proxy would hand it a new object after every re-read, re-rasterising
   * and re-tracing every instance on the image after each edit. */
  instances = $state.raw<LoadedInstance[]>([]);
  peaks = $state<Peak[]>([]);
  peaksNote = $state<string | null>(null);
  /** Show peaks of every class, not only the active class and the image's tags (an untagged image
   * can have hundreds of peaks over the model's classes). */
  allPeakClasses = $state(false);
  selectedId = $state<number | null>(null);
  /** Further instances picked with Shift+click, to merge into the selected one. */
  alsoSelected = $state<number[]>([]);
  /** Why the image cannot be shown (decode error, missing file), shown in place of the canvas. */
  imageError = $state<string | null>(null);
  tool = $state<Tool>('select');
  brushRadius = $state(12);
  layers = $state<Layers>({ ...DEFAULT_LAYERS });
  busy = $state<string | null>(null);
  zoom = $state(1);
  level = $state(0);
  /** Milliseconds from opening to image shown / peaks shown (the issue's targets, shown in the panel). */
  timings = $state<{ image: number | null; peaks: number | null; edit: number | null }>({ image: null, peaks: null, edit: null });

  engine: CanvasEngine | null = null;
  private imageId = 0;
  private decoded = new Map<number, { key: string; bits: BinaryMask; ox: number; oy: number }>();
  private levelTimer: ReturnType<typeof setTimeout> | null = null;
  private loadingLevel = 0;

  /** Segment-anything refinement of the selected instance (Shift/Alt+click, Shift+drag). */
  readonly prompts: PromptController;
  /** Heat map, peak activation with its threshold slider, proposal under the cursor. */
  readonly overlays: MapOverlays;

  constructor(private readonly app: AppState) {
    this.prompts = new PromptController(app, {
      imageId: () => this.imageId,
      preview: (id, mask) => this.showPreview(id, mask),
      save: async (id, mask) => {
        await this.act('Saving…', () => this.app.api.editInstance(id, { mask }));
      },
      marksChanged: (marks) => this.engine?.setPromptMarks(marks),
    });
    this.overlays = new MapOverlays(app, {
      imageId: () => this.imageId,
      row: () => this.row,
      selected: () => this.selected,
      engine: () => this.engine,
      layers: () => this.layers,
      layerOff: (k) => {
        this.layers = { ...this.layers, [k]: false };
        this.engine?.setLayers(this.layers);
      },
      preview: (id, mask) => {
        this.instances = this.instances.map((i) => (i.id === id ? { ...i, ...mask, area: maskArea(mask.bits) } : i));
        this.sync();
      },
      save: (inst, mask) => this.saveMask(this.instances.find((i) => i.id === inst.id) ?? null, mask),
      refresh: () => this.refreshInstances(),
    });
  }

  attach(canvas: HTMLCanvasElement): void {
    this.engine = new CanvasEngine(canvas, {
      onPeakClick: (i) => void this.clickPeak(i),
      onCanvasClick: (x, y, mods) => void this.clickCanvas(x, y, mods),
      onBox: (box) => void this.box(box),
      onStroke: (pts, r, erase) => void this.stroke(pts, r, erase),
      onPolygon: (pts) => void this.polygon(pts),
      onRingsEdited: (rings) => void this.ringsEdited(rings),
      onViewChange: (v) => this.viewChanged(v),
      onPointer: (x, y) => this.overlays.hover(x, y),
    });
    this.engine.setLayers(this.layers);
    this.engine.setBrushRadius(this.brushRadius);
  }

  detach(): void {
    this.engine?.destroy();
    this.engine = null;
    if (this.levelTimer) clearTimeout(this.levelTimer);
    this.overlays.detach();
  }

  get imageIdValue(): number {
    return this.imageId;
  }

  async load(id: number): Promise<void> {
    const started = performance.now();
    void this.prompts.commit(); // a refinement left on the previous image is saved, not lost
    this.imageId = id;
    this.selectedId = null;
    this.alsoSelected = [];
    this.imageError = null;
    this.peaks = [];
    this.peaksNote = null;
    this.instances = [];
    this.decoded.clear();
    this.timings = { image: null, peaks: null, edit: null };
    this.overlays.reset();
    this.layers = { ...this.layers, heatmap: false };
    this.engine?.setLayers(this.layers);
    const row = await this.app.run(this.app.api.getImage(id));
    if (!row || this.imageId !== id) return;
    this.row = row;
    this.engine?.setImage(null, row.width, row.height, true);
    this.level = 0;
    this.loadingLevel = 0; // a level still loading for the previous image must not block this one
    if (this.levelTimer) clearTimeout(this.levelTimer);
    const first = levelFor(this.engine?.view.scale ?? 1, row.width, row.height, globalThis.devicePixelRatio || 1);
    await Promise.all([
      this.loadLevel(first).then(() => {
        if (this.imageId === id) this.timings = { ...this.timings, image: Math.round(performance.now() - started) };
      }),
      this.refreshInstances(),
      this.loadPeaks(id, started),
    ]);
    if (this.imageId === id) void this.prompts.imageOpened(id, () => this.app.imageIdAt(1));
  }

  private async loadLevel(side: number): Promise<void> {
    const id = this.imageId;
    if (side <= this.level || side <= this.loadingLevel) return;
    this.loadingLevel = side;
    try {
      const px = await this.app.api.imagePixels(id, side);
      const bmp = await pixelsBitmap(px);
      if (id !== this.imageId) return;
      this.level = side;
      this.engine?.setImageLevel(bmp);
    } catch (err) {
      if (id === this.imageId) {
        const info = toErrorInfo(err);
        if (this.level === 0) this.imageError = `${info.message}${info.file && !info.message.includes(info.file) ? ` (${info.file})` : ''}`;
        else this.app.error(err);
      }
    } finally {
      if (id === this.imageId) this.loadingLevel = 0;
    }
  }

  private viewChanged(v: View): void {
    this.zoom = v.scale;
    const row = this.row;
    if (!row) return;
    const want = levelFor(v.scale, row.width, row.height, globalThis.devicePixelRatio || 1);
    if (want <= this.level) return;
    if (this.levelTimer) clearTimeout(this.levelTimer);
    this.levelTimer = setTimeout(() => void this.loadLevel(want), 150);
  }

  private async loadPeaks(id: number, started: number): Promise<void> {
    try {
      const peaks = await this.app.api.findPeaks(id);
      if (id !== this.imageId) return;
      this.peaks = [...peaks].sort((a, b) => b.score - a.score);
      // The engine adds the model's classes to the project the first time it reports them.
      if (peaks.some((p) => !this.app.classById(p.classId))) await this.app.refreshClasses();
      this.timings = { ...this.timings, peaks: Math.round(performance.now() - started) };
      this.peaksNote = peaks.length ? null : 'The model found no peaks in this image.';
    } catch (err) {
      if (id !== this.imageId) return;
      const info = toErrorInfo(err);
      this.peaksNote = info.code === 'MODEL_UNAVAILABLE' ? `Model unavailable: ${info.message} Draw instances with the brush or polygon.` : info.message;
    }
    this.sync();
  }

  async refreshInstances(): Promise<void> {
    const id = this.imageId;
    const rows = await this.app.run(this.app.api.listInstances(id));
    if (!rows || id !== this.imageId) return;
    const next: LoadedInstance[] = [];
    const seen = new Set<number>();
    for (const r of rows) {
      const key = `${r.updatedAt}|${r.mask.counts.length}|${r.mask.counts}`;
      let d = this.decoded.get(r.id);
      if (!d || d.key !== key) {
        d = { key, ...decodeCropped(r) };
        this.decoded.set(r.id, d);
      }
      seen.add(r.id);
      next.push({ ...r, bits: d.bits, ox: d.ox, oy: d.oy });
    }
    for (const k of this.decoded.keys()) if (!seen.has(k)) this.decoded.delete(k);
    this.instances = next;
    if (this.selectedId !== null && !seen.has(this.selectedId)) this.selectedId = null;
    this.alsoSelected = this.alsoSelected.filter((i) => seen.has(i) && i !== this.selectedId);
    this.sync();
  }

  /** Push the current data to the canvas. */
  sync(): void {
    const e = this.engine;
    if (!e) return;
    e.setInstances(
      this.instances.map((i) => ({ id: i.id, color: this.app.colorOf(i.classId), source: i.source, score: i.score, mask: i.bits, x: i.ox, y: i.oy })),
    );
    e.setPeaks(
      this.shownPeaks().map((p) => ({
        x: p.x, y: p.y, score: p.score, color: this.app.colorOf(p.classId),
        used: this.instances.some((i) => i.peak && i.classId === p.classId && Math.hypot(i.peak.x - p.x, i.peak.y - p.y) < 2),
      })),
    );
    e.setSelected(this.selectedId, this.alsoSelected);
    e.setEditRings(this.tool === 'polygon' ? this.outlineOf(this.selected) : null);
    e.strokeColor = this.app.colorOf(this.selected?.classId ?? this.app.activeClassId ?? -1);
  }

  /** The peaks drawn (and clickable): those of the active class and of the image's tags, or all. */
  shownPeaks(): Peak[] {
    if (this.allPeakClasses) return this.peaks;
    const tags = new Set((this.row?.tags ?? []).map((t) => t.toLowerCase()));
    return this.peaks.filter((p) => p.classId === this.app.activeClassId || tags.has((this.app.classById(p.classId)?.name ?? '').toLowerCase()));
  }

  setAllPeakClasses(all: boolean): void {
    this.allPeakClasses = all;
    this.sync();
  }

  get selected(): LoadedInstance | null {
    return this.instances.find((i) => i.id === this.selectedId) ?? null;
  }

  select(id: number | null): void {
    const changed = id !== this.selectedId;
    if (changed && this.prompts.active) void this.prompts.commit();
    this.selectedId = id;
    this.alsoSelected = [];
    this.sync();
    if (changed) this.overlays.selectionChanged();
  }

  /** Shift+click: toggle an instance in the multi-selection (the first one stays primary). */
  toggleSelect(id: number): void {
    if (this.selectedId === null) return this.select(id);
    if (id === this.selectedId) return;
    this.alsoSelected = this.alsoSelected.includes(id) ? this.alsoSelected.filter((i) => i !== id) : [...this.alsoSelected, id];
    this.sync();
  }

  /** Merge the Shift-selected instances into the selected one (its class and id are kept); one undo step. */
  async merge(): Promise<void> {
    const s = this.selected;
    const row = this.row;
    const others = this.instances.filter((i) => this.alsoSelected.includes(i.id));
    if (!s || !row) return;
    if (!others.length) return this.app.info('Shift+click the instances to merge into the selected one.');
    const merged = unionOf([s, ...others]);
    await this.act('Merging…', () => this.app.api.changeInstances(this.imageId, {
      edit: [{ id: s.id, mask: this.encode(merged) }],
      delete: others.map((o) => o.id),
    }));
    this.select(s.id);
  }

  /** Split the selected instance into one instance per connected part (the largest keeps the id); one undo step. */
  async split(): Promise<void> {
    const s = this.selected;
    const row = this.row;
    if (!s || !row) return;
    const comps = connectedComponents(s.bits, 8);
    if (comps.count < 2) return this.app.info('The selected instance is a single piece.');
    const parts = Array.from({ length: comps.count }, (_, k) => componentMask(comps, k + 1, s.bits.width, s.bits.height))
      .map((m) => ({ m, area: maskArea(m) }))
      .sort((a, b) => b.area - a.area);
    const rle = (m: BinaryMask) => this.encode({ bits: m, ox: s.ox, oy: s.oy });
    const done = await this.act('Splitting…', () => this.app.api.changeInstances(this.imageId, {
      edit: [{ id: s.id, mask: rle(parts[0].m) }],
      create: parts.slice(1).map((p) => ({ classId: s.classId, mask: rle(p.m) })),
    }));
    if (done) this.app.info(`Split into ${parts.length} instances.`);
  }

  setTool(t: Tool): void {
    this.tool = t;
    this.engine?.setTool(t);
    this.sync();
  }

  private outlineCache: { inst: LoadedInstance; rings: number[][] } | null = null;

  /** The instance's outer outline in image pixels (vertices only at turns, lightly simplified). */
  private outlineOf(inst: LoadedInstance | null): number[][] | null {
    if (!inst) return null;
    if (this.outlineCache?.inst.bits !== inst.bits) {
      this.outlineCache = { inst, rings: outlineRings(inst, 1) };
    }
    return this.outlineCache.rings.map((r) => r.slice());
  }

  /** Vertex drag finished: the new outline replaces the outer boundary; the mask's holes stay. */
  async ringsEdited(rings: number[][]): Promise<void> {
    const s = this.selected;
    const row = this.row;
    if (!s || !row) return;
    await this.saveMask(s, reshapeOutline(s, rings, row.width, row.height));
  }

  setBrush(r: number): void {
    this.brushRadius = Math.max(1, Math.min(500, Math.round(r)));
    this.engine?.setBrushRadius(this.brushRadius);
  }

  toggleLayer(k: keyof Layers): void {
    this.layers = { ...this.layers, [k]: !this.layers[k] };
    this.engine?.setLayers(this.layers);
    this.overlays.layerToggled(k, this.layers[k]);
  }

  /** WISE's refinement: replace the selected mask by the segment proposal that overlaps it most. */
  async snap(): Promise<void> {
    const s = this.selected;
    const row = this.row;
    if (!s || !row) return this.app.info('Select an instance to snap it to a proposal.');
    const mask = this.encode(s);
    await this.act('Snapping…', async () => {
      const best = await this.app.api.snapToProposal(this.imageId, mask).catch((err) => Promise.reject(explained(err, 'Cannot snap to a proposal')));
      if (!best) return this.app.info('No segment proposal overlaps the selected instance.');
      await this.app.api.editInstance(s.id, { mask: best.mask });
      this.app.info(`Snapped to the best-matching proposal (IoU ${best.iou.toFixed(2)}).`);
    });
  }

  /** Busy indicator + readable error around one API action; then re-read instances and counts. */
  private async act<T>(label: string, f: () => Promise<T>): Promise<T | undefined> {
    this.busy = label;
    try {
      return await f();
    } catch (err) {
      this.app.error(err);
      return undefined;
    } finally {
      this.busy = null;
      await this.refreshInstances();
      await this.refreshRow();
      void this.app.refreshSummary();
    }
  }

  private async refreshRow(): Promise<void> {
    const row = await this.app.run(this.app.api.getImage(this.imageId));
    if (row && row.id === this.imageId) this.row = row;
  }

  async clickPeak(index: number): Promise<void> {
    const p = this.shownPeaks()[index];
    if (!p) return;
    const existing = this.instances.find((i) => i.peak && i.classId === p.classId && Math.hypot(i.peak.x - p.x, i.peak.y - p.y) < 2);
    if (existing) return this.select(existing.id);
    const inst = await this.act('Suggesting…', () => this.app.api.suggestForPeak(this.imageId, { classId: p.classId, x: p.x, y: p.y }));
    if (inst) this.select(inst.id);
  }

  async clickCanvas(x: number, y: number, mods: { shift: boolean; alt: boolean } = { shift: false, alt: false }): Promise<void> {
    const hit = hitInstance(
      this.instances
        .filter((i) => (i.source === 'suggested' ? this.layers.suggested : this.layers.accepted))
        .map((i) => ({ id: i.id, mask: i.bits, x: i.ox, y: i.oy, area: i.area })),
      x, y,
    );
    // Shift on another instance picks it for merging; otherwise Shift/Alt refine the selected instance.
    const s = this.selected;
    if ((mods.shift || mods.alt) && s && this.prompts.available && !(mods.shift && hit !== null && hit !== s.id)) {
      return this.prompts.addPoint(this.promptTarget(s), x, y, mods.alt ? 0 : 1);
    }
    if (hit !== null) return mods.shift ? this.toggleSelect(hit) : this.select(hit);
    const cls = this.app.activeClassId;
    if (cls === null || !this.row || x < 0 || y < 0 || x >= this.row.width || y >= this.row.height) return this.select(null);
    if (!this.app.engine?.available) {
      this.select(null);
      this.app.info('The model is unavailable, so a click cannot make a suggestion: use the brush (B) or polygon (P).');
      return;
    }
    const inst = await this.act('Suggesting…', () => this.app.api.suggestForPeak(this.imageId, { classId: cls, x, y }));
    if (inst) this.select(inst.id);
  }

  async accept(): Promise<void> {
    const s = this.selected;
    if (!s) return;
    // A saved refinement already made the suggestion the person's edited instance (one undo step).
    const refined = await this.prompts.commit();
    if (!refined && s.source === 'suggested') await this.act('Accepting…', () => this.app.api.acceptInstances([s.id]));
    // On to the next suggestion; with none left the accepted one stays selected for touch-ups.
    const next = nextSuggestion(this.instances, s.id);
    this.select(next && next.id !== s.id ? next.id : s.id);
  }

  async acceptAbove(threshold: number): Promise<void> {
    const ids = suggestionsAbove(this.instances, threshold);
    if (!ids.length) return this.app.info(`No suggestion scores ${threshold.toFixed(2)} or more.`);
    await this.act('Accepting…', () => this.app.api.acceptInstances(ids));
    this.app.info(`Accepted ${ids.length} suggestions.`);
  }

  /** Deletes the suggestions scoring under `threshold` as one undo step. */
  async rejectBelow(threshold: number): Promise<void> {
    const ids = suggestionsBelow(this.instances, threshold);
    if (!ids.length) return this.app.info(`No suggestion scores under ${threshold.toFixed(2)}.`);
    await this.act('Rejecting…', () => this.app.api.deleteInstances(ids));
    this.app.info(`Rejected ${ids.length} suggestions (Ctrl+Z brings them back).`);
  }

  async remove(): Promise<void> {
    const s = this.selected;
    if (!s) return;
    const next = s.source === 'suggested' ? nextSuggestion(this.instances, s.id) : null;
    await this.act('Deleting…', () => this.app.api.deleteInstances([s.id]));
    this.select(next && next.id !== s.id ? next.id : null);
  }

  /** Shift+drag: a box prompt re-segments the selected instance, or makes a new one of the active class. */
  async box(box: [number, number, number, number]): Promise<void> {
    if (!this.prompts.available) return this.app.info('Box prompts need the segment-anything model (method sam), which is unavailable.');
    const s = this.selected;
    if (s) return this.prompts.setBox(this.promptTarget(s), box);
    const cls = this.app.activeClassId;
    if (cls === null) return this.app.info('Choose a class (1–9) or select an instance before drawing a box.');
    const r = await this.act('Segmenting…', () => this.app.api.segmentPrompt(this.imageId, { classId: cls, points: [], box }));
    if (r === null) return this.app.info('The box gives an empty mask.');
    if (!r) return;
    const inst = await this.act('Saving…', () => this.app.api.createInstance(this.imageId, cls, r.mask));
    if (inst) this.select(inst.id);
  }

  private promptTarget(s: LoadedInstance) {
    return { id: s.id, classId: s.classId, peak: s.peak };
  }

  /** An unsaved prompt result shown in place of the instance's mask (null: the saved mask again). */
  private showPreview(id: number, mask: Rle | null): void {
    const row = this.instances.find((i) => i.id === id);
    if (!row) return;
    const d = this.decoded.get(id);
    const shown = mask ? { ...decodeCropped({ ...row, mask, bbox: rleToBbox(mask) }), bbox: rleToBbox(mask), area: rleArea(mask) } : d ? { bits: d.bits, ox: d.ox, oy: d.oy, bbox: row.bbox, area: row.area } : null;
    if (!shown) return;
    this.instances = this.instances.map((i) => (i.id === id ? { ...i, ...shown } : i));
    this.sync();
  }

  nextSuggestion(): void {
    const n = nextSuggestion(this.instances, this.selectedId);
    if (n) this.select(n.id);
  }

  async stroke(points: { x: number; y: number }[], radius: number, erase: boolean): Promise<void> {
    const row = this.row;
    if (!row) return;
    const s = this.selected;
    if (!s && erase) return this.app.info('Select an instance to erase from.');
    const started = performance.now();
    // Paint in a window, not in a full-size mask: the save then costs the object's size (a stroke
    // on a 4000×3000 image held the window for a quarter second).
    const win = strokeWindow(points, radius, s, row.width, row.height);
    if (!win) return;
    const [x0, y0, w, h] = win;
    const bits = s ? cropMask(s.bits, x0 - s.ox, y0 - s.oy, w, h) : createMask(w, h);
    // Integer shifts keep every disc's pixels the same as painting at full size.
    if (!paintStroke(bits, points.map((p) => ({ x: p.x - x0, y: p.y - y0 })), radius, erase ? 0 : 1)) return;
    await this.saveMask(s, { bits, ox: x0, oy: y0 });
    // Raster + RLE + store + re-read: what a stroke costs after the pointer is released.
    this.timings = { ...this.timings, edit: Math.round(performance.now() - started) };
  }

  async polygon(points: { x: number; y: number }[]): Promise<void> {
    const row = this.row;
    if (!row) return;
    const flat = points.flatMap((p) => [p.x, p.y]);
    await this.saveMask(null, placed(polygonsToWindowMask([flat], row.width, row.height)));
  }

  async fillHoles(): Promise<void> {
    const s = this.selected;
    if (!s || !this.row) return;
    // Holes lie inside the bounding box, so filling the cropped mask fills the instance.
    await this.saveMask(s, { bits: fillHoles(s.bits), ox: s.ox, oy: s.oy });
  }

  /** Write a mask to the selected instance, or create a new instance of the active class. */
  private async saveMask(target: LoadedInstance | null, mask: PlacedMask): Promise<void> {
    // Any pixel set? (a native scan: counting a megapixel window's area cost milliseconds per stroke)
    if (!mask.bits.data.includes(1)) {
      if (target) await this.act('Deleting…', () => this.app.api.deleteInstances([target.id]));
      return;
    }
    const rle = this.encode(mask);
    if (target) {
      await this.act('Saving…', () => this.app.api.editInstance(target.id, { mask: rle }));
      return;
    }
    const cls = this.app.activeClassId;
    if (cls === null) return this.app.info('Add a class first: new instances take the active class.');
    const inst = await this.act('Saving…', () => this.app.api.createInstance(this.imageId, cls, rle));
    if (inst) this.select(inst.id);
  }

  /** The RLE (image-sized) of a placed mask, encoded from its window alone. */
  private encode(m: PlacedMask): Rle {
    const row = this.row!;
    return encodeWindowMask(m.bits, m.ox, m.oy, row.height, row.width);
  }

  async changeClass(classId: number): Promise<void> {
    const s = this.selected;
    if (!s || s.classId === classId) return;
    await this.act('Saving…', () => this.app.api.editInstance(s.id, { classId }));
  }

  async undo(redo = false): Promise<void> {
    const did = await this.act(redo ? 'Redoing…' : 'Undoing…', () => (redo ? this.app.api.redo() : this.app.api.undo()));
    if (did === false) this.app.info(redo ? 'Nothing to redo.' : 'Nothing to undo.');
  }

  async setStatus(status: ImageRow['status']): Promise<void> {
    await this.act('Saving…', () => this.app.api.setImageStatus([this.imageId], status));
    this.app.imagesVersion++;
  }
}
