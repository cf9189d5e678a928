// `peaklabel bench [engine]`: per-stage milliseconds of the pipeline, images/s for 1 and 2 workers,
// peak RSS, and the app's overhead around ORT, over ../shared/data/pennfudan (or --images DIR).
import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_SUGGESTION_METHOD, isSuggestionMethod, SUGGESTION_METHODS, type SuggestionMethod } from '../../common/api';
import { PeakLabelError } from '../../common/errors';
import { parseOptions } from '../cli/args';
import type { CliContext } from '../cli/types';
import { parseProvider } from '../cli/commands/info';
import { crfChoice } from '../cli/commands/prelabel';
import type { BenchSuite } from '../cli/commands/bench';
import { Engine } from '../engine/engine';
import { listImageFiles } from '../engine/prelabel';
import { readBundle } from '../engine/bundle';
import { readTagsFile, resolveTags } from '../engine/tags-file';
import type { StageTimings } from '../engine/protocol';

const STAGES = ['decode', 'preprocess', 'backbone', 'peaks', 'prm', 'proposals', 'iam', 'samEncoder', 'samDecoder', 'retrieval', 'encode'] as const;

export interface BenchRun {
  workers: number;
  images: number;
  seconds: number;
  imagesPerSecond: number;
  /** Mean ms per image for each stage (measured inside the worker). */
  stages: Record<(typeof STAGES)[number], number>;
  /** Mean ms per image inside ORT session.run, and mean peaks per image. */
  ort: number;
  peaks: number;
  /** Method sam: mean segmenter decoder calls per image. */
  prompts: number;
  /** Mean wall ms per image as the caller sees it (1 worker: includes messaging). */
  wall: number;
}

export interface BenchReport {
  device: string;
  provider: string;
  fallbackReasons: string[];
  method: SuggestionMethod;
  data: string;
  tagged: boolean;
  runs: BenchRun[];
  peakRssMb: number;
  /** Clicks next to a found peak; `fresh`: clicks at new points (one PRM or IAM call each). */
  clickMs: { mean: number; p95: number; n: number; fresh: { mean: number; p95: number; n: number }; prompt?: { mean: number; p95: number; n: number } } | null;
}

function defaultData(): string {
  const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  return process.env.PEAKLABEL_SHARED ? join(process.env.PEAKLABEL_SHARED, 'data', 'pennfudan', 'images') : resolve(repo, '..', 'shared', 'data', 'pennfudan', 'images');
}

/** Runs the benchmark; the table printer and tests share it. */
export async function benchEngine(o: {
  images: string[];
  /** Class indices per image file (tagged mode); images missing run untagged. */
  tags?: Map<string, number[]>;
  method: SuggestionMethod;
  provider?: ReturnType<typeof parseProvider>;
  workerCounts: number[];
  bundleDir?: string;
  segmenterDir?: string;
  clicks?: number;
  iamCrf?: boolean;
}): Promise<Omit<BenchReport, 'data' | 'device' | 'tagged'>> {
  const runs: BenchRun[] = [];
  let provider = '';
  let fallbackReasons: string[] = [];
  let clickMs: BenchReport['clickMs'] = null;
  for (const workers of o.workerCounts) {
    // No disk cache: proposals are part of what is measured.
    const engine = await Engine.open({ bundleDir: o.bundleDir, segmenterDir: o.segmenterDir, provider: o.provider, workers, cacheDir: null, iamCrf: o.iamCrf });
    try {
      provider = engine.provider;
      fallbackReasons = engine.opened.fallbackReasons;
      const timings: StageTimings[] = [];
      const walls: number[] = [];
      // Warm-up image (first-run allocations), not counted.
      await engine.processImage({ image: { file: o.images[0] }, classes: null, method: o.method });
      let next = 0;
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: workers }, async () => {
          while (next < o.images.length) {
            const file = o.images[next++];
            const s = performance.now();
            // Untagged unless tags are given: the model's class scores choose the classes.
            const r = await engine.processImage({ image: { file }, classes: o.tags?.get(basename(file)) ?? null, method: o.method });
            walls.push(performance.now() - s);
            timings.push(r.timings);
          }
        }),
      );
      const seconds = (performance.now() - t0) / 1000;
      const mean = (f: (t: StageTimings) => number) => timings.reduce((a, t) => a + f(t), 0) / timings.length;
      runs.push({
        workers,
        images: timings.length,
        seconds,
        imagesPerSecond: timings.length / seconds,
        stages: { ...(Object.fromEntries(STAGES.map((k) => [k, mean((t) => t[k])])) as BenchRun['stages']), samEncoder: encoderMean(timings) },
        ort: mean((t) => t.ort),
        peaks: mean((t) => t.peakCount),
        prompts: mean((t) => t.samPrompts),
        wall: walls.reduce((a, b) => a + b, 0) / walls.length,
      });
      if (workers === 1 && (o.clicks ?? 0) > 0) clickMs = await benchClicks(engine, o.images, o.method, o.clicks!);
    } finally {
      await engine.close();
    }
  }
  return { provider, fallbackReasons, method: o.method, runs, peakRssMb: process.resourceUsage().maxRSS / 1024, clickMs };
}

