// The editor canvas's controller (CVAT's canvasController): the component feeds it data through the
// setters below, it keeps them in the CanvasModel, routes pointer input to one handler per interaction
// (zoom/pan, brush strokes, polygon drawing, vertex editing, AI prompt boxes) and reports *intents*
// (peak clicked, canvas clicked, stroke finished, polygon closed, rings edited, view changed). It owns no
// project state: the editor session acts on the intents through the API. CanvasView draws.
import type { ImageRect } from '../../../common/api';
import { CanvasModel, type EngineInstance, type EnginePeak, type Layers, type Tool } from './canvas-model';
import { CanvasView } from './canvas-view';
import { DrawHandler } from './draw-handler';
import { EditHandler } from './edit-handler';
import { hitPeak } from './hit';
import { InteractionHandler, type PromptMarks } from './interaction-handler';
import { MasksHandler } from './masks-handler';
import { screenToImage, type View } from './view';
import { ZoomHandler } from './zoom-handler';

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

const CLICK_SLOP = 4; // screen pixels a press may move and still count as a click
/** Screen pixels around a peak's centre that count as clicking it. */
const PEAK_HIT = 9;

export class CanvasEngine {
  private readonly model = new CanvasModel();
  private readonly zoom = new ZoomHandler(this.model, (v) => this.setView(v));
  private readonly masks = new MasksHandler();
  private readonly drawing = new DrawHandler();
  private readonly edit = new EditHandler();
  private readonly interaction = new InteractionHandler();
  private readonly canvasView: CanvasView;
  private spaceDown = false;
  private press: { x: number; y: number; pan: boolean; moved: boolean; id: number } | null = null;
  private readonly detach: () => void;

