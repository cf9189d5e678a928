import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { PeakLabelError } from '../../src/common/errors';
import { crfRefine } from '../../src/common/crf';
import { spansToMask } from '../../src/common/proposals/spans';
import { readBundle } from '../../src/main/engine/bundle';
import { iamMapAt, iamMasks, openIam, runIam, type IamMaps, type IamModel } from '../../src/main/engine/iam';
import { seededRandom } from '../../src/common/random';
import { freshOutput, repoRoot } from '../helpers/shared';

const models = join(repoRoot, 'resources', 'models');

const scratch = (name: string): string => freshOutput('iam', name);

async function expectCode(p: Promise<unknown>, code: string, text: RegExp): Promise<void> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(PeakLabelError);
  expect((err as PeakLabelError).code).toBe(code);
  expect((err as PeakLabelError).message).toMatch(text);
}

const CONFIG = { graph: { file: 'iam.onnx', inputs: [], outputs: [] }, threshold: 0.5, crf: false };

/** SqueezeNet's feature grid sizes for an input side (conv1 3×3/2, three 3×3/2 ceil-mode pools). */
function levels(side: number): [number, number, number] {
  const c1 = Math.floor((side - 3) / 2) + 1;
  const s4 = Math.ceil((c1 - 3) / 2) + 1;
  const s8 = Math.ceil((s4 - 3) / 2) + 1;
  return [s4, s8, Math.ceil((s8 - 3) / 2) + 1];
}

function features(H: number, W: number, value: (i: number) => number) {
  const [h4, h8, h16] = levels(H);
  const [w4, w8, w16] = levels(W);
  const t = (c: number, h: number, w: number) => ({ data: Float32Array.from({ length: c * h * w }, (_, i) => value(i)), dims: [1, c, h, w] });
  return { features_s4: t(128, h4, w4), features_s8: t(256, h8, w8), features: t(512, h16, w16) };
}

describe('openIam', () => {
  it('says IAM is unavailable for a bundle without iam.json or iam.onnx', async () => {
    const dir = scratch('no-iam');
    await expectCode(openIam(dir), 'MODEL_UNAVAILABLE', /iam\.json.*--method prm/);
    writeFileSync(join(dir, 'iam.json'), JSON.stringify(CONFIG));
    await expectCode(openIam(dir), 'MODEL_UNAVAILABLE', /iam\.onnx is missing/);
  });

  it('refuses a broken config or graph, naming the file', async () => {
    const dir = scratch('broken');
    writeFileSync(join(dir, 'iam.json'), '{"graph": ');
    await expectCode(openIam(dir), 'MODEL_INVALID', /iam\.json is not valid JSON/);
    writeFileSync(join(dir, 'iam.json'), JSON.stringify({ ...CONFIG, threshold: 2 }));
    await expectCode(openIam(dir), 'MODEL_INVALID', /threshold/);
    writeFileSync(join(dir, 'iam.json'), JSON.stringify(CONFIG));
    writeFileSync(join(dir, 'iam.onnx'), 'not a graph');
    await expectCode(openIam(dir), 'MODEL_INVALID', /iam\.onnx cannot be loaded/);
    copyFileSync(join(models, 'prm.onnx'), join(dir, 'iam.onnx')); // a valid graph with the wrong interface
    await expectCode(openIam(dir), 'MODEL_INVALID', /expected inputs \[peaks, head_weight, head_bias, features_s4, features_s8, features\]/);
  });

  it('runs the bundled IAM for any K and size: stride-8 maps, stride-16 PRMs that sum to 1, one mask per peak', async () => {
    const model = await openIam(models);
    const bundle = readBundle(models);
    const C = bundle.manifest.classes.length;
    const head = { weight: { data: bundle.headWeight, dims: [C, 512] }, bias: { data: bundle.headBias, dims: [C] } };
    const rnd = seededRandom(5);
    for (const [H, W, K] of [[160, 224, 2], [208, 144, 3]]) {
      const f = features(H, W, () => (rnd() < 0.5 ? 0 : rnd() * 4)); // ReLU-like: half the units off
      const [h16, w16] = f.features.dims.slice(2);
      const peaks = Array.from({ length: K }, (_, i) => ({ classIndex: 14, y: (i * 2.5) % h16, x: (i * 3.25) % w16 }));
      const maps = await runIam(model, { peaks, head, features: f });
      expect([maps.k, maps.height, maps.width]).toEqual([K, ...f.features_s8.dims.slice(2)]);
      expect([maps.prmHeight, maps.prmWidth]).toEqual([h16, w16]);
      for (let i = 0; i < K; i++) {
        const prm = maps.prm.subarray(i * h16 * w16, (i + 1) * h16 * w16);
        expect(prm.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 4);
      }
      expect(maps.iam.every((v) => v >= 0 && v <= 1)).toBe(true);
      const out = iamMasks(model, maps, { width: W, height: H }, { crf: false });
      expect(out).toHaveLength(K);
      for (const o of out) {
        expect([o.spans.width, o.spans.height]).toEqual([W, H]);
        expect(o.activation).toBeGreaterThanOrEqual(0);
        expect(o.activation).toBeLessThanOrEqual(1);
      }
      expect(iamMapAt(maps, 0, W, H)).toHaveLength(W * H);
    }
    expect((await runIam(model, { peaks: [], head, features: features(96, 96, () => 0) })).k).toBe(0);
  });
});

