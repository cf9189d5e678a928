import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { PeakLabelError } from '../../src/common/errors';
import { iamInstances, openIam, type IamModel, type IamRunner } from '../../src/main/engine/iam';
import { repoRoot, testOutput } from '../helpers/shared';

const models = join(repoRoot, 'resources', 'models');

function scratch(name: string): string {
  const dir = testOutput('iam', name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}

async function expectCode(p: Promise<unknown>, code: string, text: RegExp): Promise<void> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(PeakLabelError);
  expect((err as PeakLabelError).code).toBe(code);
  expect((err as PeakLabelError).message).toMatch(text);
}

const CONFIG = { graph: { file: 'iam.onnx', inputs: [], outputs: [] }, threshold: 0.5, crf: false };

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
    await expectCode(openIam(dir), 'MODEL_INVALID', /expected inputs \[prm, features_s4, features_s8, features\]/);
  });

  it('opens the bundled IAM and maps any K and size to one mask per PRM', async () => {
    const model = await openIam(models);
    const H = 64, W = 80, K = 2;
    const prm = new Float32Array(K * H * W);
    prm[20 * W + 30] = 1; // two point-like PRMs
    prm[H * W + 40 * W + 60] = 1;
    const feat = (c: number, s: number) => ({ data: new Float32Array(c * (H / s) * (W / s)).fill(1), dims: [1, c, H / s, W / s] });
    const out = await iamInstances(model, { prm, k: K, width: W, height: H, features: { features_s4: feat(128, 4), features_s8: feat(256, 8), features: feat(512, 16) } }, { crf: false });
    expect(out).toHaveLength(K);
    for (const o of out) {
      expect(o.mask.width).toBe(W);
      expect(o.mask.height).toBe(H);
      expect(o.activation).toBeGreaterThanOrEqual(0);
      expect(o.activation).toBeLessThanOrEqual(1);
    }
  });
});

// A runner that returns a chosen map isolates the post-processing (threshold, peak component, CRF).
function fixedModel(map: Float32Array, dims: [number, number, number], crf: false | object = false): IamModel {
  const session: IamRunner = { run: async () => ({ iam: new ort.Tensor('float32', map, dims) }) };
  return { session, config: { graph: { file: 'x', inputs: [], outputs: [] }, threshold: 0.5, crf: crf as false } };
}

describe('iamInstances post-processing', () => {
  const H = 20, W = 30;
  const twoBlobs = new Float32Array(H * W);
  for (let y = 5; y < 15; y++) {
    for (let x = 2; x < 10; x++) twoBlobs[y * W + x] = 0.9; // the peak's instance
    for (let x = 18; x < 26; x++) twoBlobs[y * W + x] = 0.6; // a second, separate blob
  }
  const feats = { features_s4: { data: new Float32Array(0), dims: [1, 128, 0, 0] }, features_s8: { data: new Float32Array(0), dims: [1, 256, 0, 0] }, features: { data: new Float32Array(0), dims: [1, 512, 0, 0] } };
  const input = { prm: new Float32Array(H * W), k: 1, width: W, height: H, features: feats };

  it('keeps the component that holds the peak, and reports its mean activation', async () => {
    const [a] = await iamInstances(fixedModel(twoBlobs, [1, H, W]), { ...input, peaks: [{ x: 5, y: 9 }] });
    expect(a.mask.data.reduce((s, v) => s + v, 0)).toBe(80);
    expect(a.mask.data[9 * W + 20]).toBe(0);
    expect(a.activation).toBeCloseTo(0.9, 5);
    const [b] = await iamInstances(fixedModel(twoBlobs, [1, H, W]), { ...input, peaks: [{ x: 27, y: 2 }] }); // off both: nearest
    expect(b.mask.data[9 * W + 20]).toBe(1);
    expect(b.mask.data[9 * W + 5]).toBe(0);
  });

  it('applies the threshold (per call over the config) and keeps everything without peaks', async () => {
    const [a] = await iamInstances(fixedModel(twoBlobs, [1, H, W]), input, { threshold: 0.7 });
    expect(a.mask.data.reduce((s, v) => s + v, 0)).toBe(80);
    expect(a.activation).toBeCloseTo((0.9 * 0.3) / (0.9 * 0.3 + 0.1 * 0.7), 5); // recalibrated: 0.7 ↦ 0.5
    const [edge] = await iamInstances(fixedModel(twoBlobs, [1, H, W]), input, { threshold: 0.6 });
    expect(edge.mask.data.reduce((s, v) => s + v, 0)).toBe(160); // a value equal to the threshold passes
    const [b] = await iamInstances(fixedModel(twoBlobs, [1, H, W]), input);
    expect(b.mask.data.reduce((s, v) => s + v, 0)).toBe(160);
  });

  it('uses the configured CRF only when the config says so by default', async () => {
    const off = fixedModel(twoBlobs, [1, H, W], { iterations: 2 });
    off.config.crfByDefault = false;
    const [a] = await iamInstances(off, input); // no image needed: no CRF
    expect(a.mask.data.reduce((s, v) => s + v, 0)).toBe(160);
    await expect(iamInstances(off, input, { crf: true })).rejects.toThrow(/CRF needs the model-input image/);
    await expect(iamInstances(fixedModel(twoBlobs, [1, H, W], { iterations: 2 }), input)).rejects.toThrow(/CRF needs/);
  });

  it('runs the CRF only with the image, and refuses a wrong-sized output', async () => {
    await expect(iamInstances(fixedModel(twoBlobs, [1, H, W]), input, { crf: true })).rejects.toThrow(/CRF needs the model-input image/);
    const image = { width: W, height: H, data: new Uint8Array(W * H * 3).fill(128) };
    const [c] = await iamInstances(fixedModel(twoBlobs, [1, H, W]), { ...input, image }, { crf: true });
    expect(c.mask.width).toBe(W);
    await expectCode(iamInstances(fixedModel(new Float32Array(H * (W - 1)), [1, H, W - 1]), input), 'MODEL_INVALID', /expected \[1,20,30\]/);
  });
});
