import { describe, expect, it } from 'vitest';
import { fillHoles, maskIou, type BinaryMask } from '../../src/common/mask';
import { felzenszwalb } from '../../src/common/proposals/felzenszwalb';
import { gaussianBlur, toColorSpace } from '../../src/common/proposals/image';
import { generateProposals } from '../../src/common/proposals/index';
import { fillSpanHoles, labelRuns, maskToSpans, spanClose, spanDilate, spanErode, spanArea, spanBbox, spanContour, spanIou, spansToMask, unionDisjoint } from '../../src/common/proposals/spans';
import { RECTS, rectImage, rectMask } from './proposals-synthetic';

describe('felzenszwalb', () => {
  it('recovers the background and the three rectangles', () => {
    const img = rectImage();
    const { width, height } = img;
    // Unsmoothed: blurring a perfect step leaves a 1-px ring of mixed pixels as its own component.
    const planes = toColorSpace(img, 'rgb');
    const seg = felzenszwalb(planes, width, height, 300, 20);
    // The noisy background may split into a few pieces; each rectangle must be one component.
    expect(seg.count).toBeLessThan(25);
    const runs = labelRuns(seg.labels, width, height, seg.count);
    RECTS.forEach((_, i) => {
      const best = Math.max(...runs.map((r) => maskIou(spansToMask({ width, height, runs: r }), rectMask(i))));
      expect(best).toBeGreaterThan(0.95);
    });
  });

  it('numbers components in raster order and is deterministic', () => {
    const img = rectImage();
    const planes = gaussianBlur(toColorSpace(img, 'lab'), img.width, img.height, 0.8);
    const a = felzenszwalb(planes, img.width, img.height, 50, 10);
    const b = felzenszwalb(planes, img.width, img.height, 50, 10);
    expect(a.labels).toEqual(b.labels);
    expect(a.labels[0]).toBe(0);
  });
});

describe('generateProposals', () => {
  it('has a proposal matching each rectangle (IoU > 0.9) and is deterministic', () => {
    const img = rectImage();
    const a = generateProposals(img);
    const b = generateProposals(img);
    expect(a.length).toBeGreaterThan(3);
    expect(a.map((p) => Array.from(p.mask.runs))).toEqual(b.map((p) => Array.from(p.mask.runs)));
    RECTS.forEach((_, i) => {
      const gt = maskToSpans(rectMask(i));
      expect(Math.max(...a.map((p) => spanIou(p.mask.runs, gt.runs)))).toBeGreaterThan(0.9);
    });
    // Unique masks with consistent metadata.
    const keys = new Set(a.map((p) => Array.from(p.mask.runs).join(',')));
    expect(keys.size).toBe(a.length);
    for (const p of a) {
      expect(p.area).toBe(spanArea(p.mask.runs));
      expect(p.bbox).toEqual(spanBbox(p.mask.runs));
    }
  });

  it('works at reduced resolution and records it in the masks', () => {
    const img = rectImage();
    const props = generateProposals(img, { maxSide: 60 });
    expect(props[0].mask.width).toBe(60);
    expect(props[0].mask.height).toBe(45);
    const gt = maskToSpans(rectMask(1, 60, 45));
    expect(Math.max(...props.map((p) => spanIou(p.mask.runs, gt.runs)))).toBeGreaterThan(0.9);
  });

  it('handles degenerate images (1×1, one row, uniform)', () => {
    for (const [w, h, fill] of [[1, 1, 7], [50, 1, 100], [1, 40, 3], [64, 48, 128]]) {
      const props = generateProposals({ width: w, height: h, data: new Uint8Array(w * h * 3).fill(fill) });
      expect(props.length, `${w}×${h}`).toBeGreaterThanOrEqual(1);
      // A uniform image is one region: the whole image.
      expect(props[0].area).toBe(props[0].mask.width * props[0].mask.height);
    }
  });

  it('rejects an image whose data does not match its size', () => {
    expect(() => generateProposals({ width: 4, height: 4, data: new Uint8Array(10) })).toThrow(RangeError);
  });
});

