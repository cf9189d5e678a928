import { describe, expect, it } from 'vitest';
import { createMask, cropMask, maskArea, maskBbox, maskIntersection, maskIou, maskUnion, type BinaryMask } from '../../src/common/mask';
import { polygonsToRle } from '../../src/common/polygon';
import {
  compressCounts, countsToBbox, countsToWindowMask, decodeRle, decompressCounts, encodeMask, encodeWindowMask, maskToCounts,
  rleArea, rleFromUncompressed, rleIou, rleMerge, rleToBbox, windowMaskToCounts,
} from '../../src/common/rle';
import { referenceForCases, type ReferenceCases } from './pycocotools-reference';
import { rng } from './rng';

/** Row-major mask from rows of 0/1 strings, e.g. ['011', '110']. */
function maskOf(rows: string[]): BinaryMask {
  const m = createMask(rows[0].length, rows.length);
  rows.forEach((r, y) => [...r].forEach((c, x) => (m.data[y * m.width + x] = c === '1' ? 1 : 0)));
  return m;
}

/** Run lengths the plain way, pixel by pixel down each column: the reference for the row-wise encoder. */
function columnMajorCounts(m: BinaryMask): number[] {
  const counts: number[] = [];
  let run = 0, prev = 0;
  for (let x = 0; x < m.width; x++) {
    for (let y = 0; y < m.height; y++) {
      const v = m.data[y * m.width + x];
      if (v !== prev) {
        counts.push(run);
        run = 0;
        prev = v;
      }
      run++;
    }
  }
  counts.push(run);
  return counts;
}

describe('RLE counts (hand-made)', () => {
  it('runs column-major and starts with zeros', () => {
    // Columns top to bottom: col0 = 0,1; col1 = 1,1; col2 = 1,0 → 0 | 1 1 1 1 | 0 → [1, 4, 1].
    expect(maskToCounts(maskOf(['011', '110']))).toEqual([1, 4, 1]);
    // Starts with a 1: the first run of zeros is 0 long.
    expect(maskToCounts(maskOf(['10', '00']))).toEqual([0, 1, 3]);
    expect(maskToCounts(maskOf(['00', '00']))).toEqual([4]);
    expect(maskToCounts(maskOf(['11', '11']))).toEqual([0, 4]);
    // Ends with a 1: no trailing zero run.
    expect(maskToCounts(maskOf(['00', '01']))).toEqual([3, 1]);
  });

  it('compresses as pycocotools: 5-bit groups + 48, deltas from the fourth count', () => {
    // [1, 4, 1] → '1', '4', '1' (single groups: 48 + value).
    expect(compressCounts([1, 4, 1])).toBe('141');
    // [5, 100, 3, 2]: 5 → '5'; 100 = 3·32 + 4 → (4|0x20)+48 = 'T', then 3 → '3'; 3 → '3';
    // the fourth is 2 − 100 = −98 = −4·32 + 30 → (30|0x20)+48 = 'n', then −4 → low 5 bits 28 (sign bit set, stop) → 'L'.
    expect(compressCounts([5, 100, 3, 2])).toBe('5T33nL');
    expect(decompressCounts('5T33nL')).toEqual([5, 100, 3, 2]);
    expect(decompressCounts('')).toEqual([]);
    // Large counts (a 30,000×30,000 image) survive.
    const big = [0, 900_000_000, 17, 123_456_789, 1];
    expect(decompressCounts(compressCounts(big))).toEqual(big);
  });

  it('rejects strings outside the alphabet or cut inside a count', () => {
    expect(() => decompressCounts('1 4')).toThrow(RangeError);
    expect(() => decompressCounts('T')).toThrow(/ends inside a count/);
    expect(() => decompressCounts('P'.repeat(40) + '0')).toThrow(/impossibly long count/);
  });

  it('computes area and bbox, including a run that wraps into the next column', () => {
    // 3×3, pixels (x=0,y=2) and (x=1,y=0): one run wrapping from column 0 into column 1.
    const m = maskOf(['010', '000', '100']);
    const r = encodeMask(m);
    expect(decompressCounts(r.counts)).toEqual([2, 2, 5]);
    expect(rleArea(r)).toBe(2);
    // Box from x 0..1 and, because the run wraps, all rows 0..2 (pycocotools' rule; also the true box here).
    expect(rleToBbox(r)).toEqual([0, 0, 2, 3]);
    expect(maskBbox(m)).toEqual([0, 0, 2, 3]);
    expect(rleToBbox(encodeMask(maskOf(['000', '000'])))).toEqual([0, 0, 0, 0]);
    expect(countsToBbox([4, 2, 3], 3, 3)).toEqual([1, 1, 1, 2]);
  });

  it('decodes back to the mask, from string or list counts', () => {
    const m = maskOf(['0110', '1111', '0010']);
    expect(decodeRle(encodeMask(m)).data).toEqual(m.data);
    const list = { size: [3, 4] as [number, number], counts: maskToCounts(m) };
    expect(decodeRle(rleFromUncompressed(list)).data).toEqual(m.data);
  });

  it('gives IoU and merges from runs equal to the pixel answers', () => {
    const a = maskOf(['1100', '1100', '0000']); // 4 px
    const b = maskOf(['0110', '0110', '0110']); // 6 px, overlap 2 → IoU 2 / 8
    expect(rleIou(encodeMask(a), encodeMask(b))).toBeCloseTo(0.25, 12);
    // As a crowd region b: intersection over a's area = 2 / 4.
    expect(rleIou(encodeMask(a), encodeMask(b), true)).toBeCloseTo(0.5, 12);
    expect(rleMerge([encodeMask(a), encodeMask(b)]).counts).toBe(encodeMask(maskUnion(a, b)).counts);
    expect(rleMerge([encodeMask(a), encodeMask(b)], true).counts).toBe(encodeMask(maskIntersection(a, b)).counts);
  });
});

