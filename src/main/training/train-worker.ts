// The training thread: loads the cached features, trains the project head by peak stimulation
// (src/common/training/peak-head.ts) and evaluates it on the held-out images, posting one message per
// epoch. The main thread cancels by terminating it, so nothing here touches the project file.
import { parentPort } from 'node:worker_threads';
import { toErrorInfo } from '../../common/errors';
import {
  calibrateBias, centroidInit, evaluateHead, sameConceptRow, trainHead, type GridBox, type Head, type HeadEvaluation, type PointLabel, type Sample,
  type SameConceptRow,
} from '../../common/training/peak-head';
import { readFeatures } from './feature-file';
import type { TrainJob, TrainWorkerMessage, WorkerClassResult } from './train-protocol';

const port = parentPort!;
const post = (m: TrainWorkerMessage) => port.postMessage(m);

function toSample(item: TrainJob['items'][number], job: TrainJob): Sample {
  const f = readFeatures(item.file, job.D);
  const { h, w } = f;
  // original pixel → grid coordinate (preprocess.ts: toInput, then inputToGrid)
  const gx = (x: number) => (((x + 0.5) * f.width) / f.origWidth - 0.5 - job.centerOffset) / job.stride;
  const gy = (y: number) => (((y + 0.5) * f.height) / f.origHeight - 0.5 - job.centerOffset) / job.stride;
  const clamp = (v: number, n: number) => Math.min(Math.max(Math.round(v), 0), n - 1);
  const points: PointLabel[] = item.points.map((p) => ({ k: p.k, cell: clamp(gy(p.y), h) * w + clamp(gx(p.x), w) }));
  const boxes: GridBox[] = item.boxes.map((b) => ({ k: b.k, x0: gx(b.x0), y0: gy(b.y0), x1: gx(b.x1), y1: gy(b.y1) }));
  return { features: f.features, labels: Int8Array.from(item.labels), points, boxes };
}

function run(job: TrainJob): void {
  const t0 = performance.now();
  const train: Sample[] = [];
  const val: Sample[] = [];
  job.items.forEach((item, i) => {
    const s = toSample(item, job);
    (item.heldOut ? val : train).push(item.heldOut ? { ...s, points: [] } : { ...s, boxes: [] });
    if (i % 10 === 9 || i === job.items.length - 1) post({ type: 'loaded', done: i + 1, total: job.items.length });
  });
  const loadSeconds = (performance.now() - t0) / 1000;
  const { K, D } = job;
  const init: Head = { K, D, weight: Float32Array.from(job.init.weight), bias: Float32Array.from(job.init.bias) };
  const initFrom: string[] = job.init.fromBuiltin.map((b) => (b ? 'built-in row of the same name' : ''));
  // a row that starts as a built-in row of the same concept (its name, or sameConceptRow) is only fine-tuned
  const fineTune = [...job.init.fromBuiltin];
  job.init.fromBuiltin.forEach((builtin, k) => {
    if (builtin) return;
    const near = nearestBuiltin(job, train, k);
    if (near) {
      init.weight.set(job.candidates.weight.subarray(near.row * D, (near.row + 1) * D), k * D);
      init.bias[k] = job.candidates.bias[near.row];
      initFrom[k] = `built-in "${job.candidates.names[near.row]}" (training AP ${(near.ap * 100).toFixed(1)}, ${near.cosineRatio.toFixed(1)}× the next row's alignment)`;
      fineTune[k] = true;
    } else {
      init.weight.set(centroidInit(train, k, D, job.initNorm), k * D);
      init.bias[k] = 0;
      initFrom[k] = 'feature centroids';
    }
    // start with the separating threshold at 0, where the loss is steepest
    calibrateBias(init, train, k, 0);
  });
  const t1 = performance.now();
  const { head, curve } = trainHead(init, train, val, { ...job.options, fineTune }, (stats) => {
    post({ type: 'epoch', stats, seconds: (performance.now() - t1) / 1000 });
  });
  const trainSeconds = (performance.now() - t1) / 1000;

  const after = evaluateHead(head, val);
  const beforeEval: (HeadEvaluation | null)[] = job.before.map((b) => (b ? evaluateHead({ K: 1, D, weight: Float32Array.from(b.weight), bias: Float32Array.from([b.bias]) }, val.map((s) => oneClass(s, b.k))) : null));
  const classes: WorkerClassResult[] = [];
  for (let k = 0; k < K; k++) {
    const bf = job.before.findIndex((b) => b?.k === k);
    const be = bf >= 0 ? beforeEval[bf] : null;
    // the engine decides untagged images with one threshold: put this class's best one there
    const shift = calibrateBias(head, train, k, job.calibrateTo);
    classes.push({
      initFrom: initFrom[k],
      fineTuned: fineTune[k],
      apBefore: be ? be.ap[0] : null,
      apAfter: after.ap[k],
      pointwiseBefore: be && be.pointwiseTotal[0] ? be.pointwiseHits[0] / be.pointwiseTotal[0] : null,
      pointwiseAfter: after.pointwiseTotal[k] ? after.pointwiseHits[k] / after.pointwiseTotal[k] : null,
      pointwisePairs: after.pointwiseTotal[k],
      biasShift: shift,
    });
  }
  post({
    type: 'done',
    result: { weight: head.weight, bias: head.bias, curve, classes, mAP: after.mAP, pointwise: after.pointwise, trainSeconds, loadSeconds, trainImages: train.length, heldOutImages: val.length },
  });
}

/** The bundle row of the same concept as class k (sameConceptRow), judged on ≤ 300 of its training images. */
function nearestBuiltin(job: TrainJob, train: Sample[], k: number): SameConceptRow | null {
  const labelled = train.filter((s) => s.labels[k] >= 0);
  const step = Math.max(1, Math.ceil(labelled.length / 300));
  const subset = labelled.filter((_, i) => i % step === 0).map((s) => oneClass(s, k));
  const { weight, bias, minAp, minCosineRatio } = job.candidates;
  return sameConceptRow(subset, { K: job.candidates.names.length, D: job.D, weight, bias }, minAp, minCosineRatio);
}

/** A sample restricted to class k (as class 0), for evaluating one stored row. */
function oneClass(s: Sample, k: number): Sample {
  return {
    features: s.features,
    labels: Int8Array.from([s.labels[k]]),
    points: (s.points ?? []).filter((p) => p.k === k).map((p) => ({ ...p, k: 0 })),
    boxes: (s.boxes ?? []).filter((b) => b.k === k).map((b) => ({ ...b, k: 0 })),
  };
}

port.on('message', (m: { type: 'train'; job: TrainJob }) => {
  if (m.type !== 'train') return;
  try {
    run(m.job);
  } catch (err) {
    post({ type: 'error', error: toErrorInfo(err) });
  }
});