/** The encoder's mean over the images where it ran (the warm-up image's embedding stays cached). */
function encoderMean(timings: StageTimings[]): number {
  const ran = timings.filter((t) => !t.embeddingCacheHit && t.samEncoder > 0);
  return ran.length ? ran.reduce((a, t) => a + t.samEncoder, 0) / ran.length : 0;
}

/**
 * Click → instance latency on an open image (backbone output, proposals and the auto peaks' PRMs already
 * cached, as in the editor): clicks next to a found peak reuse its PRM; clicks elsewhere need a PRM call.
 */
async function benchClicks(engine: Engine, images: string[], method: SuggestionMethod, n: number): Promise<BenchReport['clickMs']> {
  const near: number[] = [];
  const fresh: number[] = [];
  const prompt: number[] = [];
  for (const file of images.slice(0, Math.max(1, Math.ceil(n / 3)))) {
    await engine.processImage({ image: { file }, classes: null, method }); // opening the image
    const peaks = await engine.findPeaks({ file }, { classes: null });
    for (const p of peaks.slice(0, 2)) {
      const s = performance.now();
      await engine.suggestAt({ file }, p.classIndex, p.x + 3, p.y + 3, method);
      near.push(performance.now() - s);
    }
    if (peaks.length) {
      // 40 px below the strongest peak: a new point, same class.
      const p = peaks[0];
      const s = performance.now();
      await engine.suggestAt({ file }, p.classIndex, p.x, p.y + 40, method).catch(() => null);
      fresh.push(performance.now() - s);
      if (method === 'sam') {
        // The editor's refinement: the peak plus a second positive point, decoder only (embedding cached).
        const s2 = performance.now();
        await engine.segmentPrompt({ file }, p.classIndex, { points: [{ x: p.x, y: p.y, label: 1 }, { x: p.x, y: p.y + 20, label: 1 }] });
        prompt.push(performance.now() - s2);
      }
    }
  }
  const stats = (ms: number[]) => {
    const sorted = [...ms].sort((a, b) => a - b);
    return { mean: ms.reduce((a, b) => a + b, 0) / Math.max(1, ms.length), p95: sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.95))] ?? 0, n: ms.length };
  };
  return near.length ? { ...stats(near), fresh: stats(fresh), ...(prompt.length ? { prompt: stats(prompt) } : {}) } : null;
}

