// The activation threshold slider's mask: threshold at tau·max, the peak's connected part, upsampled —
// returned as its window of the image only, with the same pixels as the full-size upsampling.
import { describe, expect, it } from 'vitest';
import { cropMask, maskArea, maskBbox, masksEqual, resizeMaskNearest, type BinaryMask } from '../../src/common/mask';
import { encodeMask, encodeWindowMask } from '../../src/common/rle';
import { regrowMask, toMapPoint, type GrayActivation } from '../../src/renderer/src/canvas/regrow';
import { rng } from '../common/rng';

/** 20×10 map: a bright blob (rows 2–5, cols 2–6) fading outwards, and a separate dimmer blob at cols 13–16. */
function twoBlobs(): GrayActivation {
  const w = 20, h = 10;
  const gray = new Uint8Array(w * h);
  for (let y = 2; y <= 5; y++) for (let x = 2; x <= 6; x++) gray[y * w + x] = x === 4 && y === 3 ? 255 : 200;
  for (let y = 1; y <= 7; y++) gray[y * w + 7] = 100; // a fainter rim joining the first blob
  for (let y = 2; y <= 6; y++) for (let x = 13; x <= 16; x++) gray[y * w + x] = 150;
  return { width: w, height: h, gray, min: 0, max: 2 };
}

/** The regrown window pasted into an empty imageW×imageH mask. */
function regrowFull(map: GrayActivation, tau: number, peak: { x: number; y: number }, imageW: number, imageH: number): BinaryMask {
  const { mask, x0, y0 } = regrowMask(map, tau, peak, imageW, imageH);
  return cropMask(mask, -x0, -y0, imageW, imageH);
}

describe('regrowMask', () => {
  it("keeps only the peak's part, and grows as the threshold falls", () => {
    const map = twoBlobs();
    const high = regrowFull(map, 0.7, { x: 4, y: 3 }, 20, 10); // level 0.7·2 = 1.4 → gray ≥ 179
    expect(maskArea(high)).toBe(20);
    expect(maskBbox(high)).toEqual([2, 2, 5, 4]);
    const low = regrowFull(map, 0.3, { x: 4, y: 3 }, 20, 10); // gray ≥ 77: the rim joins, the other blob does not
    expect(maskArea(low)).toBe(27);
    expect(maskBbox(low)).toEqual([2, 1, 6, 7]);
    const other = regrowFull(map, 0.3, { x: 14, y: 4 }, 20, 10);
    expect(maskBbox(other)).toEqual([13, 2, 4, 5]);
  });

  it('takes the nearest part when the peak itself is below the threshold, and upsamples to the image', () => {
    const map = twoBlobs();
    const { mask, x0, y0 } = regrowMask(map, 0.7, { x: 0, y: 0 }, 40, 20);
    expect([x0, y0, mask.width, mask.height]).toEqual([4, 4, 10, 8]); // the window is the part's box
    expect(maskArea(mask)).toBe(20 * 4);
    const none = regrowMask(map, 1.01, { x: 4, y: 3 }, 40, 20);
    expect([none.mask.width, none.mask.height, maskArea(none.mask)]).toEqual([0, 0, 0]);
  });

  it('gives the same pixels and RLE as upsampling the whole map, for random maps, scales and peaks', () => {
    const rand = rng(21);
    let edges = 0, downscaled = 0;
    for (let i = 0; i < 200; i++) {
      const w = 3 + Math.floor(rand() * 25), h = 3 + Math.floor(rand() * 25);
      const gray = new Uint8Array(w * h);
      // A few bright blobs, some cut by the map's border.
      for (let b = 0; b < 1 + Math.floor(rand() * 3); b++) {
        const cx = rand() * w, cy = rand() * h, r = 1 + rand() * 6;
        for (let y = 0; y < h; y++) {
          for (let x = 0; x < w; x++) {
            const v = Math.round(255 * Math.max(0, 1 - Math.hypot(x - cx, y - cy) / r));
            gray[y * w + x] = Math.max(gray[y * w + x], v);
          }
        }
      }
      const map: GrayActivation = { width: w, height: h, gray, min: 0, max: 1 };
      // Mostly larger than the map (activation maps are coarse), sometimes smaller, at odd ratios.
      const imageW = Math.max(1, Math.round(w * (0.5 + rand() * 6))), imageH = Math.max(1, Math.round(h * (0.5 + rand() * 6)));
      if (imageW < w || imageH < h) downscaled++;
      const peak = { x: rand() * w, y: rand() * h };
      const tau = 0.1 + rand() * 0.8;
      // Reference: the part at map resolution, upsampled at full size as before.
      const reference = resizeMaskNearest(regrowFull(map, tau, peak, w, h), imageW, imageH);
      const { mask, x0, y0 } = regrowMask(map, tau, peak, imageW, imageH);
      expect(masksEqual(cropMask(mask, -x0, -y0, imageW, imageH), reference), `case ${i}`).toBe(true);
      if (maskArea(reference) > 0) {
        expect(encodeWindowMask(mask, x0, y0, imageH, imageW)).toEqual(encodeMask(reference));
        const [bx, by, bw, bh] = maskBbox(reference);
        if (bx === 0 || by === 0 || bx + bw === imageW || by + bh === imageH) edges++;
      }
    }
    expect(edges).toBeGreaterThan(30);
    expect(downscaled).toBeGreaterThan(10);
  });

  it('maps image points onto the map (pixel centres to pixel centres)', () => {
    expect(toMapPoint({ width: 20, height: 10 }, 40, 20, 8.5, 6.5)).toEqual({ x: 4, y: 3 });
  });
});
