// The editor canvas: draws the image, overlays and tool previews, and turns pointer input into
// intents (peak clicked, canvas clicked, stroke finished, polygon closed). It owns no project state:
// the component feeds it data and acts on the intents through the API.
import { InteractionHandler, type PromptMarks } from './interaction-handler';
import type { ImageRect } from '../../../common/api';
import type { BinaryMask } from '../../../common/mask';
import { hexToRgb } from './color';
import { maskToPolygons } from '../../../common/polygon';
import { hitPeak, hitVertex } from './hit';
import { changedBox, maskBox, maskRgba, type MaskBox } from './mask-bitmap';
import { fitView, oneToOne, panBy, screenToImage, wheelFactor, zoomAt, type View } from './view';

export type Tool = 'select' | 'brush' | 'eraser' | 'polygon';

export interface EngineInstance {
  id: number;
  color: string;
  source: string;
  score: number | null;
  /** The mask cropped to (at least) its bounding box; its pixel (0, 0) is image pixel (x, y). */
  mask: BinaryMask;
  x: number;
  y: number;
}

export interface EnginePeak {
  x: number;
  y: number;
  score: number;
  color: string;
  /** Peak already turned into an instance (drawn hollow). */
  used?: boolean;
}

export interface Layers {
  heatmap: boolean;
  /** The selected instance's peak activation (PRM or IAM). */
  activation: boolean;
  /** Outline of the segment proposal under the cursor. */
  proposals: boolean;
  peaks: boolean;
  suggested: boolean;
  accepted: boolean;
}

export interface EngineCallbacks {
  onPeakClick(index: number): void;
  /** Shift (add to a selection, or a positive prompt point) and Alt (a negative prompt point) as held. */
  onCanvasClick(x: number, y: number, mods: { shift: boolean; alt: boolean }): void;
  /** Shift+drag with the select tool: a box prompt [x0, y0, x1, y1] in image pixels. */
  onBox?(box: [number, number, number, number]): void;
  onStroke(points: { x: number; y: number }[], radius: number, erase: boolean): void;
  onPolygon(points: { x: number; y: number }[]): void;
  /** A vertex of the selected instance's outline was dragged (rings in image pixels). */
  onRingsEdited(rings: number[][]): void;
  onViewChange(view: View): void;
  onPointer?(x: number, y: number): void;
}

interface LayerCache {
  /**
   * The fill as horizontal strips of `stripRows` rows (the last may be shorter), top-down, covering the box;
   * fewer while a new layer is being painted. Strips, not one canvas: a megapixel canvas costs ~20 ms on
   * its first paint alone, a strip a few ms, so the work splits into tasks that keep the window responsive.
   */
  strips: HTMLCanvasElement[];
  stripRows: number;
  box: MaskBox; // the mask's tight box in image pixels
  mask: BinaryMask;
  /** Image position of the mask's pixel (0, 0). */
  x: number;
  y: number;
  /** The fill colour. */
  key: string;
  /** Outer outline in image pixels, stroked in screen space so it stays crisp at every zoom. */
  rings: number[][];
  /** The mask `rings` were traced from: an earlier one (or null) until the deferred trace catches up. */
  ringsOf: BinaryMask | null;
}

/** Pixels per layer strip (~2 MB of RGBA, a few ms to paint). */
const STRIP_PIXELS = 1 << 19;
/** Time for deferred layer work per task, well under the 50 ms that makes a task long. */
const BACKGROUND_SLICE_MS = 12;

const CLICK_SLOP = 4; // screen pixels a press may move and still count as a click

export class CanvasEngine {
  view: View = { scale: 1, tx: 0, ty: 0 };
  tool: Tool = 'select';
  brushRadius = 12;
  layers: Layers = { heatmap: false, activation: false, proposals: false, peaks: true, suggested: true, accepted: true };
  strokeColor = '#ffcc00';

