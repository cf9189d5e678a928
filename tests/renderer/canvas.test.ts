// Unit tests of the editor's canvas engine pieces that need no DOM: view math, brush raster, hit tests.
import { describe, expect, it } from 'vitest';
import { fitView, imageToScreen, levelFor, oneToOne, panBy, screenToImage, zoomAt } from '../../src/renderer/src/canvas/view';
import { paintStroke, stampDisc, strokeBounds } from '../../src/renderer/src/canvas/brush';
import { cropMask, createMask as emptyMask, maskArea } from '../../src/common/mask';
import { seededRandom } from '../../src/common/random';
import { hitInstance, hitPeak, hitVertex } from '../../src/renderer/src/canvas/hit';
import { changedBox, maskBox, maskRgba, type MaskBox, type PlacedBits } from '../../src/renderer/src/canvas/mask-bitmap';
import { nextSuggestion, suggestionOrder, suggestionsAbove, suggestionsBelow } from '../../src/renderer/src/canvas/review';

const count = (d: Uint8Array) => d.reduce((s, v) => s + v, 0);

describe('view transform', () => {
  it('fits the image centred with a margin', () => {
    const v = fitView(1000, 500, 816, 616, 8);
    expect(v.scale).toBeCloseTo(0.8);
    expect(imageToScreen(v, 0, 0)).toEqual({ x: 8, y: 108 });
    expect(imageToScreen(v, 1000, 500).x).toBeCloseTo(808);
  });

  it('round-trips screen and image coordinates', () => {
    const v = { scale: 2.5, tx: -130, ty: 47 };
    const s = imageToScreen(v, 123.25, 77.5);
    const i = screenToImage(v, s.x, s.y);
    expect(i.x).toBeCloseTo(123.25);
    expect(i.y).toBeCloseTo(77.5);
  });

  it('zooms about the cursor keeping the image point under it fixed', () => {
    const v = { scale: 0.5, tx: 10, ty: 20 };
    const before = screenToImage(v, 300, 200);
    const z = zoomAt(v, 3, 300, 200);
    expect(z.scale).toBeCloseTo(1.5);
    const after = screenToImage(z, 300, 200);
    expect(after.x).toBeCloseTo(before.x);
    expect(after.y).toBeCloseTo(before.y);
  });

  it('clamps zoom and goes to 1:1 around the viewport centre', () => {
    expect(zoomAt({ scale: 1, tx: 0, ty: 0 }, 1e6, 0, 0).scale).toBe(32);
    const v = { scale: 0.25, tx: 40, ty: 40 };
    const centre = screenToImage(v, 400, 300);
    const o = oneToOne(v, 800, 600);
    expect(o.scale).toBe(1);
    expect(screenToImage(o, 400, 300).x).toBeCloseTo(centre.x);
    expect(panBy(o, 5, -5).tx).toBe(o.tx + 5);
  });

  it('picks downscaled levels for large images and the full size only when zoomed in', () => {
    expect(levelFor(0.1, 8000, 6000)).toBe(1024);
    expect(levelFor(0.3, 8000, 6000)).toBe(4096);
    expect(levelFor(1, 8000, 6000)).toBe(8000);
    expect(levelFor(2, 400, 300)).toBe(400);
  });
});

describe('brush raster', () => {
  it('stamps a disc of the expected area and clips at the border', () => {
    const m = emptyMask(100, 100);
    stampDisc(m, 50, 50, 10, 1);
    expect(Math.abs(count(m.data) - Math.PI * 100)).toBeLessThan(12);
    expect(m.data[50 * 100 + 50]).toBe(1);
    expect(m.data[50 * 100 + 39]).toBe(0);
    const edge = emptyMask(20, 20);
    const d = stampDisc(edge, 0, 0, 5, 1);
    expect(d).toEqual({ x0: 0, y0: 0, x1: 6, y1: 6 });
    expect(stampDisc(edge, -50, -50, 5, 1)).toBeNull();
  });

  it('sets exactly the pixels whose centres lie within the radius, clipped at the borders', () => {
    const rand = seededRandom(11);
    for (let i = 0; i < 200; i++) {
      const m = emptyMask(1 + Math.floor(rand() * 40), 1 + Math.floor(rand() * 40));
      const cx = rand() * (m.width + 20) - 10, cy = rand() * (m.height + 20) - 10;
      const radius = i % 10 === 0 ? Math.floor(rand() * 8) : rand() * 15; // whole radii put centres on the rim
      const touched = stampDisc(m, cx, cy, radius, 1);
      const r = Math.max(0.5, radius);
      const expected = emptyMask(m.width, m.height);
      for (let y = 0; y < m.height; y++) {
        for (let x = 0; x < m.width; x++) {
          const dx = x + 0.5 - cx, dy = y + 0.5 - cy;
          if (dx * dx + dy * dy <= r * r) expected.data[y * m.width + x] = 1;
        }
      }
      expect(m.data, `case ${i}`).toEqual(expected.data);
      expect(touched === null).toBe(maskArea(expected) === 0);
    }
  });

  it('paints a continuous stroke and erases it again', () => {
    const m = emptyMask(200, 50);
    const dirty = paintStroke(m, [{ x: 10, y: 25 }, { x: 190, y: 25 }], 3, 1);
    for (let x = 10; x < 190; x++) expect(m.data[25 * 200 + x]).toBe(1);
    expect(dirty).toEqual({ x0: 7, y0: 22, x1: 194, y1: 29 });
    paintStroke(m, [{ x: 10, y: 25 }, { x: 190, y: 25 }], 4, 0);
    expect(maskArea(m)).toBe(0);
  });

  it('erasing inside keeps a hole (masks keep holes)', () => {
    const m = emptyMask(60, 60);
    paintStroke(m, [{ x: 30, y: 30 }], 25, 1);
    paintStroke(m, [{ x: 30, y: 30 }], 5, 0);
    expect(m.data[30 * 60 + 30]).toBe(0);
    expect(m.data[30 * 60 + 45]).toBe(1);
  });
});

