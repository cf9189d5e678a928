// Chooses retrieval parameters on the dev splits and measures every method (docs/adr/engine-retrieval-tuning.md).
// Per image the backbone, PRMs and proposals are computed once; every configuration is then only a
// retrieval. Run: npx tsx src/main/engine/tune.ts --data pennfudan [--limit N] [--every K [--offset I]] [--untagged] [--out FILE]
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { SuggestionMethod } from '../../common/api';
import type { CocoAnnotation, CocoDataset } from '../../common/coco/types';
import { evaluateInstances, formatEvalTable, type EvalReport } from '../../common/eval';
import { readBundle, type Bundle } from './bundle';
import type { RetrievalParams } from './manifest';
import { Pipeline } from './pipeline';
import { ProposalCache } from './proposal-cache';
import { defaultCacheDir } from './engine';
import { ModelSessions } from './sessions';
import { resolveTags } from './tags-file';

export interface TuneConfig {
  name: string;
  method: SuggestionMethod;
  params: RetrievalParams;
}

/** The grid: baselines at the bundle's τ, and PRM retrieval over α × β (and the peak-score weight). */
export function tuningGrid(base: RetrievalParams, full: boolean, withIam = false): TuneConfig[] {
  const configs: TuneConfig[] = [];
  // Baselines at a few PRM-support thresholds τ (their best is what they are compared at).
  const taus = [...new Set([base.tau, 0.01, 0.02, 0.05, ...(full ? [0.1, 0.2] : [])])];
  for (const method of ['rect', 'ellipse', 'threshold'] as const) {
    for (const tau of taus) configs.push({ name: tau === base.tau ? method : `${method} τ=${tau}`, method, params: { ...base, tau } });
  }
  configs.push({ name: 'prm', method: 'prm', params: base });
  if (withIam) configs.push({ name: 'iam', method: 'iam', params: base });
  if (!full) return configs;
  for (const alpha of [0.5, 0.8, 1.5, 3]) {
    for (const beta of [0, 1, 4, 8, 16]) {
      for (const peakScoreWeight of [0, 1]) {
        configs.push({ name: `prm α=${alpha} β=${beta} γ=${peakScoreWeight}`, method: 'prm', params: { ...base, alpha, beta, peakScoreWeight } });
      }
    }
  }
  return configs;
}

export interface TuneResult {
  data: string;
  images: number;
  mode: 'tagged' | 'untagged';
  configs: { name: string; method: SuggestionMethod; params: RetrievalParams; report: EvalReport }[];
  /** (class score, is the class tagged) per image and model class: for the untagged threshold. */
  classScores: { score: number; present: boolean }[];
  seconds: number;
}

export async function tune(o: { gtFile: string; imagesDir: string; limit?: number; every?: number; offset?: number; iam?: boolean; scoresOnly?: boolean; untagged: boolean; full: boolean; bundle?: Bundle; classes: 'all' | 'voc20'; log?: (s: string) => void }): Promise<TuneResult> {
  const t0 = performance.now();
  const bundle = o.bundle ?? readBundle();
  const sessions = await ModelSessions.open(bundle, { provider: 'cpu' });
  const pipeline = new Pipeline(bundle, sessions, new ProposalCache(defaultCacheDir()));
  const gt = JSON.parse(readFileSync(o.gtFile, 'utf8')) as CocoDataset;
  const catName = new Map(gt.categories.map((c) => [c.id, c.name]));
  const images = gt.images.filter((_, i) => i % (o.every ?? 1) === (o.offset ?? 0)).slice(0, o.limit ?? gt.images.length);
  const configs = o.scoresOnly ? [] : tuningGrid(bundle.retrieval, o.full, Boolean(o.iam) && bundle.methods.includes('iam'));
  const preds: CocoAnnotation[][] = configs.map(() => []);
  const classScores: TuneResult['classScores'] = [];
  let nextId = 1;
  for (const [i, im] of images.entries()) {
    const tags = [...new Set(gt.annotations.filter((a) => a.image_id === im.id).map((a) => catName.get(a.category_id)!))];
    const tagged = resolveTags(bundle.manifest, tags);
    const r = await pipeline.sweep({ file: join(o.imagesDir, im.file_name) }, o.untagged ? null : tagged, configs.map((c) => ({ method: c.method, params: c.params })));
    r.classScores.forEach((score, c) => classScores.push({ score, present: tagged.includes(c) }));
    r.results.forEach((list, k) => {
      for (const inst of list) {
        preds[k].push({ id: nextId++, image_id: im.id, category_id: -1, segmentation: inst.mask, area: inst.area, bbox: inst.bbox, iscrowd: 0, score: inst.score, class_name: bundle.manifest.classes[inst.classIndex].name });
      }
    });
    o.log?.(`${i + 1}/${images.length} ${im.file_name}: ${r.timings.peakCount} peaks`);
    pipeline.forget();
  }
  await sessions.release();
  // Predictions as a dataset whose categories are the model's classes (matched to GT by name).
  const categories = bundle.manifest.classes.map((c, i) => ({ id: i + 1, name: c.name }));
  const byName = new Map(categories.map((c) => [c.name, c.id]));
  const ids = new Set(images.map((im) => im.id));
  const gtSubset: CocoDataset = { ...gt, images, annotations: gt.annotations.filter((a) => ids.has(a.image_id)) };
  const results = configs.map((c, k) => {
    const annotations = preds[k].map((a) => ({ ...a, category_id: byName.get(a.class_name as string)! }));
    const dataset: CocoDataset = { images, annotations, categories };
    return { name: c.name, method: c.method, params: c.params, report: evaluateInstances(gtSubset, dataset, { classes: o.classes }) };
  });
  return { data: o.gtFile, images: images.length, mode: o.untagged ? 'untagged' : 'tagged', configs: results, classScores, seconds: (performance.now() - t0) / 1000 };
}

