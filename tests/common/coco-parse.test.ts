import { describe, expect, it } from 'vitest';
import { parseCoco, parseCocoResults, parseCocoText } from '../../src/common/coco/parse';
import { annotationFromMask, maskToSegmentation, segmentationToMask } from '../../src/common/coco/segmentation';
import { PeakLabelError } from '../../src/common/errors';
import { createMask } from '../../src/common/mask';
import { compressCounts } from '../../src/common/rle';

const FILE = '/data/gt.json';
const square = [[1, 1, 3, 1, 3, 3, 1, 3]]; // 4 pixels on a 4×4 image

function dataset(annotations: unknown[], extra: Record<string, unknown> = {}): unknown {
  return {
    images: [{ id: 1, file_name: 'a.jpg', width: 4, height: 4 }, { id: 2, file_name: 'b.jpg', width: 5, height: 3 }],
    categories: [{ id: 7, name: 'cat' }],
    annotations,
    ...extra,
  };
}
const ann = (over: Record<string, unknown>) => ({ id: 1, image_id: 1, category_id: 7, segmentation: square, area: 4, bbox: [1, 1, 2, 2], iscrowd: 0, ...over });

describe('parseCoco', () => {
  it('reads a valid file without problems and keeps extra fields', () => {
    const { dataset: d, problems } = parseCoco(dataset([ann({ note: 'x' })], { info: { year: 2026 } }), FILE);
    expect(problems).toEqual([]);
    expect(d.annotations[0]).toMatchObject({ id: 1, iscrowd: 0, note: 'x', bbox: [1, 1, 2, 2] });
    expect(d.info).toEqual({ year: 2026 });
  });

  it('throws COCO_INVALID for text that is not JSON', () => {
    expect(() => parseCocoText('{"images": [', FILE)).toThrow(new RegExp(`^${FILE} is not valid JSON`));
    expect(parseCocoText(JSON.stringify(dataset([ann({})])), FILE).dataset.annotations).toHaveLength(1);
  });

  it('throws COCO_INVALID for unusable files', () => {
    for (const bad of [null, 'text', [], { annotations: [] }, { images: {} }]) {
      let err: unknown;
      try {
        parseCoco(bad, FILE);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(PeakLabelError);
      expect((err as PeakLabelError).code).toBe('COCO_INVALID');
      expect((err as PeakLabelError).message).toContain(FILE);
    }
  });

  it('skips bad annotations with one problem each, naming file, annotation and image', () => {
    const { dataset: d, problems } = parseCoco(
      dataset([
        ann({ id: 1 }),
        ann({ id: 2, image_id: 99 }),
        ann({ id: 3, category_id: 42 }),
        ann({ id: 4, segmentation: [[1, 1, 3, 1, 3]] }),
        ann({ id: 5, segmentation: [[1, 1, 3, 1]] }),
        ann({ id: 6, segmentation: { size: [3, 5], counts: compressCounts([16]) } }),
        ann({ id: 7, segmentation: { size: [4, 4], counts: [3, 2] } }),
        ann({ id: 1 }),
        ann({ id: 8, segmentation: { size: [4, 4], counts: 'ab cd' } }),
        ann({ id: 9, iscrowd: 2 }),
        { image_id: 1, category_id: 7, segmentation: square },
        ann({ id: 10, segmentation: undefined }),
        ann({ id: 11, segmentation: [[1, 1, 3, 1, 3, 1e9]] }),
      ]),
      FILE,
    );
    expect(d.annotations.map((a) => a.id)).toEqual([1]);
    const messages = problems.map((p) => p.message);
    expect(problems.every((p) => p.code === 'COCO_INVALID' && p.file === FILE)).toBe(true);
    expect(messages).toEqual([
      `${FILE}: annotation 2 refers to image 99, which is not in "images"; it was skipped.`,
      `${FILE}: annotation 3 (image 1) refers to category 42, which is not in "categories"; it was skipped.`,
      `${FILE}: annotation 4 (image 1) has an odd-length polygon (its polygon has 5 coordinates); it was skipped.`,
      `${FILE}: annotation 5 (image 1) has a polygon with fewer than 3 points (its polygon has 4 coordinates); it was skipped.`,
      `${FILE}: annotation 6 (image 1) has an RLE of size 5×3 (width×height) on a 4×4 image; it was skipped.`,
      `${FILE}: annotation 7 (image 1) has RLE counts that cover 5 pixels, not 4×4 = 16; it was skipped.`,
      `${FILE}: annotation 1 repeats an annotation id; the later entry was skipped.`,
      `${FILE}: annotation 8 (image 1) has an unreadable RLE string (RLE string has an invalid character at 2); it was skipped.`,
      `${FILE}: annotation 9 (image 1) has "iscrowd" 2 (expected 0 or 1); it was skipped.`,
      `${FILE}: annotation #11 has no integer "id" (missing); it was skipped.`,
      `${FILE}: annotation 10 (image 1) has no "segmentation"; it was skipped.`,
      `${FILE}: annotation 11 (image 1) has a polygon coordinate far outside the 4×4 image (its polygon, index 5: 1000000000); it was skipped.`,
    ]);
  });

  it('repairs a bad bbox or area from the mask and says so; fills missing ones silently', () => {
    const { dataset: d, problems } = parseCoco(
      dataset([ann({ id: 1, bbox: [1, 1, -2, 2], area: 'big' }), ann({ id: 2, bbox: undefined, area: undefined })]),
      FILE,
    );
    expect(d.annotations.map((a) => [a.bbox, a.area])).toEqual([[[1, 1, 2, 2], 4], [[1, 1, 2, 2], 4]]);
    expect(problems.map((p) => p.message)).toEqual([
      `${FILE}: annotation 1 (image 1) has an invalid "bbox" ([1,1,-2,2]); it was replaced by the mask's bounding box.`,
      `${FILE}: annotation 1 (image 1) has an invalid "area" ("big"); it was replaced by the mask's pixel count.`,
    ]);
  });

  it('reports bad images and categories and skips their annotations', () => {
    const { dataset: d, problems } = parseCoco(
      {
        images: [{ id: 1, file_name: 'a.jpg', width: 0, height: 4 }, { id: 2, width: 3, height: 3 }],
        categories: [{ id: 7, name: '' }],
        annotations: [ann({})],
      },
      FILE,
    );
    expect(d.images).toEqual([]);
    expect(d.categories).toEqual([]);
    expect(problems.map((p) => p.message)).toEqual([
      `${FILE}: image 1 (a.jpg) has no valid width/height (0×4); it was skipped.`,
      `${FILE}: image 2 has no "file_name"; it was skipped.`,
      `${FILE}: category 7 has no "name"; it was skipped.`,
      `${FILE}: annotation 1 refers to image 1, which is not in "images"; it was skipped.`,
    ]);
  });

  it('accepts RLE with list counts (crowd), a flat polygon, and boolean iscrowd', () => {
    const { dataset: d, problems } = parseCoco(
      dataset([
        ann({ id: 1, iscrowd: true, segmentation: { size: [4, 4], counts: [5, 2, 2, 2, 5] } }),
        ann({ id: 2, segmentation: [1, 1, 3, 1, 3, 3, 1, 3] }),
      ]),
      FILE,
    );
    expect(problems).toEqual([]);
    expect(d.annotations[0].iscrowd).toBe(1);
    expect(d.annotations[1].segmentation).toEqual(square);
    const a = segmentationToMask(d.annotations[0].segmentation, 4, 4);
    const b = segmentationToMask(d.annotations[1].segmentation, 4, 4);
    expect(a.data).toEqual(b.data);
  });
});

describe('parseCocoResults', () => {
  it('reads a bare results array against its dataset and renumbers ids', () => {
    const { dataset: d } = parseCoco(dataset([]), FILE);
    const { annotations, problems } = parseCocoResults(
      [{ image_id: 1, category_id: 7, segmentation: square, score: 0.9 }, { image_id: 3, category_id: 7, segmentation: square, score: 0.5 }],
      '/data/pred.json',
      d,
    );
    expect(annotations).toHaveLength(1);
    expect(annotations[0]).toMatchObject({ id: 1, score: 0.9, area: 4, bbox: [1, 1, 2, 2], iscrowd: 0 });
    expect(problems[0].message).toBe('/data/pred.json: result #2 refers to image 3, which is not in "images"; it was skipped.');
    expect(() => parseCocoResults({}, '/data/pred.json', d)).toThrow(PeakLabelError);
  });
});

describe('annotationFromMask', () => {
  it('computes bbox and pixel area from the mask and picks RLE for holes', () => {
    const m = createMask(5, 5);
    for (const [x, y] of [[1, 1], [2, 1], [3, 1], [1, 2], [3, 2], [1, 3], [2, 3], [3, 3]]) m.data[y * 5 + x] = 1;
    const a = annotationFromMask(m, { id: 3, image_id: 1, category_id: 2, score: 0.7 });
    expect(a).toMatchObject({ id: 3, image_id: 1, category_id: 2, area: 8, bbox: [1, 1, 3, 3], iscrowd: 0, score: 0.7 });
    expect(Array.isArray(a.segmentation)).toBe(false); // the ring has a hole → RLE
    m.data[2 * 5 + 2] = 1;
    expect(maskToSegmentation(m, 'polygon')).toEqual([[1, 1, 4, 1, 4, 4, 1, 4]]);
    expect(maskToSegmentation(createMask(3, 3), 'polygon')).toEqual({ size: [3, 3], counts: '9' });
  });
});
