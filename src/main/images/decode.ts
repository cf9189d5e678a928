// One place that decides how sharp reads user images: the pixel limit (raised deliberately above
// libvips' 268 MP default so a 30,000×30,000 scan still imports), EXIF auto-orientation, and how
// sharp's failures become errors naming the file.
import sharp, { type Sharp } from 'sharp';
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { PeakLabelError } from '../../common/errors';
import { bmpSize, decodeBmp, isBmp } from './bmp';

/** Largest image we decode at all (1 gigapixel ≈ 31,600²). Bigger files are reported, not decoded. */
export const MAX_INPUT_PIXELS = 1_000_000_000;
/** Above this many pixels an image gets a cached, downscaled working copy and is never fully decoded again. */
export const HUGE_PIXELS = 40_000_000;
/** Longest side of a working copy. */
export const WORKING_COPY_SIDE = 4096;
/** Longest side of a thumbnail. */
export const THUMBNAIL_SIDE = 256;

export const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.tif', '.tiff', '.bmp']);

// Two cores: one libvips thread per pipeline, and the importer runs two pipelines side by side.
sharp.concurrency(1);
sharp.cache(false);

/** A sharp pipeline for a user image: truncated files fail instead of decoding as grey; BMPs via bmp.ts. */
export async function openImage(input: Buffer | string, file = typeof input === 'string' ? input : 'image'): Promise<Sharp> {
  if (typeof input === 'string' && extname(input).toLowerCase() === '.bmp') input = await readFile(input);
  if (Buffer.isBuffer(input) && isBmp(input)) {
    const raw = decodeBmp(input, file, MAX_INPUT_PIXELS);
    return sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: raw.channels }, limitInputPixels: MAX_INPUT_PIXELS });
  }
  return sharp(input, { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'truncated', sequentialRead: true });
}

/** The image as displayed: EXIF orientation applied (skipped when there is none: it costs a copy). */
export async function openOriented(input: Buffer | string, orientation: number, file?: string): Promise<Sharp> {
  const img = await openImage(input, file);
  return orientation > 1 ? img.autoOrient() : img;
}

export interface Probe {
  /** Size as displayed (after EXIF orientation). */
  width: number;
  height: number;
  orientation: number;
  format: string;
}

/** Reads the header only: size, orientation and format. */
export async function probeImage(input: Buffer | string, file: string): Promise<Probe> {
  try {
    if (Buffer.isBuffer(input) && isBmp(input)) {
      const { width, height } = bmpSize(input, file);
      if (width * height > MAX_INPUT_PIXELS) throw new PeakLabelError('IMAGE_TOO_LARGE', `${file} is ${width}×${height} pixels, more than PeakLabel's limit of ${MAX_INPUT_PIXELS / 1e6} megapixels.`, { file });
      return { width, height, orientation: 1, format: 'bmp' };
    }
    const m = await (await openImage(input, file)).metadata();
    if (!m.width || !m.height) throw new PeakLabelError('IMAGE_DECODE', `${file} has no readable image size.`, { file });
    const orientation = m.orientation && m.orientation >= 1 && m.orientation <= 8 ? m.orientation : 1;
    const swap = orientation >= 5;
    const width = swap ? m.height : m.width;
    const height = swap ? m.width : m.height;
    if (width * height > MAX_INPUT_PIXELS) {
      throw new PeakLabelError('IMAGE_TOO_LARGE', `${file} is ${m.width}×${m.height} pixels, more than PeakLabel's limit of ${MAX_INPUT_PIXELS / 1e6} megapixels.`, { file });
    }
    return { width, height, orientation, format: m.format };
  } catch (err) {
    throw imageError(err, file);
  }
}

/** sharp/libvips errors as PeakLabel errors naming the file. */
export function imageError(err: unknown, file: string): PeakLabelError {
  if (err instanceof PeakLabelError) return err;
  const msg = err instanceof Error ? err.message.split('\n')[0] : String(err);
  const code = (err as { code?: string }).code;
  if (code === 'EACCES' || code === 'EPERM' || code === 'ENOENT' || code === 'EISDIR' || code === 'EIO') {
    return new PeakLabelError('UNREADABLE', `Cannot read ${file} (${code}).`, { file, detail: msg });
  }
  if (/unsupported image format/i.test(msg)) return new PeakLabelError('NOT_AN_IMAGE', `${file} is not an image PeakLabel can read (unsupported or unknown format).`, { file, detail: msg });
  if (/pixel limit/i.test(msg)) return new PeakLabelError('IMAGE_TOO_LARGE', `${file} is larger than PeakLabel's limit of ${MAX_INPUT_PIXELS / 1e6} megapixels.`, { file, detail: msg });
  return new PeakLabelError('IMAGE_DECODE', `${file} is corrupt or truncated and cannot be decoded (${msg}).`, { file, detail: msg });
}
