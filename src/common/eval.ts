// Instance-segmentation evaluation as in the PRM/IAM papers: mAP^r at mask-IoU thresholds and ABO.
// Rules (eval.spec.md): predictions ranked by score per class across images; each non-crowd ground truth
// matched at most once, greedily in score order, to the unmatched one of highest IoU ≥ t; a prediction
// that matches nothing but covers a crowd region (|p ∩ crowd| / |p| ≥ t) is ignored; AP is the area under
// the all-point interpolated precision/recall curve (VOC2010+); mAP is the mean over the selected classes
// that have ground truth. ABO is the mean over non-crowd ground truths of the best IoU of a same-class
// prediction in the same image (0 without one). IoUs are computed on run lists, never on pixels; only the
// masks' tidiness (pieces and holes per prediction) decodes each prediction, over its own box.
import type { CocoAnnotation, CocoDataset } from './coco/types';
import { segmentationToCounts } from './coco/segmentation';
import { piecesAndHoles } from './mask';
import { countsArea, countsIntersectionArea, countsToBbox, countsToCroppedMask } from './rle';

export const DEFAULT_IOU_THRESHOLDS = [0.25, 0.5, 0.75];

/** The 20 PASCAL VOC classes, by their VOC names. */
export const VOC20_CLASSES = [
  'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow',
  'diningtable', 'dog', 'horse', 'motorbike', 'person', 'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor',
] as const;

/** Other names of VOC classes (COCO's mostly), keyed by normalised name. */
const CLASS_ALIASES: Record<string, string> = {
  airplane: 'aeroplane',
  plane: 'aeroplane',
  motorcycle: 'motorbike',
  couch: 'sofa',
  tv: 'tvmonitor',
  monitor: 'tvmonitor',
  diningtable: 'diningtable',
  table: 'diningtable',
  pottedplant: 'pottedplant',
  bike: 'bicycle',
  people: 'person',
  pedestrian: 'person',
};

/** Lower case, letters and digits only, then VOC's name for a known alias: 'Dining table' → 'diningtable'. */
export function canonicalClassName(name: string): string {
  const key = name.toLowerCase().replace(/[^a-z0-9]/g, '');
  return CLASS_ALIASES[key] ?? key;
}

export interface EvalOptions {
  iouThresholds?: number[];
  /** Which ground-truth classes to score: all (default), the VOC 20, or a list of names (aliases accepted). */
  classes?: 'all' | 'voc20' | string[];
}

export interface ClassEval {
  /** The ground truth's category name. */
  name: string;
  /** Non-crowd ground-truth instances. */
  gt: number;
  predictions: number;
  /** AP per threshold, same order as EvalReport.iouThresholds. */
  ap: number[];
  abo: number;
}

export interface EvalReport {
  iouThresholds: number[];
  /** Selected classes that have ground truth (the ones averaged). */
  classes: ClassEval[];
  /** Mean AP over `classes`, per threshold. */
  mAP: number[];
  /** Mean best overlap over all non-crowd ground truths of `classes`. */
  abo: number;
  images: number;
  gtInstances: number;
  predInstances: number;
  /** Mean connected pieces and holes per scored prediction (piecesAndHoles): how much cleaning a mask needs. */
  piecesPerMask: number;
  holesPerMask: number;
  /** What was left out and why (unknown images or classes, size mismatches). */
  notes: string[];
}

interface Instance {
  imageId: number;
  classKey: string;
  counts: number[];
  area: number;
  bbox: [number, number, number, number];
  crowd: boolean;
  score: number;
  order: number;
}

function instanceOf(a: CocoAnnotation, imageId: number, classKey: string, w: number, h: number, order: number): Instance {
  const counts = segmentationToCounts(a.segmentation, w, h);
  return {
    imageId,
    classKey,
    counts,
    area: countsArea(counts),
    bbox: countsToBbox(counts, h, w),
    crowd: a.iscrowd === 1,
    score: typeof a.score === 'number' ? a.score : 1,
    order,
  };
}

const boxesMeet = (a: Instance, b: Instance): boolean =>
  a.bbox[0] < b.bbox[0] + b.bbox[2] && b.bbox[0] < a.bbox[0] + a.bbox[2] &&
  a.bbox[1] < b.bbox[1] + b.bbox[3] && b.bbox[1] < a.bbox[1] + a.bbox[3];

function intersection(a: Instance, b: Instance): number {
  return boxesMeet(a, b) ? countsIntersectionArea(a.counts, b.counts) : 0;
}

/** VOC2010+ AP: area under the precision/recall curve after making precision monotone (all points). */
export function averagePrecision(recall: number[], precision: number[]): number {
  const mrec = [0, ...recall, 1];
  const mpre = [0, ...precision, 0];
  for (let i = mpre.length - 2; i >= 0; i--) mpre[i] = Math.max(mpre[i], mpre[i + 1]);
  let ap = 0;
  for (let i = 0; i + 1 < mrec.length; i++) if (mrec[i + 1] !== mrec[i]) ap += (mrec[i + 1] - mrec[i]) * mpre[i + 1];
  return ap;
}

