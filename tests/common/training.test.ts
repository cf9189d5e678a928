import { describe, expect, it } from 'vitest';
import { decodeHalf, encodeHalf, toHalf, HALF_TO_FLOAT } from '../../src/common/training/f16';
import {
  averagePrecision, bestThreshold, calibrateBias, centroidInit, classMap, classScores, evaluateHead, isHeldOut, lossAndGradient, peakScore, sameConceptRow, trainHead,
  type FeatureGrid, type Head, type Sample,
} from '../../src/common/training/peak-head';
import { rng } from './rng';

/** A grid of D features; "objects" are blobs of feature 0 (class 0) or 1 (class 1) on noise. */
function synthetic(rand: () => number, h: number, w: number, D: number, blobs: { k: number; y: number; x: number }[]): FeatureGrid {
  const data = new Float32Array(h * w * D);
  for (let i = 0; i < data.length; i++) data[i] = rand() * 0.5;
  for (const b of blobs) {
    for (let dy = -1; dy <= 1; dy++)
      for (let dx = -1; dx <= 1; dx++) {
        const y = b.y + dy;
        const x = b.x + dx;
        if (y < 0 || x < 0 || y >= h || x >= w) continue;
        data[(y * w + x) * D + b.k] += dy === 0 && dx === 0 ? 3 : 1.5;
      }
  }
  return { h, w, D, data };
}

function dataset(seed: number, n: number, D = 8): Sample[] {
  const rand = rng(seed);
  const out: Sample[] = [];
  for (let i = 0; i < n; i++) {
    const has = [rand() < 0.5, rand() < 0.4];
    const blobs = has.flatMap((on, k) => (on ? [{ k, y: 2 + Math.floor(rand() * 8), x: 2 + Math.floor(rand() * 10) }] : []));
    const features = synthetic(rand, 12, 14, D, blobs);
    out.push({
      features,
      labels: Int8Array.from(has.map((x) => (x ? 1 : 0))),
      points: blobs.filter(() => i % 2 === 0).map((b) => ({ k: b.k, cell: b.y * 14 + b.x })),
      boxes: blobs.map((b) => ({ k: b.k, x0: b.x - 1, y0: b.y - 1, x1: b.x + 1, y1: b.y + 1 })),
    });
  }
  return out;
}

function randomHead(seed: number, K: number, D: number): Head {
  const rand = rng(seed);
  return { K, D, weight: Float32Array.from({ length: K * D }, () => (rand() - 0.5) * 0.4), bias: Float32Array.from({ length: K }, () => rand() - 0.5) };
}

describe('float16', () => {
  it('round-trips representable values exactly and others within half precision', () => {
    for (const v of [0, 1, -2, 0.5, 65504, 2 ** -24, -0.333251953125]) expect(HALF_TO_FLOAT[toHalf(v)]).toBe(v);
    const rand = rng(3);
    const vals = Float32Array.from({ length: 2000 }, () => (rand() - 0.3) * 40);
    const back = decodeHalf(encodeHalf(vals));
    for (let i = 0; i < vals.length; i++) expect(Math.abs(back[i] - vals[i])).toBeLessThanOrEqual(Math.abs(vals[i]) * 2 ** -11 + 1e-7);
    expect(HALF_TO_FLOAT[toHalf(1e6)]).toBe(Infinity);
    expect(Number.isNaN(HALF_TO_FLOAT[toHalf(NaN)])).toBe(true);
  });
});

describe('peak stimulation gradient', () => {
  it('matches central differences (classification + localisation, float32 and float16 features)', () => {
    const samples = dataset(11, 3);
    const half = samples.map((s) => ({ ...s, features: { ...s.features, data: encodeHalf(s.features.data) } }));
    for (const set of [samples, half]) {
      const head = randomHead(5, 2, 8);
      const gw = new Float32Array(head.weight.length);
      const gb = new Float32Array(head.bias.length);
      const opts = { lambdaLoc: 0.7, locTemperature: 3 };
      lossAndGradient(head, set, opts, { weight: gw, bias: gb });
      const eps = 1e-4;
      const lossAt = (h: Head) => lossAndGradient(h, set, opts).loss;
      // The loss is smooth while the peak sets stay the same (a peak crossing its map's median is a jump).
      const peakSets = (h: Head) => JSON.stringify(set.map((s) => [0, 1].map((k) => peakScore(classMap(s.features, h.weight, k * 8, h.bias[k]), s.features.h, s.features.w).cells)));
      let checked = 0;
      for (let j = 0; j < head.weight.length; j++) {
        const plus = { ...head, weight: head.weight.slice() };
        const minus = { ...head, weight: head.weight.slice() };
        plus.weight[j] += eps;
        minus.weight[j] -= eps;
        if (peakSets(plus) !== peakSets(minus)) continue;
        const num = (lossAt(plus) - lossAt(minus)) / (2 * eps);
        expect(gw[j]).toBeCloseTo(num, 2);
        checked++;
      }
      expect(checked).toBeGreaterThanOrEqual(8);
      for (let k = 0; k < 2; k++) {
        const plus = { ...head, bias: head.bias.slice() };
        const minus = { ...head, bias: head.bias.slice() };
        plus.bias[k] += eps;
        minus.bias[k] -= eps;
        expect(gb[k]).toBeCloseTo((lossAt(plus) - lossAt(minus)) / (2 * eps), 2);
      }
      expect(gw.some((g) => Math.abs(g) > 1e-3)).toBe(true);
    }
  });
});

