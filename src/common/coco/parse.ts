// Reads a parsed COCO instances JSON into checked types. Recoverable problems skip (or repair) the item and
// are returned as ErrorInfo values naming the file and the ids; only a file that is not COCO at all throws.
// The rules are listed in spec.md beside this file.
import { PeakLabelError, type ErrorInfo } from '../errors';
import { countsTotal, decompressCounts } from '../rle';
import { segmentationStats } from './segmentation';
import type { CocoAnnotation, CocoCategory, CocoDataset, CocoImage, CocoSegmentation } from './types';

export interface ParsedCoco {
  dataset: CocoDataset;
  problems: ErrorInfo[];
}

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isId = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);
const isPositiveInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const describe = (v: unknown): string => (v === undefined ? 'missing' : JSON.stringify(v)?.slice(0, 40) ?? String(v));

/** parseCoco on the file's text: text that is not JSON is an unusable file (COCO_INVALID). */
export function parseCocoText(text: string, file: string): ParsedCoco {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new PeakLabelError('COCO_INVALID', `${file} is not valid JSON (${(err as Error).message}).`, { file, cause: err });
  }
  return parseCoco(json, file);
}

/** Validates `json` (already parsed) as COCO instances from `file`. Throws PeakLabelError only when unusable. */
export function parseCoco(json: unknown, file: string): ParsedCoco {
  if (!isObj(json)) {
    throw new PeakLabelError('COCO_INVALID', `${file} is not a COCO file: expected a JSON object with "images", "annotations" and "categories".`, { file });
  }
  if (!Array.isArray(json.images)) {
    throw new PeakLabelError('COCO_INVALID', `${file} is not a COCO instances file: it has no "images" array.`, { file });
  }
  const problems: ErrorInfo[] = [];
  const problem = (message: string): void => {
    problems.push({ code: 'COCO_INVALID', message: `${file}: ${message}`, file });
  };

  const images: CocoImage[] = [];
  const imageById = new Map<number, CocoImage>();
  json.images.forEach((raw: unknown, index: number) => {
    const what = isObj(raw) && isId(raw.id) ? `image ${raw.id}` : `image #${index + 1}`;
    if (!isObj(raw)) return problem(`${what} is not an object; it was skipped.`);
    if (!isId(raw.id)) return problem(`${what} has no integer "id" (${describe(raw.id)}); it was skipped.`);
    if (imageById.has(raw.id)) return problem(`${what} repeats an image id; the later entry was skipped.`);
    if (typeof raw.file_name !== 'string' || raw.file_name === '') return problem(`${what} has no "file_name"; it was skipped.`);
    if (!isPositiveInt(raw.width) || !isPositiveInt(raw.height)) {
      return problem(`${what} (${raw.file_name}) has no valid width/height (${describe(raw.width)}×${describe(raw.height)}); it was skipped.`);
    }
    const im = { ...raw } as CocoImage;
    images.push(im);
    imageById.set(im.id, im);
  });

  const categories: CocoCategory[] = [];
  const categoryIds = new Set<number>();
  const rawCategories = json.categories === undefined ? [] : json.categories;
  if (!Array.isArray(rawCategories)) problem('"categories" is not an array; no categories were read.');
  else {
    rawCategories.forEach((raw: unknown, index: number) => {
      const what = isObj(raw) && isId(raw.id) ? `category ${raw.id}` : `category #${index + 1}`;
      if (!isObj(raw)) return problem(`${what} is not an object; it was skipped.`);
      if (!isId(raw.id)) return problem(`${what} has no integer "id" (${describe(raw.id)}); it was skipped.`);
      if (categoryIds.has(raw.id)) return problem(`${what} repeats a category id; the later entry was skipped.`);
      if (typeof raw.name !== 'string' || raw.name.trim() === '') return problem(`${what} has no "name"; it was skipped.`);
      categories.push({ ...raw } as CocoCategory);
      categoryIds.add(raw.id);
    });
  }

  const annotations: CocoAnnotation[] = [];
  const annotationIds = new Set<number>();
  const rawAnnotations = json.annotations === undefined ? [] : json.annotations;
  if (!Array.isArray(rawAnnotations)) problem('"annotations" is not an array; no annotations were read.');
  else {
    rawAnnotations.forEach((raw: unknown, index: number) => {
      const what = isObj(raw) && isId(raw.id) ? `annotation ${raw.id}` : `annotation #${index + 1}`;
      if (!isObj(raw)) return problem(`${what} is not an object; it was skipped.`);
      if (!isId(raw.id)) return problem(`${what} has no integer "id" (${describe(raw.id)}); it was skipped.`);
      if (annotationIds.has(raw.id)) return problem(`${what} repeats an annotation id; the later entry was skipped.`);
      const ann = checkAnnotation(raw, what, imageById, categoryIds, problem);
      if (!ann) return;
      annotations.push(ann);
      annotationIds.add(ann.id);
    });
  }

  const dataset: CocoDataset = { images, annotations, categories };
  if (isObj(json.info)) dataset.info = json.info;
  if (Array.isArray(json.licenses)) dataset.licenses = json.licenses;
  return { dataset, problems };
}