describe('brush in a window', () => {
  it('paints in a window of strokeBounds exactly what it paints at full size', () => {
    const rand = seededRandom(7);
    for (let i = 0; i < 60; i++) {
      const W = 120, H = 90;
      const radius = i % 6 === 0 ? 0.3 : 0.5 + rand() * 20;
      // Fractional points, some off the image, so the window is clipped at the borders.
      const points = Array.from({ length: 1 + Math.floor(rand() * 6) }, () => ({ x: rand() * (W + 40) - 20, y: rand() * (H + 40) - 20 }));
      const full = emptyMask(W, H);
      const touched = paintStroke(full, points, radius, 1);
      const b = strokeBounds(points, radius);
      const x0 = Math.max(0, b.x0), y0 = Math.max(0, b.y0), x1 = Math.min(W, b.x1), y1 = Math.min(H, b.y1);
      if (touched) expect([touched.x0 >= x0, touched.y0 >= y0, touched.x1 <= x1, touched.y1 <= y1]).toEqual([true, true, true, true]);
      if (x1 <= x0 || y1 <= y0) {
        expect(touched).toBeNull();
        continue;
      }
      const win = emptyMask(x1 - x0, y1 - y0);
      paintStroke(win, points.map((p) => ({ x: p.x - x0, y: p.y - y0 })), radius, 1);
      expect(cropMask(win, -x0, -y0, W, H).data).toEqual(full.data);
    }
  });
});

describe('hit testing', () => {
  it('finds the nearest peak within the radius', () => {
    const peaks = [{ x: 10, y: 10 }, { x: 14, y: 10 }, { x: 100, y: 100 }];
    expect(hitPeak(peaks, 13, 10, 5)).toBe(1);
    expect(hitPeak(peaks, 50, 50, 5)).toBe(-1);
  });

  it('prefers the smallest instance where masks overlap', () => {
    const big = emptyMask(50, 50);
    stampDisc(big, 25, 25, 20, 1);
    const small = emptyMask(50, 50);
    stampDisc(small, 25, 25, 4, 1);
    const list = [{ id: 1, mask: big, x: 0, y: 0, area: count(big.data) }, { id: 2, mask: small, x: 0, y: 0, area: count(small.data) }];
    expect(hitInstance(list, 25, 25)).toBe(2);
    expect(hitInstance(list, 35, 25)).toBe(1);
    expect(hitInstance(list, 1, 1)).toBeNull();
    expect(hitInstance(list, -3, 70)).toBeNull();
    // A cropped mask placed at an offset is hit in image coordinates.
    const crop = emptyMask(4, 4);
    crop.data[0] = 1;
    expect(hitInstance([{ id: 3, mask: crop, x: 100, y: 200, area: 1 }], 100.5, 200.2)).toBe(3);
    expect(hitInstance([{ id: 3, mask: crop, x: 100, y: 200, area: 1 }], 0.5, 0.2)).toBeNull();
  });
});

describe('vertex hit testing', () => {
  it('finds the nearest outline vertex across rings', () => {
    const rings = [[0, 0, 10, 0, 10, 10, 0, 10], [20, 20, 30, 20, 30, 30]];
    expect(hitVertex(rings, 9, 1, 3)).toEqual({ ring: 0, index: 2 });
    expect(hitVertex(rings, 29, 29, 3)).toEqual({ ring: 1, index: 4 });
    expect(hitVertex(rings, 15, 15, 3)).toBeNull();
  });
});

