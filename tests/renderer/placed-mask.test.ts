// Vertex drag of an instance's outline, worked in the new outline's box: the same mask and RLE as
// rasterising the rings at image size and cutting the instance's holes back out of the full-size mask.
import { describe, expect, it } from 'vitest';
import { createMask, cropMask, fillHoles, maskArea, maskHasHoles, maskSubtract, masksEqual, type BinaryMask } from '../../src/common/mask';
import { maskToPolygons, polygonsToMask } from '../../src/common/polygon';
import { encodeMask, encodeWindowMask } from '../../src/common/rle';
import { outlineRings, reshapeOutline, type PlacedMask } from '../../src/renderer/src/canvas/placed-mask';
import { rng } from '../common/rng';

/** The edit at image size, as the editor saved it before: rings rasterised, the instance's holes cut out. */
function reshapeFullSize(inst: PlacedMask, rings: number[][], width: number, height: number): BinaryMask {
  const before = cropMask(inst.bits, -inst.ox, -inst.oy, width, height);
  const holes = maskSubtract(fillHoles(before), before);
  return maskSubtract(polygonsToMask(rings, width, height), holes);
}

describe('reshapeOutline', () => {
  it('gives the full-size mask and RLE for random instances with holes, outlines dragged across the image edges', () => {
    const rand = rng(44);
    let holesKept = 0, edges = 0, deleted = 0;
    for (let i = 0; i < 250; i++) {
      const width = 8 + Math.floor(rand() * 50), height = 8 + Math.floor(rand() * 50);
      // A ring-shaped blob (a disc with a hole or two), placed anywhere, often against an edge.
      const w = 5 + Math.floor(rand() * (width - 4)), h = 5 + Math.floor(rand() * (height - 4));
      const ox = i % 4 === 0 ? 0 : i % 4 === 1 ? width - w : Math.floor(rand() * (width - w + 1));
      const oy = i % 3 === 0 ? 0 : i % 3 === 1 ? height - h : Math.floor(rand() * (height - h + 1));
      const bits = createMask(w, h);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const d = Math.hypot((x + 0.5 - w / 2) / (w / 2), (y + 0.5 - h / 2) / (h / 2));
          bits.data[y * w + x] = d <= 1 && rand() < 0.97 ? 1 : 0;
        }
      }
      for (let k = 0; k < 1 + Math.floor(rand() * 2); k++) bits.data[Math.floor(h / 2 + (rand() - 0.5) * h * 0.4) * w + Math.floor(w / 2 + (rand() - 0.5) * w * 0.4)] = 0;
      const inst = { bits, ox, oy };
      // The editor's outline (image pixels, lightly simplified), a few vertices dragged, some off the image.
      const rings = maskToPolygons(bits, { tolerance: 1 }).map((r) => r.map((v, j) => v + (j % 2 ? oy : ox)));
      for (const r of rings) {
        for (let d = 0; d < 1 + Math.floor(rand() * 3); d++) {
          const k = 2 * Math.floor(rand() * (r.length / 2));
          r[k] += (rand() - 0.5) * width * 0.8;
          r[k + 1] += (rand() - 0.5) * height * 0.8;
        }
      }
      if (i % 25 === 0) for (const r of rings) for (let j = 0; j < r.length; j++) r[j] = j % 2 ? -5 - j : width + j; // dragged off the image: deleted
      const reference = reshapeFullSize(inst, rings, width, height);
      const out = reshapeOutline(inst, rings, width, height);
      expect(masksEqual(cropMask(out.bits, -out.ox, -out.oy, width, height), reference), `case ${i}`).toBe(true);
      if (maskArea(reference) === 0) {
        deleted++;
        expect(out.bits.data.includes(1)).toBe(false); // saved as a deletion, as before
        continue;
      }
      expect(encodeWindowMask(out.bits, out.ox, out.oy, height, width)).toEqual(encodeMask(reference));
      if (maskHasHoles(bits) && maskHasHoles(reference)) holesKept++;
      if (out.ox === 0 || out.oy === 0 || out.ox + out.bits.width === width || out.oy + out.bits.height === height) edges++;
    }
    expect(holesKept).toBeGreaterThan(50);
    expect(edges).toBeGreaterThan(100);
    expect(deleted).toBeGreaterThan(0);
  });

  it('keeps a hole the dragged outline still encloses', () => {
    // A 5×5 square with a one-pixel hole at its centre, at (2, 3) on a 10×10 image; the right edge dragged out to x = 9.
    const bits = createMask(5, 5);
    bits.data.fill(1);
    bits.data[2 * 5 + 2] = 0;
    const out = reshapeOutline({ bits, ox: 2, oy: 3 }, [[2, 3, 9, 3, 9, 8, 2, 8]], 10, 10);
    expect([out.ox, out.oy, out.bits.width, out.bits.height]).toEqual([2, 3, 7, 5]);
    expect(maskArea(out.bits)).toBe(7 * 5 - 1);
    expect(out.bits.data[2 * 7 + 2]).toBe(0);
  });
});

describe('outlineRings', () => {
  it("is the window mask's outline moved to its place on the image, at the tolerance asked for", () => {
    const bits = createMask(6, 5);
    for (let y = 1; y < 4; y++) for (let x = 1; x < 5; x++) bits.data[y * 6 + x] = 1;
    const inst = { bits, ox: 100, oy: 40 };
    for (const tolerance of [0.5, 1]) {
      const local = maskToPolygons(bits, { tolerance });
      expect(outlineRings(inst, tolerance)).toEqual(local.map((r) => r.map((v, j) => v + (j % 2 ? 40 : 100))));
    }
    expect(outlineRings(inst)).toEqual(outlineRings(inst, 0.5));
  });
});
