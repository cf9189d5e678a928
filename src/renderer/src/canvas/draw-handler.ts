// Drawing a new polygon instance (CVAT's drawHandler): clicks add vertices; a click near the first vertex,
// a double click or Enter closes it (three vertices at least), Escape drops it.
import { hexToRgbaCss } from './color';
import { screenToImage, type View } from './view';

/** Screen pixels from the first vertex within which a click closes the polygon. */
const CLOSE_DISTANCE = 8;

export class DrawHandler {
  private points: { x: number; y: number }[] = [];

  get polygon(): readonly { x: number; y: number }[] {
    return this.points;
  }

  /** A click at image point (x, y): true when it closes the polygon (then call take()), else it adds a vertex. */
  click(x: number, y: number, view: View): boolean {
    const first = this.points[0];
    if (first && this.points.length >= 3 && Math.hypot(first.x - x, first.y - y) * view.scale < CLOSE_DISTANCE) return true;
    this.points.push({ x, y });
    return false;
  }

  /** The polygon's vertices, emptied; null when fewer than three (nothing to close). */
  take(): { x: number; y: number }[] | null {
    const pts = this.points;
    this.points = [];
    return pts.length >= 3 ? pts : null;
  }

  cancel(): void {
    this.points = [];
  }

  /** The vertices so far and the edge to the pointer, drawn with the context in image space. */
  draw(ctx: CanvasRenderingContext2D, view: View, pointer: { x: number; y: number } | null, color: string): void {
    if (this.points.length === 0) return;
    const s = 1 / view.scale;
    ctx.save();
    ctx.lineWidth = 1.5 * s;
    ctx.strokeStyle = color;
    ctx.fillStyle = hexToRgbaCss(color, 0.2);
    ctx.beginPath();
    ctx.moveTo(this.points[0].x, this.points[0].y);
    for (const p of this.points) ctx.lineTo(p.x, p.y);
    if (pointer) {
      const c = screenToImage(view, pointer.x, pointer.y);
      ctx.lineTo(c.x, c.y);
    }
    ctx.fill();
    ctx.stroke();
    ctx.fillStyle = '#fff';
    for (const p of this.points) ctx.fillRect(p.x - 3 * s, p.y - 3 * s, 6 * s, 6 * s);
    ctx.restore();
  }
}
