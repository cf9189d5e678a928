// The canvas's interaction handlers (CVAT's cvat-canvas shape): each turns its part of the pointer input
// into image-pixel results without a DOM, so the rules are checked here and the wiring in the e2e tests.
import { describe, expect, it } from 'vitest';
import { CanvasModel } from '../../src/renderer/src/canvas/canvas-model';
import { DrawHandler } from '../../src/renderer/src/canvas/draw-handler';
import { EditHandler } from '../../src/renderer/src/canvas/edit-handler';
import { MasksHandler } from '../../src/renderer/src/canvas/masks-handler';
import type { View } from '../../src/renderer/src/canvas/view';
import { ZoomHandler } from '../../src/renderer/src/canvas/zoom-handler';

const zoomed: View = { scale: 2, tx: 0, ty: 0 };

describe('drawHandler (polygons)', () => {
  it('adds vertices, closes on a click within 8 screen pixels of the first once there are three', () => {
    const d = new DrawHandler();
    expect(d.click(10, 10, zoomed)).toBe(false);
    expect(d.click(11, 11, zoomed)).toBe(false); // near the first, but only two vertices: a vertex
    expect(d.click(50, 10, zoomed)).toBe(false);
    expect(d.click(13, 10, zoomed)).toBe(true); // 3 image px = 6 screen px from the first
    expect(d.polygon).toHaveLength(3);
    expect(d.take()).toEqual([{ x: 10, y: 10 }, { x: 11, y: 11 }, { x: 50, y: 10 }]);
    expect(d.polygon).toHaveLength(0);
  });

  it('a polygon of fewer than three vertices closes to nothing; cancel drops it', () => {
    const d = new DrawHandler();
    d.click(0, 0, zoomed);
    d.click(5, 5, zoomed);
    expect(d.take()).toBeNull();
    d.click(0, 0, zoomed);
    d.cancel();
    expect(d.polygon).toHaveLength(0);
  });
});

describe('editHandler (vertex dragging)', () => {
  const square = () => [[0, 0, 20, 0, 20, 20, 0, 20]];

  it('a drag moves the grabbed vertex (rounded) and returns a copy of the rings; a click returns none', () => {
    const e = new EditHandler();
    e.setRings(square());
    e.press(21, 19, zoomed); // within 7 screen px of (20, 20)
    expect(e.dragging).toBe(true);
    e.move(30.4, 29.6);
    expect(e.release(true)).toEqual([[0, 0, 20, 0, 30, 30, 0, 20]]);
    expect(e.dragging).toBe(false);
    e.press(0, 0, zoomed);
    expect(e.release(false)).toBeNull();
  });

  it('a press away from the vertices grabs nothing, and a new outline waits until the drag ends', () => {
    const e = new EditHandler();
    e.setRings(square());
    e.press(10, 10, zoomed);
    expect(e.dragging).toBe(false);
    e.press(0, 0, zoomed);
    e.setRings([[5, 5, 6, 5, 6, 6]]); // the session's re-read arrives mid-drag: ignored
    e.move(-3, -3);
    expect(e.release(true)).toEqual([[-3, -3, 20, 0, 20, 20, 0, 20]]);
    e.setRings(null);
    e.press(20, 20, zoomed);
    expect(e.dragging).toBe(false);
  });
});

describe('masksHandler (brush strokes)', () => {
  it('collects the stroke from press to release', () => {
    const m = new MasksHandler();
    expect(m.active).toBe(false);
    m.start(1, 2);
    m.move(3, 4);
    expect(m.active).toBe(true);
    expect(m.end()).toEqual([{ x: 1, y: 2 }, { x: 3, y: 4 }]);
    expect(m.active).toBe(false);
  });
});

describe('zoomHandler', () => {
  it('fits the image, steps about the centre, pans and zooms about the cursor', () => {
    const model = Object.assign(new CanvasModel(), { cssW: 400, cssH: 300, imageW: 800, imageH: 600 });
    const views: View[] = [];
    const zoom = new ZoomHandler(model, (v) => {
      model.view = v;
      views.push(v);
    });
    zoom.fit();
    expect(model.view).toEqual({ scale: (300 - 32) / 600, tx: (400 - 800 * ((300 - 32) / 600)) / 2, ty: 16 }); // 16 px margin
    const centre = { x: (200 - model.view.tx) / model.view.scale, y: (150 - model.view.ty) / model.view.scale };
    zoom.zoomBy(2);
    expect((200 - model.view.tx) / model.view.scale).toBeCloseTo(centre.x, 6);
    expect((150 - model.view.ty) / model.view.scale).toBeCloseTo(centre.y, 6);
    const before = { ...model.view };
    zoom.pan(10, -5);
    expect([model.view.tx - before.tx, model.view.ty - before.ty]).toEqual([10, -5]);
    const under = { x: (50 - model.view.tx) / model.view.scale, y: (60 - model.view.ty) / model.view.scale };
    zoom.wheel(-100, 50, 60);
    expect(model.view.scale).toBeGreaterThan(before.scale);
    expect((50 - model.view.tx) / model.view.scale).toBeCloseTo(under.x, 6);
    expect(views).toHaveLength(4);
    const empty = new ZoomHandler(new CanvasModel(), () => views.push(model.view));
    empty.fit(); // no image yet: nothing to fit
    expect(views).toHaveLength(4);
  });
});
