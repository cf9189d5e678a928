// Trains a project head (issue 12): which classes can be trained and why not, the feature cache
// (`<project>.cache/features/<modelId>/`, filled by the engine's workers), the training thread, and the
// stored, versioned head. A cancelled or failed run stores nothing, so the previous head stays in use.
import { Worker } from 'node:worker_threads';
import type { HeadClassReport, HeadSummary, TrainCurvePoint, TrainRequest, TrainResult } from '../../common/api';
import { PeakLabelError, fromErrorInfo, toErrorInfo, type ErrorInfo } from '../../common/errors';
import type { ProgressEvent } from '../../common/progress';
import { isHeldOut } from '../../common/training/peak-head';
import type { Job } from '../api/context';
import { classIndexOf, type Bundle } from '../engine/bundle';
import type { Engine } from '../engine/engine';
import { headMismatch } from '../engine/project-head';
import type { ProjectStore } from '../store/project-store';
import { featureFile, featureFileProblem } from './feature-file';
import { activeHead, saveHead, type StoredHead } from './head-store';
import type { TrainItem, TrainJob, TrainWorkerMessage, WorkerResult } from './train-protocol';

/** A class needs this many tagged images showing it, and this many tagged images without it. */
export const MIN_POSITIVES = 5;
export const MIN_NEGATIVES = 5;
/** Sources of instances that count as the annotator's word (point labels). */
const LABEL_SOURCES = ['accepted', 'edited', 'manual'];
/** Norm of a new class's starting row (feature-centroid difference). */
const INIT_NORM = 0.05;
/**
 * Epochs by default: about 4,800 image passes (30 epochs up to 160 training images, then fewer, at least
 * 8): a large project gets as many optimiser steps per epoch as a small one gets in all (batch 16).
 */
export function defaultEpochs(trainImages: number): number {
  return Math.min(30, Math.max(8, Math.ceil(4800 / Math.max(1, trainImages))));
}

/**
 * A new class starts from the built-in row that ranks its training images at least this well and stands
 * out by this ratio in the class's feature direction (sameConceptRow: "person" for pedestrians, AP 96,
 * 1.8× the next row; not "tvmonitor" or, with EfficientNet, "bottle" for balloons, 1.0–1.1×) and is only
 * fine-tuned; otherwise it starts from feature centroids (docs/adr/training-project-heads.md).
 */
const NEAREST_MIN_AP = 0.92;
const NEAREST_MIN_COSINE_RATIO = 1.4;
/** Guess of the training thread's speed (multiply-adds per second) until the first epoch is timed. */
const GUESS_MACS_PER_SECOND = 4e8;

export interface TrainingState {
  jobId: string;
  phase: 'features' | 'loading' | 'training' | 'saving';
  epochs: number;
  curve: TrainCurvePoint[];
}

interface ImageInfo {
  id: number;
  path: string;
  hash: string;
  width: number;
  height: number;
  workingCopy: string | null;
  tags: string[];
}

interface ClassPlan {
  id: number;
  name: string;
  report: HeadClassReport;
  /** Index in the bundle's head (matched by name or alias), or -1. */
  builtin: number;
  trainable: boolean;
}

const norm = (s: string) => s.trim().toLowerCase();

/** Tagged images, with their tags (an image's tags are taken as complete). */
function taggedImages(store: ProjectStore): ImageInfo[] {
  const rows = store.db
    .prepare(`SELECT i.id, i.path, i.hash, i.width, i.height, i.working_copy, group_concat(t.tag, char(31)) AS tags
      FROM images i JOIN image_tags t ON t.image_id = i.id WHERE i.status != 'missing' GROUP BY i.id ORDER BY i.id`)
    .all() as { id: number; path: string; hash: string; width: number; height: number; working_copy: string | null; tags: string }[];
  return rows.map((r) => ({
    id: r.id,
    path: r.path,
    hash: r.hash,
    width: r.width,
    height: r.height,
    workingCopy: r.working_copy ? `${store.workingDir}/${r.working_copy}` : null,
    tags: r.tags.split('\u001f'),
  }));
}

