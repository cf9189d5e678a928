// Measures project-head training (issue 12) on the dev data, the way a user would run it, through the
// service API: `npx tsx tools/train-eval.ts [--out report.json] [--methods prm,iam] [--shared ../shared]`.
//
// Held-out quarter: sha1("<dataset>/<file>")[:8] % 4 == 0, the model kit's split (the built-in head never
// saw those images either). Training uses only the other three quarters (only they are tagged while
// training; the app then holds out its own fifth of them for its in-app metrics).
//   1. balloon: class "balloon" from balloon's images, PennFudan's images (tagged "person") as negatives.
//   2. pedestrian: PennFudan's people tagged "pedestrian" (a name no built-in head has), balloon images
//      as negatives; compared with the built-in "person" head on the same held-out images.
// `--training-images` also scores the methods on the training images (tags seen, masks never).
// `--untagged` also scores the held-out positives without their tag (the engine's class-score threshold
// decides which classes each image shows, as for the untagged images of a project).
// `--annotate N` then simulates an annotator on N training images of the class: `sam` pre-labels them, the
// suggestions that match a ground-truth instance (mask IoU ≥ 0.5, one each) are accepted and the missed
// instances drawn by hand (the ground-truth mask); the head is trained again, with those instances as
// point labels, and the held-out quarter scored again.
// `--own-classes a,b,…` instead learns those coco-mini categories (none of them a built-in class) in one project: every
// coco-mini image tagged with its categories among them and its built-in (VOC) ones, and scores them on all their
// images (the tags trained the heads, the masks never did), for choices that only classes learnt from scratch read.
// `--only balloon,pedestrian,person` runs only those experiments (default all three).
// `--predictions DIR` keeps each scored run's suggestions there as COCO (<class>-<method>[-<phase>].json) to look at.
// For each: training time (empty feature cache), features/s, held-out classification AP (class score of
// the trained head on the held-out images of both sets) and mAP^r at IoU 0.25/0.5/0.75 per method, tagged.
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { PeakLabelApi, SuggestionMethod } from '../src/common/api';
import { parseCoco } from '../src/common/coco/parse';
import type { CocoDataset } from '../src/common/coco/types';
import { segmentationToMask } from '../src/common/coco/segmentation';
import { canonicalClassName, evaluateInstances, VOC20_CLASSES } from '../src/common/eval';
import { maskIou } from '../src/common/mask';
import { decodeRle, encodeMask } from '../src/common/rle';
import { averagePrecision } from '../src/common/training/peak-head';
import { ServiceContext } from '../src/main/api/context';
import { createEngineMethods } from '../src/main/api/engine-methods';
import { createService } from '../src/main/api/service';
import { Engine } from '../src/main/engine/engine';
import { headOverrideFor } from '../src/main/training/train-methods';

const { values } = parseArgs({ options: { only: { type: 'string', default: 'balloon,pedestrian,person' }, 'own-classes': { type: 'string' }, predictions: { type: 'string' }, untagged: { type: 'boolean', default: false }, annotate: { type: 'string', default: '0' }, 'training-images': { type: 'boolean', default: false }, out: { type: 'string' }, methods: { type: 'string', default: 'prm,iam' }, shared: { type: 'string', default: resolve(import.meta.dirname, '..', '..', 'shared') } } });
const shared = resolve(values.shared!);
const methods = values.methods!.split(',') as SuggestionMethod[];

const heldOut = (dataset: string, file: string) => parseInt(createHash('sha1').update(`${dataset}/${file}`).digest('hex').slice(0, 8), 16) % 4 === 0;

interface DataSet {
  name: string;
  dir: string;
  gt: CocoDataset;
}
function dataset(name: string): DataSet {
  const file = join(shared, 'data', name, 'instances.json');
  return { name, dir: join(shared, 'data', name, 'images'), gt: parseCoco(JSON.parse(readFileSync(file, 'utf8')), file).dataset };
}

/** Ground truth restricted to the held-out images, its category optionally renamed. */
function heldOutGt(d: DataSet, rename?: string, training = false): CocoDataset {
  const images = d.gt.images.filter((im) => heldOut(d.name, basename(im.file_name)) !== training);
  const ids = new Set(images.map((im) => im.id));
  return { ...d.gt, images, annotations: d.gt.annotations.filter((a) => ids.has(a.image_id)), categories: d.gt.categories.map((c) => ({ ...c, name: rename ?? c.name })) };
}

