// Sweep of the project-head training options on cached features of a project made by the README's
// balloon commands (`npx tsx tools/train-sweep.ts /tmp/b.peaklabel`): for "balloon" (balloon images vs
// PennFudan) and "pedestrian" (PennFudan vs balloon), trained on three quarters of the dev images and
// scored on the model kit's held-out quarter: classification AP and pointwise localisation (the class
// map's maximum inside a ground-truth box), per start row, learning rate and L2 pull; then the
// localisation loss with the training images' ground-truth instances as point labels (their mask
// centroid's box centre), standing in for instances an annotator accepted. SWEEP_NEAREST_ONLY=1 prints only
// the nearest built-in row and how its training AP and cosine ratio vary over random draws of the images
// (PEAKLABEL_MODEL_DIR selects the bundle, e.g. resources/models-effnet-lite0 with a project trained on it).
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { seededRandom } from '../src/common/random';
import { calibrateBias, centroidInit, evaluateHead, sameConceptRow, trainHead, type Head, type Sample } from '../src/common/training/peak-head';
import { readBundle } from '../src/main/engine/bundle';
import { featureFile, readFeatures } from '../src/main/training/feature-file';

const project = resolve(process.argv[2] ?? '/tmp/b.peaklabel');
const shared = resolve(import.meta.dirname, '..', '..', 'shared');
const bundle = readBundle();
const m = bundle.manifest;
const D = m.head.channels;
const db = new Database(project, { readonly: true });
const rows = db.prepare('SELECT path, hash FROM images').all() as { path: string; hash: string }[];
const sets = ['balloon', 'pennfudan'].map((name) => {
  const gt = JSON.parse(readFileSync(join(shared, 'data', name, 'instances.json'), 'utf8'));
  return { name, gt };
});
const heldOut = (dataset: string, file: string) => parseInt(createHash('sha1').update(`${dataset}/${file}`).digest('hex').slice(0, 8), 16) % 4 === 0;

function samples(pos: string) {
  const train: Sample[] = [];
  const val: Sample[] = [];
  for (const s of sets) {
    const byName = new Map(s.gt.images.map((im: { id: number; file_name: string }) => [im.file_name, im]));
    for (const r of rows) {
      if (!r.path.includes(`/data/${s.name}/`)) continue;
      const f = readFeatures(featureFile(`${project}.cache`, m.modelId, r.hash), D);
      const im = byName.get(basename(r.path)) as { id: number };
      const gx = (x: number) => (((x + 0.5) * f.width) / f.origWidth - 0.5 - m.crmGeometry.centerOffset) / m.stride;
      const gy = (y: number) => (((y + 0.5) * f.height) / f.origHeight - 0.5 - m.crmGeometry.centerOffset) / m.stride;
      const isPos = s.name === pos;
      const boxes = isPos ? s.gt.annotations.filter((a: { image_id: number }) => a.image_id === im.id).map((a: { bbox: number[] }) => ({ k: 0, x0: gx(a.bbox[0]), y0: gy(a.bbox[1]), x1: gx(a.bbox[0] + a.bbox[2]), y1: gy(a.bbox[1] + a.bbox[3]) })) : [];
      const cell = (a: { bbox: number[] }) => {
        const x = Math.min(Math.max(Math.round(gx(a.bbox[0] + a.bbox[2] / 2)), 0), f.w - 1);
        const y = Math.min(Math.max(Math.round(gy(a.bbox[1] + a.bbox[3] / 2)), 0), f.h - 1);
        return y * f.w + x;
      };
      const points = isPos ? s.gt.annotations.filter((a: { image_id: number }) => a.image_id === im.id).map((a: { bbox: number[] }) => ({ k: 0, cell: cell(a) })) : [];
      const sample: Sample = { features: f.features, labels: Int8Array.from([isPos ? 1 : 0]) };
      if (heldOut(s.name, basename(r.path))) val.push({ ...sample, boxes });
      else train.push({ ...sample, points });
    }
  }
  return { train, val };
}

/** The best-ranking built-in row with its AP and cosine ratio: the trainer's same-concept test without its bounds. */
const bundleHead: Head = { K: m.classes.length, D, weight: bundle.headWeight, bias: bundle.headBias };
const nearest = (samples: Sample[]) => sameConceptRow(samples, bundleHead, 0, -Infinity)!;