  private ctx: CanvasRenderingContext2D;
  private cssW = 1;
  private cssH = 1;
  private image: CanvasImageSource | null = null;
  private imageW = 0;
  private imageH = 0;
  private heat: CanvasImageSource | null = null;
  private heatFrame: ImageRect | null = null;
  private activation: CanvasImageSource | null = null;
  private proposalRings: number[][] | null = null;
  private instances: EngineInstance[] = [];
  private peaks: EnginePeak[] = [];
  private selectedId: number | null = null;
  private alsoSelected = new Set<number>();
  private cache = new Map<number, LayerCache>();
  private frame = 0;
  private background = 0;
  private spaceDown = false;
  private readonly interaction = new InteractionHandler();
  private pointer: { x: number; y: number } | null = null; // screen
  private press: { x: number; y: number; pan: boolean; moved: boolean; id: number } | null = null;
  private stroke: { x: number; y: number }[] | null = null;
  private polygon: { x: number; y: number }[] = [];
  /** Outline of the selected instance, editable by dragging vertices with the polygon tool. */
  private rings: number[][] | null = null;
  private vertexDrag: { ring: number; index: number } | null = null;
  private readonly detach: () => void;

  constructor(private readonly canvas: HTMLCanvasElement, private readonly cb: EngineCallbacks) {
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new Error('2D canvas is not available');
    this.ctx = ctx;
    const down = (e: PointerEvent) => this.pointerDown(e);
    const move = (e: PointerEvent) => this.pointerMove(e);
    const up = (e: PointerEvent) => this.pointerUp(e);
    const wheel = (e: WheelEvent) => this.wheel(e);
    const dbl = () => this.closePolygon();
    const leave = () => { this.pointer = null; this.requestDraw(); };
    canvas.addEventListener('pointerdown', down);
    canvas.addEventListener('pointermove', move);
    canvas.addEventListener('pointerup', up);
    canvas.addEventListener('pointercancel', up);
    canvas.addEventListener('pointerleave', leave);
    canvas.addEventListener('wheel', wheel, { passive: false });
    canvas.addEventListener('dblclick', dbl);
    this.detach = () => {
      canvas.removeEventListener('pointerdown', down);
      canvas.removeEventListener('pointermove', move);
      canvas.removeEventListener('pointerup', up);
      canvas.removeEventListener('pointercancel', up);
      canvas.removeEventListener('pointerleave', leave);
      canvas.removeEventListener('wheel', wheel);
      canvas.removeEventListener('dblclick', dbl);
    };
  }

  destroy(): void {
    cancelAnimationFrame(this.frame);
    cancelIdleCallback(this.background);
    this.detach();
  }

  resize(cssW: number, cssH: number): void {
    const dpr = globalThis.devicePixelRatio || 1;
    this.cssW = Math.max(1, cssW);
    this.cssH = Math.max(1, cssH);
    this.canvas.width = Math.round(this.cssW * dpr);
    this.canvas.height = Math.round(this.cssH * dpr);
    this.requestDraw();
  }

  /** A new image (full size imageW×imageH); `source` may be a downscaled level, drawn stretched. */
  setImage(source: CanvasImageSource | null, imageW: number, imageH: number, fit = true): void {
    const sizeChanged = imageW !== this.imageW || imageH !== this.imageH;
    this.image = source;
    this.imageW = imageW;
    this.imageH = imageH;
    if (fit || sizeChanged) this.fit();
    this.requestDraw();
  }

  /** Swap in a sharper level of the same image without moving the view. */
  setImageLevel(source: CanvasImageSource): void {
    this.image = source;
    this.requestDraw();
  }

  /** The class heat map; `frame` is where it lies on the image (image pixels), else it covers the whole image. */
  setHeatmap(source: CanvasImageSource | null, frame?: ImageRect): void {
    this.heat = source;
    this.heatFrame = frame ?? null;
    this.requestDraw();
  }

