// Colour helpers for overlays.

export function hexToRgb(hex: string): [number, number, number] {
  const m = /^#?([0-9a-f]{6})$/i.exec(hex.trim());
  if (!m) return [255, 0, 255];
  const n = parseInt(m[1], 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** `#rrggbb` with alpha as a CSS colour (tool previews). */
export function hexToRgbaCss(hex: string, alpha: number): string {
  const [r, g, b] = hexToRgb(hex);
  return `rgba(${r},${g},${b},${alpha})`;
}

/** A perceptually ordered colour map (dark blue → cyan → yellow → red) for class response heat maps. */
export function heatColor(t: number): [number, number, number] {
  const v = Math.min(1, Math.max(0, t));
  const stops: [number, number, number, number][] = [
    [0, 20, 20, 80],
    [0.35, 20, 160, 220],
    [0.65, 250, 220, 40],
    [1, 230, 30, 30],
  ];
  for (let i = 1; i < stops.length; i++) {
    if (v <= stops[i][0]) {
      const [t0, r0, g0, b0] = stops[i - 1];
      const [t1, r1, g1, b1] = stops[i];
      const k = (v - t0) / (t1 - t0);
      return [Math.round(r0 + (r1 - r0) * k), Math.round(g0 + (g1 - g0) * k), Math.round(b0 + (b1 - b0) * k)];
    }
  }
  return [230, 30, 30];
}

/** Default colours for new classes, distinct on dark and light backgrounds. */
export const PALETTE = ['#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#46f0f0', '#f032e6', '#bcf60c', '#fabebe', '#008080', '#e6beff', '#9a6324'];
