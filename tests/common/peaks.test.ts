import { describe, expect, it } from 'vitest';
import { classConfidence, findPeaks } from '../../src/common/peaks';

function grid(h: number, w: number, f: (y: number, x: number) => number): Float32Array {
  const m = new Float32Array(h * w);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) m[y * w + x] = f(y, x);
  return m;
}

describe('findPeaks', () => {
  it('finds isolated 3×3 maxima above the median, highest first', () => {
    const m = grid(6, 6, () => 1);
    m[1 * 6 + 1] = 2;
    m[4 * 6 + 3] = 3;
    expect(findPeaks(m, 6, 6)).toEqual([
      { y: 4, x: 3, value: 3 },
      { y: 1, x: 1, value: 2 },
    ]);
  });

  it('drops maxima at or below the median of the map', () => {
    // Top half 10, bottom half 0 with a local bump of 1: the median is 5.5.
    const m = grid(6, 6, (y) => (y < 3 ? 10 : 0));
    m[5 * 6 + 5] = 1;
    const peaks = findPeaks(m, 6, 6);
    expect(peaks).toHaveLength(1);
    expect(peaks[0].value).toBe(10);
  });

  it('gives one peak per plateau, at its centroid, and none for a plateau next to a higher value', () => {
    const m = grid(7, 7, () => 0);
    for (const [y, x] of [[1, 1], [1, 2], [2, 1], [2, 2]]) m[y * 7 + x] = 4; // 2×2 plateau
    m[5 * 7 + 4] = 2; // plateau of two 2s touching a 3: not a maximum
    m[5 * 7 + 5] = 2;
    m[4 * 7 + 6] = 3;
    const peaks = findPeaks(m, 7, 7);
    expect(peaks).toEqual([
      { y: 1.5, x: 1.5, value: 4 },
      { y: 4, x: 6, value: 3 },
    ]);
  });

  it('applies the minimum value', () => {
    const m = grid(5, 5, () => 0);
    m[6] = 1;
    m[18] = 5;
    expect(findPeaks(m, 5, 5, { minValue: 2 }).map((p) => p.value)).toEqual([5]);
  });

  it('locates a blob to sub-pixel precision in original-grid coordinates', () => {
    const cy = 3.3;
    const cx = 4.6;
    const m = grid(9, 10, (y, x) => Math.exp(-((y - cy) ** 2 + (x - cx) ** 2) / 4));
    const coarse = findPeaks(m, 9, 10);
    expect(coarse).toHaveLength(1);
    expect([coarse[0].y, coarse[0].x]).toEqual([3, 5]);
    const fine = findPeaks(m, 9, 10, { subPixelFactor: 8 });
    expect(fine).toHaveLength(1);
    expect(Math.abs(fine[0].y - cy)).toBeLessThan(0.1);
    expect(Math.abs(fine[0].x - cx)).toBeLessThan(0.1);
    // Samples stay in place: a peak centred on a sample is found exactly there at any factor.
    const centred = grid(9, 10, (y, x) => Math.exp(-((y - 4) ** 2 + (x - 6) ** 2) / 4));
    for (const f of [2, 3, 4]) expect(findPeaks(centred, 9, 10, { subPixelFactor: f }).map((p) => [p.y, p.x])).toEqual([[4, 6]]);
  });

  it('does not invent peaks when upsampling a map with several blobs', () => {
    const blobs = [[3, 4, 3], [10, 14, 2], [12, 3, 1.5]];
    const m = grid(16, 20, (y, x) => blobs.reduce((s, [cy, cx, sg]) => s + Math.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * sg * sg)), 0));
    for (const f of [1, 2, 4]) {
      const peaks = findPeaks(m, 16, 20, { subPixelFactor: f, minValue: 0.5 });
      expect(peaks, `factor ${f}`).toHaveLength(3);
      for (const p of peaks) expect(blobs.some(([cy, cx]) => Math.hypot(p.y - cy, p.x - cx) < 0.5)).toBe(true);
    }
  });

  it('is deterministic for a map full of ties', () => {
    const m = grid(8, 8, (y, x) => ((y + x) % 3 === 0 ? 1 : 0));
    const a = findPeaks(m, 8, 8);
    expect(findPeaks(m, 8, 8)).toEqual(a);
    // Diagonal stripes of 1 are connected plateaus: one peak each.
    expect(a.length).toBe(5);
  });

  it('rejects a map of the wrong size', () => {
    expect(() => findPeaks(new Float32Array(5), 2, 3)).toThrow(RangeError);
  });
});

describe('classConfidence', () => {
  it('is the mean peak response, 0 without peaks', () => {
    expect(classConfidence([])).toBe(0);
    expect(classConfidence([{ y: 0, x: 0, value: 1 }, { y: 1, x: 1, value: 3 }])).toBe(2);
  });
});
