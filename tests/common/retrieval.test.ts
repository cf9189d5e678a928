import { describe, expect, it } from 'vitest';
import { maskArea, maskBbox, maskIou, type BinaryMask } from '../../src/common/mask';
import { generateProposals } from '../../src/common/proposals/index';
import { intersectionArea, maskToSpans, spanIou, spansToMask } from '../../src/common/proposals/spans';
import {
  backgroundCue,
  classwiseNms,
  ellipseFromPrm,
  prmSupport,
  rectFromPrm,
  retrieveInstances,
  retrieveProposal,
  scoreProposals,
  scoreProposalsBatch,
  topProposals,
  type Candidate,
  type FloatMap,
  type RetrievalOptions,
} from '../../src/common/retrieval';
import { resizeMass } from '../../src/common/retrieval/float-map';
import { RECTS, RECT_IMAGE_SIZE, rectImage, rectMask } from './proposals-synthetic';

const { width: W, height: H } = RECT_IMAGE_SIZE;

/**
 * A PRM-like map for rectangle i (sum 1): like real PRMs, its mass lies on the object, strongest
 * along the boundary, plus a blob at the peak; nothing outside.
 */
function prmForRect(i: number, width = W, height = H): FloatMap {
  const q = RECTS[i];
  const sx = width / W;
  const sy = height / H;
  const data = new Float32Array(width * height);
  const cx = (q.x + q.w / 2) * sx;
  const cy = (q.y + q.h / 2) * sy;
  const s = (Math.min(q.w, q.h) / 5) * sx;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const ox = x / sx;
      const oy = y / sy;
      const inside = ox >= q.x && ox < q.x + q.w && oy >= q.y && oy < q.y + q.h;
      if (!inside) continue;
      const nearEdge = Math.min(ox - q.x, q.x + q.w - 1 - ox, oy - q.y, q.y + q.h - 1 - oy) < 2;
      data[y * width + x] = 0.2 + (nearEdge ? 1 : 0) + 0.3 * Math.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * s * s));
    }
  }
  const sum = data.reduce((a, b) => a + b, 0);
  for (let k = 0; k < data.length; k++) data[k] /= sum;
  return { width, height, data };
}

/** A class response map (stride 8) high over all three rectangles. */
function classMap(): FloatMap {
  const w = Math.ceil(W / 8);
  const h = Math.ceil(H / 8);
  const data = new Float32Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data[y * w + x] = RECTS.some((q) => x * 8 + 4 >= q.x && x * 8 + 4 < q.x + q.w && y * 8 + 4 >= q.y && y * 8 + 4 < q.y + q.h) ? 1 : 0;
  return { width: w, height: h, data };
}

function fromMask(m: BinaryMask, value = 1): FloatMap {
  return { width: m.width, height: m.height, data: Float32Array.from(m.data, (v) => v * value) };
}