  setActivation(source: CanvasImageSource | null): void {
    this.activation = source;
    this.requestDraw();
  }

  /** Outline (rings in image pixels) of the proposal under the cursor. */
  setProposalRings(rings: number[][] | null): void {
    this.proposalRings = rings;
    this.requestDraw();
  }

  setInstances(list: EngineInstance[]): void {
    this.instances = list;
    const keep = new Set(list.map((i) => i.id));
    for (const id of this.cache.keys()) if (!keep.has(id)) this.cache.delete(id);
    this.requestDraw();
  }

  setPeaks(peaks: EnginePeak[]): void {
    this.peaks = peaks;
    this.requestDraw();
  }

  /** The primary selection, plus others picked with Shift (for merging). */
  setSelected(id: number | null, also: readonly number[] = []): void {
    this.selectedId = id;
    this.alsoSelected = new Set(also);
    this.requestDraw();
  }

  setTool(tool: Tool): void {
    this.tool = tool;
    this.polygon = [];
    this.canvas.style.cursor = tool === 'select' ? 'default' : 'crosshair';
    this.requestDraw();
  }

  /** The prompt points and box of the instance being refined (drawn until cleared). */
  setPromptMarks(marks: PromptMarks): void {
    this.interaction.marks = marks;
    this.requestDraw();
  }

  setEditRings(rings: number[][] | null): void {
    if (this.vertexDrag) return; // keep the user's drag; the new outline arrives after the save
    this.rings = rings;
    this.requestDraw();
  }

  setLayers(layers: Partial<Layers>): void {
    this.layers = { ...this.layers, ...layers };
    this.requestDraw();
  }

  setBrushRadius(r: number): void {
    this.brushRadius = Math.max(1, Math.min(500, r));
    this.requestDraw();
  }

  setSpace(down: boolean): void {
    this.spaceDown = down;
    this.canvas.style.cursor = down ? 'grab' : this.tool === 'select' ? 'default' : 'crosshair';
  }

  fit(): void {
    if (!this.imageW) return;
    this.setView(fitView(this.imageW, this.imageH, this.cssW, this.cssH));
  }

  actualSize(): void {
    this.setView(oneToOne(this.view, this.cssW, this.cssH));
  }

  zoomBy(factor: number): void {
    this.setView(zoomAt(this.view, factor, this.cssW / 2, this.cssH / 2));
  }

  setView(v: View): void {
    this.view = v;
    this.cb.onViewChange(v);
    this.requestDraw();
  }

  /** Points of the polygon being drawn (image pixels). */
  get polygonPoints(): readonly { x: number; y: number }[] {
    return this.polygon;
  }

  cancelPolygon(): void {
    this.polygon = [];
    this.requestDraw();
  }

  closePolygon(): void {
    if (this.tool !== 'polygon') return;
    const pts = this.polygon;
    this.polygon = [];
    this.requestDraw();
    if (pts.length >= 3) this.cb.onPolygon(pts);
  }

