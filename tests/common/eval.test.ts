// Hand-made cases; the expected numbers are worked out in the comments.
import { describe, expect, it } from 'vitest';
import type { CocoAnnotation, CocoDataset } from '../../src/common/coco/types';
import { averagePrecision, canonicalClassName, evaluateInstances, formatEvalTable } from '../../src/common/eval';
import { createMask } from '../../src/common/mask';
import { encodeMask } from '../../src/common/rle';

/** Axis-aligned box [x0, x1) × [y0, y1) as a polygon: exactly the pixels inside (integer corners). */
const box = (x0: number, y0: number, x1: number, y1: number): number[][] => [[x0, y0, x1, y0, x1, y1, x0, y1]];

let nextId = 1;
const ann = (image_id: number, category_id: number, seg: CocoAnnotation['segmentation'], extra: Partial<CocoAnnotation> = {}): CocoAnnotation => ({
  id: nextId++, image_id, category_id, segmentation: seg, area: 0, bbox: [0, 0, 0, 0], iscrowd: 0, ...extra,
});
const images = [1, 2, 3].map((id) => ({ id, file_name: `img${id}.jpg`, width: 10, height: 10 }));

describe('averagePrecision (VOC2010+ all points)', () => {
  it('integrates the monotone precision envelope', () => {
    expect(averagePrecision([0.5, 1, 1], [1, 1, 2 / 3])).toBeCloseTo(1, 12);
    // Envelope 1 up to recall 0.5, then 0.
    expect(averagePrecision([0.5, 0.5, 0.5], [1, 0.5, 1 / 3])).toBeCloseTo(0.5, 12);
    // recall .5 @ p 1, recall .5 @ p .5, recall 1 @ p 2/3 → 0.5·1 + 0.5·(2/3).
    expect(averagePrecision([0.5, 0.5, 1], [1, 0.5, 2 / 3])).toBeCloseTo(0.5 + 1 / 3, 12);
    expect(averagePrecision([], [])).toBe(0);
  });
});