/** One annotation, checked against its image; undefined (with the problem recorded) when unusable. */
function checkAnnotation(
  raw: Obj,
  what: string,
  imageById: Map<number, CocoImage>,
  categoryIds: Set<number>,
  problem: (message: string) => void,
): CocoAnnotation | undefined {
  const skip = (why: string): undefined => {
    problem(`${what} ${why}; it was skipped.`);
    return undefined;
  };
  if (!isId(raw.image_id)) return skip(`has no integer "image_id" (${describe(raw.image_id)})`);
  const im = imageById.get(raw.image_id);
  if (!im) return skip(`refers to image ${raw.image_id}, which is not in "images"`);
  const where = `${what} (image ${im.id})`;
  const skipHere = (why: string): undefined => {
    problem(`${where} ${why}; it was skipped.`);
    return undefined;
  };
  if (!isId(raw.category_id)) return skipHere(`has no integer "category_id" (${describe(raw.category_id)})`);
  if (!categoryIds.has(raw.category_id)) return skipHere(`refers to category ${raw.category_id}, which is not in "categories"`);

  let iscrowd: 0 | 1 = 0;
  if (raw.iscrowd !== undefined) {
    if (raw.iscrowd === 1 || raw.iscrowd === true) iscrowd = 1;
    else if (raw.iscrowd !== 0 && raw.iscrowd !== false) return skipHere(`has "iscrowd" ${describe(raw.iscrowd)} (expected 0 or 1)`);
  }
  if (raw.score !== undefined && !isFiniteNumber(raw.score)) return skipHere(`has a non-numeric "score" (${describe(raw.score)})`);

  const seg = checkSegmentation(raw.segmentation, im);
  if (typeof seg === 'string') return skipHere(seg);

  const ann = { ...raw, segmentation: seg, iscrowd } as CocoAnnotation;
  // bbox and area are derivable from the mask: a missing or malformed one is recomputed, and said so.
  const badBbox = !isValidBbox(raw.bbox);
  const badArea = !(isFiniteNumber(raw.area) && raw.area >= 0);
  if (badBbox || badArea) {
    const stats = segmentationStats(seg, im.width, im.height);
    if (badBbox) {
      if (raw.bbox !== undefined) problem(`${where} has an invalid "bbox" (${describe(raw.bbox)}); it was replaced by the mask's bounding box.`);
      ann.bbox = stats.bbox;
    }
    if (badArea) {
      if (raw.area !== undefined) problem(`${where} has an invalid "area" (${describe(raw.area)}); it was replaced by the mask's pixel count.`);
      ann.area = stats.area;
    }
  }
  return ann;
}

function isValidBbox(b: unknown): b is [number, number, number, number] {
  return Array.isArray(b) && b.length === 4 && b.every(isFiniteNumber) && b[2] >= 0 && b[3] >= 0;
}