interface Session {
  api: PeakLabelApi;
  ctx: ServiceContext;
  close(): Promise<void>;
  dir: string;
}
async function session(): Promise<Session> {
  const dir = mkdtempSync(join(tmpdir(), 'peaklabel-train-eval-'));
  const ctx = new ServiceContext();
  const engine = createEngineMethods(ctx, { cacheDir: null });
  const api = createService(ctx, engine);
  await api.createProject(join(dir, 'p.peaklabel'));
  return { api, ctx, dir, close: async () => { await engine.closeEngine(); ctx.close(); rmSync(dir, { recursive: true, force: true }); } };
}

/** Image ids by file name, per data set folder. */
async function imageIds(api: PeakLabelApi): Promise<Map<string, number>> {
  const page = await api.listImages({ offset: 0, limit: 10_000 });
  return new Map(page.items.map((im) => [im.path, im.id]));
}

/** The project's id of a data set's image. */
const idOf = (ids: Map<string, number>, d: DataSet, im: { file_name: string }) => ids.get(join(d.dir, basename(im.file_name)))!;

async function tag(api: PeakLabelApi, ids: Map<string, number>, d: DataSet, which: 'train' | 'heldout', name: string): Promise<number[]> {
  const chosen = d.gt.images.filter((im) => heldOut(d.name, basename(im.file_name)) === (which === 'heldout')).map((im) => idOf(ids, d, im));
  await api.setTags(chosen, [name], []);
  return chosen;
}

/** Pre-labels, exports and scores `scored.classes` per method; `scored.name` names the log lines and --predictions files. */
async function evalMethods(api: PeakLabelApi, dir: string, imageIdsToRun: number[], gt: CocoDataset, scored: { name: string; classes: string[] }, phase = '') {
  const out: Record<string, { mAP: number[]; abo: number; seconds: number; suggestions: number; ofClass: number }> = {};
  const wanted = new Set(scored.classes);
  for (const method of methods) {
    const t0 = performance.now();
    await api.prelabel({ imageIds: imageIdsToRun, method, force: true });
    const seconds = (performance.now() - t0) / 1000;
    const file = join(dir, `${method}.json`);
    await api.exportCoco({ out: file, format: 'rle', sources: ['suggested'], imageIds: imageIdsToRun });
    if (values.predictions) {
      mkdirSync(values.predictions, { recursive: true });
      copyFileSync(file, join(values.predictions, `${scored.name}-${method}${phase ? `-${phase}` : ''}.json`));
    }
    const pred = parseCoco(JSON.parse(readFileSync(file, 'utf8')), file).dataset;
    const r = evaluateInstances(gt, pred, { classes: scored.classes });
    const ofClass = pred.annotations.filter((a) => wanted.has(pred.categories.find((c) => c.id === a.category_id)?.name ?? '')).length;
    out[method] = { mAP: r.mAP.map((v) => +(v * 100).toFixed(1)), abo: +(r.abo * 100).toFixed(1), seconds: +seconds.toFixed(1), suggestions: pred.annotations.length, ofClass };
    console.log(`  ${scored.name} ${method}: mAP^r 0.25/0.5/0.75 = ${out[method].mAP.join(' / ')}, ABO ${out[method].abo}, ${ofClass} of ${pred.annotations.length} suggestions "${scored.name}" (${seconds.toFixed(0)} s)`);
  }
  return out;
}

/** Held-out classification AP of the trained class: its class score (mean peak response) on every held-out image. */
async function classificationAp(s: Session, cls: string, pos: number[], neg: number[]): Promise<number | null> {
  const store = s.ctx.store();
  const e = await Engine.open({ cacheDir: null });
  try {
    const { head } = headOverrideFor(store, e);
    await e.setHead(head);
    const k = e.bundle.manifest.classes.findIndex((c) => c.name === cls);
    const scores: number[] = [];
    const labels: number[] = [];
    for (const [ids, y] of [[pos, 1], [neg, 0]] as const) {
      for (const id of ids) {
        const src = store.imageSource(id);
        const r = await e.processImage({ image: { file: src.workingCopy ?? src.path, size: { width: src.width, height: src.height } }, classes: [], method: e.methods.includes('iam') ? 'iam' : 'prm' }); // no peaks: only the class scores
        scores.push(r.classScores[k]);
        labels.push(y);
      }
    }
    return averagePrecision(scores, labels);
  } finally {
    await e.close();
  }
}

