// Zoom and pan (CVAT's zoomHandler): the wheel zooms about the cursor, a drag with the middle button,
// with Space held or with the select tool pans, and fit / 1:1 / zoom steps come from the toolbar and keys.
import type { CanvasModel } from './canvas-model';
import { fitView, oneToOne, panBy, wheelFactor, zoomAt, type View } from './view';

export class ZoomHandler {
  constructor(private readonly model: CanvasModel, private readonly setView: (v: View) => void) {}

  fit(): void {
    const m = this.model;
    if (!m.imageW) return;
    this.setView(fitView(m.imageW, m.imageH, m.cssW, m.cssH));
  }

  actualSize(): void {
    this.setView(oneToOne(this.model.view, this.model.cssW, this.model.cssH));
  }

  zoomBy(factor: number): void {
    this.setView(zoomAt(this.model.view, factor, this.model.cssW / 2, this.model.cssH / 2));
  }

  /** A wheel step at screen point (x, y). */
  wheel(deltaY: number, x: number, y: number): void {
    this.setView(zoomAt(this.model.view, wheelFactor(deltaY), x, y));
  }

  /** A panning drag moved by (dx, dy) screen pixels. */
  pan(dx: number, dy: number): void {
    this.setView(panBy(this.model.view, dx, dy));
  }
}