describe('trainHead', () => {
  it('learns both synthetic classes from image labels and points (held-out AP and pointwise rise)', () => {
    const train = dataset(1, 60);
    const val = dataset(2, 30);
    const init: Head = { K: 2, D: 8, weight: new Float32Array(16), bias: new Float32Array(2) };
    init.weight.set(centroidInit(train, 0, 8, 0.1), 0);
    init.weight.set(centroidInit(train, 1, 8, 0.1), 8);
    const before = evaluateHead(randomHead(9, 2, 8), val);
    const epochs: number[] = [];
    const { head, curve, stopped } = trainHead(init, train, val, { epochs: 15, lr: 0.05 }, (s) => void epochs.push(s.epoch));
    expect(stopped).toBe(false);
    expect(epochs).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
    expect(curve[curve.length - 1].loss).toBeLessThan(curve[0].loss);
    const after = evaluateHead(head, val);
    expect(after.mAP!).toBeGreaterThan(0.95);
    expect(after.mAP!).toBeGreaterThan(before.mAP!);
    expect(after.pointwise!).toBeGreaterThan(0.9);
    // the same seed gives the same head
    const again = trainHead(init, train, val, { epochs: 15, lr: 0.05 });
    expect(Array.from(again.head.weight)).toEqual(Array.from(head.weight));
  });

  it('moves a fine-tuned row by at most fineTuneLr per step and coordinate, the other at lr', () => {
    const train = dataset(3, 32);
    const init = randomHead(5, 2, 8);
    const steps = 10 * Math.ceil(32 / 16);
    const { head } = trainHead(init, train, [], { epochs: 10, lr: 0.05, fineTuneLr: 0.001, fineTune: [true, false], l2: 0 });
    const moved = (k: number) => Math.max(...Array.from({ length: 8 }, (_, d) => Math.abs(head.weight[k * 8 + d] - init.weight[k * 8 + d])));
    // Adam's step is at most about lr per coordinate (slightly more while its moments warm up)
    expect(moved(0)).toBeGreaterThan(0);
    expect(moved(0)).toBeLessThan(0.0015 * steps);
    expect(moved(1)).toBeGreaterThan(0.0015 * steps);
    expect(Math.abs(head.bias[0] - init.bias[0])).toBeLessThan(0.0015 * steps);
  });

  it('stops when onEpoch returns false', () => {
    const train = dataset(4, 10);
    const r = trainHead(randomHead(1, 2, 8), train, [], { epochs: 10 }, (s) => s.epoch < 3);
    expect(r.stopped).toBe(true);
    expect(r.curve.map((c) => c.epoch)).toEqual([1, 2, 3]);
    expect(r.curve[0].valAp).toBeNull();
  });
});

describe('sameConceptRow', () => {
  const D = 8;
  const rows = (...dirs: number[][]): Head => ({ K: dirs.length, D, weight: Float32Array.from(dirs.flat()), bias: new Float32Array(dirs.length) });
  const unit = (d: number, scale = 1) => Array.from({ length: D }, (_, i) => (i === d ? scale : 0));
  const samples = dataset(6, 40);

  it('takes the row that ranks the class and stands out in its feature direction', () => {
    const r = sameConceptRow(samples, rows(unit(2), unit(0), unit(3)), 0.9, 1.5)!;
    expect(r.row).toBe(1);
    expect(r.ap).toBeGreaterThan(0.9);
    expect(r.cosineRatio).toBeGreaterThan(1.5);
  });

  it('refuses a row that ranks the class as well as others align with it, or ranks it poorly', () => {
    // two rows about equally aligned: a concept that merely separates the images
    const twin = unit(0).map((v, i) => (i === 5 ? 0.3 : v));
    expect(sameConceptRow(samples, rows(unit(0), twin, unit(3)), 0.9, 1.5)).toBeNull();
    expect(sameConceptRow(samples, rows(unit(2), unit(3)), 0.9, 1.5)).toBeNull();
  });
});

describe('metrics', () => {
  it('average precision as sklearn computes it', () => {
    expect(averagePrecision([0.9, 0.8, 0.7, 0.1], [1, 1, 0, 0])).toBe(1);
    // sklearn.metrics.average_precision_score([1,0,1,0],[.9,.8,.7,.1]) = 0.8333
    expect(averagePrecision([0.9, 0.8, 0.7, 0.1], [1, 0, 1, 0])).toBeCloseTo(0.8333, 4);
    expect(averagePrecision([0.5, 0.5], [1, 0])).toBe(0.5);
    expect(averagePrecision([1, 2], [1, 1])).toBeNull();
  });

  it('bestThreshold and calibrateBias put the separating threshold on the target', () => {
    expect(bestThreshold([0, 1, 2, 3], [0, 0, 1, 1])).toBe(1.5);
    expect(bestThreshold([1, 2], [1, 1])).toBeNull();
    const train = dataset(7, 40);
    const head = randomHead(2, 2, 8);
    head.weight.set(centroidInit(train, 0, 8, 1), 0);
    const before = evaluateHead(head, train).ap[0];
    calibrateBias(head, train, 0, -0.5);
    const { scores, labels } = classScores(head, train, 0);
    expect(bestThreshold(scores, labels)).toBeCloseTo(-0.5, 5);
    expect(evaluateHead(head, train).ap[0]).toBeCloseTo(before!, 6);
  });

  it('the hold-out split is stable and about one in five', () => {
    const keys = Array.from({ length: 2000 }, (_, i) => `img${i}`);
    const held = keys.filter((k) => isHeldOut(k)).length;
    expect(held).toBeGreaterThan(340);
    expect(held).toBeLessThan(460);
    expect(keys.map((k) => isHeldOut(k))).toEqual(keys.map((k) => isHeldOut(k)));
  });
});
