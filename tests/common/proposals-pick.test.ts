// Picking proposals for editing: best IoU with a mask (snap), and the proposals under a point.
import { describe, expect, it } from 'vitest';
import type { Proposal } from '../../src/common/proposals';
import { bestIouProposal, proposalsAt, spansContain } from '../../src/common/proposals/pick';
import { maskToSpans, spanArea, spanBbox } from '../../src/common/proposals/spans';

/** A proposal on a 10×10 grid covering the rectangle [x0, x1) × [y0, y1). */
function rect(x0: number, y0: number, x1: number, y1: number): Proposal {
  const data = new Uint8Array(100);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) data[y * 10 + x] = 1;
  const mask = maskToSpans({ width: 10, height: 10, data });
  return { mask, contour: new Int32Array(0), bbox: spanBbox(mask.runs), area: spanArea(mask.runs) };
}

describe('proposal picking', () => {
  const props = [rect(0, 0, 10, 10), rect(2, 2, 6, 6), rect(2, 2, 5, 5), rect(0, 4, 10, 5), rect(7, 7, 9, 9)];

  it('finds the proposal with the highest IoU, or none when nothing overlaps', () => {
    expect(bestIouProposal(props, rect(2, 2, 6, 7).mask.runs)).toEqual({ index: 1, iou: 16 / 20 });
    expect(bestIouProposal(props.slice(1), rect(0, 9, 2, 10).mask.runs)).toBeNull();
    expect(bestIouProposal(props, new Int32Array(0))).toBeNull();
  });

  it('tests point containment on run lists', () => {
    expect(spansContain(props[1].mask.runs, 2, 5)).toBe(true);
    expect(spansContain(props[1].mask.runs, 6, 5)).toBe(false);
    expect(spansContain(props[1].mask.runs, 3, 6)).toBe(false);
  });

  it('orders the proposals under a point smallest first, slivers and tiny ones last', () => {
    expect(proposalsAt(props, 3, 4)).toEqual([2, 3, 1, 0]);
    // The 10×1 strip fills its box but is below 12 px; the 3×3 square is big enough.
    expect(proposalsAt(props, 3, 4, 12, 0.3)).toEqual([1, 0, 2, 3]);
    expect(proposalsAt(props, 8, 8, 5)).toEqual([0, 4]);
    expect(proposalsAt(props.slice(1), 0, 0)).toEqual([]);
  });
});