describe('RLE of a window mask (image-sized counts without an image-sized mask)', () => {
  const rand = rng(20260311);

  /** A random window of a random image: anywhere from touching every edge to strictly inside. */
  function randomCase(i: number) {
    const w = 1 + Math.floor(rand() * 50), h = 1 + Math.floor(rand() * 50);
    const mw = 1 + Math.floor(rand() * w), mh = 1 + Math.floor(rand() * h);
    const edge = i % 5; // 0: top-left corner, 1: bottom-right corner, else anywhere
    const x0 = edge === 0 ? 0 : edge === 1 ? w - mw : Math.floor(rand() * (w - mw + 1));
    const y0 = edge === 0 ? 0 : edge === 1 ? h - mh : Math.floor(rand() * (h - mh + 1));
    const m = createMask(mw, mh);
    const density = [0, 0.03, 0.5, 0.97, 1][Math.floor(rand() * 5)];
    for (let j = 0; j < m.data.length; j++) m.data[j] = rand() < density ? 1 : 0;
    return { w, h, x0, y0, m };
  }

  it('gives exactly the counts and string of encoding the full-size mask', () => {
    let empty = 0, edges = 0;
    for (let i = 0; i < 400; i++) {
      const { w, h, x0, y0, m } = randomCase(i);
      const full = cropMask(m, -x0, -y0, w, h);
      expect(windowMaskToCounts(m, x0, y0, h, w)).toEqual(columnMajorCounts(full));
      expect(maskToCounts(full)).toEqual(columnMajorCounts(full));
      expect(encodeWindowMask(m, x0, y0, h, w)).toEqual(encodeMask(full));
      if (maskArea(m) === 0) empty++;
      if (maskArea(m) > 0 && (x0 === 0 || y0 === 0 || x0 + m.width === w || y0 + m.height === h)) edges++;
    }
    expect(empty).toBeGreaterThan(10);
    expect(edges).toBeGreaterThan(50);
  });

  it('round-trips with countsToWindowMask, and allows empty margins outside the image', () => {
    const m = createMask(6, 5);
    m.data[2 * 6 + 3] = 1; // one pixel, window-local (3, 2)
    // The window hangs off the top-left of a 10×8 image, but its foreground is inside.
    const counts = windowMaskToCounts(m, -2, -1, 8, 10);
    expect(counts).toEqual(maskToCounts(cropMask(m, 2, 1, 10, 8)));
    const back = countsToWindowMask(counts, 8, 10, [1, 1, 1, 1]);
    expect(back.mask.data).toEqual(new Uint8Array([1]));
    expect(windowMaskToCounts(createMask(3, 3), 500, 500, 8, 10)).toEqual([80]);
  });

  it('refuses foreground outside the image', () => {
    const m = createMask(2, 2);
    m.data[3] = 1;
    expect(() => windowMaskToCounts(m, 9, 0, 8, 10)).toThrow(RangeError);
    expect(() => windowMaskToCounts(m, 0, 7, 8, 10)).toThrow(RangeError);
  });
});