/** The nearest row, its AP and cosine ratio over random three-quarter draws of all images: how stable the fine-tune choice is. */
function nearestSpread(all: Sample[], draws = Number(process.env.SWEEP_DRAWS ?? 20)): string {
  const rand = seededRandom(1);
  const found = Array.from({ length: draws }, () => nearest(all.filter(() => rand() < 0.75)));
  const range = (xs: number[], f: (x: number) => string) => {
    const v = [...xs].sort((a, b) => a - b);
    return `min ${f(v[0])} / median ${f(v[draws >> 1])} / max ${f(v[draws - 1])}`;
  };
  const rows = [...new Set(found.map((f) => m.classes[f.row].name))].join(', ');
  const below = (t: number) => found.filter((f) => f.cosineRatio < t).length;
  return `over ${draws} draws of 3/4 of the images: ${rows}, AP ${range(found.map((f) => f.ap * 100), (x) => x.toFixed(1))}, cosine ratio ${range(found.map((f) => f.cosineRatio), (x) => x.toFixed(2))} (below 1.3 / 1.4 / 1.5: ${below(1.3)} / ${below(1.4)} / ${below(1.5)})`;
}

for (const [pos, label] of [['balloon', 'balloon'], ['pennfudan', 'pedestrian']]) {
  const { train, val } = samples(pos);
  const near = nearest(train);
  console.log(`\n${label}: ${train.length} train, ${val.length} held out; nearest built-in row "${m.classes[near.row].name}" (train AP ${(near.ap * 100).toFixed(1)})`);
  console.log(`  nearest row ${nearestSpread([...train, ...val])}`);
  if (process.env.SWEEP_NEAREST_ONLY) continue;
  const inits: [string, () => Head][] = [
    ['centroid', () => {
      const h: Head = { K: 1, D, weight: centroidInit(train, 0, D, 0.05), bias: new Float32Array(1) };
      calibrateBias(h, train, 0, 0);
      return h;
    }],
    [`nearest (${m.classes[near.row].name})`, () => ({ K: 1, D, weight: bundle.headWeight.slice(near.row * D, (near.row + 1) * D), bias: bundle.headBias.slice(near.row, near.row + 1) })],
  ];
  for (const [name, make] of inits) {
    const h0 = make();
    const e0 = evaluateHead(h0, val);
    console.log(`  init ${name}: AP ${(e0.mAP! * 100).toFixed(1)}, pointwise ${(e0.pointwise! * 100).toFixed(1)}`);
    for (const lr of [0.01, 0.003, 0.001]) {
      if (process.env.SWEEP_LOC_ONLY) continue;
      for (const l2 of [1e-3, 1e-1]) {
        const t0 = performance.now();
        const { head } = trainHead(h0, train, [], { epochs: 30, lr, l2, lambdaLoc: 0 });
        const e = evaluateHead(head, val);
        console.log(`    lr ${lr} l2 ${l2}: AP ${(e.mAP! * 100).toFixed(1)}, pointwise ${(e.pointwise! * 100).toFixed(1)} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
      }
    }
    // the localisation loss: all, or a quarter of, the training images' instances as point labels
    for (const T of (process.env.SWEEP_T ?? '1').split(',').map(Number))
    for (const share of [0, 0.25, 1]) {
      let seen = 0;
      const withPoints = train.map((s) => (s.points?.length && seen++ % Math.round(1 / (share || 1)) === 0 && share > 0 ? s : { ...s, points: [] }));
      const n = withPoints.reduce((a, s) => a + (s.points?.length ?? 0), 0);
      // as shipped: a row started from a built-in row is only fine-tuned (DEFAULT_TRAIN_OPTIONS.fineTuneLr)
      const fineTune = name !== 'centroid';
      const { head } = trainHead(h0, withPoints, [], { epochs: 30, lr: 0.001, l2: 1e-3, lambdaLoc: 0.5, locTemperature: T, fineTune: [fineTune] });
      const e = evaluateHead(head, val);
      console.log(`    ${fineTune ? 'fine-tuned' : 'lr 0.001'}, localisation loss (T ${T}) on ${n} instances: AP ${(e.mAP! * 100).toFixed(1)}, pointwise ${(e.pointwise! * 100).toFixed(1)}`);
    }
  }
}
