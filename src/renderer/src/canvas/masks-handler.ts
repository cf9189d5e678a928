// Brush and eraser strokes (CVAT's masksHandler): the stroke is collected in image pixels and previewed
// as a vector line while dragging (cheap at any image size); the session rasterises it once on release
// with the same radius, so the stored mask is exactly paintStroke(points, radius).
import { hexToRgbaCss } from './color';
import type { View } from './view';

export class MasksHandler {
  private stroke: { x: number; y: number }[] | null = null;

  get active(): boolean {
    return this.stroke !== null;
  }

  start(x: number, y: number): void {
    this.stroke = [{ x, y }];
  }

  move(x: number, y: number): void {
    this.stroke?.push({ x, y });
  }

  /** The finished stroke's points (image pixels). */
  end(): { x: number; y: number }[] {
    const pts = this.stroke ?? [];
    this.stroke = null;
    return pts;
  }

  /** The stroke so far, drawn with the context in image space. */
  drawPreview(ctx: CanvasRenderingContext2D, radius: number, erase: boolean, color: string): void {
    const pts = this.stroke;
    if (!pts || pts.length === 0) return;
    ctx.save();
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    ctx.lineWidth = radius * 2;
    ctx.strokeStyle = erase ? 'rgba(20,20,20,0.65)' : hexToRgbaCss(color, 0.6);
    ctx.beginPath();
    ctx.moveTo(pts[0].x, pts[0].y);
    for (const p of pts) ctx.lineTo(p.x, p.y);
    if (pts.length === 1) ctx.lineTo(pts[0].x + 0.01, pts[0].y);
    ctx.stroke();
    ctx.restore();
  }

  /** The brush's footprint around the pointer (screen pixels, context in screen space). */
  drawCursor(ctx: CanvasRenderingContext2D, pointer: { x: number; y: number }, radius: number, view: View, erase: boolean): void {
    ctx.save();
    ctx.beginPath();
    ctx.arc(pointer.x, pointer.y, radius * view.scale, 0, Math.PI * 2);
    ctx.lineWidth = 1.5;
    ctx.strokeStyle = erase ? '#ff6b6b' : '#ffffff';
    ctx.setLineDash([4, 3]);
    ctx.stroke();
    ctx.restore();
  }
}