/** Logits of an h×w probability map upsampled to Ht×Wt (bilinear, align-corners off), minus logit(t). */
function referenceLogits(m: Float32Array, h: number, w: number, Ht: number, Wt: number, t: number): Float32Array {
  const logit = (p: number) => Math.log(p / (1 - p));
  const at = (n: number, N: number, x: number) => Math.min(n - 1, Math.max(0, ((x + 0.5) * n) / N - 0.5));
  const out = new Float32Array(Ht * Wt);
  for (let y = 0; y < Ht; y++) {
    for (let x = 0; x < Wt; x++) {
      const sy = at(h, Ht, y), sx = at(w, Wt, x);
      const y0 = Math.floor(sy), x0 = Math.floor(sx), y1 = Math.min(h - 1, y0 + 1), x1 = Math.min(w - 1, x0 + 1);
      const v = (yy: number, xx: number) => logit(m[yy * w + xx]);
      const top = v(y0, x0) + (v(y0, x1) - v(y0, x0)) * (sx - x0);
      const bottom = v(y1, x0) + (v(y1, x1) - v(y1, x0)) * (sx - x0);
      out[y * Wt + x] = top + (bottom - top) * (sy - y0) - logit(t);
    }
  }
  return out;
}

function configured(crf: false | object = false, threshold = 0.5): IamModel {
  return { session: { run: async () => ({}) }, config: { graph: { file: 'x', inputs: [], outputs: [] }, threshold, crf: crf as false } };
}

function mapsOf(iam: Float32Array, k: number, h: number, w: number): IamMaps {
  return { k, iam, width: w, height: h, prm: new Float32Array(k), prmWidth: 1, prmHeight: 1 };
}

const ones = (m: { runs: Int32Array }) => {
  let n = 0;
  for (let i = 0; i < m.runs.length; i += 3) n += m.runs[i + 2] - m.runs[i + 1];
  return n;
};

