// Measures the IAM path on the held-out dev images (the model kit's split: sha1("set/file") % 4 == 0):
// peaks of the image's tagged classes → iam.onnx (stride-16 PRMs + filling) → masks, with and without the CRF, scored by
// src/common/eval.ts (mAP^r at 0.25/0.5/0.75, ABO) and timed per stage.
//
//   npx tsx tools/model-kit/iam/eval-iam.ts [--sets pennfudan,coco-mini] [--limit N] [--models DIR] [--graph iam|sam-regions]
//                                         [--out tools/model-kit/work/iam/eval] [--write-metrics]
//
// --graph: the bundle's IAM config to measure (iam.json, method iam's; or sam-regions.json).
// --write-metrics stores the numbers in that config (`metrics`).
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { CocoAnnotation, CocoDataset } from '../../../src/common/coco/types';
import { canonicalClassName, evaluateInstances, formatEvalTable, type EvalReport } from '../../../src/common/eval';
import { maskBbox, maskIou, resizeMaskNearest, type BinaryMask } from '../../../src/common/mask';
import { findPeaks } from '../../../src/common/peaks';
import { spansToMask } from '../../../src/common/proposals/spans';
import { encodeMask, rleArea } from '../../../src/common/rle';
import { readBundle } from '../../../src/main/engine/bundle';
import { iamMasks, openIam, runIam } from '../../../src/main/engine/iam';
import { decodeOriented, gridToInput, preprocess } from '../../../src/main/engine/preprocess';

const repo = join(import.meta.dirname, '..', '..', '..');
const shared = process.env.PEAKLABEL_SHARED ?? join(repo, '..', 'shared');

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

/** The model kit's held-out rule (tools/model-kit/peaklabel_kit/data.py DevImage.heldout). */
function heldOut(set: string, file: string): boolean {
  return parseInt(createHash('sha1').update(`${set}/${basename(file)}`).digest('hex').slice(0, 8), 16) % 4 === 0;
}

interface Pred {
  classIndex: number;
  score: number;
  mask: BinaryMask;
}

/** Greedy same-class NMS at IoU 0.3 (the engine's rule), highest score first. */
function nms(preds: Pred[], iou = 0.3): Pred[] {
  const kept: Pred[] = [];
  for (const p of [...preds].sort((a, b) => b.score - a.score)) {
    if (!kept.some((k) => k.classIndex === p.classIndex && maskIou(k.mask, p.mask) >= iou)) kept.push(p);
  }
  return kept;
}

