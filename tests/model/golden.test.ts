// The committed model bundles (SqueezeNet 1.1 and EfficientNet-Lite0) run in onnxruntime-node (CPU) and
// reproduce the PyTorch golden outputs: CRMs from backbone.onnx and PRMs (autograd reference of the
// pr_conv2d rule) from prm.onnx, and the image head's logits where the bundle has one.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { imageHeadLogits } from '../../src/common/image-head';
import { repoRoot } from '../helpers/shared';

const bundles = ['models', 'models-effnet-lite0'].map((d) => join(repoRoot, 'resources', d)).filter((d) => existsSync(join(d, 'manifest.json')));

for (const bundle of bundles) {
const manifest = JSON.parse(readFileSync(join(bundle, 'manifest.json'), 'utf8'));
const golden = JSON.parse(readFileSync(join(bundle, 'golden', 'index.json'), 'utf8'));
const D = manifest.head.channels as number;
const outputChannels = (name: string) => manifest.graphs.backbone.outputs.find((o: { name: string }) => o.name === name).shape[1];

function f32(file: string): Float32Array {
  const b = readFileSync(join(bundle, file));
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/** RGB HWC uint8 -> NCHW float32 per manifest.preprocess: channel order, minus mean, times scale. */
function toInput(rgb: Uint8Array, h: number, w: number): ort.Tensor {
  const { mean, channelOrder, scale } = manifest.preprocess;
  expect(['BGR', 'RGB']).toContain(channelOrder);
  const out = new Float32Array(3 * h * w);
  for (let c = 0; c < 3; c++) {
    const src = channelOrder === 'BGR' ? 2 - c : c; // BGR plane c comes from RGB channel 2-c
    for (let i = 0; i < h * w; i++) out[c * h * w + i] = (rgb[i * 3 + src] - mean[c]) * (scale ?? 1);
  }
  return new ort.Tensor('float32', out, [1, 3, h, w]);
}

/** max |a-b| over a map, relative to the map's max |b|. */
function relErr(a: Float32Array, b: Float32Array, offset: number, n: number): number {
  let err = 0;
  let max = 0;
  for (let i = offset; i < offset + n; i++) {
    err = Math.max(err, Math.abs(a[i] - b[i]));
    max = Math.max(max, Math.abs(b[i]));
  }
  return err / max;
}

describe(`model bundle ${manifest.modelId}: golden outputs (onnxruntime-node, CPU)`, async () => {
  const C = manifest.classes.length;
  const head = f32(manifest.head.file);
  const headWeight = new ort.Tensor('float32', head.slice(0, C * D), [C, D]);
  const headBias = new ort.Tensor('float32', head.slice(C * D), [C]);
  const backbone = await ort.InferenceSession.create(join(bundle, manifest.graphs.backbone.file));
  const prm = await ort.InferenceSession.create(join(bundle, manifest.graphs.prm.file));

  it('graphs declare the inputs and outputs the manifest lists', () => {
    expect(manifest.format).toBe('peaklabel-bundle');
    expect(manifest.version).toBe(1);
    expect(head.length).toBe(C * D + C);
    const names = (l: { name: string }[]) => l.map((x) => x.name);
    expect([...backbone.inputNames].sort()).toEqual(names(manifest.graphs.backbone.inputs).sort());
    expect([...backbone.outputNames].sort()).toEqual(names(manifest.graphs.backbone.outputs).sort());
    expect([...prm.inputNames].sort()).toEqual(names(manifest.graphs.prm.inputs).sort());
    expect([...prm.outputNames]).toEqual(['prm']);
  });

  for (const gc of golden.cases) {
    it(`${gc.name}: CRMs and PRMs match PyTorch within 1e-4 of each map's max`, async () => {
      const { width: w, height: h } = gc;
      const rgb = new Uint8Array(readFileSync(join(bundle, 'golden', gc.rgb.file)));
      expect(rgb.length).toBe(h * w * 3);
      const image = toInput(rgb, h, w);
      const feeds = { image, head_weight: headWeight, head_bias: headBias };
      const out = await backbone.run(feeds);
      const crm = out.crm.data as Float32Array;
      expect(out.crm.dims).toEqual(gc.crm.shape);
      expect(out.features.dims.slice(0, 2)).toEqual([1, D]);
      expect(out.features_s8.dims.slice(0, 2)).toEqual([1, outputChannels('features_s8')]);
      expect(out.features_s4.dims.slice(0, 2)).toEqual([1, outputChannels('features_s4')]);
      const goldCrm = f32(join('golden', gc.crm.file));
      const [, , ch, cw] = gc.crm.shape;
      for (let c = 0; c < C; c++) expect(relErr(crm, goldCrm, c * ch * cw, ch * cw)).toBeLessThanOrEqual(1e-4);
      if (manifest.imageHead) {
        // the engine's image-head logits on ORT's features = the kit's on PyTorch's
        const ih = f32(manifest.imageHead.file);
        const logits = imageHeadLogits(out.features.data as Float32Array, D, ih.slice(0, C * D), ih.slice(C * D));
        expect(gc.imageLogits).toHaveLength(C);
        for (let c = 0; c < C; c++) expect(Math.abs(logits[c] - gc.imageLogits[c])).toBeLessThanOrEqual(1e-3 * Math.max(1, Math.abs(gc.imageLogits[c])));
      }

      const peaks = new ort.Tensor('float32', Float32Array.from(gc.peaks.flat()), [gc.peaks.length, 3]);
      const res = await prm.run({ ...feeds, peaks });
      expect(res.prm.dims).toEqual([gc.peaks.length, h, w]);
      const maps = res.prm.data as Float32Array;
      const goldPrm = f32(join('golden', gc.prm.file));
      for (let k = 0; k < gc.peaks.length; k++) {
        expect(relErr(maps, goldPrm, k * h * w, h * w)).toBeLessThanOrEqual(1e-4);
        let sum = 0;
        let min = Infinity;
        for (let i = k * h * w; i < (k + 1) * h * w; i++) { sum += maps[i]; min = Math.min(min, maps[i]); }
        expect(min).toBeGreaterThanOrEqual(0);
        expect(sum).toBeCloseTo(1, 4);
      }
    });
  }
});
}