describe('RLE against pycocotools (random cases)', () => {
  const rand = rng(20261121);
  const masks: ReferenceCases['masks'] = [];
  for (let i = 0; i < 60; i++) {
    const w = 1 + Math.floor(rand() * 40), h = 1 + Math.floor(rand() * 40);
    const m = createMask(w, h);
    const density = [0, 0.02, 0.5, 0.98, 1][i % 5];
    // Blobs and noise: runs of every length, both first-pixel values, empty and full masks.
    for (let j = 0; j < m.data.length; j++) m.data[j] = rand() < density ? 1 : 0;
    if (i % 7 === 0) for (let j = 0; j < m.data.length; j++) m.data[j] = (j % w) < w / 2 ? 1 : 0;
    masks.push({ h, w, data: m.data });
  }
  // A long run forces multi-group counts with negative deltas.
  const big = createMask(600, 500);
  big.data.fill(1, 1000, 200_000);
  masks.push({ h: 500, w: 600, data: big.data });

  const polys: ReferenceCases['polys'] = [];
  for (let i = 0; i < 150; i++) {
    const w = 5 + Math.floor(rand() * 60), h = 5 + Math.floor(rand() * 60);
    const rings: number[][] = [];
    const nRings = 1 + Math.floor(rand() * 3);
    for (let r = 0; r < nRings; r++) {
      const n = 3 + Math.floor(rand() * 10);
      const ring: number[] = [];
      for (let k = 0; k < n; k++) {
        // Fractional, integer, negative and out-of-image coordinates; sometimes a repeated point.
        const x = i % 3 === 0 ? Math.round(rand() * (w + 10) - 5) : rand() * (w + 10) - 5;
        const y = i % 3 === 0 ? Math.round(rand() * (h + 10) - 5) : rand() * (h + 10) - 5;
        ring.push(+x.toFixed(2), +y.toFixed(2));
        if (rand() < 0.1) ring.push(+x.toFixed(2), +y.toFixed(2));
      }
      rings.push(ring);
    }
    polys.push({ h, w, polys: rings });
  }
  // Same-size pairs for IoU (plain and crowd): 40 masks of 23×17 after the others.
  const pairs: [number, number, boolean][] = [];
  const first = masks.length;
  for (let i = 0; i < 40; i++) {
    const m = createMask(23, 17);
    const density = 0.2 + 0.6 * rand();
    for (let j = 0; j < m.data.length; j++) m.data[j] = rand() < density ? 1 : 0;
    if (i === 39) m.data.fill(0);
    masks.push({ h: 17, w: 23, data: m.data });
  }
  for (let i = 0; i < 40; i++) pairs.push([first + i, first + ((i * 7 + 3) % 40), i % 2 === 1]);
  const ref = referenceForCases('rle-random', { masks, polys, pairs });

  it('encodes every random mask to the same string', () => {
    masks.forEach((m, i) => {
      const mask = { width: m.w, height: m.h, data: m.data };
      const r = encodeMask(mask);
      expect(r.counts, `mask ${i}`).toBe(ref.masks[i]);
      expect(decodeRle(r).data, `mask ${i}`).toEqual(m.data);
      expect(rleArea(r)).toBe(maskArea(mask));
      expect(rleToBbox(r)).toEqual(maskBbox(mask));
    });
  });

  it('rasterises every random polygon set to the same RLE', () => {
    polys.forEach((p, i) => {
      expect(polygonsToRle(p.polys, p.w, p.h).counts, `polygon set ${i}: ${JSON.stringify(p.polys)}`).toBe(ref.polys[i]);
    });
  });

  it('gives the IoUs of pycocotools, crowd included', () => {
    pairs.forEach(([i, j, crowd], k) => {
      const a = { size: [masks[i].h, masks[i].w] as [number, number], counts: ref.masks[i] };
      const b = { size: [masks[j].h, masks[j].w] as [number, number], counts: ref.masks[j] };
      expect(rleIou(a, b, crowd), `pair ${k}`).toBeCloseTo(ref.ious[k], 12);
    });
  });

  it('agrees with pixel IoU on random pairs', () => {
    const r2 = rng(7);
    for (let i = 0; i < 40; i++) {
      const a = createMask(23, 17), b = createMask(23, 17);
      for (let j = 0; j < a.data.length; j++) {
        a.data[j] = r2() < 0.4 ? 1 : 0;
        b.data[j] = r2() < 0.6 ? 1 : 0;
      }
      expect(rleIou(encodeMask(a), encodeMask(b))).toBeCloseTo(maskIou(a, b), 12);
      expect(rleMerge([encodeMask(a), encodeMask(b)]).counts).toBe(encodeMask(maskUnion(a, b)).counts);
    }
  });
});