export function evaluateInstances(gt: CocoDataset, pred: CocoDataset | CocoAnnotation[], opts: EvalOptions = {}): EvalReport {
  const thresholds = opts.iouThresholds ?? DEFAULT_IOU_THRESHOLDS;
  const notes: string[] = [];
  const gtImages = new Map(gt.images.map((im) => [im.id, im]));

  // Classes: ground-truth categories by canonical name, filtered by the selection.
  const selection = opts.classes === undefined || opts.classes === 'all' ? null
    : new Set((opts.classes === 'voc20' ? [...VOC20_CLASSES] : opts.classes).map(canonicalClassName));
  const classKeyOfGtCategory = new Map<number, string>();
  const classNames = new Map<string, string>();
  for (const c of gt.categories) {
    const key = canonicalClassName(c.name);
    if (selection && !selection.has(key)) continue;
    classKeyOfGtCategory.set(c.id, key);
    if (!classNames.has(key)) classNames.set(key, c.name);
  }

  // Ground truth, grouped by image and class.
  const byImageClass = new Map<string, { gts: Instance[]; preds: Instance[] }>();
  const group = (imageId: number, key: string) => {
    const k = `${imageId}\u0000${key}`;
    let g = byImageClass.get(k);
    if (!g) byImageClass.set(k, (g = { gts: [], preds: [] }));
    return g;
  };
  const gtCount = new Map<string, number>();
  let order = 0;
  for (const a of gt.annotations) {
    const key = classKeyOfGtCategory.get(a.category_id);
    const im = gtImages.get(a.image_id);
    if (key === undefined || !im) continue;
    const inst = instanceOf(a, im.id, key, im.width, im.height, order++);
    group(im.id, key).gts.push(inst);
    if (!inst.crowd) gtCount.set(key, (gtCount.get(key) ?? 0) + 1);
  }

  // Predictions: either annotations on the ground truth's ids, or a dataset matched by file and class name.
  const preds: Instance[] = [];
  const skippedClasses = new Set<string>();
  let wrongSize = 0;
  const addPrediction = (a: CocoAnnotation, imageId: number, key: string): void => {
    const im = gtImages.get(imageId)!;
    const seg = a.segmentation;
    if (!Array.isArray(seg) && (seg.size[0] !== im.height || seg.size[1] !== im.width)) wrongSize++;
    else preds.push(instanceOf(a, imageId, key, im.width, im.height, order++));
  };
  if (Array.isArray(pred)) {
    let unknownImages = 0;
    for (const a of pred) {
      const key = classKeyOfGtCategory.get(a.category_id);
      if (!gtImages.has(a.image_id)) unknownImages++;
      else if (key !== undefined) addPrediction(a, a.image_id, key);
    }
    if (unknownImages > 0) notes.push(`${unknownImages} prediction(s) refer to images that are not in the ground truth; ignored.`);
  } else {
    const gtByFile = new Map<string, number>();
    const gtByBase = new Map<string, number>();
    for (const im of gt.images) {
      gtByFile.set(im.file_name, im.id);
      gtByBase.set(baseName(im.file_name), im.id);
    }
    const imageMap = new Map<number, number>();
    let unknownImages = 0;
    for (const im of pred.images) {
      const id = gtByFile.get(im.file_name) ?? gtByBase.get(baseName(im.file_name));
      const g = id === undefined ? undefined : gtImages.get(id);
      if (!g) {
        unknownImages++;
        continue;
      }
      if (g.width !== im.width || g.height !== im.height) {
        notes.push(`predicted image ${im.file_name} is ${im.width}×${im.height} but ${g.width}×${g.height} in the ground truth; its predictions were ignored.`);
        continue;
      }
      imageMap.set(im.id, g.id);
    }
    if (unknownImages > 0) notes.push(`${unknownImages} predicted image(s) are not in the ground truth (matched by file name); ignored.`);
    const predClass = new Map<number, string>();
    const gtKeys = new Set(classKeyOfGtCategory.values());
    for (const c of pred.categories) {
      const key = canonicalClassName(c.name);
      if (gtKeys.has(key)) predClass.set(c.id, key);
      else skippedClasses.add(c.name);
    }
    for (const a of pred.annotations) {
      const imageId = imageMap.get(a.image_id);
      const key = predClass.get(a.category_id);
      if (imageId !== undefined && key !== undefined) addPrediction(a, imageId, key);
    }
  }
  if (wrongSize > 0) notes.push(`${wrongSize} prediction(s) have an RLE size other than their image's; ignored.`);
  if (skippedClasses.size > 0) notes.push(`predicted classes not scored (not among the selected ground-truth classes): ${[...skippedClasses].join(', ')}.`);
  for (const p of preds) group(p.imageId, p.classKey).preds.push(p);

  // Per image and class: IoU of every prediction with every ground truth, computed once for all thresholds.
  interface Scored { inst: Instance; ious: Float64Array; crowdCover: Float64Array; group: { gts: Instance[] } }
  const scoredByClass = new Map<string, Scored[]>();
  const bestOverlap = new Map<Instance, number>();
  for (const g of byImageClass.values()) {
    for (const t of g.gts) if (!t.crowd) bestOverlap.set(t, 0);
    for (const p of g.preds) {
      const ious = new Float64Array(g.gts.length);
      const crowdCover = new Float64Array(g.gts.length);
      g.gts.forEach((t, j) => {
        const inter = intersection(p, t);
        if (t.crowd) {
          crowdCover[j] = p.area === 0 ? 0 : inter / p.area;
        } else {
          const union = p.area + t.area - inter;
          ious[j] = union === 0 ? 0 : inter / union;
          if (ious[j] > bestOverlap.get(t)!) bestOverlap.set(t, ious[j]);
        }
      });
      const list = scoredByClass.get(p.classKey) ?? [];
      list.push({ inst: p, ious, crowdCover, group: g });
      scoredByClass.set(p.classKey, list);
    }
  }

  const classes: ClassEval[] = [];
  let pieces = 0, holes = 0, scoredPreds = 0;
  for (const [key, name] of classNames) {
    const nGt = gtCount.get(key) ?? 0;
    if (nGt === 0) continue;
    const scored = (scoredByClass.get(key) ?? []).sort((a, b) => b.inst.score - a.inst.score || a.inst.order - b.inst.order);
    const ap = thresholds.map((t) => classAp(scored, nGt, t));
    for (const { inst } of scored) {
      const im = gtImages.get(inst.imageId)!;
      const t = piecesAndHoles(countsToCroppedMask(inst.counts, im.height, im.width).mask);
      pieces += t.pieces;
      holes += t.holes;
      scoredPreds++;
    }
    let sum = 0;
    for (const [inst, best] of bestOverlap) if (inst.classKey === key) sum += best;
    classes.push({ name, gt: nGt, predictions: scored.length, ap, abo: sum / nGt });
  }

  const totalGt = classes.reduce((s, c) => s + c.gt, 0);
  return {
    iouThresholds: thresholds,
    classes,
    mAP: thresholds.map((_, i) => (classes.length === 0 ? 0 : classes.reduce((s, c) => s + c.ap[i], 0) / classes.length)),
    abo: totalGt === 0 ? 0 : classes.reduce((s, c) => s + c.abo * c.gt, 0) / totalGt,
    images: gt.images.length,
    gtInstances: totalGt,
    predInstances: classes.reduce((s, c) => s + c.predictions, 0),
    piecesPerMask: scoredPreds === 0 ? 0 : pieces / scoredPreds,
    holesPerMask: scoredPreds === 0 ? 0 : holes / scoredPreds,
    notes,
  };
}