async function main(): Promise<void> {
  const sets = arg('sets', 'pennfudan,coco-mini').split(',');
  const out = arg('out', join(repo, 'tools', 'model-kit', 'work', 'iam', 'eval'));
  mkdirSync(out, { recursive: true });
  const bundle = readBundle(arg('models', join(repo, 'resources', 'models')));
  const manifest = bundle.manifest;
  const opts: ort.InferenceSession.SessionOptions = { intraOpNumThreads: 2 };
  const backbone = await ort.InferenceSession.create(bundle.paths.backbone, opts);
  const configFile = `${arg('graph', 'iam')}.json`;
  const iam = await openIam(bundle.dir, opts, configFile);
  const C = manifest.classes.length;
  const headW = new ort.Tensor('float32', bundle.headWeight, [C, manifest.head.channels]);
  const headB = new ort.Tensor('float32', bundle.headBias, [C]);
  const classOf = new Map<string, number>();
  manifest.classes.forEach((c, i) => [c.name, ...c.aliases].forEach((n) => classOf.set(canonicalClassName(n), i)));

  const results: Record<string, unknown> = {};
  for (const set of sets) {
    const gtAll = JSON.parse(readFileSync(join(shared, 'data', set, 'instances.json'), 'utf8')) as CocoDataset;
    const limit = Number(arg('limit', '0'));
    const images = gtAll.images.filter((im) => heldOut(set, im.file_name)).slice(0, limit > 0 ? limit : undefined);
    const ids = new Set(images.map((im) => im.id));
    const gt: CocoDataset = { ...gtAll, images, annotations: gtAll.annotations.filter((a) => ids.has(a.image_id)) };
    const catOfClass = new Map<number, number>();
    for (const c of gt.categories) {
      const k = classOf.get(canonicalClassName(c.name));
      if (k !== undefined) catOfClass.set(k, c.id);
    }
    const preds: Record<'iam' | 'iam_crf', CocoAnnotation[]> = { iam: [], iam_crf: [] };
    const ms = { decodePreprocess: 0, backbone: 0, peaks: 0, iam: 0, threshold: 0, crf: 0, encode: 0 };
    let peaksTotal = 0;
    for (const im of images) {
      // Image-level tags (as `--tags instances.json`): the classes annotated in the image.
      const tags = new Set<number>();
      for (const a of gt.annotations) {
        if (a.image_id !== im.id) continue;
        const cat = gt.categories.find((c) => c.id === a.category_id);
        const k = cat ? classOf.get(canonicalClassName(cat.name)) : undefined;
        if (k !== undefined) tags.add(k);
      }
      if (tags.size === 0) continue;
      let t = performance.now();
      const file = join(shared, 'data', set, 'images', im.file_name);
      const pre = await preprocess(await decodeOriented(file, file), manifest);
      const { width: W, height: H } = pre.geometry;
      ms.decodePreprocess += performance.now() - t;
      t = performance.now();
      const bo = await backbone.run({ image: new ort.Tensor('float32', pre.tensor, [1, 3, H, W]), head_weight: headW, head_bias: headB });
      ms.backbone += performance.now() - t;
      t = performance.now();
      const [, , h, w] = bo.crm.dims as number[];
      const crm = bo.crm.data as Float32Array;
      let peaks: { c: number; y: number; x: number; value: number }[] = [];
      for (const c of tags) {
        const found = findPeaks(crm.subarray(c * h * w, (c + 1) * h * w), h, w, { subPixelFactor: manifest.peaks.subPixelFactor });
        const top = found[0]?.value ?? 0;
        peaks.push(...found.filter((p) => p.value >= top * bundle.retrieval.peakRelThreshold).map((p) => ({ c, ...p })));
      }
      peaks = peaks.sort((a, b) => b.value - a.value).slice(0, bundle.retrieval.maxPeaks);
      ms.peaks += performance.now() - t;
      if (!peaks.length) continue;
      peaksTotal += peaks.length;
      t = performance.now();
      const features = { features_s4: bo.features_s4, features_s8: bo.features_s8, features: bo.features };
      const maps = await runIam(iam, { peaks: peaks.map((p) => ({ classIndex: p.c, y: p.y, x: p.x })), head: { weight: headW, bias: headB }, features });
      ms.iam += performance.now() - t;
      const target = {
        width: W,
        height: H,
        image: pre.rgb,
        peaks: peaks.map((p) => gridToInput({ stride: manifest.stride, centerOffset: manifest.crmGeometry.centerOffset }, p.y, p.x)),
      };
      for (const variant of ['iam', 'iam_crf'] as const) {
        t = performance.now();
        const inst = iamMasks(iam, maps, target, { crf: variant === 'iam_crf' });
        ms[variant === 'iam' ? 'threshold' : 'crf'] += performance.now() - t;
        t = performance.now();
        const found = inst.flatMap((o, i) => (o.spans.runs.length ? [{ classIndex: peaks[i].c, score: peaks[i].value * o.activation, mask: spansToMask(o.spans) }] : []));
        const kept = nms(found);
        for (const p of kept) {
          const m = resizeMaskNearest(p.mask, im.width, im.height);
          const rle = encodeMask(m);
          preds[variant].push({ id: preds[variant].length + 1, image_id: im.id, category_id: catOfClass.get(p.classIndex)!, segmentation: rle, area: rleArea(rle), bbox: maskBbox(m), iscrowd: 0, score: p.score });
        }
        if (variant === 'iam') ms.encode += performance.now() - t;
      }
    }
    const n = images.length;
    const perImage = Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, Math.round(v / n)]));
    const reports: Record<string, EvalReport> = {};
    for (const variant of ['iam', 'iam_crf'] as const) {
      writeFileSync(join(out, `${set}-${variant}.json`), JSON.stringify(preds[variant]));
      reports[variant] = evaluateInstances(gt, preds[variant], { classes: 'voc20' });
      console.log(`\n${set} held-out (${n} images, ${peaksTotal} peaks) — ${variant === 'iam' ? 'IAM' : 'IAM+CRF'}`);
      console.log(formatEvalTable(reports[variant]));
    }
    const common = perImage.decodePreprocess + perImage.backbone + perImage.peaks + perImage.iam + perImage.encode;
    const secondsPerImage = { iam: (common + perImage.threshold) / 1000, iam_crf: (common + perImage.crf) / 1000 };
    console.log(`ms per image: ${JSON.stringify(perImage)}; s/image IAM ${secondsPerImage.iam.toFixed(3)}, IAM+CRF ${secondsPerImage.iam_crf.toFixed(3)}`);
    writeFileSync(join(out, `${set}-gt.json`), JSON.stringify(gt));
    results[set] = {
      images: n,
      peaks: peaksTotal,
      msPerImage: perImage,
      secondsPerImage,
      ...Object.fromEntries(Object.entries(reports).map(([k, r]) => [k, { mAP: Object.fromEntries(r.iouThresholds.map((th, i) => [th, +r.mAP[i].toFixed(4)])), abo: +r.abo.toFixed(4), predictions: r.predInstances, gt: r.gtInstances }])),
    };
  }
  writeFileSync(join(out, 'summary.json'), JSON.stringify(results, null, 2));
  if (process.argv.includes('--write-metrics')) {
    const cfgPath = join(bundle.dir, configFile);
    const cfg = JSON.parse(readFileSync(cfgPath, 'utf8')) as Record<string, unknown>;
    cfg.metrics = {
      heldOut: results,
      protocol: 'held-out dev images (peaklabel_kit split), tagged mode (image-level tags from the GT categories), VOC-20 classes, class-wise NMS IoU 0.3, score = peak value × mean IAM in the mask; CPU, 2 threads',
      command: `npx tsx tools/model-kit/iam/eval-iam.ts --models ${relative(repo, bundle.dir)} --graph ${arg('graph', 'iam')} --write-metrics`,
      measuredAt: new Date().toISOString(),
    };
    writeFileSync(cfgPath, JSON.stringify(cfg, null, 2) + '\n');
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.stack ?? err.message : String(err));
  process.exitCode = 1;
});
