import { describe, expect, it } from 'vitest';
import { createMask } from '../../src/common/mask';
import { combineScore, innermostPoint, maskHas, stabilityScore } from '../../src/common/sam-prompts';

function rect(w: number, h: number, x0: number, y0: number, x1: number, y1: number) {
  const m = createMask(w, h);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) m.data[y * w + x] = 1;
  return m;
}

describe('innermostPoint', () => {
  it('finds the pixel farthest from the border of a rectangle', () => {
    const p = innermostPoint(rect(40, 30, 5, 5, 25, 15))!;
    // 20×10 box: the centre rows 9–10 and columns ~10–19 are the farthest from every edge.
    expect(p.y).toBeGreaterThanOrEqual(9);
    expect(p.y).toBeLessThanOrEqual(10);
    expect(p.x).toBeGreaterThanOrEqual(9);
    expect(p.x).toBeLessThanOrEqual(20);
  });

  it('stays in the component holding the peak, and among equals picks the one nearest it', () => {
    const m = rect(60, 20, 2, 2, 12, 12); // small blob on the left
    const big = rect(60, 20, 30, 0, 60, 20); // big blob on the right
    for (let i = 0; i < m.data.length; i++) m.data[i] |= big.data[i];
    const left = innermostPoint(m, { x: 3, y: 3 })!;
    expect(left.x).toBeLessThan(12);
    const whole = innermostPoint(m)!;
    expect(whole.x).toBeGreaterThanOrEqual(30);
    // A peak just outside the mask snaps to the nearest set pixel's component.
    expect(innermostPoint(m, { x: 14, y: 6 })!.x).toBeLessThan(12);
  });

  it('is null for an empty region', () => {
    expect(innermostPoint(createMask(5, 5))).toBeNull();
    expect(innermostPoint(createMask(5, 5), { x: 1, y: 1 })).toBeNull();
  });
});

describe('maskHas and combineScore', () => {
  it('reads a pixel, rounding and refusing points off the mask', () => {
    const m = rect(10, 10, 2, 2, 4, 4);
    expect(maskHas(m, { x: 2.4, y: 3.2 })).toBe(true);
    expect(maskHas(m, { x: 5, y: 5 })).toBe(false);
    expect(maskHas(m, { x: -1, y: 2 })).toBe(false);
  });

  it('multiplies the parts raised to their weights; a zero weight ignores a part', () => {
    const parts = { iouPred: 0.9, agreement: 0.5, peakRel: 0.25, support: 1, stability: 0.8 };
    const none = { iou: 0, agreement: 0, peak: 0, support: 0, stability: 0 };
    expect(combineScore(parts, { ...none, iou: 1 })).toBeCloseTo(0.9);
    expect(combineScore(parts, { ...none, iou: 1, agreement: 1, peak: 1 })).toBeCloseTo(0.9 * 0.5 * 0.25);
    expect(combineScore(parts, { ...none, peak: 0.5, support: 1 })).toBeCloseTo(0.5 * 2);
    expect(combineScore(parts, { ...none, stability: 2 })).toBeCloseTo(0.64);
    expect(combineScore({ ...parts, agreement: 0 }, { ...none, agreement: 1 })).toBeGreaterThan(0);
  });

  it("stability is SAM's: the mask at logit > 1 over the mask at logit > -1", () => {
    expect(stabilityScore([5, 5, 0.5, -0.5, -5])).toBeCloseTo(2 / 4);
    expect(stabilityScore([3, 3, -3])).toBe(1);
    expect(stabilityScore([-3, -2])).toBe(0);
  });
});
