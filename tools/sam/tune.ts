// Prompt and scoring choices of method sam, measured on the dev splits (tagged mode, VOC-20 classes):
// each configuration's mAP^r at 0.25/0.5/0.75 and ABO, on all images and on the two halves (odd/even image
// id), so a choice is kept only when it helps on both. Embeddings come from embed-dev.ts; decoder results
// are memoised, so configurations that differ only in scoring re-run no decoder.
//   npx tsx tools/sam/tune.ts [--sets pennfudan,coco-mini] [--configs base,peak,...] [--limit N] [--model DIR]
//     [--segmenter DIR] (another SAM-format pair, as Settings takes it)
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CocoAnnotation, CocoDataset } from '../../src/common/coco/types';
import { canonicalClassName, evaluateInstances, type EvalReport } from '../../src/common/eval';
import { rleArea } from '../../src/common/rle';
import { DEFAULT_SAM_PROMPT_OPTIONS, type SamPromptOptions } from '../../src/common/sam-prompts';
import { readBundle } from '../../src/main/engine/bundle';
import { Pipeline } from '../../src/main/engine/pipeline';
import { ProposalCache } from '../../src/main/engine/proposal-cache';
import { SamHost } from '../../src/main/engine/sam-method';
import { defaultSegmenterFiles, segmenterFilesIn, type SamMask } from '../../src/main/engine/segmenter';
import { ModelSessions, sessionOptions } from '../../src/main/engine/sessions';
import { embeddingFile } from './embed-dev';

const repo = join(import.meta.dirname, '..', '..');
const shared = process.env.PEAKLABEL_SHARED ?? join(repo, '..', 'shared');
const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
};

/**
 * A configuration is named by its changes to the defaults, e.g. `click=peak+merge=0+nms=0.3+score=1/0/1/0`
 * (score exponents: iouPred/agreement/peakRel/support[/stability]); `base` is the defaults. Also `choice=estimate|whole`:
 * which of the segmenter's masks; `clean=F`: islands and holes under F of the image removed; `crm=F`: the
 * class-response region fraction, read only by bundles without IAM; `floor=F`: the bundle's peak floor,
 * retrieval.json's peakRelThreshold.
 */
function parseConfig(spec: string): { prompts: Partial<SamPromptOptions>; floor?: number } {
  const o: Partial<SamPromptOptions> = {};
  let floor: number | undefined;
  if (spec === 'base') return { prompts: o };
  for (const part of spec.split('+')) {
    const [k, v] = part.split('=');
    if (k === 'floor') floor = Number(v);
    else if (k === 'click') o.click = v as SamPromptOptions['click'];
    else if (k === 'merge') o.mergeInside = v === '1';
    else if (k === 'nms') o.nmsIou = Number(v);
    else if (k === 'contain') o.containment = Number(v);
    else if (k === 'region') o.regionInside = Number(v);
    else if (k === 'minarea') o.minAreaFraction = Number(v);
    else if (k === 'crm') o.crmFraction = Number(v);
    else if (k === 'choice') o.maskChoice = v as SamPromptOptions['maskChoice'];
    else if (k === 'clean') o.minRegionFraction = Number(v);
    else if (k === 'split') o.groupSplit = Number(v);
    else if (k === 'score') {
      const [iou, agreement, peak, support, stability = 0] = v.split('/').map(Number);
      o.score = { iou, agreement, peak, support, stability };
    } else throw new Error(`unknown option ${k} in ${spec}`);
  }
  return { prompts: o, floor };
}