describe('iamMasks post-processing', () => {
  const H = 20, W = 30;
  const twoBlobs = new Float32Array(H * W);
  for (let y = 5; y < 15; y++) {
    for (let x = 2; x < 10; x++) twoBlobs[y * W + x] = 0.9; // the peak's instance
    for (let x = 18; x < 26; x++) twoBlobs[y * W + x] = 0.6; // a second, separate blob
  }
  const maps = mapsOf(twoBlobs, 1, H, W); // same size as the target: upsampling is the identity
  const target = { width: W, height: H };

  it('keeps the component that holds the peak, and reports its mean activation', () => {
    const [a] = iamMasks(configured(), maps, { ...target, peaks: [{ x: 5, y: 9 }] });
    expect(ones(a.spans)).toBe(80);
    expect(spansToMask(a.spans).data[9 * W + 20]).toBe(0);
    expect(a.activation).toBeCloseTo(0.9, 5);
    const [b] = iamMasks(configured(), maps, { ...target, peaks: [{ x: 27, y: 2 }] }); // off both: the nearest
    expect(spansToMask(b.spans).data[9 * W + 20]).toBe(1);
    expect(spansToMask(b.spans).data[9 * W + 5]).toBe(0);
  });

  it('fills pinholes under minRegionFraction of the target, and only those; by default none', () => {
    const h = 60, w = 80;
    const m = new Float32Array(h * w);
    for (let y = 10; y < 40; y++) for (let x = 10; x < 50; x++) m[y * w + x] = 0.9;
    for (const [y0, x0, n] of [[15, 15, 2], [25, 30, 4]]) for (let y = y0; y < y0 + n; y++) m.fill(0.1, y * w + x0, y * w + x0 + n); // 4 px < 9.6, 16 px ≥ it
    const target = { width: w, height: h, peaks: [{ x: 20, y: 20 }] };
    const [a] = iamMasks(configured(), mapsOf(m, 1, h, w), target, { minRegionFraction: 0.002 });
    const mask = spansToMask(a.spans);
    expect(mask.data[15 * w + 15]).toBe(1);
    expect(mask.data[25 * w + 30]).toBe(0);
    expect(ones(a.spans)).toBe(30 * 40 - 16);
    expect(ones(iamMasks(configured(), mapsOf(m, 1, h, w), target)[0].spans)).toBe(30 * 40 - 20);
  });

  it('applies the threshold (per call over the config) and keeps everything without peaks', () => {
    const [a] = iamMasks(configured(), maps, target, { threshold: 0.7 });
    expect(ones(a.spans)).toBe(80);
    expect(a.activation).toBeCloseTo((0.9 * 0.3) / (0.9 * 0.3 + 0.1 * 0.7), 5); // recalibrated: 0.7 ↦ 0.5
    const [edge] = iamMasks(configured(), maps, target, { threshold: 0.6 });
    expect(ones(edge.spans)).toBe(160); // a value equal to the threshold passes
    expect(ones(iamMasks(configured(), maps, target)[0].spans)).toBe(160);
    const [none] = iamMasks(configured(), maps, target, { threshold: 0.95 });
    expect([ones(none.spans), none.activation]).toEqual([0, 0]);
  });

  it('equals full bilinear upsampling (align-corners off) followed by the threshold', () => {
    const rnd = seededRandom(9);
    for (const [h, w, Ht, Wt] of [[6, 9, 45, 70], [5, 5, 5, 5], [7, 4, 60, 31]]) {
      const m = Float32Array.from({ length: h * w }, () => rnd());
      const [got] = iamMasks(configured(false, 0.6), mapsOf(m, 1, h, w), { width: Wt, height: Ht });
      const z = referenceLogits(m, h, w, Ht, Wt, 0.6);
      expect(Array.from(spansToMask(got.spans).data)).toEqual(Array.from(z, (v) => (v >= -1e-6 ? 1 : 0)));
    }
  });

  it('runs the CRF on the crop it can change, with the same mask as on the whole image', () => {
    const rnd = seededRandom(4);
    const h = 12, w = 16, Ht = 192, Wt = 256;
    // A blob with a soft rim (so the CRF has uncertain pixels) on a two-colour image.
    const m = Float32Array.from({ length: h * w }, (_, i) => {
      const y = Math.floor(i / w), x = i % w;
      return Math.min(0.99, Math.max(0.001, Math.exp(-((y - 4) ** 2 + (x - 5) ** 2) / 2) + 0.01 * rnd()));
    });
    const image = { width: Wt, height: Ht, data: new Uint8Array(Wt * Ht * 3) };
    for (let i = 0; i < Wt * Ht; i++) image.data.fill((i % Wt) < 90 ? 200 : 40, i * 3, i * 3 + 3);
    const crf = { iterations: 6, radius: 3, dilation: 2, uncertain: 0.1, maxSide: 96 };
    const [got] = iamMasks(configured(crf, 0.3), mapsOf(m, 1, h, w), { width: Wt, height: Ht, image }, { crf: true });
    const z = referenceLogits(m, h, w, Ht, Wt, 0.3);
    const full = crfRefine(Float32Array.from(z, (v) => 1 / (1 + Math.exp(-v))), image, crf);
    const want = Array.from(full, (p): number => (p >= 0.5 ? 1 : 0));
    expect(want.reduce((a, b) => a + b, 0)).toBeGreaterThan(100);
    expect(Array.from(spansToMask(got.spans).data)).toEqual(want);
  });

  it('uses the configured CRF only when the config says so, and only with the image', () => {
    const off = configured({ iterations: 2 });
    off.config.crfByDefault = false;
    expect(ones(iamMasks(off, maps, target)[0].spans)).toBe(160); // no image needed: no CRF
    expect(() => iamMasks(off, maps, target, { crf: true })).toThrow(/CRF needs the model-input image/);
    expect(() => iamMasks(configured({ iterations: 2 }), maps, target)).toThrow(/CRF needs/);
    const image = { width: W, height: H, data: new Uint8Array(W * H * 3).fill(128) };
    const [c] = iamMasks(configured(), maps, { ...target, image }, { crf: true });
    expect(c.spans.width).toBe(W);
  });

  it('refuses a graph output of the wrong size', async () => {
    const f = features(96, 128, () => 0);
    const [h8, w8] = f.features_s8.dims.slice(2);
    const [h16, w16] = f.features.dims.slice(2);
    const session = {
      run: async () => ({ iam: new ort.Tensor('float32', new Float32Array(h8 * (w8 - 1)), [1, h8, w8 - 1]), prm: new ort.Tensor('float32', new Float32Array(h16 * w16), [1, h16, w16]) }),
    };
    const model: IamModel = { session, config: configured().config };
    const head = { weight: { data: new Float32Array(512), dims: [1, 512] }, bias: { data: new Float32Array(1), dims: [1] } };
    await expectCode(runIam(model, { peaks: [{ classIndex: 0, y: 0, x: 0 }], head, features: f }), 'MODEL_INVALID', new RegExp(`as iam; expected \\[1,${h8},${w8}\\]`));
  });
});