/** The segmentation in normal form, or the reason it is unusable (a phrase that follows the annotation's name). */
function checkSegmentation(seg: unknown, im: CocoImage): CocoSegmentation | string {
  if (seg === undefined || seg === null) return 'has no "segmentation"';
  if (Array.isArray(seg)) {
    if (seg.length === 0) return 'has an empty polygon list';
    // A single flat ring [x1, y1, …] is accepted as pycocotools accepts it.
    const rings = typeof seg[0] === 'number' ? [seg] : seg;
    for (let r = 0; r < rings.length; r++) {
      const ring = rings[r] as unknown;
      const which = rings.length > 1 ? `polygon ${r + 1} of ${rings.length}` : 'its polygon';
      if (!Array.isArray(ring)) return `has a polygon that is not a list of numbers (${which})`;
      if (ring.length % 2 !== 0) return `has an odd-length polygon (${which} has ${ring.length} coordinates)`;
      if (ring.length < 6) return `has a polygon with fewer than 3 points (${which} has ${ring.length} coordinates)`;
      for (let j = 0; j < ring.length; j++) {
        const v = ring[j] as unknown;
        if (!isFiniteNumber(v)) return `has a non-numeric polygon coordinate (${which}, index ${j}: ${describe(v)})`;
        // Far-off vertices are corrupt data, and rasterising them would walk millions of points.
        const size = j % 2 === 0 ? im.width : im.height;
        if (v < -size || v > 2 * size) return `has a polygon coordinate far outside the ${im.width}×${im.height} image (${which}, index ${j}: ${v})`;
      }
    }
    return rings as number[][];
  }
  if (!isObj(seg)) return `has a "segmentation" that is neither polygons nor RLE (${describe(seg)})`;
  const size = seg.size;
  if (!Array.isArray(size) || size.length !== 2 || !size.every((v) => Number.isSafeInteger(v) && (v as number) >= 0)) {
    return `has an RLE without a valid "size" [height, width] (${describe(size)})`;
  }
  const [h, w] = size as [number, number];
  if (h !== im.height || w !== im.width) {
    return `has an RLE of size ${w}×${h} (width×height) on a ${im.width}×${im.height} image`;
  }
  let counts: ArrayLike<number>;
  if (typeof seg.counts === 'string') {
    try {
      counts = decompressCounts(seg.counts);
    } catch (err) {
      return `has an unreadable RLE string (${(err as Error).message})`;
    }
    for (let j = 0; j < counts.length; j++) if (counts[j] < 0) return 'has an RLE string that decodes to a negative run';
  } else if (Array.isArray(seg.counts)) {
    const list = seg.counts as unknown[];
    for (let j = 0; j < list.length; j++) {
      const c = list[j];
      if (!(typeof c === 'number' && Number.isSafeInteger(c) && c >= 0)) return `has an RLE count that is not a non-negative integer (index ${j}: ${describe(c)})`;
    }
    counts = list as number[];
  } else {
    return 'has an RLE without "counts"';
  }
  const total = countsTotal(counts);
  if (total !== h * w) return `has RLE counts that cover ${total} pixels, not ${h}×${w} = ${h * w}`;
  return { size: [h, w], counts: seg.counts as string | number[] };
}

/**
 * A COCO results file (a bare array of annotations, as detectors write for cocoeval) read against the
 * dataset it refers to: image and category ids must exist there; ids are renumbered from 1 (as cocoeval's loadRes).
 */
export function parseCocoResults(json: unknown, file: string, against: CocoDataset): { annotations: CocoAnnotation[]; problems: ErrorInfo[] } {
  if (!Array.isArray(json)) {
    throw new PeakLabelError('COCO_INVALID', `${file} is not a COCO results file: expected a JSON array of annotations.`, { file });
  }
  const problems: ErrorInfo[] = [];
  const problem = (message: string): void => {
    problems.push({ code: 'COCO_INVALID', message: `${file}: ${message}`, file });
  };
  const imageById = new Map(against.images.map((im) => [im.id, im]));
  const categoryIds = new Set(against.categories.map((c) => c.id));
  const annotations: CocoAnnotation[] = [];
  json.forEach((raw: unknown, index: number) => {
    const what = `result #${index + 1}`;
    if (!isObj(raw)) return problem(`${what} is not an object; it was skipped.`);
    const ann = checkAnnotation(raw, what, imageById, categoryIds, problem);
    if (!ann) return;
    ann.id = index + 1;
    annotations.push(ann);
  });
  return { annotations, problems };
}
