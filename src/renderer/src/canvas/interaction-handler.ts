// AI prompts on the canvas (CVAT's interactionHandler): Shift+drag draws a box, and the prompt's points
// and box are drawn over the image — green + inside, red − outside. Clicks themselves stay with the
// engine's click path (Shift/Alt are passed on as modifiers); the editor's prompt controller decides.
import type { View } from './view';

export interface PromptMarks {
  points: { x: number; y: number; label: 0 | 1 }[];
  box: [number, number, number, number] | null;
}

export class InteractionHandler {
  marks: PromptMarks = { points: [], box: null };
  /** The box being dragged, in image pixels (start corner, current corner). */
  private drag: { x0: number; y0: number; x1: number; y1: number } | null = null;

  /** A Shift+press with the select tool may become a box; call on every such press. */
  start(x: number, y: number): void {
    this.drag = { x0: x, y0: y, x1: x, y1: y };
  }

  get dragging(): boolean {
    return this.drag !== null;
  }

  move(x: number, y: number): void {
    if (this.drag) Object.assign(this.drag, { x1: x, y1: y });
  }

  /** The finished box [x0, y0, x1, y1] (image pixels, ordered), or null when the press was not a drag. */
  end(moved: boolean): [number, number, number, number] | null {
    const d = this.drag;
    this.drag = null;
    if (!d || !moved) return null;
    return [Math.min(d.x0, d.x1), Math.min(d.y0, d.y1), Math.max(d.x0, d.x1), Math.max(d.y0, d.y1)];
  }

  /** Draws in screen space (the context's transform is the device-pixel ratio alone). */
  draw(ctx: CanvasRenderingContext2D, view: View): void {
    const sx = (x: number) => x * view.scale + view.tx;
    const sy = (y: number) => y * view.scale + view.ty;
    const boxes = [this.marks.box, this.drag && [this.drag.x0, this.drag.y0, this.drag.x1, this.drag.y1]].filter((b): b is [number, number, number, number] => !!b);
    ctx.save();
    ctx.lineWidth = 2;
    ctx.setLineDash([6, 4]);
    ctx.strokeStyle = '#ffd400';
    for (const [x0, y0, x1, y1] of boxes) ctx.strokeRect(sx(x0), sy(y0), sx(x1) - sx(x0), sy(y1) - sy(y0));
    ctx.setLineDash([]);
    for (const p of this.marks.points) {
      const x = sx(p.x);
      const y = sy(p.y);
      ctx.beginPath();
      ctx.arc(x, y, 7, 0, Math.PI * 2);
      ctx.fillStyle = p.label ? '#1faa3a' : '#d62b2b';
      ctx.fill();
      ctx.strokeStyle = '#fff';
      ctx.stroke();
      ctx.beginPath();
      ctx.moveTo(x - 4, y);
      ctx.lineTo(x + 4, y);
      if (p.label) {
        ctx.moveTo(x, y - 4);
        ctx.lineTo(x, y + 4);
      }
      ctx.stroke();
    }
    ctx.restore();
  }
}
