import { describe, expect, it } from 'vitest';
import { crmPeakRegions, gridMaskToFrame } from '../../src/common/crm-regions';
import { maskArea } from '../../src/common/mask';

/** A w×h map with Gaussian bumps (x, y, height, sigma). */
function bumps(w: number, h: number, list: [number, number, number, number][]) {
  const data = new Float32Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (const [bx, by, v, s] of list) data[y * w + x] += v * Math.exp(-((x - bx) ** 2 + (y - by) ** 2) / (2 * s * s));
  return { width: w, height: h, data };
}

const cells = (m: { width: number; data: Uint8Array }) => [...m.data].flatMap((v, i) => (v ? [[i % m.width, Math.floor(i / m.width)]] : []));

describe('crmPeakRegions', () => {
  it('keeps the cells above the fraction that connect to the peak, not a separate blob', () => {
    const map = bumps(20, 10, [[4, 4, 10, 1.5], [15, 5, 10, 1.5]]);
    const [r] = crmPeakRegions(map, [{ x: 4, y: 4, value: 10 }], 0.5);
    const got = cells(r);
    expect(got.length).toBeGreaterThan(4);
    expect(got.every(([x]) => x < 10)).toBe(true);
    // Raising the fraction shrinks the region.
    expect(maskArea(crmPeakRegions(map, [{ x: 4, y: 4, value: 10 }], 0.9)[0])).toBeLessThan(got.length);
  });

  it('splits a blob shared by two peaks of a class between them, nearest peak first', () => {
    const map = bumps(24, 10, [[8, 5, 10, 2.5], [15, 5, 10, 2.5]]);
    const [a, b] = crmPeakRegions(map, [{ x: 8, y: 5, value: 10 }, { x: 15, y: 5, value: 10 }], 0.3);
    const ca = cells(a), cb = cells(b);
    expect(ca.length).toBeGreaterThan(5);
    expect(cb.length).toBeGreaterThan(5);
    expect(ca.every(([x]) => x <= 11)).toBe(true);
    expect(cb.every(([x]) => x >= 12)).toBe(true);
    // No cell is given twice.
    for (let i = 0; i < a.data.length; i++) expect(a.data[i] & b.data[i]).toBe(0);
  });

  it('gives an empty region when the peak cell is below its own floor', () => {
    const map = bumps(10, 10, [[5, 5, 1, 1]]);
    expect(maskArea(crmPeakRegions(map, [{ x: 0, y: 0, value: 1 }], 0.5)[0])).toBe(0);
  });
});

describe('gridMaskToFrame', () => {
  it('draws a cell block at its place in the frame, scaled', () => {
    const m = { width: 4, height: 4, data: new Uint8Array(16) };
    m.data[1 * 4 + 2] = 1; // cell (2, 1)
    // Frame 40×40, cell i centred on pixel 10·i + 5.
    const axis = Float32Array.from({ length: 40 }, (_, p) => (p - 5) / 10);
    const f = gridMaskToFrame(m, axis, axis);
    const on = cells(f);
    expect(on.length).toBeGreaterThan(50);
    expect(on.length).toBeLessThan(150);
    const cx = on.reduce((s, [x]) => s + x, 0) / on.length, cy = on.reduce((s, [, y]) => s + y, 0) / on.length;
    expect(cx).toBeCloseTo(25, 0);
    expect(cy).toBeCloseTo(15, 0);
  });
});