/** The class-score threshold maximising F1 of "class present" over (image, class) pairs. */
export function bestClassThreshold(scores: TuneResult['classScores']): { threshold: number; f1: number } {
  const sorted = [...scores].sort((a, b) => b.score - a.score);
  const positives = sorted.filter((s) => s.present).length;
  let tp = 0;
  let best = { threshold: Infinity, f1: 0 };
  sorted.forEach((s, i) => {
    if (s.present) tp++;
    const f1 = (2 * tp) / (i + 1 + positives);
    const next = sorted[i + 1]?.score ?? -Infinity;
    if (f1 > best.f1 && s.score > next) best = { threshold: (s.score + Math.max(next, s.score - 1)) / 2, f1 };
  });
  return best;
}

export function summaryTable(r: TuneResult): string {
  const rows = r.configs.map((c) => `| ${c.name} | ${c.report.mAP.map((v) => (100 * v).toFixed(1)).join(' | ')} | ${(100 * c.report.abo).toFixed(1)} | ${c.report.predInstances} |`);
  return [`${r.data} (${r.images} images, ${r.mode})`, '| config | mAP^r@0.25 | @0.5 | @0.75 | ABO | pred |', '|---|---|---|---|---|---|', ...rows].join('\n');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      data: { type: 'string', default: 'pennfudan' },
      limit: { type: 'string' },
      every: { type: 'string' },
      offset: { type: 'string' },
      iam: { type: 'boolean' },
      scores: { type: 'boolean' },
      untagged: { type: 'boolean' },
      full: { type: 'boolean' },
      out: { type: 'string' },
      classes: { type: 'string' },
    },
  });
  const shared = process.env.PEAKLABEL_SHARED ?? resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'shared');
  const dir = join(shared, 'data', values.data);
  const r = await tune({
    gtFile: join(dir, 'instances.json'),
    imagesDir: join(dir, 'images'),
    limit: values.limit ? Number(values.limit) : undefined,
    every: values.every ? Number(values.every) : undefined,
    offset: values.offset ? Number(values.offset) : undefined,
    iam: Boolean(values.iam),
    scoresOnly: Boolean(values.scores),
    untagged: Boolean(values.untagged),
    full: Boolean(values.full),
    classes: (values.classes as 'all' | 'voc20') ?? (values.data === 'coco-mini' ? 'voc20' : 'all'),
    log: (s) => process.stderr.write(`${s}\n`),
  });
  console.log(summaryTable(r));
  const best = r.configs.filter((c) => c.method === 'prm').sort((a, b) => b.report.mAP[1] - a.report.mAP[1])[0];
  if (best) console.log(`\nbest prm config at mAP^r@0.5: ${best.name}\n${formatEvalTable(best.report)}`);
  const th = bestClassThreshold(r.classScores);
  console.log(`class-score threshold maximising F1 of class presence: ${th.threshold.toFixed(3)} (F1 ${th.f1.toFixed(3)})`);
  if (values.out) writeFileSync(values.out, JSON.stringify({ ...r, classThreshold: th }, null, 1));
}