describe('mask bitmap', () => {
  it('crops to the bounding box and keeps holes transparent', () => {
    const m = emptyMask(40, 30);
    for (let y = 5; y < 25; y++) for (let x = 10; x < 30; x++) m.data[y * 40 + x] = 1;
    m.data[15 * 40 + 20] = 0; // a one-pixel hole
    const box = maskBox(m)!;
    expect(box).toEqual({ x: 10, y: 5, w: 20, h: 20 });
    expect(maskBox(emptyMask(4, 4))).toBeNull();
    const px = maskRgba(m, box, [10, 20, 30], 100);
    const at = (i: number, j: number) => Array.from(px.subarray((j * box.w + i) * 4, (j * box.w + i) * 4 + 4));
    expect(at(0, 0)).toEqual([10, 20, 30, 100]);
    expect(at(19, 19)).toEqual([10, 20, 30, 100]);
    expect(at(10, 10)).toEqual([0, 0, 0, 0]); // image pixel (20, 15): the hole
  });

  it('colours exactly the set pixels of any box', () => {
    const rand = seededRandom(3);
    for (let i = 0; i < 50; i++) {
      const m = randomMask(rand, 1 + Math.floor(rand() * 30), 1 + Math.floor(rand() * 30));
      const x = Math.floor(rand() * m.width), y = Math.floor(rand() * m.height);
      const box = { x, y, w: 1 + Math.floor(rand() * (m.width - x)), h: 1 + Math.floor(rand() * (m.height - y)) };
      const px = maskRgba(m, box, [1, 2, 3], 4);
      for (let j = 0; j < box.h; j++) {
        for (let k = 0; k < box.w; k++) {
          const o = (j * box.w + k) * 4;
          const on = m.data[(box.y + j) * m.width + box.x + k] === 1;
          expect(Array.from(px.subarray(o, o + 4))).toEqual(on ? [1, 2, 3, 4] : [0, 0, 0, 0]);
        }
      }
    }
  });

  it('finds the smallest box where an edited mask differs, wherever the two masks lie', () => {
    const rand = seededRandom(5);
    let same = 0, moved = 0, unchanged = 0;
    for (let i = 0; i < 300; i++) {
      const prev: PlacedBits = { mask: randomMask(rand, 1 + Math.floor(rand() * 25), 1 + Math.floor(rand() * 25)), x: Math.floor(rand() * 10), y: Math.floor(rand() * 10) };
      let next: PlacedBits;
      if (i % 3 === 0) {
        // An edit in place (the fast path): a few pixels flipped, or none.
        next = { ...prev, mask: { ...prev.mask, data: prev.mask.data.slice() } };
        const flips = i % 9 === 0 ? 0 : 1 + Math.floor(rand() * 4);
        for (let f = 0; f < flips; f++) next.mask.data[Math.floor(rand() * next.mask.data.length)] ^= 1;
        same++;
      } else {
        next = { mask: randomMask(rand, 1 + Math.floor(rand() * 25), 1 + Math.floor(rand() * 25)), x: Math.floor(rand() * 10), y: Math.floor(rand() * 10) };
        moved++;
      }
      const x = Math.floor(rand() * next.mask.width), y = Math.floor(rand() * next.mask.height);
      const within = { x: next.x + x, y: next.y + y, w: 1 + Math.floor(rand() * (next.mask.width - x)), h: 1 + Math.floor(rand() * (next.mask.height - y)) };
      const expected = differingBox(prev, next, within);
      if (!expected) unchanged++;
      expect(changedBox(prev, next, within), `case ${i}`).toEqual(expected);
    }
    expect(Math.min(same, moved, unchanged)).toBeGreaterThan(20);
  });
});

function randomMask(rand: () => number, w: number, h: number) {
  const m = emptyMask(w, h);
  const density = rand();
  for (let j = 0; j < m.data.length; j++) m.data[j] = rand() < density ? 1 : 0;
  return m;
}

/** Reference for changedBox: every pixel of `within` compared. */
function differingBox(prev: PlacedBits, next: PlacedBits, within: MaskBox): MaskBox | null {
  const at = (p: PlacedBits, x: number, y: number) => {
    const i = x - p.x, j = y - p.y;
    return i >= 0 && j >= 0 && i < p.mask.width && j < p.mask.height ? p.mask.data[j * p.mask.width + i] : 0;
  };
  let x0 = Infinity, y0 = Infinity, x1 = -1, y1 = -1;
  for (let y = within.y; y < within.y + within.h; y++) {
    for (let x = within.x; x < within.x + within.w; x++) {
      if (at(prev, x, y) === at(next, x, y)) continue;
      x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x); y1 = Math.max(y1, y);
    }
  }
  return x1 < 0 ? null : { x: x0, y: y0, w: x1 - x0 + 1, h: y1 - y0 + 1 };
}

describe('review order', () => {
  const list = [
    { id: 1, source: 'suggested', score: 0.4 },
    { id: 2, source: 'accepted', score: 0.99 },
    { id: 3, source: 'suggested', score: 0.9 },
    { id: 4, source: 'suggested', score: 0.7 },
  ];
  it('goes through suggestions highest score first and wraps', () => {
    expect(suggestionOrder(list).map((s) => s.id)).toEqual([3, 4, 1]);
    expect(nextSuggestion(list, null)?.id).toBe(3);
    expect(nextSuggestion(list, 4)?.id).toBe(1);
    expect(nextSuggestion(list, 1)?.id).toBe(3);
    expect(suggestionsAbove(list, 0.7)).toEqual([3, 4]);
    expect(suggestionsBelow(list, 0.7)).toEqual([1]);
    expect(suggestionsBelow(list, 1)).toEqual([3, 4, 1]); // the accepted instance (0.99) is never touched
    expect(suggestionsBelow([{ id: 5, source: 'suggested', score: null }], 0)).toEqual([5]);
  });
});
