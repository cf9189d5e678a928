// COCO instances file → project, as ground truth ('imported' instances, image done) or as prior labels
// ('suggested' instances to review). Images are matched by file_name to images already in the project;
// bad items (parse problems, unknown images, size mismatches) are reported and the rest is imported,
// all in one transaction. Importing again replaces what the previous import of that kind put there.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { CocoImportResult, Rle } from '../../common/api';
import { parseCocoText } from '../../common/coco/parse';
import type { CocoAnnotation, CocoDataset } from '../../common/coco/types';
import { PeakLabelError, type ErrorInfo } from '../../common/errors';
import { segmentationToRle } from '../../common/coco/segmentation';
import { rleArea } from '../../common/rle';
import type { Job } from '../api/context';
import { createImageMatcher } from '../store/image-matcher';
import type { NewInstance, ProjectStore } from '../store/project-store';

/** Reads and validates a COCO file; unreadable or non-JSON files are errors naming the file. */
export async function readCocoFile(path: string): Promise<{ dataset: CocoDataset; problems: ErrorInfo[] }> {
  const file = resolve(path);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new PeakLabelError(code === 'ENOENT' ? 'NOT_FOUND' : 'UNREADABLE', `Cannot read the COCO file ${file} (${code ?? 'error'}).`, { file, cause: err });
  }
  return parseCocoText(text, file);
}

export async function importCoco(store: ProjectStore, path: string, as: 'ground_truth' | 'prior', job?: Job): Promise<CocoImportResult> {
  const file = resolve(path);
  const { dataset, problems } = await readCocoFile(file);
  const skipped: ErrorInfo[] = [...problems];
  const match = createImageMatcher(store);
  if (job) job.tracker.total = dataset.annotations.length;

  // COCO image id → project image (size-checked).
  const images = new Map<number, { id: number; width: number; height: number }>();
  for (const im of dataset.images) {
    const id = match(im.file_name);
    if (id === undefined) {
      skipped.push({ code: 'NOT_FOUND', message: `${file}: image ${im.id} (${im.file_name}) is not in the project; its annotations were skipped.`, file });
      continue;
    }
    const row = store.getImage(id);
    if (row.width !== im.width || row.height !== im.height) {
      skipped.push({ code: 'COCO_INVALID', message: `${file}: image ${im.id} (${im.file_name}) is ${im.width}×${im.height} in the COCO file but ${row.width}×${row.height} as displayed in the project; its annotations were skipped.`, file });
      continue;
    }
    images.set(im.id, { id, width: row.width, height: row.height });
  }

  const byImage = new Map<number, NewInstance[]>();
  const source = as === 'ground_truth' ? 'imported' : 'suggested';
  let instances = 0;
  let categories = 0;
  store.transaction(() => {
    const classOf = new Map<number, number>();
    for (const c of dataset.categories) classOf.set(c.id, store.ensureClass(c.name).id);
    categories = classOf.size;
    for (const a of dataset.annotations) {
      job?.tracker.step();
      const im = images.get(a.image_id);
      const classId = classOf.get(a.category_id);
      if (!im || classId === undefined) continue; // reported above (image) or by parseCoco (category)
      const mask = annotationRle(a, im.width, im.height);
      if (typeof mask === 'string') {
        skipped.push({ code: 'COCO_INVALID', message: `${file}: annotation ${a.id} ${mask}; it was skipped.`, file });
        continue;
      }
      const list = byImage.get(im.id) ?? [];
      list.push({ classId, mask, source, iscrowd: a.iscrowd === 1, score: typeof a.score === 'number' ? a.score : null });
      byImage.set(im.id, list);
    }
    for (const { id } of images.values()) {
      const list = byImage.get(id) ?? [];
      if (as === 'prior') {
        store.replaceSuggestions(id, list);
      } else {
        store.replaceImported(id, list);
      }
      instances += list.length;
    }
  });
  return { images: images.size, instances, categories, skipped };
}

/** The annotation's mask as compressed RLE, or why it cannot be used. */
function annotationRle(a: CocoAnnotation, width: number, height: number): Rle | string {
  const seg = a.segmentation;
  if (Array.isArray(seg) && seg.length === 0) return 'has no polygon';
  if (!Array.isArray(seg) && (seg.size[0] !== height || seg.size[1] !== width)) return `has an RLE of size ${seg.size[1]}×${seg.size[0]} on a ${width}×${height} image`;
  const rle = segmentationToRle(seg, width, height);
  if (rleArea(rle) === 0) return 'has an empty mask';
  return rle;
}
