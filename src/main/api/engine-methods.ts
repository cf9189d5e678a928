// The engine's part of the API (engineInfo, findPeaks, classResponse, suggestForPeak, prelabel), built on
// the service context. The engine opens lazily on first use; a missing or broken bundle makes
// engineInfo report it and the other methods reject with its error, while the rest of the app works.
import { resolve } from 'node:path';
import sharp from 'sharp';
import { preferredMethod, type ActivationKind, type EngineInfo, type EngineSettings, type GrayMap, type InstanceRow, type Peak, type PrelabelOptions, type Rle, type SegmentPrompt, type SuggestionMethod, type TrainRequest } from '../../common/api';
import { aboutFile, PeakLabelError, toErrorInfo, type ErrorInfo } from '../../common/errors';
import type { ProjectStore, ImageSource } from '../store/project-store';
import type { EngineFactory, EngineMethods, ServiceContext } from './context';
import { Engine, type EngineOptions } from '../engine/engine';
import { segmenterFilesIn } from '../engine/segmenter';
import { classIndexOf, readBundle } from '../engine/bundle';
import { DEFAULT_RETRIEVAL_PARAMS } from '../engine/manifest';
import { defaultEngineSettings, readSavedEngineSettings, retrievalOverrides, writeEngineSettings } from '../engine/settings';
import { engineSettingsCheck } from './validate';
import { runPrelabel, type PrelabelItem } from '../engine/prelabel';
import type { ClassSelection, EngineInstance, ImageRef, ResponseMap } from '../engine/protocol';
import { resolveTags } from '../engine/tags-file';
import { createTrainingMethods } from '../training/train-methods';

export interface EngineMethodsOptions extends EngineOptions {
  /** Suggestion method until the user saves one in Settings (default: the saved one, else PRM retrieval). */
  method?: SuggestionMethod;
}

/** An EngineFactory for createService with fixed engine options (provider, workers, bundle). */
export function engineFactory(opts: EngineMethodsOptions = {}): EngineFactory {
  return (ctx) => createEngineMethods(ctx, opts);
}

/** An engine map as a grayscale PNG; `scale` relates its width to the image's. */
async function grayPng(map: ResponseMap, imageWidth: number): Promise<GrayMap> {
  const png = await sharp(Buffer.from(map.gray), { raw: { width: map.width, height: map.height, channels: 1 } }).toColourspace('b-w').png().toBuffer();
  return { mime: 'image/png', data: new Uint8Array(png), width: map.width, height: map.height, scale: map.width / imageWidth, min: map.min, max: map.max, ...(map.frame ? { frame: map.frame } : {}) };
}

