// Image → model input: EXIF orientation applied, resized to the manifest's input policy, planes in the
// manifest's channel order (BGR or RGB), (pixel − mean) · scale.
// Geometry keeps the per-axis scale so every coordinate maps back to the original oriented image exactly.
import sharp from 'sharp';
import type { ImageRect } from '../../common/api';
import { HUGE_PIXELS, imageError, openImage, WORKING_COPY_SIDE } from '../images/decode';
import type { InputPolicy, Manifest } from './manifest';

/** Decoded, oriented RGB pixels (interleaved). */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
  /** The image's displayed size when these pixels are a downscaled copy of a huge image. */
  display?: { width: number; height: number };
}

/** Original (oriented) size and the model input size; x_in = (x + 0.5)·sx − 0.5 per axis. */
export interface InputGeometry {
  origWidth: number;
  origHeight: number;
  width: number;
  height: number;
}

export interface Preprocessed {
  geometry: InputGeometry;
  /** [1,3,H,W] float32, manifest channel order, (pixel − mean) · scale. */
  tensor: Float32Array;
  /** RGB at input size (the proposals' source, resized further when needed). */
  rgb: RgbImage;
}

/** Input size: shorter side → policy.shorterSide, longer side capped, both rounded to multipleOf. */
export function inputSize(policy: InputPolicy, width: number, height: number): { width: number; height: number } {
  const short = Math.min(width, height);
  const long = Math.max(width, height);
  let scale = policy.shorterSide / short;
  if (long * scale > policy.maxLongerSide) scale = policy.maxLongerSide / long;
  const round = (v: number) => Math.max(policy.multipleOf, Math.round(v / policy.multipleOf) * policy.multipleOf);
  return { width: round(width * scale), height: round(height * scale) };
}

/** Original pixel coordinate → input pixel coordinate (pixel centres map onto pixel centres). */
export function toInput(g: InputGeometry, x: number, y: number): { x: number; y: number } {
  return { x: ((x + 0.5) * g.width) / g.origWidth - 0.5, y: ((y + 0.5) * g.height) / g.origHeight - 0.5 };
}

/** Input pixel coordinate → original pixel coordinate (inverse of toInput). */
export function toOriginal(g: InputGeometry, x: number, y: number): { x: number; y: number } {
  return { x: ((x + 0.5) * g.origWidth) / g.width - 0.5, y: ((y + 0.5) * g.origHeight) / g.height - 0.5 };
}

/** Where CRM cells sit in the input: cell i is centred on input pixel stride·i + centerOffset. */
export interface CrmGrid {
  stride: number;
  centerOffset: number;
}

export function gridToInput(g: CrmGrid, gy: number, gx: number): { x: number; y: number } {
  return { x: gx * g.stride + g.centerOffset, y: gy * g.stride + g.centerOffset };
}

export function inputToGrid(g: CrmGrid, x: number, y: number): { gx: number; gy: number } {
  return { gx: (x - g.centerOffset) / g.stride, gy: (y - g.centerOffset) / g.stride };
}

/**
 * Where a w×h class map drawn as an image belongs on the original image (pixel k spanning [k, k+1]): the
 * rectangle that puts each map pixel's centre on its cell's centre. Cells need not be centred on the stride
 * blocks (the manifest's crmGeometry), so stretching the map over the whole image would shift it.
 */
export function crmFrame(grid: CrmGrid, g: InputGeometry, w: number, h: number): ImageRect {
  const sx = g.origWidth / g.width;
  const sy = g.origHeight / g.height;
  // cell i's centre: input pixel stride·i + centerOffset, i.e. (stride·i + centerOffset + 0.5)·s on the original
  const half = grid.stride / 2;
  return {
    x: (grid.centerOffset + 0.5 - half) * sx,
    y: (grid.centerOffset + 0.5 - half) * sy,
    width: w * grid.stride * sx,
    height: h * grid.stride * sy,
  };
}

/**
 * Reads and orients an image file (or bytes) with the importer's decoding rules; errors name the file.
 * An image above HUGE_PIXELS is shrunk while it is decoded (as the project's working copies are), so a
 * 300-megapixel scan costs tens of megabytes instead of a gigabyte; `display` then keeps its real size.
 */
export async function decodeOriented(source: string | Uint8Array, name: string): Promise<RgbImage> {
  try {
    const input = source instanceof Uint8Array ? Buffer.from(source.buffer, source.byteOffset, source.byteLength) : source;
    let pipeline = (await openImage(input, name)).rotate();
    const m = await pipeline.metadata();
    const swap = (m.orientation ?? 1) >= 5;
    const display = m.width && m.height ? { width: swap ? m.height : m.width, height: swap ? m.width : m.height } : null;
    const huge = display !== null && display.width * display.height > HUGE_PIXELS;
    if (huge) pipeline = pipeline.resize(WORKING_COPY_SIDE, WORKING_COPY_SIDE, { fit: 'inside' });
    const { data, info } = await pipeline.removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    const img: RgbImage = { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
    return huge ? { ...img, display: display! } : img;
  } catch (err) {
    throw imageError(err, name);
  }
}

/**
 * Resize (bilinear, as the model was trained) to the input size and build the input tensor. `display` is
 * the size coordinates refer to when `img` is a downscaled working copy of a huge image (the project stores
 * such copies); by default the image's own displayed size.
 */
export async function preprocess(img: RgbImage, manifest: Manifest, display?: { width: number; height: number }): Promise<Preprocessed> {
  const orig = display ?? img.display ?? { width: img.width, height: img.height };
  const size = inputSize(manifest.preprocess.inputPolicy, orig.width, orig.height);
  const resized =
    size.width === img.width && size.height === img.height
      ? img.data
      : new Uint8Array(
          await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
            .resize(size.width, size.height, { fit: 'fill', kernel: 'linear' })
            .raw()
            .toBuffer(),
        );
  const tensor = toTensor(resized, size.width * size.height, manifest.preprocess);
  return {
    geometry: { origWidth: orig.width, origHeight: orig.height, width: size.width, height: size.height },
    tensor,
    rgb: { width: size.width, height: size.height, data: resized },
  };
}

/** Interleaved RGB → [3,H,W] planes in the bundle's channel order, (pixel − mean) · scale. */
export function toTensor(
  rgb: Uint8Array,
  plane: number,
  pre: { channelOrder: 'BGR' | 'RGB'; mean: [number, number, number]; scale: number },
): Float32Array {
  const { mean, scale } = pre;
  const tensor = new Float32Array(3 * plane);
  // Plane k reads RGB channel src[k]: BGR → blue first.
  const [s0, s1, s2] = pre.channelOrder === 'RGB' ? [0, 1, 2] : [2, 1, 0];
  for (let i = 0, j = 0; i < plane; i++, j += 3) {
    tensor[i] = (rgb[j + s0] - mean[0]) * scale;
    tensor[plane + i] = (rgb[j + s1] - mean[1]) * scale;
    tensor[2 * plane + i] = (rgb[j + s2] - mean[2]) * scale;
  }
  return tensor;
}
