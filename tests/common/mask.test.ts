import { describe, expect, it } from 'vitest';
import {
  componentSummary, connectedComponents, createMask, cropMask, dilateMask, erodeMask, eulerNumber, fillHoles, largestComponent, maskArea,
  maskBbox, maskHasHoles, maskIou, maskSubtract, masksEqual, removeSmallRegions, resizeMaskNearest, resizeMaskNearestCropped, type BinaryMask,
} from '../../src/common/mask';
import { rng } from './rng';

function maskOf(rows: string[]): BinaryMask {
  const m = createMask(rows[0].length, rows.length);
  rows.forEach((r, y) => [...r].forEach((c, x) => (m.data[y * m.width + x] = c === '1' ? 1 : 0)));
  return m;
}
const rowsOf = (m: BinaryMask): string[] =>
  Array.from({ length: m.height }, (_, y) => Array.from(m.data.subarray(y * m.width, (y + 1) * m.width)).join(''));

describe('mask ops', () => {
  it('area, bbox, IoU', () => {
    const a = maskOf(['0000', '0110', '0100']);
    expect(maskArea(a)).toBe(3);
    expect(maskBbox(a)).toEqual([1, 1, 2, 2]);
    // Rows 0 and 2 have pixels, row 1 none: the box still spans all three rows.
    expect(maskBbox(maskOf(['0010', '0000', '1000']))).toEqual([0, 0, 3, 3]);
    expect(maskBbox(createMask(3, 3))).toEqual([0, 0, 0, 0]);
    const b = maskOf(['0000', '0011', '0000']); // overlap 1, union 4
    expect(maskIou(a, b)).toBe(0.25);
    expect(maskIou(createMask(2, 2), createMask(2, 2))).toBe(0);
    expect(rowsOf(maskSubtract(a, b))).toEqual(['0000', '0100', '0100']);
  });

  it('dilates and erodes with a square, borders neutral', () => {
    const dot = maskOf(['00000', '00000', '00100', '00000', '00000']);
    expect(rowsOf(dilateMask(dot, 1))).toEqual(['00000', '01110', '01110', '01110', '00000']);
    expect(maskArea(dilateMask(dot, 2))).toBe(25);
    expect(rowsOf(erodeMask(dilateMask(dot, 1), 1))).toEqual(rowsOf(dot));
    // A full mask does not erode at the image border.
    const full = maskOf(['111', '111']);
    expect(rowsOf(erodeMask(full, 1))).toEqual(['111', '111']);
  });

  it('labels 8- and 4-connected components', () => {
    const m = maskOf(['1100', '0010', '0001', '1000']);
    const c8 = connectedComponents(m, 8);
    expect(c8.count).toBe(2);
    expect(c8.areas.slice(1).sort()).toEqual([1, 4]);
    expect(connectedComponents(m, 4).count).toBe(4);
    expect(rowsOf(largestComponent(m))).toEqual(['1100', '0010', '0001', '0000']);
  });

  it('fills holes, crops and resizes', () => {
    expect(rowsOf(fillHoles(maskOf(['1110', '1010', '1110'])))).toEqual(['1110', '1110', '1110']);
    const m = maskOf(['0110', '0110']);
    expect(rowsOf(cropMask(m, 1, 0, 2, 2))).toEqual(['11', '11']);
    expect(rowsOf(cropMask(m, -1, 1, 3, 2))).toEqual(['001', '000']);
    const up = resizeMaskNearest(m, 8, 4);
    expect(rowsOf(up)).toEqual(['00111100', '00111100', '00111100', '00111100']);
    expect(masksEqual(resizeMaskNearest(up, 4, 2), m)).toBe(true);
  });

  it('removes small islands and fills small holes, keeping the largest island and the border background', () => {
    const m = maskOf([
      '1110000001',
      '1010000000',
      '1110011000',
      '0000011000',
      '0000000000',
      '1111100000',
      '1000100000',
      '1000100000',
      '1111100000',
    ]);
    // Islands: the 2×2 square (4 px) and the corner speck (1 px) go at 5 px; the 3×3 ring's 1-px hole is
    // filled, the big ring's 6-px hole is not (≥ 5), and the open background touching the border stays.
    expect(rowsOf(removeSmallRegions(m, 5))).toEqual([
      '1110000000',
      '1110000000',
      '1110000000',
      '0000000000',
      '0000000000',
      '1111100000',
      '1000100000',
      '1000100000',
      '1111100000',
    ]);
    // A larger limit fills the big ring's hole, drops the small ring, and never empties the mask.
    expect(rowsOf(removeSmallRegions(m, 10)).slice(5)).toEqual(['1111100000', '1111100000', '1111100000', '1111100000']);
    expect(maskArea(removeSmallRegions(m, 10_000))).toBe(20); // only the largest island is left, its hole filled
    expect(masksEqual(removeSmallRegions(m, 1), m)).toBe(true);
  });

  it('removeSmallRegions agrees with a plain flood-fill reference on random masks, at the border too', () => {
    const rand = rng(7);
    /** 8-connected islands, then 4-connected background pieces, by per-pixel flood fill over the whole image. */
    const reference = (m: BinaryMask, minArea: number): BinaryMask => {
      const { width: w, height: h } = m;
      const pieces = (data: Uint8Array, value: number, eight: boolean): number[][] => {
        const seen = new Uint8Array(w * h);
        const out: number[][] = [];
        for (let s = 0; s < w * h; s++) {
          if (data[s] !== value || seen[s]) continue;
          const piece = [s];
          seen[s] = 1;
          for (let n = 0; n < piece.length; n++) {
            const x = piece[n] % w;
            const y = (piece[n] - x) / w;
            for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) {
              if ((!dx && !dy) || (!eight && dx && dy)) continue;
              const xx = x + dx;
              const yy = y + dy;
              const j = yy * w + xx;
              if (xx >= 0 && yy >= 0 && xx < w && yy < h && data[j] === value && !seen[j]) {
                seen[j] = 1;
                piece.push(j);
              }
            }
          }
          out.push(piece);
        }
        return out;
      };
      const out = createMask(w, h);
      out.data.set(m.data);
      const islands = pieces(out.data, 1, true);
      const largest = islands.reduce((a, b) => (b.length > a.length ? b : a), [] as number[]);
      for (const p of islands) if (p !== largest && p.length < minArea) for (const i of p) out.data[i] = 0;
      for (const p of pieces(out.data, 0, false)) {
        const onBorder = p.some((i) => i % w === 0 || i % w === w - 1 || i < w || i >= w * (h - 1));
        if (!onBorder && p.length < minArea) for (const i of p) out.data[i] = 1;
      }
      return out;
    };
    for (let t = 0; t < 60; t++) {
      const w = 5 + Math.floor(rand() * 20);
      const h = 5 + Math.floor(rand() * 20);
      const m = createMask(w, h);
      const density = 0.3 + rand() * 0.5;
      for (let i = 0; i < w * h; i++) m.data[i] = rand() < density ? 1 : 0;
      const minArea = 1 + Math.floor(rand() * 12);
      expect(rowsOf(removeSmallRegions(m, minArea)), `case ${t}`).toEqual(rowsOf(reference(m, minArea)));
    }
  });

  it('resizes only the window sampling the foreground, with the same pixels as the full resize', () => {
    const rand = rng(33);
    let edges = 0;
    for (let i = 0; i < 300; i++) {
      const w = 1 + Math.floor(rand() * 20), h = 1 + Math.floor(rand() * 20);
      const m = createMask(w, h);
      // A random box of random pixels, sometimes against the border, sometimes empty.
      const bx = Math.floor(rand() * w), by = Math.floor(rand() * h);
      const bw = 1 + Math.floor(rand() * (w - bx)), bh = 1 + Math.floor(rand() * (h - by));
      const density = [0, 0.2, 0.7, 1][i % 4];
      for (let y = by; y < by + bh; y++) for (let x = bx; x < bx + bw; x++) m.data[y * w + x] = rand() < density ? 1 : 0;
      const tw = 1 + Math.floor(rand() * 60), th = 1 + Math.floor(rand() * 60); // up- and downscaling
      const full = resizeMaskNearest(m, tw, th);
      const { mask, x0, y0 } = resizeMaskNearestCropped(m, tw, th);
      expect(masksEqual(cropMask(mask, -x0, -y0, tw, th), full), `case ${i}`).toBe(true);
      if (maskArea(full) === 0) continue;
      const [fx, fy, fw, fh] = maskBbox(full);
      // Never larger than the source box's reach; exactly the box when every source pixel is sampled.
      if (tw >= w && th >= h) expect([x0, y0, mask.width, mask.height]).toEqual([fx, fy, fw, fh]);
      if (fx === 0 || fy === 0 || fx + fw === tw || fy + fh === th) edges++;
    }
    expect(edges).toBeGreaterThan(40);
    const none = resizeMaskNearestCropped(createMask(4, 4), 40, 40);
    expect([none.mask.width, none.mask.height]).toEqual([0, 0]);
  });

  it('agrees with plain flood fills on random masks (components, holes, Euler number)', () => {
    const rand = rng(11);
    for (let i = 0; i < 150; i++) {
      const w = 1 + Math.floor(rand() * 25), h = 1 + Math.floor(rand() * 25);
      const m = createMask(w, h);
      const density = 0.2 + 0.6 * rand();
      for (let j = 0; j < m.data.length; j++) m.data[j] = rand() < density ? 1 : 0;
      for (const conn of [4, 8] as const) {
        const ref = floodLabels(m, conn);
        const got = connectedComponents(m, conn);
        expect(got.count).toBe(ref.count);
        expect(Array.from(got.labels)).toEqual(Array.from(ref.labels));
        // The summary (no label image) has the same areas and first pixels as the labelling.
        const areas = [0], first = [-1];
        ref.labels.forEach((l, j) => {
          if (!l) return;
          if (areas[l] === undefined) (areas[l] = 0), (first[l] = j);
          areas[l]++;
        });
        expect(componentSummary(m, conn)).toEqual({ count: ref.count, areas, first });
      }
      // Holes by definition: background pixels that fillHoles sets.
      const holes = maskArea(fillHoles(m)) > maskArea(m);
      expect(maskHasHoles(m), `case ${i}`).toBe(holes);
      // Euler number = components − holes, holes counted as 4-connected background regions off the border.
      const filled = fillHoles(m);
      const holeMask = maskSubtract(filled, m);
      expect(eulerNumber(m)).toBe(connectedComponents(m, 8).count - connectedComponents(holeMask, 4).count);
    }
  });
});

/** Reference labelling: breadth-first flood fill in raster order. */
function floodLabels(m: BinaryMask, conn: 4 | 8): { labels: Int32Array; count: number } {
  const { width: w, height: h, data: d } = m;
  const labels = new Int32Array(w * h);
  let count = 0;
  for (let s = 0; s < d.length; s++) {
    if (!d[s] || labels[s]) continue;
    labels[s] = ++count;
    const queue = [s];
    while (queue.length) {
      const i = queue.pop()!;
      const x = i % w, y = Math.floor(i / w);
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          if ((dx === 0 && dy === 0) || (conn === 4 && dx !== 0 && dy !== 0)) continue;
          const xx = x + dx, yy = y + dy;
          if (xx < 0 || yy < 0 || xx >= w || yy >= h) continue;
          const j = yy * w + xx;
          if (d[j] && !labels[j]) {
            labels[j] = count;
            queue.push(j);
          }
        }
      }
    }
  }
  return { labels, count };
}
