import { describe, expect, it } from 'vitest';
import { componentMask, connectedComponents, createMask, cropMask, fillHoles, maskArea, maskBbox, maskIou, masksEqual, type BinaryMask } from '../../src/common/mask';
import { maskHasHoles, maskToPolygons, polygonsToMask, polygonsToWindowMask, simplifyRing } from '../../src/common/polygon';
import { encodeMask, encodeWindowMask } from '../../src/common/rle';
import { rng } from './rng';

function maskOf(rows: string[]): BinaryMask {
  const m = createMask(rows[0].length, rows.length);
  rows.forEach((r, y) => [...r].forEach((c, x) => (m.data[y * m.width + x] = c === '1' ? 1 : 0)));
  return m;
}

describe('polygonsToMask', () => {
  it('fills pixels whose centres lie inside (pixel (x, y) spans [x, x+1]×[y, y+1])', () => {
    // The square [1,3]×[1,3] covers pixel centres (1.5|2.5, 1.5|2.5).
    const m = polygonsToMask([[1, 1, 3, 1, 3, 3, 1, 3]], 5, 4);
    expect(masksEqual(m, maskOf(['00000', '01100', '01100', '00000']))).toBe(true);
  });

  it('merges several rings by union', () => {
    const m = polygonsToMask([[0, 0, 1, 0, 1, 1, 0, 1], [1, 1, 3, 1, 3, 3, 1, 3]], 3, 3);
    expect(masksEqual(m, maskOf(['100', '011', '011']))).toBe(true);
  });

  it('rasterises in the rings\' box alone with the same pixels and RLE (also across the image edges)', () => {
    const rand = rng(17);
    let clipped = 0, outside = 0, multi = 0;
    for (let i = 0; i < 300; i++) {
      const w = 1 + Math.floor(rand() * 60), h = 1 + Math.floor(rand() * 60);
      // 1–3 random (possibly self-crossing) rings whose vertices reach up to 30 % beyond the image, fractional or not.
      const rings = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => {
        const cx = rand() * w, cy = rand() * h, r = 1 + rand() * Math.max(w, h) * 0.6;
        return Array.from({ length: 3 + Math.floor(rand() * 8) }, (_, k) => {
          const v = k % 2 === 0 ? cx + (rand() * 2 - 1) * r : cy + (rand() * 2 - 1) * r;
          return i % 3 === 0 ? Math.round(v) : v;
        });
      });
      if (rings.length > 1) multi++;
      const full = polygonsToMask(rings, w, h);
      const { mask, x0, y0 } = polygonsToWindowMask(rings, w, h);
      expect(masksEqual(cropMask(mask, -x0, -y0, w, h), full), `case ${i}`).toBe(true);
      if (maskArea(full) === 0) {
        outside++;
        expect(mask.width * mask.height).toBe(0);
        continue;
      }
      expect([x0, y0, mask.width, mask.height]).toEqual(maskBbox(full)); // the window is the raster's box
      expect(encodeWindowMask(mask, x0, y0, h, w)).toEqual(encodeMask(full));
      const [bx, by, bw, bh] = maskBbox(full);
      if (bx === 0 || by === 0 || bx + bw === w || by + bh === h) clipped++;
    }
    expect(clipped).toBeGreaterThan(100);
    expect(outside).toBeGreaterThan(0);
    expect(multi).toBeGreaterThan(100);
  });
});

