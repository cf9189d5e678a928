// The activation threshold slider's mask: threshold at tau·max, the peak's connected part, upsampled.
import { describe, expect, it } from 'vitest';
import { maskArea, maskBbox } from '../../src/common/mask';
import { regrowMask, toMapPoint, type GrayActivation } from '../../src/renderer/src/canvas/regrow';

/** 20×10 map: a bright blob (rows 2–5, cols 2–6) fading outwards, and a separate dimmer blob at cols 13–16. */
function twoBlobs(): GrayActivation {
  const w = 20, h = 10;
  const gray = new Uint8Array(w * h);
  for (let y = 2; y <= 5; y++) for (let x = 2; x <= 6; x++) gray[y * w + x] = x === 4 && y === 3 ? 255 : 200;
  for (let y = 1; y <= 7; y++) gray[y * w + 7] = 100; // a fainter rim joining the first blob
  for (let y = 2; y <= 6; y++) for (let x = 13; x <= 16; x++) gray[y * w + x] = 150;
  return { width: w, height: h, gray, min: 0, max: 2 };
}

describe('regrowMask', () => {
  it("keeps only the peak's part, and grows as the threshold falls", () => {
    const map = twoBlobs();
    const high = regrowMask(map, 0.7, { x: 4, y: 3 }, 20, 10); // level 0.7·2 = 1.4 → gray ≥ 179
    expect(maskArea(high)).toBe(20);
    expect(maskBbox(high)).toEqual([2, 2, 5, 4]);
    const low = regrowMask(map, 0.3, { x: 4, y: 3 }, 20, 10); // gray ≥ 77: the rim joins, the other blob does not
    expect(maskArea(low)).toBe(27);
    expect(maskBbox(low)).toEqual([2, 1, 6, 7]);
    const other = regrowMask(map, 0.3, { x: 14, y: 4 }, 20, 10);
    expect(maskBbox(other)).toEqual([13, 2, 4, 5]);
  });

  it('takes the nearest part when the peak itself is below the threshold, and upsamples to the image', () => {
    const map = twoBlobs();
    const m = regrowMask(map, 0.7, { x: 0, y: 0 }, 40, 20);
    expect([m.width, m.height]).toEqual([40, 20]);
    expect(maskArea(m)).toBe(20 * 4);
    expect(maskBbox(m)).toEqual([4, 4, 10, 8]);
    expect(maskArea(regrowMask(map, 1.01, { x: 4, y: 3 }, 40, 20))).toBe(0);
  });

  it('maps image points onto the map (pixel centres to pixel centres)', () => {
    expect(toMapPoint({ width: 20, height: 10 }, 40, 20, 8.5, 6.5)).toEqual({ x: 4, y: 3 });
  });
});