  requestDraw(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
    });
  }

  // ---- input ----

  private local(e: MouseEvent): { x: number; y: number } {
    const r = this.canvas.getBoundingClientRect();
    return { x: e.clientX - r.left, y: e.clientY - r.top };
  }

  private pointerDown(e: PointerEvent): void {
    const p = this.local(e);
    this.canvas.setPointerCapture(e.pointerId);
    const boxing = e.button === 0 && !this.spaceDown && this.tool === 'select' && e.shiftKey && !!this.cb.onBox;
    const pan = e.button === 1 || this.spaceDown || (e.button === 0 && this.tool === 'select' && !boxing);
    if (boxing) {
      const img = screenToImage(this.view, p.x, p.y);
      this.interaction.start(img.x, img.y);
    }
    this.press = { x: p.x, y: p.y, pan, moved: false, id: e.pointerId };
    if (e.button === 0 && !this.spaceDown && this.tool === 'polygon' && this.rings && this.polygon.length === 0) {
      const img = screenToImage(this.view, p.x, p.y);
      this.vertexDrag = hitVertex(this.rings, img.x, img.y, 7 / this.view.scale);
    }
    if (e.button === 0 && !this.spaceDown && (this.tool === 'brush' || this.tool === 'eraser')) {
      this.stroke = [screenToImage(this.view, p.x, p.y)];
    }
    this.requestDraw();
  }

  private pointerMove(e: PointerEvent): void {
    const p = this.local(e);
    const last = this.pointer;
    this.pointer = p;
    const img = screenToImage(this.view, p.x, p.y);
    this.cb.onPointer?.(img.x, img.y);
    if (this.press && last) {
      if (Math.hypot(p.x - this.press.x, p.y - this.press.y) > CLICK_SLOP) this.press.moved = true;
      if (this.vertexDrag && this.rings) {
        const r = this.rings[this.vertexDrag.ring];
        r[this.vertexDrag.index] = Math.round(img.x);
        r[this.vertexDrag.index + 1] = Math.round(img.y);
      } else if (this.stroke) {
        this.stroke.push(img);
      } else if (this.interaction.dragging) {
        this.interaction.move(img.x, img.y);
      } else if (this.press.pan && this.press.moved) {
        this.canvas.style.cursor = 'grabbing';
        this.setView(panBy(this.view, p.x - last.x, p.y - last.y));
        return;
      }
    }
    this.requestDraw();
  }

  private pointerUp(e: PointerEvent): void {
    const press = this.press;
    this.press = null;
    if (!press) return;
    if (this.canvas.hasPointerCapture(e.pointerId)) this.canvas.releasePointerCapture(e.pointerId);
    const p = this.local(e);
    const img = screenToImage(this.view, p.x, p.y);
    if (this.vertexDrag) {
      this.vertexDrag = null;
      // Only a drag edits a vertex; a click on one still adds a polygon point below.
      if (press.moved) {
        if (this.rings) this.cb.onRingsEdited(this.rings.map((r) => r.slice()));
        this.requestDraw();
        return;
      }
    }
    if (this.stroke) {
      const pts = this.stroke;
      this.stroke = null;
      this.requestDraw();
      this.cb.onStroke(pts, this.brushRadius, this.tool === 'eraser');
      return;
    }
    if (this.interaction.dragging) {
      const box = this.interaction.end(press.moved);
      this.requestDraw();
      if (box) return void this.cb.onBox?.(box);
    }
    this.setSpace(this.spaceDown);
    if (press.moved || e.button !== 0 || this.spaceDown) return;
    if (this.tool === 'polygon') {
      const first = this.polygon[0];
      if (first && this.polygon.length >= 3 && Math.hypot(first.x - img.x, first.y - img.y) * this.view.scale < 8) {
        this.closePolygon();
      } else {
        this.polygon.push(img);
        this.requestDraw();
      }
      return;
    }
    if (this.tool !== 'select') return;
    const hit = this.layers.peaks ? hitPeak(this.peaks, img.x, img.y, 9 / this.view.scale) : -1;
    if (hit >= 0) this.cb.onPeakClick(hit);
    else this.cb.onCanvasClick(img.x, img.y, { shift: e.shiftKey, alt: e.altKey });
  }

  private wheel(e: WheelEvent): void {
    e.preventDefault();
    const p = this.local(e);
    this.setView(zoomAt(this.view, wheelFactor(e.deltaY), p.x, p.y));
  }

  // ---- drawing ----

  /**
   * The instance's fill, opaque: its opacity (suggested, selected) is applied when drawing, so a change
   * of selection does not re-rasterise it. Megapixel layers cost tens of ms to build, so after an edit only
   * the changed box is repainted, a new layer shows its first strip at once and the rest in idle time, and
   * outlines are traced after the fill has shown (backgroundStep): no task holds the window for long.
   */
  private layerFor(inst: EngineInstance): LayerCache | null {
    const key = inst.color;
    const old = this.cache.get(inst.id);
    if (old && old.mask === inst.mask && old.key === key) return old;
    const tight = maskBox(inst.mask);
    if (!tight) {
      this.cache.delete(inst.id);
      return null;
    }
    const box = { ...tight, x: tight.x + inst.x, y: tight.y + inst.y };
    const layer: LayerCache = {
      strips: [], stripRows: Math.max(1, Math.floor(STRIP_PIXELS / box.w)),
      box, mask: inst.mask, x: inst.x, y: inst.y, key, rings: old?.rings ?? [], ringsOf: old?.ringsOf ?? null,
    };
    if (old && old.key === key && complete(old)) {
      // An edit: the old fill, moved onto new strips if the box changed, with only the changed pixels repainted.
      layer.strips = movedStrips(old, layer);
      const dirty = changedBox(old, layer, box);
      if (dirty) paintFill(layer, dirty);
    } else {
      paintNextStrip(layer);
    }
    this.cache.set(inst.id, layer);
    if (!complete(layer) || layer.ringsOf !== layer.mask) this.scheduleBackground();
    return layer;
  }

  /** Deferred layer work in idle time, a slice per task, redrawing after each slice. */
  private scheduleBackground(): void {
    if (this.background) return;
    this.background = requestIdleCallback((deadline) => {
      this.background = 0;
      const until = performance.now() + Math.min(deadline.timeRemaining(), BACKGROUND_SLICE_MS);
      let more = this.backgroundStep();
      while (more && performance.now() < until) more = this.backgroundStep();
      this.requestDraw();
      if (more) this.scheduleBackground();
    }, { timeout: 100 });
  }

  /** One step of deferred work: a strip of an unfinished fill first, else one outline. False when none is left. */
  private backgroundStep(): boolean {
    const layers = [...this.cache.values()];
    const unfilled = layers.find((l) => !complete(l));
    if (unfilled) {
      paintNextStrip(unfilled);
      return true;
    }
    const untraced = layers.find((l) => l.ringsOf !== l.mask);
    if (!untraced) return false;
    untraced.rings = maskToPolygons(untraced.mask, { tolerance: 0.5 }).map((r) => r.map((v, j) => v + (j % 2 ? untraced.y : untraced.x)));
    untraced.ringsOf = untraced.mask;
    return layers.some((l) => l !== untraced && l.ringsOf !== l.mask);
  }

  private draw(): void {
    const ctx = this.ctx;
    const dpr = globalThis.devicePixelRatio || 1;
    const v = this.view;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = '#15171b';
    ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    if (!this.image) return;
    ctx.setTransform(dpr * v.scale, 0, 0, dpr * v.scale, dpr * v.tx, dpr * v.ty);
    ctx.imageSmoothingEnabled = v.scale < 2;
    ctx.drawImage(this.image, 0, 0, this.imageW, this.imageH);
    if (this.layers.heatmap && this.heat) {
      ctx.globalAlpha = 0.55;
      ctx.imageSmoothingEnabled = true;
      const f = this.heatFrame ?? { x: 0, y: 0, width: this.imageW, height: this.imageH };
      ctx.drawImage(this.heat, f.x, f.y, f.width, f.height);
      ctx.globalAlpha = 1;
    }
    if (this.layers.activation && this.activation) {
      ctx.globalAlpha = 0.7;
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(this.activation, 0, 0, this.imageW, this.imageH);
      ctx.globalAlpha = 1;
    }
    ctx.imageSmoothingEnabled = v.scale < 1;
    const ordered = [...this.instances].sort((a, b) => Number(a.id === this.selectedId) - Number(b.id === this.selectedId));
    for (const inst of ordered) {
      const suggested = inst.source === 'suggested';
      if (suggested ? !this.layers.suggested : !this.layers.accepted) continue;
      const layer = this.layerFor(inst);
      if (!layer) continue;
      const selected = inst.id === this.selectedId;
      ctx.globalAlpha = (suggested ? (selected ? 90 : 40) : selected ? 150 : 105) / 255;
      for (const [k, strip] of layer.strips.entries()) ctx.drawImage(strip, layer.box.x, layer.box.y + k * layer.stripRows);
    }
    ctx.globalAlpha = 1;
    ctx.save();
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    for (const inst of ordered) {
      const suggested = inst.source === 'suggested';
      if (suggested ? !this.layers.suggested : !this.layers.accepted) continue;
      const layer = this.cache.get(inst.id);
      if (layer) this.strokeOutline(ctx, layer.rings, inst.color, suggested, inst.id === this.selectedId);
    }
    ctx.restore();
    this.drawStrokePreview(ctx);
    this.drawPolygonPreview(ctx);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    this.drawSelectionBox(ctx);
    if (this.layers.proposals && this.proposalRings) this.drawProposal(ctx, this.proposalRings);
    this.drawRings(ctx);
    if (this.layers.peaks) this.drawPeaks(ctx);
    this.interaction.draw(ctx, this.view);
    this.drawBrushCursor(ctx);
  }

  /** Outline of one instance: dashed for suggestions, solid for accepted work, white when selected. */
  private strokeOutline(ctx: CanvasRenderingContext2D, rings: number[][], color: string, dashed: boolean, selected: boolean): void {
    const { scale, tx, ty } = this.view;
    ctx.beginPath();
    for (const r of rings) {
      ctx.moveTo(r[0] * scale + tx, r[1] * scale + ty);
      for (let j = 2; j < r.length; j += 2) ctx.lineTo(r[j] * scale + tx, r[j + 1] * scale + ty);
      ctx.closePath();
    }
    ctx.lineJoin = 'round';
    ctx.setLineDash([]);
    ctx.lineWidth = selected ? 3.5 : 3;
    ctx.strokeStyle = 'rgba(0,0,0,0.45)';
    ctx.stroke();
    ctx.setLineDash(dashed ? [6, 4] : []);
    ctx.lineWidth = selected ? 2 : 1.5;
    ctx.strokeStyle = selected ? '#ffffff' : color;
    ctx.stroke();
    ctx.setLineDash([]);
  }

  /** The selected instance's box in screen space, so the selection shows at any zoom. */
  private drawSelectionBox(ctx: CanvasRenderingContext2D): void {
    for (const id of [this.selectedId, ...this.alsoSelected]) {
      const layer = id === null ? undefined : this.cache.get(id);
      if (layer && this.instances.some((i) => i.id === id)) this.drawBox(ctx, layer.box, id === this.selectedId);
    }
  }

  private drawBox(ctx: CanvasRenderingContext2D, box: MaskBox, primary: boolean): void {
    const { scale, tx, ty } = this.view;
    const x = Math.round(box.x * scale + tx) - 2.5, y = Math.round(box.y * scale + ty) - 2.5;
    const w = Math.round(box.w * scale) + 5, h = Math.round(box.h * scale) + 5;
    ctx.save();
    ctx.lineWidth = 1;
    ctx.strokeStyle = 'rgba(0,0,0,0.7)';
    ctx.strokeRect(x, y, w, h);
    ctx.setLineDash(primary ? [5, 4] : [2, 3]);
    ctx.strokeStyle = primary ? '#ffffff' : '#ffd54a';
    ctx.strokeRect(x, y, w, h);
    ctx.restore();
  }

  private drawProposal(ctx: CanvasRenderingContext2D, rings: number[][]): void {
    const { scale, tx, ty } = this.view;
    ctx.save();
    ctx.beginPath();
    for (const r of rings) {
      ctx.moveTo(r[0] * scale + tx, r[1] * scale + ty);
      for (let j = 2; j < r.length; j += 2) ctx.lineTo(r[j] * scale + tx, r[j + 1] * scale + ty);
      ctx.closePath();
    }
    ctx.lineWidth = 3;
    ctx.strokeStyle = 'rgba(0,0,0,0.5)';
    ctx.stroke();
    ctx.setLineDash([3, 3]);
    ctx.lineWidth = 1.5;
    ctx.strokeStyle = '#4fe3ff';
    ctx.stroke();
    ctx.restore();
  }

  private drawRings(ctx: CanvasRenderingContext2D): void {
    if (this.tool !== 'polygon' || !this.rings) return;
    const { scale, tx, ty } = this.view;
    ctx.save();
    ctx.lineWidth = 1.5;
    ctx.strokeStyle = '#ffffff';
    for (const r of this.rings) {
      ctx.beginPath();
      for (let j = 0; j < r.length; j += 2) ctx.lineTo(r[j] * scale + tx, r[j + 1] * scale + ty);
      ctx.closePath();
      ctx.stroke();
    }
    ctx.fillStyle = '#ffffff';
    ctx.strokeStyle = '#1b1d22';
    ctx.lineWidth = 1;
    for (const r of this.rings) {
      for (let j = 0; j < r.length; j += 2) {
        const x = Math.round(r[j] * scale + tx) - 3.5, y = Math.round(r[j + 1] * scale + ty) - 3.5;
        ctx.fillRect(x, y, 7, 7);
        ctx.strokeRect(x, y, 7, 7);
      }
    }
    ctx.restore();
  }

  private drawStrokePreview(ctx: CanvasRenderingContext2D): void {
    const pts = this.stroke;
    if (!pts || pts.length === 0) return;
    ctx.save();
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    ctx.lineWidth = this.brushRadius * 2;
    ctx.strokeStyle = this.tool === 'eraser' ? 'rgba(20,20,20,0.65)' : withAlpha(this.strokeColor, 0.6);
    ctx.beginPath();
    ctx.moveTo(pts[0].x, pts[0].y);
    for (const p of pts) ctx.lineTo(p.x, p.y);
    if (pts.length === 1) ctx.lineTo(pts[0].x + 0.01, pts[0].y);
    ctx.stroke();
    ctx.restore();
  }

  private drawPolygonPreview(ctx: CanvasRenderingContext2D): void {
    if (this.tool !== 'polygon' || this.polygon.length === 0) return;
    const s = 1 / this.view.scale;
    ctx.save();
    ctx.lineWidth = 1.5 * s;
    ctx.strokeStyle = this.strokeColor;
    ctx.fillStyle = withAlpha(this.strokeColor, 0.2);
    ctx.beginPath();
    ctx.moveTo(this.polygon[0].x, this.polygon[0].y);
    for (const p of this.polygon) ctx.lineTo(p.x, p.y);
    if (this.pointer) {
      const c = screenToImage(this.view, this.pointer.x, this.pointer.y);
      ctx.lineTo(c.x, c.y);
    }
    ctx.fill();
    ctx.stroke();
    ctx.fillStyle = '#fff';
    for (const p of this.polygon) ctx.fillRect(p.x - 3 * s, p.y - 3 * s, 6 * s, 6 * s);
    ctx.restore();
  }

  private drawPeaks(ctx: CanvasRenderingContext2D): void {
    ctx.save();
    ctx.font = '600 11px system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    for (const p of this.peaks) {
      const x = p.x * this.view.scale + this.view.tx;
      const y = p.y * this.view.scale + this.view.ty;
      if (x < -20 || y < -20 || x > this.cssW + 20 || y > this.cssH + 20) continue;
      ctx.beginPath();
      ctx.arc(x, y, 6, 0, Math.PI * 2);
      ctx.fillStyle = p.used ? 'rgba(0,0,0,0.35)' : p.color;
      ctx.fill();
      ctx.lineWidth = 2;
      ctx.strokeStyle = p.used ? p.color : '#ffffff';
      ctx.stroke();
      const label = p.score.toFixed(Math.abs(p.score) >= 10 ? 1 : 2);
      const w = ctx.measureText(label).width + 6;
      ctx.fillStyle = 'rgba(0,0,0,0.6)';
      ctx.fillRect(x + 9, y - 8, w, 16);
      ctx.fillStyle = '#fff';
      ctx.fillText(label, x + 12, y);
    }
    ctx.restore();
  }

  private drawBrushCursor(ctx: CanvasRenderingContext2D): void {
    if (!this.pointer || (this.tool !== 'brush' && this.tool !== 'eraser')) return;
    ctx.save();
    ctx.beginPath();
    ctx.arc(this.pointer.x, this.pointer.y, this.brushRadius * this.view.scale, 0, Math.PI * 2);
    ctx.lineWidth = 1.5;
    ctx.strokeStyle = this.tool === 'eraser' ? '#ff6b6b' : '#ffffff';
    ctx.setLineDash([4, 3]);
    ctx.stroke();
    ctx.restore();
  }
}