/** AP of one class at one threshold; `scored` is in rank order. */
function classAp(
  scored: { inst: Instance; ious: Float64Array; crowdCover: Float64Array; group: { gts: Instance[] } }[],
  nGt: number,
  t: number,
): number {
  const matched = new Set<Instance>();
  const recall: number[] = [];
  const precision: number[] = [];
  let tp = 0, fp = 0;
  for (const s of scored) {
    let best = -1, bestIou = t;
    let coversCrowd = false;
    s.group.gts.forEach((g, j) => {
      if (g.crowd) {
        if (s.crowdCover[j] >= t) coversCrowd = true;
      } else if (!matched.has(g) && s.ious[j] >= bestIou && (best < 0 || s.ious[j] > bestIou)) {
        best = j;
        bestIou = s.ious[j];
      }
    });
    if (best >= 0) {
      matched.add(s.group.gts[best]);
      tp++;
    } else if (coversCrowd) {
      continue; // neither true nor false positive
    } else {
      fp++;
    }
    recall.push(tp / nGt);
    precision.push(tp / (tp + fp));
  }
  return averagePrecision(recall, precision);
}

function baseName(path: string): string {
  const i = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
  return i < 0 ? path : path.slice(i + 1);
}

/** The report as a fixed-width text table: one row per class, then the means. */
export function formatEvalTable(report: EvalReport): string {
  const th = report.iouThresholds.map((t) => `AP@${t.toFixed(2)}`);
  const header = ['class', 'GT', 'pred', ...th, 'ABO'];
  const fmt = (v: number): string => v.toFixed(3);
  const rows = report.classes.map((c) => [c.name, String(c.gt), String(c.predictions), ...c.ap.map(fmt), fmt(c.abo)]);
  const mean = [`mAP^r (${report.classes.length} classes)`, String(report.gtInstances), String(report.predInstances), ...report.mAP.map(fmt), fmt(report.abo)];
  const all = [header, ...rows, mean];
  const widths = header.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  const line = (r: string[]): string => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ');
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  const out = [line(header), rule, ...rows.map(line), rule, line(mean)];
  if (report.predInstances > 0) out.push(`masks: ${report.piecesPerMask.toFixed(2)} pieces, ${report.holesPerMask.toFixed(2)} holes on average`);
  if (report.notes.length > 0) out.push('', ...report.notes.map((n) => `note: ${n}`));
  return out.join('\n');
}