describe('maskToPolygons', () => {
  it('outlines one pixel by its four corners, clockwise on screen', () => {
    expect(maskToPolygons(maskOf(['000', '010', '000']))).toEqual([[1, 1, 2, 1, 2, 2, 1, 2]]);
  });

  it('keeps only the turns of an L shape', () => {
    // 11
    // 1.   → outer corners (0,0) (2,0) (2,1) (1,1) (1,2) (0,2)
    expect(maskToPolygons(maskOf(['11', '10']))).toEqual([[0, 0, 2, 0, 2, 1, 1, 1, 1, 2, 0, 2]]);
  });

  it('traces 8-connected pixels as one ring and separate blobs as separate rings', () => {
    // Diagonal neighbours share the corner (1,1): one ring that touches itself there.
    expect(maskToPolygons(maskOf(['10', '01']))).toEqual([[0, 0, 1, 0, 1, 1, 2, 1, 2, 2, 1, 2, 1, 1, 0, 1]]);
    expect(maskToPolygons(maskOf(['101']))).toHaveLength(2);
    expect(maskToPolygons(maskOf(['000']))).toEqual([]);
  });

  it('re-rasterises exactly (IoU 1) for random blobs without holes', () => {
    const rand = rng(5);
    let checked = 0;
    for (let i = 0; i < 200; i++) {
      const w = 1 + Math.floor(rand() * 30), h = 1 + Math.floor(rand() * 30);
      const m = createMask(w, h);
      for (let j = 0; j < m.data.length; j++) m.data[j] = rand() < 0.45 ? 1 : 0;
      if (maskHasHoles(m)) continue;
      checked++;
      const back = polygonsToMask(maskToPolygons(m), w, h);
      expect(masksEqual(back, m), `case ${i}`).toBe(true);
    }
    expect(checked).toBeGreaterThan(40);
  });

  it('traces each 8-connected component by its own outer boundary, in raster order', () => {
    // Blobs that touch diagonally, nest inside each other's holes and wind around: every ring must
    // re-rasterise to exactly its component with holes filled.
    const rand = rng(9);
    let multi = 0;
    for (let i = 0; i < 150; i++) {
      const w = 2 + Math.floor(rand() * 30), h = 2 + Math.floor(rand() * 30);
      const m = createMask(w, h);
      const density = 0.2 + 0.5 * rand();
      for (let j = 0; j < m.data.length; j++) m.data[j] = rand() < density ? 1 : 0;
      const comps = connectedComponents(m, 8);
      const rings = maskToPolygons(m);
      expect(rings).toHaveLength(comps.count);
      if (comps.count > 1) multi++;
      rings.forEach((ring, k) => {
        const own = fillHoles(componentMask(comps, k + 1, w, h));
        expect(masksEqual(polygonsToMask([ring], w, h), own), `case ${i}, ring ${k}`).toBe(true);
      });
    }
    expect(multi).toBeGreaterThan(50);
  });

  it('fills holes when re-rasterised (so exports use RLE for them)', () => {
    const ring = maskOf(['111', '101', '111']);
    expect(maskHasHoles(ring)).toBe(true);
    expect(masksEqual(polygonsToMask(maskToPolygons(ring), 3, 3), maskOf(['111', '111', '111']))).toBe(true);
    // A gap to the border is no hole; a diagonal gap is (background is 4-connected).
    expect(maskHasHoles(maskOf(['111', '100', '111']))).toBe(false);
    expect(maskHasHoles(maskOf(['0110', '1001', '0110']))).toBe(true);
    expect(maskHasHoles(maskOf(['01', '10']))).toBe(false);
  });

  it('simplifies with Douglas–Peucker at 0.5 px and keeps IoU ≥ 0.98 on a disc', () => {
    const w = 80, h = 80;
    const disc = createMask(w, h);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) disc.data[y * w + x] = (x - 40) ** 2 + (y - 40) ** 2 < 30 ** 2 ? 1 : 0;
    const exact = maskToPolygons(disc);
    const simple = maskToPolygons(disc, { tolerance: 0.5 });
    expect(simple[0].length).toBeLessThan(exact[0].length);
    expect(maskIou(polygonsToMask(simple, w, h), disc)).toBeGreaterThanOrEqual(0.98);
    // Collinear points go; a triangle stays.
    expect(simplifyRing([0, 0, 1, 0, 2, 0, 3, 0, 3, 3, 0, 3], 0.1)).toEqual([0, 0, 3, 0, 3, 3, 0, 3]);
  });
});
