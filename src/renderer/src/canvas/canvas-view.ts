// Draws the canvas model (CVAT's canvasView): the image, heat map and activation, instance fills and
// outlines, selection boxes, the proposal under the cursor, peaks, and each handler's preview, once per
// animation frame however many changes asked for a redraw. Layer work left over runs in idle time.
import type { CanvasModel } from './canvas-model';
import type { DrawHandler } from './draw-handler';
import type { EditHandler } from './edit-handler';
import type { InteractionHandler } from './interaction-handler';
import type { MaskBox } from './mask-bitmap';
import { MaskLayers } from './mask-layers';
import type { MasksHandler } from './masks-handler';

/** Time for deferred layer work per task, well under the 50 ms that makes a task long. */
const BACKGROUND_SLICE_MS = 12;

/** The handlers whose work in progress the view draws. */
export interface HandlerPreviews {
  masks: MasksHandler;
  draw: DrawHandler;
  edit: EditHandler;
  interaction: InteractionHandler;
}

export class CanvasView {
  readonly layers = new MaskLayers();
  private readonly ctx: CanvasRenderingContext2D;
  private frame = 0;
  private background = 0;

  constructor(private readonly canvas: HTMLCanvasElement, private readonly model: CanvasModel, private readonly tools: HandlerPreviews) {
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new Error('2D canvas is not available');
    this.ctx = ctx;
  }

  destroy(): void {
    cancelAnimationFrame(this.frame);
    cancelIdleCallback(this.background);
  }

  /** Sizes the backing store for the CSS size and the display's pixel ratio. */
  resize(): void {
    const dpr = globalThis.devicePixelRatio || 1;
    this.canvas.width = Math.round(this.model.cssW * dpr);
    this.canvas.height = Math.round(this.model.cssH * dpr);
    this.requestDraw();
  }

  set cursor(c: string) {
    this.canvas.style.cursor = c;
  }

  requestDraw(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
    });
  }

  /** Deferred layer work in idle time, a slice per task, redrawing after each slice. */
  private scheduleBackground(): void {
    if (this.background) return;
    this.background = requestIdleCallback((deadline) => {
      this.background = 0;
      const until = performance.now() + Math.min(deadline.timeRemaining(), BACKGROUND_SLICE_MS);
      let more = this.layers.step();
      while (more && performance.now() < until) more = this.layers.step();
      this.requestDraw();
      if (more) this.scheduleBackground();
    }, { timeout: 100 });
  }

  private draw(): void {
    const { ctx, model: m, tools } = this;
    const dpr = globalThis.devicePixelRatio || 1;
    const v = m.view;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = '#15171b';
    ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    if (!m.image) return;
    ctx.setTransform(dpr * v.scale, 0, 0, dpr * v.scale, dpr * v.tx, dpr * v.ty);
    ctx.imageSmoothingEnabled = v.scale < 2;
    ctx.drawImage(m.image, 0, 0, m.imageW, m.imageH);
    if (m.layers.heatmap && m.heat) {
      ctx.globalAlpha = 0.55;
      ctx.imageSmoothingEnabled = true;
      const f = m.heatFrame ?? { x: 0, y: 0, width: m.imageW, height: m.imageH };
      ctx.drawImage(m.heat, f.x, f.y, f.width, f.height);
      ctx.globalAlpha = 1;
    }
    if (m.layers.activation && m.activation) {
      ctx.globalAlpha = 0.7;
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(m.activation, 0, 0, m.imageW, m.imageH);
      ctx.globalAlpha = 1;
    }
    ctx.imageSmoothingEnabled = v.scale < 1;
    const ordered = [...m.instances].sort((a, b) => Number(a.id === m.selectedId) - Number(b.id === m.selectedId));
    const shown = ordered.filter((inst) => (inst.source === 'suggested' ? m.layers.suggested : m.layers.accepted));
    for (const inst of shown) {
      const layer = this.layers.layerFor(inst);
      if (!layer) continue;
      const suggested = inst.source === 'suggested';
      const selected = inst.id === m.selectedId;
      ctx.globalAlpha = (suggested ? (selected ? 90 : 40) : selected ? 150 : 105) / 255;
      for (const [k, strip] of layer.strips.entries()) ctx.drawImage(strip, layer.box.x, layer.box.y + k * layer.stripRows);
    }
    if (this.layers.pending) this.scheduleBackground();
    ctx.globalAlpha = 1;
    ctx.save();
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    for (const inst of shown) {
      const layer = this.layers.get(inst.id);
      if (layer) this.strokeOutline(layer.rings, inst.color, inst.source === 'suggested', inst.id === m.selectedId);
    }
    ctx.restore();
    const erasing = m.tool === 'eraser';
    tools.masks.drawPreview(ctx, m.brushRadius, erasing, m.strokeColor);
    if (m.tool === 'polygon') tools.draw.draw(ctx, v, m.pointer, m.strokeColor);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    this.drawSelectionBoxes();
    if (m.layers.proposals && m.proposalRings) this.drawProposal(m.proposalRings);
    if (m.tool === 'polygon') tools.edit.draw(ctx, v);
    if (m.layers.peaks) this.drawPeaks();
    tools.interaction.draw(ctx, v);
    if (m.pointer && (m.tool === 'brush' || erasing)) tools.masks.drawCursor(ctx, m.pointer, m.brushRadius, v, erasing);
  }

  /** Outline of one instance: dashed for suggestions, solid for accepted work, white when selected. */
  private strokeOutline(rings: number[][], color: string, dashed: boolean, selected: boolean): void {
    const { ctx } = this;
    this.tracePath(rings);
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

  /** Closed rings (image pixels) as one screen-space path. */
  private tracePath(rings: number[][]): void {
    const { ctx } = this;
    const { scale, tx, ty } = this.model.view;
    ctx.beginPath();
    for (const r of rings) {
      ctx.moveTo(r[0] * scale + tx, r[1] * scale + ty);
      for (let j = 2; j < r.length; j += 2) ctx.lineTo(r[j] * scale + tx, r[j + 1] * scale + ty);
      ctx.closePath();
    }
  }

  /** The selected instances' boxes in screen space, so the selection shows at any zoom. */
  private drawSelectionBoxes(): void {
    const m = this.model;
    for (const id of [m.selectedId, ...m.alsoSelected]) {
      const layer = id === null ? undefined : this.layers.get(id);
      if (layer && m.instances.some((i) => i.id === id)) this.drawBox(layer.box, id === m.selectedId);
    }
  }

  private drawBox(box: MaskBox, primary: boolean): void {
    const { ctx } = this;
    const { scale, tx, ty } = this.model.view;
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

  private drawProposal(rings: number[][]): void {
    const { ctx } = this;
    ctx.save();
    this.tracePath(rings);
    ctx.lineWidth = 3;
    ctx.strokeStyle = 'rgba(0,0,0,0.5)';
    ctx.stroke();
    ctx.setLineDash([3, 3]);
    ctx.lineWidth = 1.5;
    ctx.strokeStyle = '#4fe3ff';
    ctx.stroke();
    ctx.restore();
  }

  private drawPeaks(): void {
    const { ctx, model: m } = this;
    ctx.save();
    ctx.font = '600 11px system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    for (const p of m.peaks) {
      const x = p.x * m.view.scale + m.view.tx;
      const y = p.y * m.view.scale + m.view.ty;
      if (x < -20 || y < -20 || x > m.cssW + 20 || y > m.cssH + 20) continue;
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
}