  constructor(private readonly canvas: HTMLCanvasElement, private readonly cb: EngineCallbacks) {
    this.canvasView = new CanvasView(canvas, this.model, { masks: this.masks, draw: this.drawing, edit: this.edit, interaction: this.interaction });
    const down = (e: PointerEvent) => this.pointerDown(e);
    const move = (e: PointerEvent) => this.pointerMove(e);
    const up = (e: PointerEvent) => this.pointerUp(e);
    const wheel = (e: WheelEvent) => {
      e.preventDefault();
      const p = this.local(e);
      this.zoom.wheel(e.deltaY, p.x, p.y);
    };
    const dbl = () => this.closePolygon();
    const leave = () => {
      this.model.pointer = null;
      this.requestDraw();
    };
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

  get view(): View {
    return this.model.view;
  }

  /** Colour of tool previews (the selected or active class). */
  set strokeColor(color: string) {
    this.model.strokeColor = color;
  }

  destroy(): void {
    this.canvasView.destroy();
    this.detach();
  }

  resize(cssW: number, cssH: number): void {
    this.model.cssW = Math.max(1, cssW);
    this.model.cssH = Math.max(1, cssH);
    this.canvasView.resize();
  }

  /** A new image (full size imageW×imageH); `source` may be a downscaled level, drawn stretched. */
  setImage(source: CanvasImageSource | null, imageW: number, imageH: number, fit = true): void {
    const m = this.model;
    const sizeChanged = imageW !== m.imageW || imageH !== m.imageH;
    Object.assign(m, { image: source, imageW, imageH });
    if (fit || sizeChanged) this.fit();
    this.requestDraw();
  }

  /** Swap in a sharper level of the same image without moving the view. */
  setImageLevel(source: CanvasImageSource): void {
    this.model.image = source;
    this.requestDraw();
  }

  /** The class heat map; `frame` is where it lies on the image (image pixels), else it covers the whole image. */
  setHeatmap(source: CanvasImageSource | null, frame?: ImageRect): void {
    this.model.heat = source;
    this.model.heatFrame = frame ?? null;
    this.requestDraw();
  }

  setActivation(source: CanvasImageSource | null): void {
    this.model.activation = source;
    this.requestDraw();
  }

  /** Outline (rings in image pixels) of the proposal under the cursor. */
  setProposalRings(rings: number[][] | null): void {
    this.model.proposalRings = rings;
    this.requestDraw();
  }

  setInstances(list: EngineInstance[]): void {
    this.model.instances = list;
    this.canvasView.layers.keepOnly(new Set(list.map((i) => i.id)));
    this.requestDraw();
  }

  setPeaks(peaks: EnginePeak[]): void {
    this.model.peaks = peaks;
    this.requestDraw();
  }

  /** The primary selection, plus others picked with Shift (for merging). */
  setSelected(id: number | null, also: readonly number[] = []): void {
    this.model.selectedId = id;
    this.model.alsoSelected = new Set(also);
    this.requestDraw();
  }

  setTool(tool: Tool): void {
    this.model.tool = tool;
    this.drawing.cancel();
    this.canvasView.cursor = tool === 'select' ? 'default' : 'crosshair';
    this.requestDraw();
  }

  /** The prompt points and box of the instance being refined (drawn until cleared). */
  setPromptMarks(marks: PromptMarks): void {
    this.interaction.marks = marks;
    this.requestDraw();
  }

  /** The selected instance's outline, editable by dragging vertices with the polygon tool. */
  setEditRings(rings: number[][] | null): void {
    this.edit.setRings(rings);
    this.requestDraw();
  }

  setLayers(layers: Partial<Layers>): void {
    this.model.layers = { ...this.model.layers, ...layers };
    this.requestDraw();
  }

  setBrushRadius(r: number): void {
    this.model.brushRadius = Math.max(1, Math.min(500, r));
    this.requestDraw();
  }

  setSpace(down: boolean): void {
    this.spaceDown = down;
    this.canvasView.cursor = down ? 'grab' : this.model.tool === 'select' ? 'default' : 'crosshair';
  }

  fit(): void {
    this.zoom.fit();
  }

  actualSize(): void {
    this.zoom.actualSize();
  }

  zoomBy(factor: number): void {
    this.zoom.zoomBy(factor);
  }

  setView(v: View): void {
    this.model.view = v;
    this.cb.onViewChange(v);
    this.requestDraw();
  }

  /** Points of the polygon being drawn (image pixels). */
  get polygonPoints(): readonly { x: number; y: number }[] {
    return this.drawing.polygon;
  }

  cancelPolygon(): void {
    this.drawing.cancel();
    this.requestDraw();
  }

  closePolygon(): void {
    if (this.model.tool !== 'polygon') return;
    const pts = this.drawing.take();
    this.requestDraw();
    if (pts) this.cb.onPolygon(pts);
  }

  requestDraw(): void {
    this.canvasView.requestDraw();
  }

  // ---- input: each press goes to one handler ----

  private local(e: MouseEvent): { x: number; y: number } {
    const r = this.canvas.getBoundingClientRect();
    return { x: e.clientX - r.left, y: e.clientY - r.top };
  }

  private pointerDown(e: PointerEvent): void {
    const { tool, view } = this.model;
    const p = this.local(e);
    const img = screenToImage(view, p.x, p.y);
    this.canvas.setPointerCapture(e.pointerId);
    const primary = e.button === 0 && !this.spaceDown;
    const boxing = primary && tool === 'select' && e.shiftKey && !!this.cb.onBox;
    const pan = e.button === 1 || this.spaceDown || (e.button === 0 && tool === 'select' && !boxing);
    if (boxing) this.interaction.start(img.x, img.y);
    this.press = { x: p.x, y: p.y, pan, moved: false, id: e.pointerId };
    if (primary && tool === 'polygon' && this.drawing.polygon.length === 0) this.edit.press(img.x, img.y, view);
    if (primary && (tool === 'brush' || tool === 'eraser')) this.masks.start(img.x, img.y);
    this.requestDraw();
  }

  private pointerMove(e: PointerEvent): void {
    const p = this.local(e);
    const last = this.model.pointer;
    this.model.pointer = p;
    const img = screenToImage(this.model.view, p.x, p.y);
    this.cb.onPointer?.(img.x, img.y);
    if (this.press && last) {
      if (Math.hypot(p.x - this.press.x, p.y - this.press.y) > CLICK_SLOP) this.press.moved = true;
      if (this.edit.dragging) {
        this.edit.move(img.x, img.y);
      } else if (this.masks.active) {
        this.masks.move(img.x, img.y);
      } else if (this.interaction.dragging) {
        this.interaction.move(img.x, img.y);
      } else if (this.press.pan && this.press.moved) {
        this.canvasView.cursor = 'grabbing';
        this.zoom.pan(p.x - last.x, p.y - last.y);
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
    const { tool, view } = this.model;
    const p = this.local(e);
    const img = screenToImage(view, p.x, p.y);
    if (this.edit.dragging) {
      // Only a drag edits a vertex; a click on one still adds a polygon point below.
      const rings = this.edit.release(press.moved);
      if (rings) {
        this.cb.onRingsEdited(rings);
        this.requestDraw();
        return;
      }
    }
    if (this.masks.active) {
      const pts = this.masks.end();
      this.requestDraw();
      this.cb.onStroke(pts, this.model.brushRadius, tool === 'eraser');
      return;
    }
    if (this.interaction.dragging) {
      const box = this.interaction.end(press.moved);
      this.requestDraw();
      if (box) return void this.cb.onBox?.(box);
    }
    this.setSpace(this.spaceDown);
    if (press.moved || e.button !== 0 || this.spaceDown) return;
    if (tool === 'polygon') {
      if (this.drawing.click(img.x, img.y, view)) this.closePolygon();
      else this.requestDraw();
      return;
    }
    if (tool !== 'select') return;
    const hit = this.model.layers.peaks ? hitPeak(this.model.peaks, img.x, img.y, PEAK_HIT / view.scale) : -1;
    if (hit >= 0) this.cb.onPeakClick(hit);
    else this.cb.onCanvasClick(img.x, img.y, { shift: e.shiftKey, alt: e.altKey });
  }
}
