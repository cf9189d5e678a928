// The image head's logits: global max per feature channel, then a linear layer (src/common/image-head.ts).
import { describe, expect, it } from 'vitest';
import { imageHeadLogits } from '../../src/common/image-head';

describe('imageHeadLogits', () => {
  // D = 2 channels over 3 cells: channel 0 = [1, 5, -2] (max 5), channel 1 = [-4, -1, -3] (max -1)
  const features = Float32Array.from([1, 5, -2, -4, -1, -3]);
  const weight = Float32Array.from([1, 0, 0.5, 2]); // class 0 reads channel 0; class 1 both
  const bias = Float32Array.from([0.25, -1]);

  it('is weight · (max over the cells per channel) + bias', () => {
    expect(Array.from(imageHeadLogits(features, 2, weight, bias))).toEqual([5.25, 0.5 * 5 + 2 * -1 - 1]);
  });

  it('gives 0 to classes beyond its rows (a project head appends classes of its own)', () => {
    expect(Array.from(imageHeadLogits(features, 2, weight, bias, 3))).toEqual([5.25, -0.5, 0]);
  });

  it('refuses features that are not whole maps and weights that do not fit', () => {
    expect(() => imageHeadLogits(features.subarray(0, 5), 2, weight, bias)).toThrow(/whole maps/);
    expect(() => imageHeadLogits(features, 2, weight.subarray(0, 3), bias)).toThrow(/3 weights for 2 classes/);
  });
});
