// View transform of the editor: screen = image * scale + (tx, ty). Pure math, no DOM.

export interface View {
  scale: number;
  tx: number;
  ty: number;
}

export const MIN_SCALE = 1 / 64;
export const MAX_SCALE = 32;

export function clampScale(s: number): number {
  return Math.min(MAX_SCALE, Math.max(MIN_SCALE, s));
}

/** The whole image centred in the viewport with a margin, never magnified beyond `maxScale`. */
export function fitView(imgW: number, imgH: number, viewW: number, viewH: number, margin = 16, maxScale = 4): View {
  const scale = clampScale(Math.min((viewW - 2 * margin) / imgW, (viewH - 2 * margin) / imgH, maxScale));
  return { scale, tx: (viewW - imgW * scale) / 2, ty: (viewH - imgH * scale) / 2 };
}

/** One image pixel per screen pixel, keeping the viewport centre on the same image point. */
export function oneToOne(view: View, viewW: number, viewH: number): View {
  return zoomAt(view, 1 / view.scale, viewW / 2, viewH / 2);
}

/** Multiply the scale by `factor` keeping the image point under screen (sx, sy) fixed. */
export function zoomAt(view: View, factor: number, sx: number, sy: number): View {
  const scale = clampScale(view.scale * factor);
  const k = scale / view.scale;
  return { scale, tx: sx - (sx - view.tx) * k, ty: sy - (sy - view.ty) * k };
}

export function panBy(view: View, dx: number, dy: number): View {
  return { scale: view.scale, tx: view.tx + dx, ty: view.ty + dy };
}

export function screenToImage(view: View, sx: number, sy: number): { x: number; y: number } {
  return { x: (sx - view.tx) / view.scale, y: (sy - view.ty) / view.scale };
}

export function imageToScreen(view: View, x: number, y: number): { x: number; y: number } {
  return { x: x * view.scale + view.tx, y: y * view.scale + view.ty };
}

/** Wheel delta (pixels) to a zoom factor; smooth for trackpads, one notch ≈ 1.2×. */
export function wheelFactor(deltaY: number): number {
  return Math.exp(-deltaY * 0.0015);
}

/**
 * The downscaled level (longest side) to request for the current zoom: the smallest power-of-two
 * step ≥ 1024 that gives at least one level pixel per screen pixel, capped at the full size.
 * Keeps 8,000-px images smooth: the full image is only fetched when zoomed in that far.
 */
export function levelFor(scale: number, imgW: number, imgH: number, devicePixelRatio = 1): number {
  const full = Math.max(imgW, imgH);
  const needed = full * scale * devicePixelRatio;
  let side = 1024;
  while (side < needed && side < full) side *= 2;
  return Math.min(side, full);
}