async function experiment(name: string, cls: string, posSet: DataSet, negSet: DataSet, negTag: string) {
  console.log(`\n== ${name}: "${cls}" from ${posSet.name}, ${negSet.name} as negatives`);
  const s = await session();
  try {
    await s.api.saveClass({ name: cls });
    await s.api.addImageFolder(posSet.dir);
    await s.api.addImageFolder(negSet.dir);
    const ids = await imageIds(s.api);
    await tag(s.api, ids, posSet, 'train', cls);
    await tag(s.api, ids, negSet, 'train', negTag);
    const t0 = performance.now();
    const r = await s.api.trainHead();
    const trainSeconds = (performance.now() - t0) / 1000;
    const h = r.head!;
    console.log(`  trained in ${trainSeconds.toFixed(1)} s from an empty cache (${h.featuresComputed} feature maps in ${h.featureSeconds.toFixed(1)} s = ${(h.featuresComputed / h.featureSeconds).toFixed(1)} images/s); in-app held-out AP ${h.mAPAfter === null ? '–' : (h.mAPAfter * 100).toFixed(1)}`);
    const posHeld = await tag(s.api, ids, posSet, 'heldout', cls);
    const negHeld = await tag(s.api, ids, negSet, 'heldout', negTag);
    const ap = await classificationAp(s, cls, posHeld, negHeld);
    console.log(`  held-out quarter classification AP: ${ap === null ? '–' : (ap * 100).toFixed(1)} (${posHeld.length} positives, ${negHeld.length} negatives)`);
    const suggestions = await evalMethods(s.api, s.dir, posHeld, heldOutGt(posSet, cls), { name: cls, classes: [cls] });
    let untagged: Awaited<ReturnType<typeof evalMethods>> | null = null;
    if (values.untagged) {
      console.log('  held-out positives untagged:');
      await s.api.setTags(posHeld, [], [cls]);
      untagged = await evalMethods(s.api, s.dir, posHeld, heldOutGt(posSet, cls), { name: cls, classes: [cls] }, 'untagged');
      await s.api.setTags(posHeld, [cls], []);
    }
    const annotate = Number(values.annotate);
    let afterAnnotating: Awaited<ReturnType<typeof annotateAndRetrain>> | null = null;
    if (annotate > 0) afterAnnotating = await annotateAndRetrain(s, ids, posSet, cls, annotate, { pos: posHeld, neg: negHeld, negTag });
    if (values['training-images']) {
      // Their tags trained the head, their masks never did: a larger (if not independent) sample for choices
      // that no training sees, such as method sam's prompts.
      console.log('  on the training images:');
      const posTrain = await tag(s.api, ids, posSet, 'train', cls);
      await evalMethods(s.api, s.dir, posTrain, heldOutGt(posSet, cls, true), { name: cls, classes: [cls] }, 'training');
    }
    return { untagged, afterAnnotating, class: cls, trainSeconds: +trainSeconds.toFixed(1), featuresPerSecond: +(h.featuresComputed / h.featureSeconds).toFixed(1), epochs: h.curve.length, inAppHeldOutAp: h.mAPAfter, heldOutQuarterAp: ap, positivesHeldOut: posHeld.length, negativesHeldOut: negHeld.length, suggestions };
  } finally {
    await s.close();
  }
}

/** The annotator simulation of `--annotate N` (see the header); leaves the held-out images tagged as before. */
async function annotateAndRetrain(s: Session, ids: Map<string, number>, d: DataSet, cls: string, n: number, held: { pos: number[]; neg: number[]; negTag: string }) {
  const classId = (await s.api.listClasses()).find((c) => c.name === cls)!.id;
  const chosen = d.gt.images.filter((im) => !heldOut(d.name, basename(im.file_name))).slice(0, n);
  const imageIds = chosen.map((im) => idOf(ids, d, im));
  await s.api.prelabel({ imageIds, method: 'sam', force: true });
  let accepted = 0;
  let drawn = 0;
  for (const [i, im] of chosen.entries()) {
    const gts = d.gt.annotations.filter((a) => a.image_id === im.id).map((a) => segmentationToMask(a.segmentation, im.width, im.height));
    const suggestions = (await s.api.listInstances(imageIds[i])).filter((x) => x.classId === classId).map((x) => ({ id: x.id, mask: decodeRle(x.mask) }));
    const matched = new Set<number>();
    const accept: number[] = [];
    for (const sug of suggestions) {
      let best = -1;
      let bestIou = 0.5;
      gts.forEach((g, j) => {
        const iou = matched.has(j) ? 0 : maskIou(g, sug.mask);
        if (iou >= bestIou) [best, bestIou] = [j, iou];
      });
      if (best >= 0) {
        matched.add(best);
        accept.push(sug.id);
      }
    }
    await s.api.acceptInstances(accept);
    accepted += accept.length;
    for (const [j, g] of gts.entries()) {
      if (matched.has(j)) continue;
      await s.api.createInstance(imageIds[i], classId, encodeMask(g));
      drawn++;
    }
  }
  // the held-out quarter stays out of training: untagged while the head trains again
  await s.api.setTags(held.pos, [], [cls]);
  await s.api.setTags(held.neg, [], [held.negTag]);
  const t0 = performance.now();
  const r = await s.api.trainHead();
  await s.api.setTags(held.pos, [cls], []);
  await s.api.setTags(held.neg, [held.negTag], []);
  console.log(`  annotated ${n} training images (${accepted} suggestions accepted, ${drawn} instances drawn), trained again in ${((performance.now() - t0) / 1000).toFixed(1)} s; in-app held-out AP ${r.head!.mAPAfter === null ? '–' : (r.head!.mAPAfter * 100).toFixed(1)}`);
  const suggestions = await evalMethods(s.api, s.dir, held.pos, heldOutGt(d, cls), { name: cls, classes: [cls] }, 'annotated');
  return { images: n, accepted, drawn, instancesUsed: r.head!.instancesUsed, suggestions };
}

