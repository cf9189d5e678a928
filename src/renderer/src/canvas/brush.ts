// Raster brush/eraser on a BinaryMask: discs stamped along a polyline in image pixels.
// The same function renders strokes on commit, so what the user sees is what is stored.
import type { BinaryMask } from '../../../common/mask';

export interface DirtyRect {
  x0: number;
  y0: number;
  x1: number; // exclusive
  y1: number; // exclusive
}

/** Set (value 1) or clear (value 0) every pixel whose centre lies within `radius` of (cx, cy). */
export function stampDisc(mask: BinaryMask, cx: number, cy: number, radius: number, value: 0 | 1): DirtyRect | null {
  const { width, height, data } = mask;
  const r = Math.max(0.5, radius);
  const x0 = Math.max(0, Math.floor(cx - r));
  const x1 = Math.min(width, Math.ceil(cx + r) + 1);
  const y0 = Math.max(0, Math.floor(cy - r));
  const y1 = Math.min(height, Math.ceil(cy + r) + 1);
  if (x0 >= x1 || y0 >= y1) return null;
  const r2 = r * r;
  const inside = (x: number, dy2: number): boolean => {
    const dx = x + 0.5 - cx;
    return dx * dx + dy2 <= r2;
  };
  let touched = false;
  for (let y = y0; y < y1; y++) {
    const dy = y + 0.5 - cy;
    const dy2 = dy * dy;
    if (dy2 > r2) continue;
    // The row's pixels form one span: estimate its ends, then settle them with the exact test.
    const half = Math.sqrt(r2 - dy2);
    let a = Math.max(x0, Math.ceil(cx - 0.5 - half)), b = Math.min(x1 - 1, Math.floor(cx - 0.5 + half));
    while (a > x0 && inside(a - 1, dy2)) a--;
    while (a <= b && !inside(a, dy2)) a++;
    while (b < x1 - 1 && inside(b + 1, dy2)) b++;
    while (b >= a && !inside(b, dy2)) b--;
    if (a > b) continue;
    data.fill(value, y * width + a, y * width + b + 1);
    touched = true;
  }
  return touched ? { x0, y0, x1, y1 } : null;
}

/** Stamp discs along the polyline `points` ([x, y] pairs) at steps of at most a quarter radius. */
export function paintStroke(mask: BinaryMask, points: { x: number; y: number }[], radius: number, value: 0 | 1): DirtyRect | null {
  let dirty: DirtyRect | null = null;
  const add = (d: DirtyRect | null) => {
    if (!d) return;
    dirty = dirty
      ? { x0: Math.min(dirty.x0, d.x0), y0: Math.min(dirty.y0, d.y0), x1: Math.max(dirty.x1, d.x1), y1: Math.max(dirty.y1, d.y1) }
      : d;
  };
  if (points.length === 0) return null;
  add(stampDisc(mask, points[0].x, points[0].y, radius, value));
  const step = Math.max(0.5, radius / 4);
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1], b = points[i];
    const len = Math.hypot(b.x - a.x, b.y - a.y);
    const n = Math.max(1, Math.ceil(len / step));
    for (let k = 1; k <= n; k++) {
      const t = k / n;
      add(stampDisc(mask, a.x + (b.x - a.x) * t, a.y + (b.y - a.y) * t, radius, value));
    }
  }
  return dirty;
}

/**
 * Every pixel paintStroke(…, points, radius, …) can set lies in this rect (unclipped, image pixels):
 * paint in a window this size, not in a full-size mask, and a stroke costs its own size.
 */
export function strokeBounds(points: { x: number; y: number }[], radius: number): DirtyRect {
  const reach = Math.max(0.5, radius) + 1;
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const p of points) {
    x0 = Math.min(x0, Math.floor(p.x - reach)); y0 = Math.min(y0, Math.floor(p.y - reach));
    x1 = Math.max(x1, Math.ceil(p.x + reach)); y1 = Math.max(y1, Math.ceil(p.y + reach));
  }
  return { x0, y0, x1, y1 };
}