// Reference morphology on bitmaps: square (2r+1)² element, outside the image = foreground for erosion.
function referenceMorph(m: BinaryMask, r: number, dilate: boolean): BinaryMask {
  const { width: w, height: h } = m;
  const data = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let any = 0;
      let all = 1;
      for (let dy = -r; dy <= r; dy++) {
        for (let dx = -r; dx <= r; dx++) {
          const yy = y + dy;
          const xx = x + dx;
          const inside = yy >= 0 && yy < h && xx >= 0 && xx < w;
          if (inside && m.data[yy * w + xx]) any = 1;
          if (inside && !m.data[yy * w + xx]) all = 0;
        }
      }
      data[y * w + x] = dilate ? any : all;
    }
  }
  return { width: w, height: h, data };
}

/** Morphological gradient: dilation minus erosion. */
function referenceGradient(m: BinaryMask, r: number): BinaryMask {
  const dil = referenceMorph(m, r, true).data;
  const ero = referenceMorph(m, r, false).data;
  return { width: m.width, height: m.height, data: dil.map((v, i) => (v && !ero[i] ? 1 : 0)) };
}

function randomMask(w: number, h: number, seed: number): BinaryMask {
  let s = seed;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const data = new Uint8Array(w * h);
  // A few random rectangles and blobs, some touching the border.
  for (let k = 0; k < 4; k++) {
    const x0 = Math.floor(rnd() * w);
    const y0 = Math.floor(rnd() * h);
    const x1 = Math.min(w, x0 + 1 + Math.floor(rnd() * w * 0.6));
    const y1 = Math.min(h, y0 + 1 + Math.floor(rnd() * h * 0.6));
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) if (rnd() > 0.1) data[y * w + x] = 1;
  }
  return { width: w, height: h, data };
}

describe('run-length masks', () => {
  it('round-trip between bitmaps and runs', () => {
    const m = randomMask(23, 17, 7);
    expect(spansToMask(maskToSpans(m)).data).toEqual(m.data);
  });

  it('contour equals the morphological gradient (OpenCV border semantics) for r = 1, 2', () => {
    for (let seed = 1; seed <= 12; seed++) {
      const m = randomMask(31, 22, seed);
      for (const r of [1, 2]) {
        const got = spansToMask({ width: 31, height: 22, runs: spanContour(maskToSpans(m), r) });
        expect(got.data).toEqual(referenceGradient(m, r).data);
      }
    }
  });

  it('unions disjoint masks and measures IoU', () => {
    const a = maskToSpans(rectMask(0));
    const b = maskToSpans(rectMask(1));
    const u = unionDisjoint(a.runs, b.runs);
    expect(spanArea(u)).toBe(spanArea(a.runs) + spanArea(b.runs));
    expect(spanIou(u, a.runs)).toBeCloseTo(spanArea(a.runs) / spanArea(u), 10);
    // Touching halves of one row join into one run.
    expect(Array.from(unionDisjoint(Int32Array.from([0, 0, 3]), Int32Array.from([0, 3, 5])))).toEqual([0, 0, 5]);
  });
});

describe('fillSpanHoles', () => {
  it('equals fillHoles of the bitmap (4-connected background)', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const m = randomMask(29, 21, seed * 31);
      const got = spansToMask({ width: 29, height: 21, runs: fillSpanHoles(maskToSpans(m)) });
      expect(got.data, `seed ${seed}`).toEqual(fillHoles(m).data);
    }
  });
});

describe('run-length morphology', () => {
  it('dilation, erosion and closing equal bitmap morphology (outside = foreground for erosion)', () => {
    const morph = referenceMorph;
    for (let seed = 1; seed <= 10; seed++) {
      const m = randomMask(27, 19, seed * 7);
      const s = maskToSpans(m);
      for (const r of [1, 2]) {
        const grid = (runs: Int32Array) => spansToMask({ width: 27, height: 19, runs }).data;
        expect(grid(spanDilate(s, r))).toEqual(morph(m, r, true).data);
        expect(grid(spanErode(s, r))).toEqual(morph(m, r, false).data);
        expect(grid(spanClose(s, r))).toEqual(morph(morph(m, r, true), r, false).data);
      }
    }
  });
});
