// The decoder edit that lets method sam prefer SAM's whole-object mask (src/main/engine/mask-choice.ts): the
// edited graph chooses exactly as the original does with no bias, and takes the biased mask otherwise.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MASK_CHOICE_INPUT, withMaskChoiceInput } from '../../src/main/engine/mask-choice';
import { defaultSegmenterFiles, Segmenter, type SamEmbedding } from '../../src/main/engine/segmenter';
import { sessionOptions } from '../../src/main/engine/sessions';
import { repoRoot, sharedPath } from '../helpers/shared';

const decoderBytes = readFileSync(defaultSegmenterFiles().decoder);

describe('withMaskChoiceInput', () => {
  it('adds one float input of four to the decoder, once', () => {
    const edited = withMaskChoiceInput(decoderBytes);
    expect(edited).not.toBeNull();
    // The weights are copied as they are: the edit adds a node and an input, a few hundred bytes.
    expect(edited!.length - decoderBytes.length).toBeGreaterThan(0);
    expect(edited!.length - decoderBytes.length).toBeLessThan(300);
    expect(withMaskChoiceInput(edited!)).toBeNull();
  });

  it('leaves graphs without a single mask choice alone, and names a truncated one', () => {
    expect(withMaskChoiceInput(readFileSync(join(repoRoot, 'resources', 'models', 'iam.onnx')))).toBeNull();
    expect(() => withMaskChoiceInput(decoderBytes.subarray(0, 5000))).toThrow(/truncated protobuf/);
  });
});

describe('the edited decoder', () => {
  let seg: Segmenter;
  let edited: ort.InferenceSession;
  let original: ort.InferenceSession;
  let e: SamEmbedding;

  beforeAll(async () => {
    seg = await Segmenter.open(defaultSegmenterFiles(), 'cpu', sessionOptions(2));
    edited = await ort.InferenceSession.create(withMaskChoiceInput(decoderBytes)!, sessionOptions(2));
    original = await ort.InferenceSession.create(defaultSegmenterFiles().decoder, sessionOptions(2));
    e = await seg.embed(sharedPath('data', 'pennfudan', 'images', 'FudanPed00004.png'));
  });
  afterAll(async () => {
    await seg?.release();
    await edited?.release();
    await original?.release();
  });

  const feeds = (points: [number, number][], bias?: number[]) => ({
    image_embeddings: new ort.Tensor('float32', e.data, [1, 256, 64, 64]),
    point_coords: new ort.Tensor('float32', Float32Array.from(points.flat().map((v) => (v + 0.5) * e.scale - 0.5)), [1, points.length, 2]),
    point_labels: new ort.Tensor('float32', new Float32Array(points.length).fill(1), [1, points.length]),
    mask_input: new ort.Tensor('float32', new Float32Array(256 * 256), [1, 1, 256, 256]),
    has_mask_input: new ort.Tensor('float32', new Float32Array([0]), [1]),
    orig_im_size: new ort.Tensor('float32', new Float32Array([e.height, e.width]), [2]),
    ...(bias ? { [MASK_CHOICE_INPUT]: new ort.Tensor('float32', Float32Array.from(bias), [4]) } : {}),
  });
  const iou = (r: ort.InferenceSession.OnnxValueMapType) => (r.iou_predictions.data as Float32Array)[0];
  const same = (a: ort.InferenceSession.OnnxValueMapType, b: ort.InferenceSession.OnnxValueMapType) =>
    iou(a) === iou(b) && (a.masks.data as Float32Array).every((v, i) => v === (b.masks.data as Float32Array)[i]);

  it("chooses as SAM does without a bias: the best of the three by its IoU estimate", async () => {
    // One click high, one lower, two together (the first test image of tools/sam/golden.py).
    for (const points of [[[245, 60]], [[245, 150]], [[85, 120], [90, 250]]] as [number, number][][]) {
      const before = await original.run(feeds(points));
      expect(same(before, await edited.run(feeds(points, [0, 0, 0, 0])))).toBe(true);
      const each = await Promise.all([1, 2, 3].map((k) => edited.run(feeds(points, [0, 1, 2, 3].map((j) => (j === k ? 100 : 0))))));
      const best = each.reduce((a, b) => (iou(b) > iou(a) ? b : a));
      expect(same(before, best)).toBe(true);
    }
  });

  it('takes the whole-object mask through Segmenter.decode, and leaves three points to the single-mask output', async () => {
    expect(seg.choosesWhole).toBe(true);
    const click = [[245, 60]] as [number, number][];
    const whole = await edited.run(feeds(click, [0, 0, 0, 100]));
    const ours = await seg.decode(e, { points: [{ x: 245, y: 60, label: 1 }] }, e, 'whole');
    expect(ours.iou).toBeCloseTo(iou(whole), 5);
    const three = { points: [{ x: 245, y: 60, label: 1 as const }, { x: 245, y: 150, label: 1 as const }, { x: 250, y: 300, label: 1 as const }] };
    const a = await seg.decode(e, three, e, 'estimate');
    const b = await seg.decode(e, three, e, 'whole');
    expect(a.iou).toBe(b.iou);
  });
});