describe('proposal retrieval', () => {
  const proposals = generateProposals(rectImage());

  it('picks the rectangle under its PRM (PRM score)', () => {
    const cue = backgroundCue(proposals, classMap());
    for (let i = 0; i < RECTS.length; i++) {
      const best = retrieveProposal(proposals, prmForRect(i), cue);
      expect(best).not.toBeNull();
      const iou = spanIou(proposals[best!.index].mask.runs, maskToSpans(rectMask(i)).runs);
      expect(iou, `rect ${i}`).toBeGreaterThan(0.9);
    }
  });

  it('ICN score picks a dense region inside the right rectangle', () => {
    // The size-rebalanced score averages the PRM over the proposal, so it prefers compact dense
    // parts of the object; it must still stay on the object the PRM belongs to.
    const cue = backgroundCue(proposals, classMap(), { method: 'icn' });
    for (let i = 0; i < RECTS.length; i++) {
      const best = retrieveProposal(proposals, prmForRect(i), cue, { method: 'icn' });
      const p = proposals[best!.index];
      const inside = intersectionArea(p.mask.runs, maskToSpans(rectMask(i)).runs) / p.area;
      expect(inside, `rect ${i}`).toBeGreaterThan(0.9);
    }
  });

  it('batched scoring equals one-by-one scoring', () => {
    for (const method of ['prm', 'icn'] as const) {
      const cue = backgroundCue(proposals, classMap(), { method });
      const prms = [prmForRect(0), prmForRect(2), prmForRect(1, 60, 45)];
      const batch = scoreProposalsBatch(proposals, prms, cue, { method });
      prms.forEach((p, k) => {
        const single = scoreProposals(proposals, p, cue, { method });
        for (let i = 0; i < single.length; i++) expect(batch[k][i]).toBeCloseTo(single[i], 5);
      });
    }
  });

  it('accepts PRMs at another resolution than the proposals', () => {
    const cue = backgroundCue(proposals, classMap());
    const best = retrieveProposal(proposals, prmForRect(1, 240, 180), cue);
    expect(spanIou(proposals[best!.index].mask.runs, maskToSpans(rectMask(1)).runs)).toBeGreaterThan(0.9);
  });

  it('rejects maps whose data does not match their size', () => {
    const cue = backgroundCue(proposals, classMap());
    const bad = { width: 10, height: 10, data: new Float32Array(99) };
    expect(() => scoreProposals(proposals, bad, cue)).toThrow(RangeError);
    expect(() => backgroundCue(proposals, bad)).toThrow(RangeError);
    expect(() => prmSupport(bad, 0.1)).toThrow(RangeError);
  });

  it('retrieves nothing for an all-zero PRM', () => {
    const cue = backgroundCue(proposals, classMap());
    expect(retrieveProposal(proposals, { width: W, height: H, data: new Float32Array(W * H) }, cue)).toBeNull();
  });

  it('respects the size limits', () => {
    const cue = backgroundCue(proposals, classMap());
    const best = retrieveProposal(proposals, prmForRect(0), cue, { maxAreaFraction: 0.05 });
    expect(best === null || proposals[best.index].area < 0.05 * W * H).toBe(true);
    expect(retrieveProposal(proposals, prmForRect(0), cue, { minAreaFraction: 1 })).toBeNull();
  });

  it('retrieves instances at the output resolution and merges duplicate peaks by NMS', () => {
    const peaks = [
      { classId: 0, peakValue: 2, prm: prmForRect(0) },
      { classId: 0, peakValue: 1, prm: prmForRect(0) }, // a second peak on the same object
      { classId: 0, peakValue: 1, prm: prmForRect(2) },
      { classId: 1, peakValue: 1, prm: prmForRect(0) }, // another class: never merged
    ];
    const out = retrieveInstances(peaks, proposals, () => classMap(), { width: 2 * W, height: 2 * H });
    expect(out).toHaveLength(3);
    const merged = out.find((o) => o.classId === 0 && o.mergedPeaks.length > 0)!;
    expect(merged.mergedPeaks).toHaveLength(1);
    expect([merged.peakIndex, ...merged.mergedPeaks].sort()).toEqual([0, 1]);
    expect(merged.prm.data.reduce((a, b) => a + b, 0)).toBeCloseTo(2, 4);
    expect(merged.mask.width).toBe(2 * W);
    expect(merged.mask.height).toBe(2 * H);
    expect(maskIou(merged.mask, rectMask(0, 2 * W, 2 * H))).toBeGreaterThan(0.9);
    expect(out.filter((o) => o.classId === 1)).toHaveLength(1);
    for (let k = 1; k < out.length; k++) expect(out[k - 1].score).toBeGreaterThanOrEqual(out[k].score);
  });
});

describe('topProposals', () => {
  it('returns the k best indices, best first, without excluded proposals', () => {
    const scores = Float32Array.from([0.5, -Infinity, 0.9, 0.5, 0.1]);
    expect(topProposals(scores, 3)).toEqual([2, 0, 3]);
    expect(topProposals(scores, 10)).toEqual([2, 0, 3, 4]);
    expect(topProposals(scores, 0)).toEqual([]);
  });
});

describe('classwiseNms', () => {
  const box = (x0: number, x1: number): Int32Array => {
    const r: number[] = [];
    for (let y = 0; y < 10; y++) r.push(y, x0, x1);
    return Int32Array.from(r);
  };
  const prm = (v: number): FloatMap => ({ width: 2, height: 1, data: Float32Array.from([v, v]) });
  const cand = (classId: number, score: number, x0: number, x1: number, peakIndex: number): Candidate => ({ classId, score, mask: { width: 40, height: 10, runs: box(x0, x1) }, peakIndex, prm: prm(peakIndex + 1) });

  it('suppresses same-class overlaps at IoU ≥ 0.3 into the best one and sums their PRMs', () => {
    const out = classwiseNms([cand(0, 0.5, 0, 10, 0), cand(0, 0.9, 2, 12, 1), cand(0, 0.4, 20, 30, 2), cand(1, 0.3, 0, 10, 3)], 0.3);
    expect(out.map((o) => o.kept.peakIndex)).toEqual([1, 2, 3]);
    expect(out[0].merged.map((m) => m.peakIndex)).toEqual([0]);
    expect(Array.from(out[0].prm.data)).toEqual([3, 3]); // PRMs 2 + 1
    expect(Array.from(out[1].prm.data)).toEqual([3, 3]); // untouched
  });

  it('keeps overlaps below the threshold', () => {
    // IoU of [0,10) and [7,17) = 3/17 < 0.3.
    expect(classwiseNms([cand(0, 1, 0, 10, 0), cand(0, 0.5, 7, 17, 1)], 0.3)).toHaveLength(2);
  });
});

