import { describe, expect, it } from 'vitest';
import { crmPeakRegions } from '../../src/common/crm-regions';
import { maskArea, type BinaryMask } from '../../src/common/mask';

/** A w×h map with Gaussian bumps (x, y, height, sigma). */
function bumps(w: number, h: number, list: [number, number, number, number][]) {
  const data = new Float32Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (const [bx, by, v, s] of list) data[y * w + x] += v * Math.exp(-((x - bx) ** 2 + (y - by) ** 2) / (2 * s * s));
  return { width: w, height: h, data };
}

/** Frame axes at `scale` pixels per cell, cell i centred on pixel scale·i + scale/2. */
const axis = (cells: number, scale: number) => Float32Array.from({ length: cells * scale }, (_, p) => (p + 0.5) / scale - 0.5);
const pixels = (m: BinaryMask) => [...m.data].flatMap((v, i) => (v ? [[i % m.width, Math.floor(i / m.width)]] : []));

describe('crmPeakRegions', () => {
  it('keeps the frame pixels above the fraction that connect to the peak, not a separate blob', () => {
    const map = bumps(20, 10, [[4, 4, 10, 1.5], [15, 5, 10, 1.5]]);
    const [r] = crmPeakRegions(map, [{ x: 4, y: 4, value: 10 }], 0.5, axis(20, 8), axis(10, 8));
    expect([r.width, r.height]).toEqual([160, 80]);
    const got = pixels(r);
    expect(got.length).toBeGreaterThan(4 * 64);
    expect(got.every(([x]) => x < 80)).toBe(true);
    // Centred where the peak is: cell 4 → pixel 36.
    expect(got.reduce((s, [x]) => s + x, 0) / got.length).toBeCloseTo(36, -0.5);
    // Raising the fraction shrinks the region.
    expect(maskArea(crmPeakRegions(map, [{ x: 4, y: 4, value: 10 }], 0.9, axis(20, 8), axis(10, 8))[0])).toBeLessThan(got.length);
  });

  it('splits a blob shared by two peaks of a class between them, nearest peak first, with no pixel given twice', () => {
    const map = bumps(24, 10, [[8, 5, 10, 2.5], [15, 5, 10, 2.5]]);
    const [a, b] = crmPeakRegions(map, [{ x: 8, y: 5, value: 10 }, { x: 15, y: 5, value: 10 }], 0.3, axis(24, 4), axis(10, 4));
    const pa = pixels(a), pb = pixels(b);
    expect(pa.length).toBeGreaterThan(80);
    expect(pb.length).toBeGreaterThan(80);
    // The midpoint between the peaks is cell 11.5 → pixel 47.5.
    expect(pa.every(([x]) => x <= 47)).toBe(true);
    expect(pb.every(([x]) => x >= 48)).toBe(true);
    for (let i = 0; i < a.data.length; i++) expect(a.data[i] & b.data[i]).toBe(0);
  });

  it('gives an empty region when the peak does not pass its own floor', () => {
    const map = bumps(10, 10, [[5, 5, 1, 1]]);
    expect(maskArea(crmPeakRegions(map, [{ x: 0, y: 0, value: 1 }], 0.5, axis(10, 2), axis(10, 2))[0])).toBe(0);
  });
});