export function createEngineMethods(ctx: ServiceContext, opts: EngineMethodsOptions = {}): EngineMethods & { closeEngine(): Promise<void> } {
  let opening: Promise<Engine> | null = null;
  let openError: ErrorInfo | null = null;
  // Saved choices (engine-settings.json), then the caller's explicit options (CLI flags) until the user saves.
  const read = readSavedEngineSettings(engineSettingsCheck);
  let saved = read.settings;
  // Cleared once Settings are saved: the damaged file has then been replaced.
  let settingsWarning = read.warning ?? undefined;
  let chosen: Partial<EngineSettings> = {
    ...saved,
    ...(opts.provider ? { provider: opts.provider } : {}),
    ...(opts.workers ? { workers: opts.workers } : {}),
    ...(opts.method ? { method: opts.method } : {}),
  };

  // The chosen method, else the default when this engine offers it (without a segmenter: IAM, else PRM retrieval).
  const currentMethod = (e: Engine): SuggestionMethod => chosen.method ?? preferredMethod(e.methods);
  // The bundle chosen in Settings, else the app's (PEAKLABEL_MODEL_DIR, --model, resources/models).
  const bundleDir = (): string | undefined => chosen.modelDir || opts.bundleDir;
  const settings = (): EngineSettings => {
    let retrieval = DEFAULT_RETRIEVAL_PARAMS;
    try {
      retrieval = readBundle(bundleDir()).retrieval;
    } catch {
      // a broken bundle is reported by engineInfo; the panel still shows (and saves) settings
    }
    return { ...defaultEngineSettings(retrieval), ...chosen };
  };
  const engineOptions = (): EngineOptions => {
    const s = settings();
    return { ...opts, bundleDir: bundleDir(), segmenterDir: s.segmenterDir || opts.segmenterDir, provider: s.provider === 'auto' ? undefined : s.provider, workers: s.workers, retrieval: retrievalOverrides(s) };
  };

  const engine = (): Promise<Engine> => {
    opening ??= Engine.open(engineOptions()).catch((err) => {
      openError = toErrorInfo(err);
      opening = null; // a fixed bundle can be retried
      throw err;
    });
    return opening;
  };

  // The project's trained head (when it fits the bundle) replaces the bundle's for every method.
  const training = createTrainingMethods(ctx, engine);
  const engineFor = async (store: ProjectStore): Promise<Engine> => training.withHead(store, await engine());

  /** Model class index ↔ project class (created on first use, coloured like any new class: see class-colors.ts). */
  const projectClassId = (store: ProjectStore, e: Engine, classIndex: number): number => {
    const existing = store.listClasses().find((k) => classIndexOf(e.bundle.manifest, k.name) === classIndex);
    return existing?.id ?? store.ensureClass(e.bundle.manifest.classes[classIndex].name).id;
  };
  const modelClassIndex = (store: ProjectStore, e: Engine, classId: number): number => {
    const cls = store.getClass(classId);
    const i = classIndexOf(e.bundle.manifest, cls.name);
    if (i < 0) throw new PeakLabelError('BAD_ARGUMENT', `The class "${cls.name}" is not one the model knows (${e.bundle.manifest.classes.map((c) => c.name).join(', ')}).`);
    return i;
  };
  const imageRef = (src: ImageSource): ImageRef => ({ file: src.workingCopy ?? src.path, size: { width: src.width, height: src.height } });
  /**
   * How the project's images are searched: a tagged one for its tags; an untagged one for the classes whose
   * class score passes the threshold, and in a project that trained its own head (which is about its own
   * classes) only among the model classes the project has (docs/adr/training-project-heads.md, "untagged
   * images"). Built once per request: the project's classes are read once, not per image.
   */
  const classSearch = (store: ProjectStore, e: Engine): ((src: ImageSource) => ClassSelection) => {
    const m = e.bundle.manifest;
    const among = e.bundle.projectHead ? [...new Set(store.listClasses().map((c) => classIndexOf(m, c.name)).filter((i) => i >= 0))] : undefined;
    return (src) => (src.tags.length ? { classes: resolveTags(m, src.tags) } : { classes: null, among });
  };
  const toNewInstance = (store: ProjectStore, e: Engine, inst: EngineInstance) => ({
    classId: projectClassId(store, e, inst.classIndex),
    mask: inst.mask,
    score: inst.score,
    peak: inst.peak,
    // a class served by the project's head is marked with the head's version
    modelId: e.bundle.projectHead?.rows.includes(inst.classIndex) ? `${e.bundle.manifest.modelId}+head${e.bundle.projectHead.key.split('#')[1]}` : e.bundle.manifest.modelId,
    method: inst.method,
  });

  const closeEngine = async (): Promise<void> => {
    const p = opening;
    opening = null;
    if (p) await (await p.catch(() => null))?.close();
  };

  const methods = {
    async engineInfo(): Promise<EngineInfo> {
      try {
        const e = ctx.project ? await engineFor(ctx.project) : await engine();
        const st = await e.status();
        return {
          available: true,
          provider: st.provider,
          fallbackReasons: [...st.fallbackReasons, ...e.unavailable],
          modelId: e.bundle.manifest.modelId,
          modelClasses: e.bundle.manifest.classes.map((c) => c.name),
          methods: e.methods,
          segmenter: e.segmenter?.source ?? null,
          error: null,
          ...(settingsWarning ? { settingsWarning } : {}),
        };
      } catch (err) {
        const error = openError ?? toErrorInfo(err);
        return {
          available: false, provider: null, fallbackReasons: error.detail ? error.detail.split('\n') : [], modelId: null, modelClasses: [], methods: [], segmenter: null, error,
          ...(settingsWarning ? { settingsWarning } : {}),
        };
      }
    },

    async findPeaks(imageId: number): Promise<Peak[]> {
      const store = ctx.store();
      const e = await engineFor(store);
      const src = store.imageSource(imageId);
      const peaks = await e.findPeaks(imageRef(src), classSearch(store, e)(src));
      return peaks.map((p) => ({ classId: projectClassId(store, e, p.classIndex), x: p.x, y: p.y, score: p.score }));
    },

    async classResponse(imageId: number, classId: number): Promise<GrayMap> {
      const store = ctx.store();
      const e = await engineFor(store);
      const src = store.imageSource(imageId);
      return grayPng(await e.classResponse(imageRef(src), modelClassIndex(store, e, classId)), src.width);
    },

    async peakMap(imageId: number, peak: { classId: number; x: number; y: number }, kind: ActivationKind = 'prm'): Promise<GrayMap> {
      const store = ctx.store();
      const e = await engineFor(store);
      const src = store.imageSource(imageId);
      return grayPng(await e.peakMap(imageRef(src), modelClassIndex(store, e, peak.classId), peak.x, peak.y, kind), src.width);
    },

    async snapToProposal(imageId: number, mask: Rle): Promise<{ mask: Rle; iou: number } | null> {
      const store = ctx.store();
      const e = await engineFor(store);
      return e.snapToProposal(imageRef(store.imageSource(imageId)), mask);
    },

    async proposalAt(imageId: number, x: number, y: number): Promise<Rle | null> {
      const store = ctx.store();
      const e = await engineFor(store);
      return e.proposalAt(imageRef(store.imageSource(imageId)), x, y);
    },

    async segmentPrompt(imageId: number, prompt: SegmentPrompt): Promise<{ mask: Rle; score: number } | null> {
      const store = ctx.store();
      const e = await engineFor(store); // the project's head decides which classes exist
      const src = store.imageSource(imageId);
      const inst = await e.segmentPrompt(imageRef(src), modelClassIndex(store, e, prompt.classId), { points: prompt.points, box: prompt.box });
      return inst && { mask: inst.mask, score: inst.score };
    },

    async prepareImage(imageId: number): Promise<{ cached: boolean }> {
      const store = ctx.store();
      const e = await engine();
      return { cached: await e.prepare(imageRef(store.imageSource(imageId))) };
    },

    async suggestForPeak(imageId: number, peak: { classId: number; x: number; y: number }, method?: SuggestionMethod): Promise<InstanceRow> {
      const store = ctx.store();
      const e = await engineFor(store);
      const src = store.imageSource(imageId);
      const inst = await e.suggestAt(imageRef(src), modelClassIndex(store, e, peak.classId), peak.x, peak.y, method ?? currentMethod(e));
      if (!inst) throw new PeakLabelError('NOT_FOUND', `No instance of that class was found at (${Math.round(peak.x)}, ${Math.round(peak.y)}) in ${src.path}.`, { file: src.path });
      return store.createInstance(imageId, { ...toNewInstance(store, e, inst), classId: peak.classId, source: 'suggested' });
    },

    async prelabel(o: PrelabelOptions) {
      const store = ctx.store();
      const e = await engineFor(store);
      const method = o.method ?? currentMethod(e);
      const todo = store.imagesNeedingSuggestions({ imageIds: o.imageIds, force: o.force });
      const job = ctx.jobs.start('prelabel', todo.length);
      const failed: ErrorInfo[] = [];
      let instances = 0;
      let images = 0;
      const search = classSearch(store, e);
      const items: PrelabelItem<ImageSource>[] = todo.map((src) => ({ key: src, image: imageRef(src), ...search(src) }));
      try {
        const { complete, finishedAfterStop } = await runPrelabel(e, items, {
          method,
          signal: job.signal,
          stop: job.stopSignal,
          onResult: (item, result) => {
            // One transaction per image: an interrupted run keeps every finished image.
            const ids = store.replaceSuggestions(item.key.id, result.instances.map((i) => toNewInstance(store, e, i)));
            instances += ids.length;
            images++;
            job.tracker.step(item.key.path);
          },
          onError: (item, error) => {
            const info = aboutFile(error, item.key.path);
            failed.push(info);
            store.setImageStatus([item.key.id], 'error', info.message);
            job.tracker.step(item.key.path, false);
          },
        });
        job.finish(complete ? 'done' : 'cancelled');
        return { images, instances, failed, cancelled: !complete, finishedAfterStop: finishedAfterStop.map((src) => src.path) };
      } catch (err) {
        job.finish('failed', toErrorInfo(err).message);
        throw err;
      }
    },

    async engineSettings(): Promise<EngineSettings> {
      return settings();
    },

    /** Saves the choices, then restarts the engine with them (old workers closed first). */
    async saveEngineSettings(changes: Partial<EngineSettings>): Promise<EngineInfo> {
      const bad = engineSettingsCheck(changes);
      if (bad) throw new PeakLabelError('BAD_ARGUMENT', `saveEngineSettings: the settings must be ${bad}.`);
      if (ctx.jobs.running().some((id) => id.startsWith('prelabel-') || id.startsWith('train-'))) {
        throw new PeakLabelError('BAD_ARGUMENT', 'The engine settings cannot change while pre-labelling or training runs: cancel it or wait for it to finish.');
      }
      const next = Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined)) as Partial<EngineSettings>;
      if (next.modelDir) {
        next.modelDir = resolve(next.modelDir);
        readBundle(next.modelDir); // a folder that is not a valid bundle is refused with its reason; nothing is saved
      }
      if (next.segmenterDir) {
        next.segmenterDir = resolve(next.segmenterDir);
        segmenterFilesIn(next.segmenterDir); // likewise: a folder without the two graphs is refused
      }
      writeEngineSettings({ ...saved, ...next });
      settingsWarning = undefined;
      saved = { ...saved, ...next };
      chosen = { ...chosen, ...next };
      await closeEngine();
      openError = null;
      return methods.engineInfo();
    },

    trainHead: (opts?: TrainRequest) => training.trainHead(opts),
    cancelTraining: () => training.cancelTraining(),
    headStatus: () => training.headStatus(),

    closeEngine,
  };
  return methods;
}
