// The one implementation of PeakLabelApi. Electron IPC (src/main/index.ts) and the WebSocket bridge
// both call `invokeApi`, which validates the arguments and turns every failure into an ErrorInfo.
import { resolve } from 'node:path';
import type { ApiMethod, PeakLabelApi, Rle } from '../../common/api';
import { PeakLabelError, toErrorInfo } from '../../common/errors';
import { countsTotal, decompressCounts } from '../../common/rle';
import { exportCoco } from '../coco/export';
import { importCoco } from '../coco/import';
import { importImageFolder } from '../images/importer';
import { imagePixels, thumbnailPixels } from '../images/pixels';
import { ProjectStore } from '../store/project-store';
import { readRecent, rememberRecent } from '../store/recent';
import { importTagsCsv, importTagsFromCoco, importTagsFromFolders } from '../tags/import-tags';
import { ENGINE_METHOD_NAMES, type EngineMethods, type Job, type ServiceContext } from './context';
import type { PathChooser } from './dialogs';
import { validateCall } from './validate';

/** Runs a long job: progress events for its life, end state reported whichever way it ends. */
async function runJob<T>(ctx: ServiceContext, kind: string, work: (job: Job) => Promise<T>): Promise<T> {
  const job = ctx.jobs.start(kind, 0);
  try {
    const result = await work(job);
    job.finish((result as { cancelled?: boolean }).cancelled || job.signal.aborted ? 'cancelled' : 'done');
    return result;
  } catch (err) {
    job.finish(toErrorInfo(err).code === 'CANCELLED' ? 'cancelled' : 'failed', toErrorInfo(err).message);
    throw err;
  }
}

function checkMask(store: ProjectStore, imageId: number, mask: Rle): void {
  const im = store.getImage(imageId);
  if (mask.size[0] !== im.height || mask.size[1] !== im.width) {
    throw new PeakLabelError('BAD_ARGUMENT', `The mask is ${mask.size[1]}×${mask.size[0]} but image ${imageId} is ${im.width}×${im.height}.`);
  }
  let total: number;
  try {
    total = countsTotal(decompressCounts(mask.counts));
  } catch (err) {
    throw new PeakLabelError('BAD_ARGUMENT', `The mask's RLE counts are malformed (${(err as Error).message}).`);
  }
  if (total > im.width * im.height) throw new PeakLabelError('BAD_ARGUMENT', `The mask's RLE covers ${total} pixels, more than the image's ${im.width * im.height}.`);
}

function unavailable(name: string): () => Promise<never> {
  return () => Promise.reject(new PeakLabelError('MODEL_UNAVAILABLE', `${name} needs the model bundle, which is not loaded (resources/models is missing or invalid).`));
}