/** The annotator's instances (accepted, edited, hand-made) by image: class id, box and location. */
function labelledInstances(store: ProjectStore): Map<number, { classId: number; x: number; y: number; box: [number, number, number, number] }[]> {
  const rows = store.db
    .prepare(`SELECT image_id, class_id, bbox_x, bbox_y, bbox_w, bbox_h, peak_x, peak_y FROM instances WHERE source IN (${LABEL_SOURCES.map(() => '?').join(',')})`)
    .all(...LABEL_SOURCES) as { image_id: number; class_id: number; bbox_x: number; bbox_y: number; bbox_w: number; bbox_h: number; peak_x: number | null; peak_y: number | null }[];
  const out = new Map<number, { classId: number; x: number; y: number; box: [number, number, number, number] }[]>();
  for (const r of rows) {
    // the instance's peak when it came from one, else its box centre
    const x = r.peak_x ?? r.bbox_x + r.bbox_w / 2;
    const y = r.peak_y ?? r.bbox_y + r.bbox_h / 2;
    const list = out.get(r.image_id) ?? [];
    list.push({ classId: r.class_id, x, y, box: [r.bbox_x, r.bbox_y, r.bbox_x + r.bbox_w, r.bbox_y + r.bbox_h] });
    out.set(r.image_id, list);
  }
  return out;
}

/** What training would do with each project class now, and why a class cannot be trained. */
export function planClasses(store: ProjectStore, bundle: Bundle, useInstances = true): { plans: ClassPlan[]; images: ImageInfo[]; instances: ReturnType<typeof labelledInstances> } {
  const images = taggedImages(store);
  const instances = useInstances ? labelledInstances(store) : new Map();
  const plans: ClassPlan[] = store.listClasses().map((c) => {
    const name = norm(c.name);
    let positives = 0;
    let heldOutPositives = 0;
    let heldOutNegatives = 0;
    let points = 0;
    for (const im of images) {
      const inst = (instances.get(im.id) ?? []).filter((i: { classId: number }) => i.classId === c.id);
      const pos = im.tags.some((t) => norm(t) === name) || inst.length > 0;
      const held = isHeldOut(im.hash);
      if (pos) positives++;
      if (pos && held) heldOutPositives++;
      if (!pos && held) heldOutNegatives++;
      points += inst.length;
    }
    const negatives = images.length - positives;
    const builtin = classIndexOf(bundle.manifest, c.name);
    const builtinName = builtin >= 0 ? bundle.manifest.classes[builtin].name : null;
    const needs: string[] = [];
    if (positives < MIN_POSITIVES) needs.push(`at least ${MIN_POSITIVES} images tagged "${c.name}" (it has ${positives})`);
    if (negatives < MIN_NEGATIVES) {
      needs.push(
        negatives === 0
          ? `negatives: at least ${MIN_NEGATIVES} tagged images that do not show it (it has none; an image tagged only with other classes is a negative)`
          : `at least ${MIN_NEGATIVES} tagged images without it as negatives (it has ${negatives})`,
      );
    }
    const trainable = needs.length === 0;
    const reason = trainable ? null : `Cannot train "${c.name}": it needs ${needs.join(' and ')}.${builtinName ? ` It keeps the built-in "${builtinName}" suggestions.` : ' It gets no suggestions until then.'}`;
    return {
      id: c.id,
      name: c.name,
      builtin,
      trainable,
      report: {
        name: c.name,
        use: trainable ? 'trained' : builtin >= 0 ? 'builtin' : 'none',
        reason,
        builtinMatch: builtinName,
        positives,
        negatives,
        heldOutPositives,
        heldOutNegatives,
        points,
        apBefore: null,
        apAfter: null,
        pointwiseBefore: null,
        pointwiseAfter: null,
      },
    };
  });
  return { plans, images, instances };
}