export function formatBench(r: BenchReport): string {
  const lines: string[] = [];
  lines.push(`engine bench: ${r.data}, ${r.tagged ? 'tagged' : 'untagged'}, method ${r.method}, provider ${r.provider} (${r.device})`);
  for (const f of r.fallbackReasons) lines.push(`  not used: ${f}`);
  const head = ['workers', 'images', ...STAGES, 'ORT', 'peaks/img', 'prompts/img', 'wall ms/img', 'images/s'];
  const rows = r.runs.map((x) => [
    String(x.workers),
    String(x.images),
    ...STAGES.map((k) => x.stages[k].toFixed(1)),
    x.ort.toFixed(1),
    x.peaks.toFixed(1),
    x.prompts.toFixed(1),
    x.wall.toFixed(1),
    x.imagesPerSecond.toFixed(2),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const fmt = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join('  ');
  lines.push('stage means in ms per image (measured in the worker):');
  lines.push(fmt(head));
  for (const row of rows) lines.push(fmt(row));
  const one = r.runs.find((x) => x.workers === 1);
  if (one) {
    const algorithmic = one.stages.peaks + one.stages.proposals + one.stages.retrieval;
    const app = one.wall - one.ort - algorithmic;
    lines.push(`1 worker: ${one.wall.toFixed(0)} ms/image wall = ORT ${one.ort.toFixed(0)} + peaks/proposals/retrieval ${algorithmic.toFixed(0)} + app ${app.toFixed(0)} (decode, preprocess, encode, messaging)`);
    lines.push(`app overhead vs pure ORT time: ${((100 * app) / one.ort).toFixed(1)}% (target ≤ 20%)`);
  }
  if (one && r.method === 'sam') {
    lines.push(`sam: encoder ${one.stages.samEncoder.toFixed(0)} ms/image (target ≤ 800), decoder ${(one.stages.samDecoder / Math.max(one.prompts, 1e-9)).toFixed(1)} ms/prompt (target ≤ 50), ${one.prompts.toFixed(1)} prompts/image, whole ${(one.wall / 1000).toFixed(2)} s/image (target ≤ 1.2)`);
  }
  if (r.clickMs) {
    const f = r.clickMs.fresh;
    lines.push(`click → instance, image open, click on a found peak: mean ${r.clickMs.mean.toFixed(0)} ms, p95 ${r.clickMs.p95.toFixed(0)} ms over ${r.clickMs.n} clicks (target ≤ 150 ms)`);
    const call = r.method === 'iam' ? 'one IAM call' : r.method === 'sam' ? 'IAM + decoder' : 'one PRM call';
    lines.push(`click → instance, image open, click at a new point (${call}): mean ${f.mean.toFixed(0)} ms, p95 ${f.p95.toFixed(0)} ms over ${f.n} clicks`);
    const pr = r.clickMs.prompt;
    if (pr) lines.push(`click → mask, embedding computed, a refining point (decoder only): mean ${pr.mean.toFixed(0)} ms, p95 ${pr.p95.toFixed(0)} ms over ${pr.n} prompts (target ≤ 80 ms)`);
  }
  lines.push(`peak RSS ${r.peakRssMb.toFixed(0)} MB (whole process, all workers)`);
  return lines.join('\n');
}

/** Several methods' reports side by side: wall ms per image with one worker, relative to the first method. */
export function formatComparison(reports: BenchReport[]): string {
  const wall = (r: BenchReport) => (r.runs.find((x) => x.workers === 1) ?? r.runs[0]).wall;
  const [first, ...rest] = reports;
  const lines = [`per image, ${first.runs.some((x) => x.workers === 1) ? '1 worker' : `${first.runs[0].workers} workers`}: ${reports.map((r) => `${r.method} ${wall(r).toFixed(0)} ms`).join(', ')}`];
  for (const r of rest) {
    const f = wall(r) / wall(first);
    lines.push(f >= 1 ? `${first.method} is ${f.toFixed(1)}× faster per image than ${r.method}` : `${first.method} is ${(1 / f).toFixed(1)}× slower per image than ${r.method}`);
  }
  return lines.join('\n');
}

export const suite: BenchSuite = {
  name: 'engine',
  summary: 'pipeline speed per stage, images/s for 1 and 2 workers, click latency, peak RSS',
  async run(args: string[], ctx: CliContext): Promise<number> {
    const { values } = parseOptions('bench engine', args, {
      method: { type: 'string', default: DEFAULT_SUGGESTION_METHOD },
      provider: { type: 'string' },
      limit: { type: 'string' },
      images: { type: 'string' },
      workers: { type: 'string', default: '1,2' },
      model: { type: 'string' },
      segmenter: { type: 'string' },
      json: { type: 'string' },
      tags: { type: 'string' },
      crf: { type: 'boolean' },
      'no-crf': { type: 'boolean' },
      help: { type: 'boolean' },
    });
    if (values.help) {
      ctx.out(`peaklabel bench [engine] [--method prm|iam|sam|threshold|rect|ellipse[,…]] [--crf|--no-crf] [--model DIR] [--segmenter DIR] [--provider P] [--limit N] [--images DIR] [--tags FILE] [--workers 1,2] [--json FILE]`);
      ctx.out('  several methods (e.g. --method iam,prm): one table each, then how much faster per image the first is');
      return 0;
    }
    const methods = values.method.split(',').map((m) => m.trim());
    const bad = methods.filter((m) => !isSuggestionMethod(m));
    if (bad.length || !methods.length) throw new PeakLabelError('BAD_ARGUMENT', `bench: unknown method ${bad.join(', ') || '(none)'}; use ${SUGGESTION_METHODS.join(', ')} (comma-separated for a comparison).`);
    const data = resolve(values.images ?? defaultData());
    if (!existsSync(data)) throw new PeakLabelError('NOT_FOUND', `bench: the image folder ${data} does not exist (../shared must sit beside the repository, or pass --images).`, { file: data });
    let images = listImageFiles(data);
    if (values.limit) images = images.slice(0, Math.max(1, Number(values.limit)));
    const workerCounts = values.workers.split(',').map(Number).filter((n) => Number.isInteger(n) && n > 0);
    let tags: Map<string, number[]> | undefined;
    if (values.tags) {
      const manifest = readBundle(values.model).manifest;
      tags = new Map([...readTagsFile(resolve(values.tags)).tags].map(([f, t]) => [f, resolveTags(manifest, t)]));
    }
    const os = await import('node:os');
    const device = `${os.cpus()[0]?.model ?? 'cpu'} × ${os.availableParallelism()}`;
    const reports: BenchReport[] = [];
    for (const method of methods as SuggestionMethod[]) {
      const r = await benchEngine({ images, tags, method, provider: parseProvider(values.provider), workerCounts, bundleDir: values.model, segmenterDir: values.segmenter, clicks: 30, iamCrf: crfChoice(values.crf, values['no-crf']) });
      reports.push({ ...r, data, tagged: Boolean(tags), device });
      ctx.out(formatBench(reports[reports.length - 1]));
    }
    if (reports.length > 1) ctx.out(formatComparison(reports));
    if (values.json) {
      const { writeFileSync } = await import('node:fs');
      writeFileSync(values.json, JSON.stringify(reports.length > 1 ? reports : reports[0], null, 2));
    }
    return 0;
  },
};