/** `pathChooser`: the desktop shell's OS dialogs; without it (CLI, bridge, tests) choosePath is UNSUPPORTED. */
export function createService(ctx: ServiceContext, engine?: EngineMethods, pathChooser?: PathChooser): PeakLabelApi {
  const store = () => ctx.store();
  const engineApi: EngineMethods = engine ?? (Object.fromEntries(ENGINE_METHOD_NAMES.map((n) => [n, unavailable(n)])) as unknown as EngineMethods);
  const open = (path: string, create: boolean) => {
    const file = resolve(path);
    const s = create ? ProjectStore.create(file) : ProjectStore.open(file);
    ctx.setProject(s);
    rememberRecent(file);
    return s.info();
  };

  return {
    async createProject(path) { return open(path, true); },
    async openProject(path) { return open(path, false); },
    async currentProject() { return ctx.project?.info() ?? null; },
    async recentProjects() { return readRecent(); },
    async projectSummary() { return store().summary(); },

    async listClasses() { return store().listClasses(); },
    async saveClass(cls) { return store().saveClass(cls); },
    async deleteClass(id) { store().deleteClass(id); },

    async addImageFolder(folder) { const s = store(); return runJob(ctx, 'import', (job) => importImageFolder(s, resolve(folder), job)); },
    async listImages(q) { return store().listImages(q); },
    async getImage(id) { return store().getImage(id); },
    async thumbnail(id) { return thumbnailPixels(store(), id); },
    async imagePixels(id, maxSide) { return imagePixels(store(), id, maxSide); },
    async setImageStatus(ids, status) { store().setImageStatus(ids, status); },
    async relinkFolder(from, to) { return store().relinkFolder(resolve(from), resolve(to)); },

    async setTags(ids, add, remove) { store().setTags(ids, add.map((t) => t.trim()), remove.map((t) => t.trim())); },
    async importTagsCsv(path) { return importTagsCsv(store(), path); },
    async importTagsFromFolders(root) { return importTagsFromFolders(store(), root); },
    async importTagsFromCoco(path) { return importTagsFromCoco(store(), path); },

    async listInstances(imageId) { return store().listInstances(imageId); },
    async createInstance(imageId, classId, mask) {
      const s = store();
      checkMask(s, imageId, mask);
      s.getClass(classId);
      return s.createInstance(imageId, { classId, mask, source: 'manual' });
    },
    async editInstance(id, edit) {
      const s = store();
      if (edit.mask) checkMask(s, s.getInstance(id).imageId, edit.mask);
      return s.editInstance(id, edit);
    },
    async acceptInstances(ids) { store().acceptInstances(ids); },
    async deleteInstances(ids) { store().deleteInstances(ids); },
    async undo() { return store().undo(); },
    async redo() { return store().redo(); },
    async changeInstances(imageId, changes) {
      const s = store();
      for (const e of changes.edit ?? []) if (e.mask) checkMask(s, imageId, e.mask);
      for (const c of changes.create ?? []) {
        checkMask(s, imageId, c.mask);
        s.getClass(c.classId);
      }
      return s.changeInstances(imageId, { ...changes, create: changes.create?.map((c) => ({ ...c, source: 'manual' })) });
    },

    async importCoco(path, as) {
      const s = store();
      return runJob(ctx, 'import-coco', (job) => importCoco(s, path, as, job));
    },
    async exportCoco(opts) {
      const s = store();
      return runJob(ctx, 'export', (job) => exportCoco(s, opts, job));
    },

    engineInfo: () => engineApi.engineInfo(),
    engineSettings: () => engineApi.engineSettings(),
    saveEngineSettings: (s) => engineApi.saveEngineSettings(s),
    findPeaks: (id) => engineApi.findPeaks(id),
    classResponse: (id, classId) => engineApi.classResponse(id, classId),
    suggestForPeak: (id, peak, method) => engineApi.suggestForPeak(id, peak, method),
    peakMap: (id, peak, kind) => engineApi.peakMap(id, peak, kind),
    async snapToProposal(id, mask) {
      checkMask(store(), id, mask);
      return engineApi.snapToProposal(id, mask);
    },
    proposalAt: (id, x, y) => engineApi.proposalAt(id, x, y),
    segmentPrompt: (id, prompt) => engineApi.segmentPrompt(id, prompt),
    prepareImage: (id) => engineApi.prepareImage(id),
    prelabel: (opts) => engineApi.prelabel(opts),
    trainHead: (opts) => engineApi.trainHead(opts),
    cancelTraining: () => engineApi.cancelTraining(),
    headStatus: () => engineApi.headStatus(),

    async cancelJob(jobId) { ctx.jobs.cancel(jobId); },
    onProgress(listener) { return ctx.progress.on(listener); },

    async appInfo() { return { nativeDialogs: pathChooser !== undefined }; },
    async choosePath(request) {
      if (!pathChooser) throw new PeakLabelError('UNSUPPORTED', 'File and folder dialogs exist only in the PeakLabel desktop app: type the path instead.');
      return pathChooser(request);
    },
  };
}

/** Validates and runs one call from an untrusted caller; the result or an ErrorInfo, never a throw. */
export async function invokeApi(api: PeakLabelApi, method: unknown, args: unknown): Promise<{ ok: true; result: unknown } | { ok: false; error: ReturnType<typeof toErrorInfo> }> {
  try {
    validateCall(method, args);
    const fn = api[method as ApiMethod] as (...a: unknown[]) => Promise<unknown>;
    const result = await fn(...(args as unknown[]));
    return { ok: true, result: result ?? null };
  } catch (err) {
    return { ok: false, error: toErrorInfo(err) };
  }
}