/** The built-in head's "person" on PennFudan's held-out quarter (tagged "person"). */
async function builtinPerson(pennfudan: DataSet) {
  console.log('\n== built-in "person" on the PennFudan held-out quarter');
  const s = await session();
  try {
    await s.api.addImageFolder(pennfudan.dir);
    const ids = await imageIds(s.api);
    const held = await tag(s.api, ids, pennfudan, 'heldout', 'person');
    return await evalMethods(s.api, s.dir, held, heldOutGt(pennfudan), { name: 'person', classes: ['person'] });
  } finally {
    await s.close();
  }
}

/** `--own-classes`: see the header. */
async function ownClasses(coco: DataSet, names: string[]) {
  console.log(`\n== own classes from coco-mini: ${names.join(', ')}`);
  const s = await session();
  try {
    for (const name of names) await s.api.saveClass({ name });
    await s.api.addImageFolder(coco.dir);
    const ids = await imageIds(s.api);
    const builtin = new Set<string>(VOC20_CLASSES);
    const catName = new Map(coco.gt.categories.map((c) => [c.id, c.name]));
    const wanted = new Set(names);
    const catsOf = new Map<number, Set<string>>();
    for (const a of coco.gt.annotations) catsOf.set(a.image_id, (catsOf.get(a.image_id) ?? new Set()).add(catName.get(a.category_id)!));
    for (const im of coco.gt.images) {
      const tags = [...(catsOf.get(im.id) ?? [])].filter((c) => wanted.has(c) || builtin.has(canonicalClassName(c)));
      if (tags.length) await s.api.setTags([idOf(ids, coco, im)], tags, []);
    }
    const r = await s.api.trainHead();
    for (const c of r.head!.classes ?? []) console.log(`  ${c.name}: ${c.initFrom ?? ''}`);
    const positives = coco.gt.images.filter((im) => [...(catsOf.get(im.id) ?? [])].some((c) => wanted.has(c)));
    const positiveIds = new Set(positives.map((im) => im.id));
    const runIds = positives.map((im) => idOf(ids, coco, im));
    const gt = { ...coco.gt, images: positives, annotations: coco.gt.annotations.filter((a) => positiveIds.has(a.image_id)) };
    return await evalMethods(s.api, s.dir, runIds, gt, { name: 'own', classes: names });
  } finally {
    await s.close();
  }
}

if (values['own-classes']) {
  const report = await ownClasses(dataset('coco-mini'), values['own-classes'].split(','));
  if (values.out) writeFileSync(values.out, JSON.stringify(report, null, 2));
  process.exit(0);
}

const only = new Set(values.only!.split(','));
const balloon = dataset('balloon');
const pennfudan = dataset('pennfudan');
const report = {
  date: new Date().toISOString(),
  split: 'held out: sha1("<dataset>/<file>")[:8] % 4 == 0',
  balloon: only.has('balloon') ? await experiment('balloon', 'balloon', balloon, pennfudan, 'person') : null,
  pedestrian: only.has('pedestrian') ? await experiment('pedestrian', 'pedestrian', pennfudan, balloon, 'balloon') : null,
  builtinPerson: only.has('person') ? await builtinPerson(pennfudan) : null,
};
console.log(`\n${JSON.stringify(report, null, 2)}`);
if (values.out) writeFileSync(values.out, JSON.stringify(report, null, 2));
