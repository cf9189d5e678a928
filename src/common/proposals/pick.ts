// Picking proposals for interactive editing: the one that best matches a mask (WISE's refinement,
// "snap"), and the ones under the cursor. Both work on the proposal grid.
import type { Proposal } from './index';
import { spanArea, spanIou } from './spans';

/** Index and IoU of the proposal overlapping `runs` most (IoU), or null when none overlaps it. */
export function bestIouProposal(proposals: readonly Proposal[], runs: Int32Array): { index: number; iou: number } | null {
  if (spanArea(runs) === 0) return null;
  let best: { index: number; iou: number } | null = null;
  proposals.forEach((p, index) => {
    const iou = spanIou(p.mask.runs, runs);
    if (iou > 0 && (!best || iou > best.iou)) best = { index, iou };
  });
  return best;
}

/** Whether run list `runs` (sorted (y, x0, x1) triples) covers pixel (x, y). */
export function spansContain(runs: Int32Array, x: number, y: number): boolean {
  for (let i = 0; i < runs.length; i += 3) {
    if (runs[i] > y) return false;
    if (runs[i] === y && x >= runs[i + 1] && x < runs[i + 2]) return true;
  }
  return false;
}

/**
 * Proposals containing pixel (x, y), smallest first. Those of at least `minArea` pixels filling at
 * least `minFill` of their box come first (slivers and thin strips of texture are not what a user
 * points at), then the rest.
 */
export function proposalsAt(proposals: readonly Proposal[], x: number, y: number, minArea = 0, minFill = 0): number[] {
  const hits = proposals.flatMap((p, i) => (spansContain(p.mask.runs, x, y) ? [i] : [])).sort((a, b) => proposals[a].area - proposals[b].area);
  const good = (i: number) => {
    const p = proposals[i];
    return p.area >= minArea && p.area >= minFill * p.bbox[2] * p.bbox[3];
  };
  return [...hits.filter(good), ...hits.filter((i) => !good(i))];
}