describe('evaluateInstances', () => {
  // Image 1: cat A = [0,4)² (16 px), cat B = [5,9)² (16 px), dog E = [0,4)×[5,9).
  const A = box(0, 0, 4, 4), B = box(5, 5, 9, 9), E = box(0, 5, 4, 9);
  const gt: CocoDataset = {
    images,
    categories: [{ id: 1, name: 'cat' }, { id: 2, name: 'dog' }, { id: 3, name: 'cow' }],
    annotations: [ann(1, 1, A), ann(1, 1, B), ann(1, 2, E)],
  };

  it('ranks, matches once and integrates per threshold; mean over classes present', () => {
    const preds = [
      ann(1, 1, A, { score: 0.9 }), // IoU 1 with A
      ann(1, 1, box(5, 5, 9, 7), { score: 0.8 }), // 8 px inside B: IoU 8/16 = 0.5
      ann(1, 1, A, { score: 0.7 }), // duplicate of A: A is taken → false positive
      ann(1, 3, A, { score: 0.9 }), // cow has no ground truth: not scored, not averaged
    ];
    const r = evaluateInstances(gt, preds);
    const cat = r.classes.find((c) => c.name === 'cat')!;
    // t = .25 and .5: TP TP FP → recall .5 1 1, precision 1 1 2/3 → AP 1.
    // t = .75: TP FP FP → recall stays .5 at precision 1 → AP .5.
    expect(cat.ap).toEqual([1, 1, 0.5]);
    // ABO: A best 1, B best .5 → .75.
    expect(cat.abo).toBeCloseTo(0.75, 12);
    // Dog has ground truth but no prediction: AP 0, ABO 0. Cow has no ground truth: left out.
    expect(r.classes.map((c) => c.name)).toEqual(['cat', 'dog']);
    expect(r.mAP).toEqual([0.5, 0.5, 0.25]);
    // ABO over the three ground truths: (1 + .5 + 0) / 3.
    expect(r.abo).toBeCloseTo(0.5, 12);
    expect(r.gtInstances).toBe(3);
    expect(r.predInstances).toBe(3);
  });

  it('ranks by score across images', () => {
    const gt2: CocoDataset = { ...gt, annotations: [ann(1, 1, A), ann(2, 1, B)] };
    const preds = [
      ann(1, 1, A, { score: 0.9 }), // TP (image 1)
      ann(2, 1, A, { score: 0.95 }), // FP: image 2's cat is B
      ann(2, 1, B, { score: 0.5 }), // TP (image 2)
    ];
    // Rank: FP(.95) TP(.9) TP(.5) → recall 0 .5 1, precision 0 .5 2/3 → envelope 2/3 over [0, 1] → AP 2/3.
    const r = evaluateInstances(gt2, preds, { iouThresholds: [0.5] });
    expect(r.mAP[0]).toBeCloseTo(2 / 3, 12);
  });

  it('ignores predictions on crowd regions and does not count crowd as ground truth', () => {
    // Image 3: crowd C = [0,10)×[0,5), cat D = [0,4)×[6,10).
    const gt3: CocoDataset = { ...gt, annotations: [ann(3, 1, box(0, 0, 10, 5), { iscrowd: 1 }), ann(3, 1, box(0, 6, 4, 10))] };
    const preds = [
      ann(3, 1, box(0, 0, 4, 4), { score: 0.9 }), // inside the crowd: |p ∩ C| / |p| = 1 → ignored
      ann(3, 1, box(0, 6, 4, 10), { score: 0.6 }), // D exactly: TP
    ];
    // Without the crowd rule this would be FP TP → AP .5; with it, only TP → AP 1.
    const r = evaluateInstances(gt3, preds);
    expect(r.classes[0]).toMatchObject({ name: 'cat', gt: 1, ap: [1, 1, 1], abo: 1 });
    // Half inside the crowd (|p ∩ C| / |p| = 8/16 = .5): ignored at .25 and .5, false positive at .75,
    // where recall 1 is reached at precision 1/2 → AP .5.
    const half = [ann(3, 1, box(6, 3, 10, 7), { score: 0.9 }), ann(3, 1, box(0, 6, 4, 10), { score: 0.6 })];
    expect(evaluateInstances(gt3, half).classes[0].ap).toEqual([1, 1, 0.5]);
  });

  it('matches each prediction to the unmatched ground truth of highest IoU', () => {
    // Two touching ground truths L = [0,4)×[0,4), R = [4,8)×[0,4); prediction P1 = [1,5)×[0,4) overlaps
    // L by 12 (IoU 12/20 = .6) and R by 4 (IoU 4/28); P2 = [4,8)×[0,4) = R.
    const L = box(0, 0, 4, 4), R = box(4, 0, 8, 4);
    const g: CocoDataset = { ...gt, annotations: [ann(1, 1, L), ann(1, 1, R)] };
    const r = evaluateInstances(g, [ann(1, 1, box(1, 0, 5, 4), { score: 0.9 }), ann(1, 1, R, { score: 0.8 })], { iouThresholds: [0.5, 0.7] });
    // t .5: P1 → L, P2 → R: AP 1. t .7: P1 FP, P2 TP → recall 0 .5, precision 0 .5 → AP .25.
    expect(r.mAP).toEqual([1, 0.25]);
  });

  it('selects VOC classes by alias and matches a prediction dataset by file name and class name', () => {
    const g: CocoDataset = {
      images,
      categories: [{ id: 5, name: 'airplane' }, { id: 25, name: 'giraffe' }, { id: 67, name: 'dining table' }],
      annotations: [ann(1, 5, A), ann(1, 25, B), ann(2, 67, B)],
    };
    const p: CocoDataset = {
      images: [{ id: 70, file_name: 'renamed/dir/img1.jpg', width: 10, height: 10 }, { id: 71, file_name: 'img9.jpg', width: 10, height: 10 }],
      categories: [{ id: 1, name: 'aeroplane' }, { id: 2, name: 'giraffe' }, { id: 3, name: 'horse' }],
      annotations: [ann(70, 1, A, { score: 0.5 }), ann(70, 2, B, { score: 0.5 }), ann(71, 1, A, { score: 0.5 }), ann(70, 3, E, { score: 0.1 })],
    };
    const voc = evaluateInstances(g, p, { classes: 'voc20' });
    // Giraffe is no VOC class; aeroplane and diningtable are (diningtable has no prediction → AP 0).
    expect(voc.classes.map((c) => [c.name, c.ap[1]])).toEqual([['airplane', 1], ['dining table', 0]]);
    expect(voc.mAP[1]).toBe(0.5);
    expect(voc.notes.join(' ')).toMatch(/1 predicted image\(s\) are not in the ground truth/);
    expect(voc.notes.join(' ')).toMatch(/giraffe, horse/);
    const some = evaluateInstances(g, p, { classes: ['Giraffe', 'aeroplane'] });
    expect(some.classes.map((c) => c.name)).toEqual(['airplane', 'giraffe']);
    expect(some.mAP).toEqual([1, 1, 1]);
    expect(evaluateInstances(g, p).classes).toHaveLength(3);
    expect(canonicalClassName('TV')).toBe('tvmonitor');
    expect(canonicalClassName('potted_plant')).toBe('pottedplant');
  });

  it('counts pieces and holes of the scored predictions only', () => {
    // A 5×5 square with a 3×3 hole (COCO unites polygons, so the ring is an RLE).
    const ringMask = createMask(10, 10);
    for (let y = 0; y < 5; y++) for (let x = 0; x < 5; x++) ringMask.data[y * 10 + x] = x % 4 === 0 || y % 4 === 0 ? 1 : 0;
    const ring = encodeMask(ringMask);
    const twoPieces = [...box(0, 0, 2, 2), ...box(6, 6, 8, 8)];
    const r = evaluateInstances(gt, [ann(1, 1, ring, { score: 0.9 }), ann(1, 2, twoPieces, { score: 0.8 }), ann(1, 3, box(0, 0, 9, 9))]);
    // cat: 1 piece, 1 hole; dog: 2 pieces, 0 holes; cow has no ground truth and is not scored.
    expect(r.piecesPerMask).toBeCloseTo(1.5, 12);
    expect(r.holesPerMask).toBeCloseTo(0.5, 12);
    expect(formatEvalTable(r)).toContain('masks: 1.50 pieces, 0.50 holes on average');
  });

  it('formats a table with one row per class and the means', () => {
    const text = formatEvalTable(evaluateInstances(gt, [ann(1, 1, A, { score: 0.9 })]));
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^class\s+GT\s+pred\s+AP@0.25\s+AP@0.50\s+AP@0.75\s+ABO$/);
    expect(lines[2]).toMatch(/^cat\s+2\s+1\s+0.500\s+0.500\s+0.500\s+0.500$/);
    expect(lines[3]).toMatch(/^dog\s+1\s+0\s+0.000/);
    expect(lines[5]).toMatch(/^mAP\^r \(2 classes\)\s+3\s+1\s+0.250\s+0.250\s+0.250\s+0.333$/);
  });
});