/** A head's rows for a bundle, when it was trained on that bundle's features. */
export function compatibleHead(head: StoredHead | null, bundle: Bundle): StoredHead | null {
  return head && !headMismatch(bundle, { modelId: head.summary.modelId, featureDim: head.summary.featureDim }) ? head : null;
}

export interface TrainDeps {
  store: ProjectStore;
  engine: Engine;
  job: Job;
  request: TrainRequest;
  /** Progress state for headStatus (phase, curve). */
  onState(state: TrainingState): void;
  /** The service's progress channel (CLI bar, UI). */
  progress(e: ProgressEvent): void;
}

export async function trainProjectHead({ store, engine, job, request, onState, progress }: TrainDeps): Promise<TrainResult> {
  const started = performance.now();
  const bundle = engine.baseBundle;
  const m = bundle.manifest;
  const D = m.head.channels;
  const { plans, images, instances } = planClasses(store, bundle, request.useInstances !== false);
  const epochs = request.epochs ?? defaultEpochs(Math.round(images.length * 0.8));
  const trainable = plans.filter((p) => p.trainable);
  if (!trainable.length) {
    const why = plans.length ? plans.map((p) => p.report.reason).join(' ') : 'The project has no classes: add the classes to learn (create --class NAME, or the class editor).';
    throw new PeakLabelError('BAD_ARGUMENT', `Nothing to train. ${why}`);
  }
  const K = trainable.length;
  const state: TrainingState = { jobId: job.id, phase: 'features', epochs, curve: [] };
  onState(state);

  // ---- 1. features of every tagged image (cached by content hash + model) ----
  const files = new Map<number, string>();
  const todo: ImageInfo[] = [];
  for (const im of images) {
    const f = featureFile(store.cacheDir, m.modelId, im.hash);
    files.set(im.id, f);
    // a missing file, or one cut short or damaged (a crash, a full disk, a copy), is computed again
    if (featureFileProblem(f, D)) todo.push(im);
  }
  const cellsOf = (im: ImageInfo) => Math.ceil(Math.min(im.width, im.height) / 16) * Math.ceil(Math.max(im.width, im.height) / 16);
  // epoch cost ≈ K multiply-adds per feature value, for training and for the held-out evaluation
  const epochMacs = images.reduce((s, im) => s + Math.min(cellsOf(im), 3000), 0) * D * K * 1.3;
  let epochSeconds = epochMacs / GUESS_MACS_PER_SECOND;
  const tracker = job.tracker;
  tracker.total = todo.length + epochs;
  // Progress with an ETA over both phases (the tracker's own ETA would assume every step costs the same).
  const emit = (current: string, eta: number | null) => progress({ ...tracker.event('running', current), etaSeconds: eta });
  const failed: ErrorInfo[] = [];
  const t0 = performance.now();
  let computed = 0;
  let next = 0;
  const worker = async () => {
    while (next < todo.length) {
      job.throwIfCancelled();
      const im = todo[next++];
      try {
        await engine.cacheFeatures({ image: { file: im.workingCopy ?? im.path, size: { width: im.width, height: im.height } }, out: files.get(im.id)! }, job.signal);
        computed++;
      } catch (err) {
        const info = toErrorInfo(err);
        if (info.code === 'CANCELLED') throw fromErrorInfo(info);
        failed.push({ ...info, file: info.file ?? im.path });
        files.delete(im.id);
        tracker.failed++;
      }
      tracker.done++;
      const rate = (performance.now() - t0) / 1000 / tracker.done;
      emit(`features ${im.path.split('/').pop()}`, (todo.length - tracker.done) * rate + epochs * epochSeconds);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, engine.workerCount) }, worker));
  } catch (err) {
    if (toErrorInfo(err).code === 'CANCELLED' || job.signal.aborted) return { head: null, cancelled: true };
    throw err;
  }
  if (job.signal.aborted) return { head: null, cancelled: true };
  const featureSeconds = (performance.now() - t0) / 1000;

  // ---- 2. the training job: labels, point labels, boxes, starting rows ----
  const previous = compatibleHead(activeHead(store), bundle);
  const items: TrainItem[] = [];
  // In content-hash order, not import order (ids follow whichever file an import finished first): the same
  // tagged images give the same head in any project.
  for (const im of [...images].sort((a, b) => (a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : 0))) {
    const file = files.get(im.id);
    if (!file) continue;
    const heldOut = isHeldOut(im.hash);
    const inst = instances.get(im.id) ?? [];
    const labels = trainable.map((p) => (im.tags.some((t) => norm(t) === norm(p.name)) || inst.some((i: { classId: number }) => i.classId === p.id) ? 1 : 0));
    const points: TrainItem['points'] = [];
    const boxes: TrainItem['boxes'] = [];
    for (const i of inst) {
      const k = trainable.findIndex((p) => p.id === i.classId);
      if (k < 0) continue;
      if (heldOut) boxes.push({ k, x0: i.box[0], y0: i.box[1], x1: i.box[2], y1: i.box[3] });
      else points.push({ k, x: i.x, y: i.y });
    }
    items.push({ file, labels, points, boxes, heldOut });
  }
  const init = { weight: new Float32Array(K * D), bias: new Float32Array(K), fromBuiltin: trainable.map((p) => p.builtin >= 0) };
  const before: TrainJob['before'] = [];
  trainable.forEach((p, k) => {
    if (p.builtin >= 0) {
      init.weight.set(bundle.headWeight.subarray(p.builtin * D, (p.builtin + 1) * D), k * D);
      init.bias[k] = bundle.headBias[p.builtin];
    }
    const prevRow = previous ? previous.classes.findIndex((c) => norm(c) === norm(p.name)) : -1;
    if (previous && prevRow >= 0) before.push({ k, weight: previous.weight.slice(prevRow * D, (prevRow + 1) * D), bias: previous.bias[prevRow] });
    else if (p.builtin >= 0) before.push({ k, weight: bundle.headWeight.slice(p.builtin * D, (p.builtin + 1) * D), bias: bundle.headBias[p.builtin] });
    else before.push(null);
  });
  const trainJob: TrainJob = {
    items,
    K,
    D,
    stride: m.stride,
    centerOffset: m.crmGeometry.centerOffset,
    init,
    initNorm: INIT_NORM,
    candidates: { names: m.classes.map((c) => c.name), weight: bundle.headWeight, bias: bundle.headBias, minAp: NEAREST_MIN_AP, minCosineRatio: NEAREST_MIN_COSINE_RATIO },
    before,
    options: { epochs },
    calibrateTo: bundle.retrieval.classScoreThreshold,
  };

  // ---- 3. train in its own thread ----
  state.phase = 'loading';
  onState(state);
  const result = await runWorker(trainJob, job, (msg) => {
    if (msg.type === 'loaded') emit(`loading features ${msg.done}/${msg.total}`, epochs * epochSeconds);
    if (msg.type === 'epoch') {
      state.phase = 'training';
      state.curve.push(msg.stats);
      onState(state);
      epochSeconds = msg.seconds / msg.stats.epoch;
      tracker.done++;
      const ap = msg.stats.valAp === null ? '' : ` held-out AP ${(msg.stats.valAp * 100).toFixed(1)}`;
      emit(`epoch ${msg.stats.epoch}/${epochs} loss ${msg.stats.loss.toFixed(3)}${ap}`, (epochs - msg.stats.epoch) * epochSeconds);
    }
  });
  if (!result) return { head: null, cancelled: true };

  // ---- 4. keep the better row per class, store, activate ----
  state.phase = 'saving';
  onState(state);
  const reports = plans.map((p) => ({ ...p.report }));
  const keep: number[] = [];
  trainable.forEach((p, k) => {
    const r = reports.find((x) => x.name === p.name)!;
    const c = result.classes[k];
    Object.assign(r, { initFrom: c.initFrom, fineTuned: c.fineTuned, apBefore: c.apBefore, apAfter: c.apAfter, pointwiseBefore: c.pointwiseBefore, pointwiseAfter: c.pointwiseAfter });
    if (p.builtin >= 0 && c.apBefore !== null && c.apAfter !== null && c.apAfter < c.apBefore) {
      r.use = 'builtin';
      r.reason = `The trained "${p.name}" scored ${(c.apAfter * 100).toFixed(1)} held-out AP against ${(c.apBefore * 100).toFixed(1)} for the row in use before, so the built-in "${m.classes[p.builtin].name}" stays.`;
    } else {
      r.use = 'trained';
      keep.push(k);
    }
  });
  const mean = (xs: (number | null)[]) => {
    const d = xs.filter((x): x is number => x !== null);
    return d.length ? d.reduce((a, b) => a + b, 0) / d.length : null;
  };
  const trainedReports = keep.map((k) => reports.find((x) => x.name === trainable[k].name)!);
  const tags = [...new Set(images.flatMap((im) => im.tags))].sort();
  const weight = new Float32Array(keep.length * D);
  const bias = new Float32Array(keep.length);
  keep.forEach((k, i) => {
    weight.set(result.weight.subarray(k * D, (k + 1) * D), i * D);
    bias[i] = result.bias[k];
  });
  const metrics: Omit<HeadSummary, 'id' | 'createdAt' | 'modelId' | 'featureDim' | 'active'> = {
    trainedClasses: keep.map((k) => trainable[k].name),
    classes: reports,
    tags,
    trainImages: result.trainImages,
    heldOutImages: result.heldOutImages,
    instancesUsed: items.reduce((s, it) => s + it.points.length + it.boxes.length, 0),
    mAPBefore: mean(trainedReports.map((r) => r.apBefore)),
    mAPAfter: mean(trainedReports.map((r) => r.apAfter)),
    pointwiseBefore: mean(trainedReports.map((r) => r.pointwiseBefore)),
    pointwiseAfter: mean(trainedReports.map((r) => r.pointwiseAfter)),
    curve: result.curve,
    seconds: (performance.now() - started) / 1000,
    featureSeconds,
    featuresComputed: computed,
  };
  if (job.signal.aborted) return { head: null, cancelled: true };
  const stored = saveHead(store, { modelId: m.modelId, featureDim: D, classes: metrics.trainedClasses, weight, bias, metrics });
  if (failed.length) tracker.failed = failed.length;
  return { head: stored.summary, cancelled: false };
}

/** Runs the training thread; null when the job was cancelled (the thread is terminated). */
function runWorker(trainJob: TrainJob, job: Job, onMessage: (m: TrainWorkerMessage) => void): Promise<WorkerResult | null> {
  return new Promise((resolve, reject) => {
    if (job.signal.aborted) return resolve(null);
    const worker = new Worker(new URL('./train-worker-entry.mjs', import.meta.url));
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      job.signal.removeEventListener('abort', onAbort);
      void worker.terminate();
      fn();
    };
    const onAbort = () => finish(() => resolve(null));
    job.signal.addEventListener('abort', onAbort, { once: true });
    worker.on('message', (m: TrainWorkerMessage) => {
      if (m.type === 'done') finish(() => resolve(m.result));
      else if (m.type === 'error') finish(() => reject(fromErrorInfo(m.error)));
      else if (!settled) onMessage(m);
    });
    worker.on('error', (err) => finish(() => reject(new PeakLabelError('INTERNAL', `The training thread failed: ${err.message}`, { cause: err }))));
    worker.on('exit', (code) => finish(() => reject(new PeakLabelError('INTERNAL', `The training thread stopped unexpectedly (exit code ${code}).`))));
    worker.postMessage({ type: 'train', job: trainJob });
  });
}