async function main(): Promise<void> {
  const sets = arg('sets', 'pennfudan,coco-mini').split(',');
  const names = arg('configs', 'base').split(',');
  const limit = Number(arg('limit', '0'));
  const bundle = readBundle(arg('model', join(repo, 'resources', 'models')));
  const bundleFloor = bundle.retrieval.peakRelThreshold;
  const sessions = await ModelSessions.open(bundle, { provider: 'cpu', threads: 2 });
  const host = new SamHost({ files: process.argv.includes('--segmenter') ? segmenterFilesIn(arg('segmenter', '')) : defaultSegmenterFiles(), provider: 'cpu', sessionOptions: sessionOptions(2) });
  const seg = await host.segmenter();
  const decode = seg.decode.bind(seg);
  // Logits are kept as four levels, enough for the mask (> 0) and its stability score (> 1 against > −1).
  const memo = new Map<string, { levels: Int8Array; m: SamMask }>();
  const LEVEL_LOGIT = [-2, -0.5, 0.5, 2];
  seg.decode = async (e, prompt, out, choice) => {
    const key = `${e.data[0]}|${e.data[1000]}|${JSON.stringify(prompt)}|${out?.width}|${choice}`;
    const hit = memo.get(key);
    if (hit) return { ...hit.m, logits: Float32Array.from(hit.levels, (l) => LEVEL_LOGIT[l]) };
    const m = await decode(e, prompt, out, choice);
    memo.set(key, { levels: Int8Array.from(m.logits, (v) => (v > 1 ? 3 : v > 0 ? 2 : v > -1 ? 1 : 0)), m: { ...m, logits: new Float32Array(0) } });
    return m;
  };
  const pipeline = new Pipeline(bundle, sessions, new ProposalCache(null), undefined, host);
  const classOf = new Map<string, number>();
  bundle.manifest.classes.forEach((c, i) => [c.name, ...c.aliases].forEach((n) => classOf.set(canonicalClassName(n), i)));

  for (const set of sets) {
    const gt = JSON.parse(readFileSync(join(shared, 'data', set, 'instances.json'), 'utf8')) as CocoDataset;
    const images = gt.images.slice(0, limit > 0 ? limit : undefined);
    const catOfClass = new Map<number, number>();
    for (const c of gt.categories) {
      const k = classOf.get(canonicalClassName(c.name));
      if (k !== undefined) catOfClass.set(k, c.id);
    }
    const preds: Record<string, CocoAnnotation[]> = Object.fromEntries(names.map((n) => [n, []]));
    let prompts = 0;
    let decoderMs = 0;
    for (const im of images) {
      const tags = [...new Set(gt.annotations.filter((a) => a.image_id === im.id).map((a) => classOf.get(canonicalClassName(gt.categories.find((c) => c.id === a.category_id)!.name))).filter((k): k is number => k !== undefined))];
      if (!tags.length) continue;
      const file = join(shared, 'data', set, 'images', im.file_name);
      const stored = readFileSync(embeddingFile(file));
      const hash = embeddingFile(file).split('/').pop()!.replace('.f32', '');
      await host.embeddings.get(hash, async () => ({ data: new Float32Array(stored.buffer, stored.byteOffset, stored.byteLength / 4), width: im.width, height: im.height, scale: 1024 / Math.max(im.width, im.height) }));
      for (const name of names) {
        const { prompts: changes, floor } = parseConfig(name);
        Object.assign(host.prompts, DEFAULT_SAM_PROMPT_OPTIONS, changes);
        bundle.retrieval.peakRelThreshold = floor ?? bundleFloor; // the pipeline reads it per call
        const r = await pipeline.processImage({ file }, { classes: tags }, 'sam', () => undefined);
        if (name === names[0]) {
          prompts += r.timings.samPrompts;
          decoderMs += r.timings.samDecoder;
        }
        for (const inst of r.instances) {
          preds[name].push({ id: preds[name].length + 1, image_id: im.id, category_id: catOfClass.get(inst.classIndex)!, segmentation: inst.mask, area: rleArea(inst.mask), bbox: inst.bbox, iscrowd: 0, score: inst.score });
        }
      }
    }
    console.log(`\n${set}: ${images.length} images, ${names[0]}: ${(prompts / images.length).toFixed(2)} prompts/image, decoder ${(decoderMs / Math.max(prompts, 1)).toFixed(0)} ms/prompt`);
    console.log('config'.padEnd(34), 'all: mAP .25/.5/.75 ABO'.padEnd(30), 'odd ids'.padEnd(22), 'even ids'.padEnd(22), 'preds', ' pieces/holes per mask');
    for (const name of names) {
      const row = (filter: (id: number) => boolean) => {
        const ids = new Set(images.filter((im) => filter(im.id)).map((im) => im.id));
        const sub: CocoDataset = { ...gt, images: gt.images.filter((im) => ids.has(im.id)), annotations: gt.annotations.filter((a) => ids.has(a.image_id)) };
        return evaluateInstances(sub, preds[name].filter((p) => ids.has(p.image_id)), { classes: 'voc20' });
      };
      const all = row(() => true);
      const tidy = `${all.piecesPerMask.toFixed(2)} / ${all.holesPerMask.toFixed(2)}`;
      console.log(name.padEnd(34), fmt(all).padEnd(30), fmt(row((id) => id % 2 === 1)).padEnd(22), fmt(row((id) => id % 2 === 0)).padEnd(22), String(preds[name].length).padEnd(6), tidy);
    }
    if (process.argv.includes('--per-class')) {
      const reports = names.map((n) => evaluateInstances(gt, preds[n].filter((p) => images.some((im) => im.id === p.image_id)), { classes: 'voc20' }));
      console.log('class AP@0.5 (instances):', names.join(' | '));
      for (const c of reports[0].classes) {
        console.log(`  ${c.name.padEnd(14)} (${c.gt})`, reports.map((r) => (100 * (r.classes.find((k) => k.name === c.name)?.ap[1] ?? 0)).toFixed(1)).join(' | '));
      }
    }
  }
}

function fmt(r: EvalReport): string {
  return `${r.mAP.map((v) => (100 * v).toFixed(1)).join('/')} ${(100 * r.abo).toFixed(1)}`;
}

await main();