describe('baselines', () => {
  // A PRM whose support (≥ 0.1·max) is a known shape, with weak noise below the threshold elsewhere.
  function prmOver(m: BinaryMask): FloatMap {
    const f = fromMask(m, 1);
    for (let k = 0; k < f.data.length; k++) f.data[k] = m.data[k] ? 0.5 + 0.5 * ((k * 7919) % 13) / 13 : ((k * 104729) % 17) / 17 * 0.04;
    return f;
  }

  it('threshold returns the support of the PRM', () => {
    const m = rectMask(1);
    expect(spansToMask(prmSupport(prmOver(m), 0.1)).data).toEqual(m.data);
  });

  it('rect is the bounding box of the support', () => {
    const m: BinaryMask = { width: W, height: H, data: new Uint8Array(W * H) };
    // An L-shaped support: its box is [20, 10, 30, 40].
    for (let y = 10; y < 50; y++) m.data.fill(1, y * W + 20, y * W + 25);
    for (let y = 45; y < 50; y++) m.data.fill(1, y * W + 20, y * W + 50);
    const r = spansToMask(rectFromPrm(prmOver(m), 0.1));
    expect(maskBbox(r)).toEqual([20, 10, 30, 40]);
    expect(maskArea(r)).toBe(30 * 40);
  });

  it('ellipse reproduces an elliptical support from its moments', () => {
    const m: BinaryMask = { width: W, height: H, data: new Uint8Array(W * H) };
    const cx = 60, cy = 45, a = 30, b = 15, t = 0.5;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const u = (x - cx) * Math.cos(t) + (y - cy) * Math.sin(t);
        const v = -(x - cx) * Math.sin(t) + (y - cy) * Math.cos(t);
        if ((u / a) ** 2 + (v / b) ** 2 <= 1) m.data[y * W + x] = 1;
      }
    }
    const e = spansToMask(ellipseFromPrm(prmOver(m), 0.1));
    expect(maskIou(e, m)).toBeGreaterThan(0.95);
  });

  it('baseline methods run through retrieveInstances at the output size, scored by the peak value', () => {
    const m = rectMask(2);
    for (const method of ['rect', 'ellipse', 'threshold'] as const) {
      const out = retrieveInstances([{ classId: 3, peakValue: 0.7, prm: prmOver(m) }], [], () => classMap(), { width: 60, height: 45 }, { method });
      expect(out).toHaveLength(1);
      expect(out[0].score).toBe(0.7);
      expect(out[0].mask.width).toBe(60);
      expect(maskIou(out[0].mask, rectMask(2, 60, 45))).toBeGreaterThan(method === 'ellipse' ? 0.7 : 0.9);
    }
  });
});

describe('mask cleaning', () => {
  it('fills pinholes and drops specks of a retrieved mask (minRegionFraction), keeping the object', () => {
    // Rectangle 1 with a 2×2 hole, plus a 2×2 speck far from it: both under 0.002 of the image.
    const m = rectMask(1);
    const q = RECTS[1];
    const hole = (q.y + 4) * W + q.x + 4;
    for (const k of [0, 1, W, W + 1]) m.data[hole + k] = 0;
    const speck = (H - 3) * W + W - 3;
    for (const k of [0, 1, W, W + 1]) m.data[speck + k] = 1;
    expect(4).toBeLessThan(0.002 * W * H);
    const prm = fromMask(m);
    const retrieve = (opts: RetrievalOptions) => retrieveInstances([{ classId: 0, peakValue: 1, prm }], [], () => classMap(), { width: W, height: H }, opts)[0].mask;
    expect(retrieve({ method: 'threshold', minRegionFraction: 0 }).data).toEqual(m.data);
    expect(retrieve({ method: 'threshold' }).data).toEqual(rectMask(1).data);
  });
});

describe('resizeMass', () => {
  it('preserves the total mass when shrinking and enlarging', () => {
    const p = prmForRect(0);
    for (const [w, h] of [[47, 31], [250, 200], [120, 90]]) {
      const r = resizeMass(p, w, h);
      expect(r.data.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    }
  });
});
