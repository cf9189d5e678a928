// Speed of the common geometry/COCO/eval code on the dev sets (not a test: timings vary with the machine).
//   npx tsx tests/common/geometry-bench.ts
// Each figure is the best of 3 passes (CPU time of this process) over every annotation of the three dev sets.
import { readFileSync } from 'node:fs';
import { parseCoco } from '../../src/common/coco/parse';
import { maskToSegmentation, segmentationToRle } from '../../src/common/coco/segmentation';
import type { CocoAnnotation, CocoDataset } from '../../src/common/coco/types';
import { evaluateInstances } from '../../src/common/eval';
import { createMask, cropMask, maskBbox, type BinaryMask } from '../../src/common/mask';
import { countsIou, decodeRle, decompressCounts, encodeMask, type Rle } from '../../src/common/rle';
import { sharedPath } from '../helpers/shared';

/** CPU milliseconds of this process: steadier than wall time on a shared machine. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function best(passes: number, f: () => void): number {
  let min = Infinity;
  for (let i = 0; i < passes; i++) {
    const t = cpuMs();
    f();
    min = Math.min(min, cpuMs() - t);
  }
  return min;
}

const sets = ['pennfudan', 'coco-mini', 'balloon'].map((name) => {
  const file = sharedPath('data', name, 'instances.json');
  const text = readFileSync(file, 'utf8');
  return { name, file, text, ...parseCoco(JSON.parse(text), file) };
});
const items = sets.flatMap((s) => {
  const ims = new Map(s.dataset.images.map((im) => [im.id, im]));
  return s.dataset.annotations.map((a) => ({ a, im: ims.get(a.image_id)! }));
});
const polys = items.filter((x) => Array.isArray(x.a.segmentation));
const rles: Rle[] = items.map((x) => segmentationToRle(x.a.segmentation, x.im.width, x.im.height));
const masks: BinaryMask[] = rles.map(decodeRle);
const windows = masks.map((m) => {
  const [x, y, w, h] = maskBbox(m);
  return cropMask(m, x - 1, y - 1, w + 2, h + 2);
});
const counts = rles.map((r) => decompressCounts(r.counts));
const meanPixels = masks.reduce((s, m) => s + m.width * m.height, 0) / masks.length;
const meanWindow = windows.reduce((s, m) => s + m.width * m.height, 0) / windows.length;

const rows: [string, number, number][] = [];
const row = (label: string, n: number, f: () => void) => rows.push([label, n, best(3, f)]);
row('parseCoco, 3 files (JSON.parse excluded)', 3, () => sets.forEach((s) => parseCoco(JSON.parse(s.text), s.file)));
row('polygons → RLE (pycocotools raster)', polys.length, () => polys.forEach((x) => segmentationToRle(x.a.segmentation, x.im.width, x.im.height)));
row(`decodeRle, full image (mean ${(meanPixels / 1e6).toFixed(2)} Mpx)`, rles.length, () => rles.forEach(decodeRle));
row('encodeMask, full image', masks.length, () => masks.forEach(encodeMask));
row(`maskToSegmentation 'polygon', bbox window (mean ${(meanWindow / 1e3).toFixed(0)} kpx)`, windows.length, () => windows.forEach((m) => maskToSegmentation(m, 'polygon')));
row('countsIou on run lists (self)', counts.length, () => counts.forEach((c) => countsIou(c, c)));

// One 1024×768 image with 1,000 small instances (16–48 px squares): the per-image export/suggestion load.
const many: BinaryMask[] = [];
for (let i = 0; i < 1000; i++) {
  const m = createMask(1024, 768);
  const s = 16 + (i % 33), x0 = (i * 97) % (1024 - s), y0 = (i * 61) % (768 - s);
  for (let y = y0; y < y0 + s; y++) m.data.fill(1, y * 1024 + x0, y * 1024 + x0 + s);
  many.push(m);
}
row('encodeMask, 1,000 instances on one 1024×768 image', many.length, () => many.forEach(encodeMask));

// Eval: coco-mini ground truth against itself plus a shifted copy of every polygon instance.
const coco = sets[1].dataset as CocoDataset;
const preds: CocoAnnotation[] = coco.annotations.filter((a) => !a.iscrowd).flatMap((a, i) => [
  { ...a, score: 0.5 + (i % 7) / 20 },
  ...(Array.isArray(a.segmentation) ? [{ ...a, segmentation: a.segmentation.map((r) => r.map((v, j) => v + (j % 2 ? 0 : 8))), score: 0.6 }] : []),
]);
row(`evaluateInstances coco-mini (162 images, ${preds.length} predictions, 80 classes)`, 1, () => evaluateInstances(coco, preds));

for (const [label, n, ms] of rows) {
  console.log(`${label.padEnd(72)} ${String(n).padStart(5)} × ${((ms / n) * 1000).toFixed(1).padStart(9)} µs = ${ms.toFixed(0).padStart(6)} ms`);
}
