// The three dev sets, every annotation: our decode/encode must equal pycocotools bit for bit, and
// mask → COCO segmentation → mask must give the mask back (polygons exact where the mask has no holes).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseCoco } from '../../src/common/coco/parse';
import { maskToSegmentation, segmentationToMask, segmentationToRle } from '../../src/common/coco/segmentation';
import { evaluateInstances } from '../../src/common/eval';
import { maskBbox, maskIou, masksEqual } from '../../src/common/mask';
import { maskHasHoles, maskToPolygons, polygonsToMask } from '../../src/common/polygon';
import { decodeRle, encodeMask, rleArea, rleToBbox } from '../../src/common/rle';
import { sharedPath } from '../helpers/shared';
import { referenceForDataset } from './pycocotools-reference';

describe.each(['pennfudan', 'coco-mini', 'balloon'])('%s instances.json', (name) => {
  const file = sharedPath('data', name, 'instances.json');
  const { dataset, problems } = parseCoco(JSON.parse(readFileSync(file, 'utf8')), file);
  const reference = new Map(referenceForDataset(file).map((r) => [r.id, r]));
  const images = new Map(dataset.images.map((im) => [im.id, im]));

  it('parses without problems', () => {
    expect(problems).toEqual([]);
    expect(dataset.annotations.length).toBe(reference.size);
  });

  it('decodes and re-encodes every annotation exactly as pycocotools', () => {
    for (const a of dataset.annotations) {
      const im = images.get(a.image_id)!;
      const ref = reference.get(a.id)!;
      const rle = segmentationToRle(a.segmentation, im.width, im.height);
      expect(rle.counts, `annotation ${a.id}: annToRLE`).toBe(ref.rle);
      expect(rleArea(rle), `annotation ${a.id}: area`).toBe(ref.area);
      expect(rleToBbox(rle), `annotation ${a.id}: toBbox`).toEqual(ref.bbox);
      const mask = decodeRle(rle);
      expect(encodeMask(mask).counts, `annotation ${a.id}: encode(decode)`).toBe(ref.canon);
      expect(maskBbox(mask)).toEqual(ref.bbox);
    }
  });

  it('round-trips mask → segmentation → mask (polygons exact without holes, RLE otherwise)', () => {
    let withHoles = 0;
    let minPolygonIou = 1;
    for (const a of dataset.annotations) {
      const im = images.get(a.image_id)!;
      const mask = segmentationToMask(a.segmentation, im.width, im.height);
      const exported = maskToSegmentation(mask, 'polygon');
      const back = segmentationToMask(exported, im.width, im.height);
      expect(masksEqual(back, mask), `annotation ${a.id}: polygon export`).toBe(true);
      if (!Array.isArray(exported)) {
        // Only masks with holes fall back to RLE; their outline alone still overlaps closely.
        expect(maskHasHoles(mask), `annotation ${a.id}`).toBe(true);
        withHoles++;
        minPolygonIou = Math.min(minPolygonIou, maskIou(polygonsToMask(maskToPolygons(mask), im.width, im.height), mask));
      }
    }
    console.log(`${name}: ${dataset.annotations.length} instances, ${withHoles} with holes (exported as RLE; outline-only IoU ≥ ${minPolygonIou.toFixed(4)})`);
  });

  it('scores the ground truth against itself as perfect', () => {
    const preds = dataset.annotations.filter((a) => a.iscrowd === 0).map((a) => ({ ...a, score: 1 }));
    const report = evaluateInstances(dataset, preds);
    expect(report.mAP).toEqual([1, 1, 1]);
    expect(report.abo).toBe(1);
    expect(report.gtInstances).toBe(preds.length);
  });
});
