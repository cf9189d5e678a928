// Editing the selected instance's outline (CVAT's editHandler): with the polygon tool its rings are shown
// with their vertices, and dragging a vertex reshapes them; the session rasterises the rings on release.
import { hitVertex } from './hit';
import type { View } from './view';

/** Screen pixels within which a press grabs a vertex. */
const GRAB_DISTANCE = 7;

export class EditHandler {
  /** Outline of the selected instance (image pixels), or null when there is nothing to edit. */
  private rings: number[][] | null = null;
  private drag: { ring: number; index: number } | null = null;

  /** A new outline from the session; ignored while a vertex is dragged (the saved one follows the drop). */
  setRings(rings: number[][] | null): void {
    if (!this.drag) this.rings = rings;
  }

  get dragging(): boolean {
    return this.drag !== null;
  }

  /** A press at image point (x, y): grabs the vertex under it, if any. */
  press(x: number, y: number, view: View): void {
    this.drag = this.rings ? hitVertex(this.rings, x, y, GRAB_DISTANCE / view.scale) : null;
  }

  move(x: number, y: number): void {
    if (!this.drag || !this.rings) return;
    const r = this.rings[this.drag.ring];
    r[this.drag.index] = Math.round(x);
    r[this.drag.index + 1] = Math.round(y);
  }

  /** Releases the vertex: the edited rings when the press moved (a drag), else null (a click). */
  release(moved: boolean): number[][] | null {
    this.drag = null;
    return moved && this.rings ? this.rings.map((r) => r.slice()) : null;
  }

  /** The rings and their vertex handles, drawn with the context in screen space. */
  draw(ctx: CanvasRenderingContext2D, view: View): void {
    if (!this.rings) return;
    const { scale, tx, ty } = view;
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
}
