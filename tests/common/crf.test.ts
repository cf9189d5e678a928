import { describe, expect, it } from 'vitest';
import { crfMask, crfRefine, type CrfImage } from '../../src/common/crf';
import { maskIou, type BinaryMask } from '../../src/common/mask';

// A 96×80 image: noisy grey background, a sharp red rectangle; the "activation" is a blurry Gaussian
// blob centred a little off the rectangle, as an upsampled IAM would be.
const W = 96, H = 80;
const RECT = { x0: 24, y0: 18, x1: 70, y1: 58 }; // [x0, x1) × [y0, y1)

function syntheticImage(): CrfImage {
  const data = new Uint8Array(W * H * 3);
  let seed = 7;
  const noise = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5) * 24;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const inside = x >= RECT.x0 && x < RECT.x1 && y >= RECT.y0 && y < RECT.y1;
      const base = inside ? [200, 40, 40] : [110, 120, 115];
      for (let c = 0; c < 3; c++) data[3 * (y * W + x) + c] = Math.round(Math.min(255, Math.max(0, base[c] + noise())));
    }
  }
  return { width: W, height: H, data };
}

function rectMask(): BinaryMask {
  const data = new Uint8Array(W * H);
  for (let y = RECT.y0; y < RECT.y1; y++) for (let x = RECT.x0; x < RECT.x1; x++) data[y * W + x] = 1;
  return { width: W, height: H, data };
}

function blurryBlob(): Float32Array {
  const p = new Float32Array(W * H);
  const cx = 49, cy = 40, sx = 20, sy = 17;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) p[y * W + x] = 0.95 * Math.exp(-(((x - cx) / sx) ** 2 + ((y - cy) / sy) ** 2) / 2) + 0.02;
  }
  return p;
}

function threshold(p: Float32Array, t: number): BinaryMask {
  return { width: W, height: H, data: Uint8Array.from(p, (v) => (v >= t ? 1 : 0)) };
}

describe('crfRefine', () => {
  it('snaps a blurry blob to the sharp coloured rectangle under it', () => {
    const img = syntheticImage();
    const prob = blurryBlob();
    const before = maskIou(threshold(prob, 0.5), rectMask());
    const after = maskIou(crfMask(prob, img, 0.5), rectMask());
    expect(before).toBeLessThan(0.75);
    expect(after).toBeGreaterThan(0.95);
  });

  it('on a reduced grid (large boxes) still snaps to the rectangle, and leaves pixels far away alone', () => {
    const img = syntheticImage();
    const prob = blurryBlob();
    for (let x = 0; x < 4; x++) prob[x] = 0; // a far corner, confidently background
    const q = crfRefine(prob, img, { maxSide: 32 }); // the box is averaged down 3×
    expect(maskIou(threshold(q, 0.5), rectMask())).toBeGreaterThan(0.9);
    const far = new Float32Array(W * H);
    far.fill(0.01);
    far[40 * W + 48] = 0.6; // one uncertain pixel: only its neighbourhood may change
    const r = crfRefine(far, img);
    expect(r[0]).toBe(far[0]);
    expect(r[(H - 1) * W + W - 1]).toBe(far[(H - 1) * W + W - 1]);
  });

  it('leaves a confident map unchanged and keeps values in [0, 1]', () => {
    const img = syntheticImage();
    const sure = Float32Array.from(rectMask().data, (v) => (v ? 1 : 0));
    expect(crfRefine(sure, img)).toEqual(sure);
    const q = crfRefine(blurryBlob(), img);
    expect(Math.min(...q)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...q)).toBeLessThanOrEqual(1);
  });

  it('without the appearance kernel it only smooths: no snapping to colour edges', () => {
    const img = syntheticImage();
    const smoothOnly = maskIou(crfMask(blurryBlob(), img, 0.5, { appearanceWeight: 0 }), rectMask());
    expect(smoothOnly).toBeLessThan(0.8);
  });

  it('rejects a map whose size does not match the image', () => {
    expect(() => crfRefine(new Float32Array(10), syntheticImage())).toThrow(/96×80/);
  });
});