function stripCanvas(w: number, h: number): HTMLCanvasElement {
  const canvas = document.createElement('canvas');
  canvas.width = w;
  canvas.height = h;
  return canvas;
}

const complete = (layer: LayerCache): boolean => layer.strips.length * layer.stripRows >= layer.box.h;

/** Rows [y0, y1) of the box (relative to its top) that strip k covers. */
function stripSpan(layer: LayerCache, k: number): [number, number] {
  return [k * layer.stripRows, Math.min(layer.box.h, (k + 1) * layer.stripRows)];
}

function paintNextStrip(layer: LayerCache): void {
  const [y0, y1] = stripSpan(layer, layer.strips.length);
  layer.strips.push(stripCanvas(layer.box.w, y1 - y0));
  paintFill(layer, { x: layer.box.x, y: layer.box.y + y0, w: layer.box.w, h: y1 - y0 });
}

/** The old layer's strips for the new one: themselves when the box is the same, else copied onto new strips. */
function movedStrips(old: LayerCache, layer: LayerCache): HTMLCanvasElement[] {
  const a = old.box, b = layer.box;
  if (a.x === b.x && a.y === b.y && a.w === b.w && a.h === b.h) return old.strips;
  const strips: HTMLCanvasElement[] = [];
  for (let k = 0; k * layer.stripRows < b.h; k++) {
    const [y0, y1] = stripSpan(layer, k);
    const strip = stripCanvas(b.w, y1 - y0);
    const ctx = strip.getContext('2d')!;
    old.strips.forEach((from, j) => {
      const top = a.y + j * old.stripRows; // image row of the old strip's top
      if (top < b.y + y1 && top + from.height > b.y + y0) ctx.drawImage(from, a.x - b.x, top - (b.y + y0));
    });
    strips.push(strip);
  }
  return strips;
}

/** Paints the layer's mask inside `area` (image pixels) onto the strips it crosses, replacing what was there. */
function paintFill(layer: LayerCache, area: MaskBox): void {
  const rgb = hexToRgb(layer.key);
  layer.strips.forEach((strip, k) => {
    const [s0, s1] = stripSpan(layer, k);
    const y0 = Math.max(area.y, layer.box.y + s0), y1 = Math.min(area.y + area.h, layer.box.y + s1);
    if (y0 >= y1) return;
    const rgba = maskRgba(layer.mask, { x: area.x - layer.x, y: y0 - layer.y, w: area.w, h: y1 - y0 }, rgb, 255);
    const pixels = new ImageData(rgba as Uint8ClampedArray<ArrayBuffer>, area.w, y1 - y0);
    strip.getContext('2d')!.putImageData(pixels, area.x - layer.box.x, y0 - (layer.box.y + s0));
  });
}

function withAlpha(hex: string, a: number): string {
  const [r, g, b] = hexToRgb(hex);
  return `rgba(${r},${g},${b},${a})`;
}
