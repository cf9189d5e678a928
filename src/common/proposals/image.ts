// Pixel-level preparation for proposal generation: downscaling, colour spaces, smoothing, texture codes.
// Images are RGB interleaved Uint8Array; planar channel stacks are Float32Array [3][h·w].
import { resizeMass } from '../retrieval/float-map';

export interface RgbImage {
  width: number;
  height: number;
  /** RGB interleaved, 3 bytes per pixel, row-major. */
  data: Uint8Array;
}

export type ColorSpace = 'rgb' | 'hsv' | 'lab';

/** Area-average downscale so that the longer side is at most maxSide (never upscales). */
export function downscale(img: RgbImage, maxSide: number): RgbImage {
  const s = Math.min(1, maxSide / Math.max(img.width, img.height));
  if (s === 1) return img;
  const W = Math.max(1, Math.round(img.width * s));
  const H = Math.max(1, Math.round(img.height * s));
  const n = img.width * img.height;
  const out = new Uint8Array(W * H * 3);
  // Mass-preserving resampling of each channel, divided by the area ratio = the area average.
  const norm = (W * H) / n;
  const plane = new Float32Array(n);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < n; i++) plane[i] = img.data[3 * i + c];
    const r = resizeMass({ width: img.width, height: img.height, data: plane }, W, H).data;
    for (let i = 0; i < W * H; i++) out[3 * i + c] = Math.min(255, Math.round(r[i] * norm));
  }
  return { width: W, height: H, data: out };
}

/** Planar channels in 0..255 (hue scaled to 0..255, Lab's L ×2.55 and a, b offset by 128). */
export function toColorSpace(img: RgbImage, space: ColorSpace): Float32Array {
  const n = img.width * img.height;
  const out = new Float32Array(3 * n);
  const d = img.data;
  for (let i = 0; i < n; i++) {
    const r = d[3 * i];
    const g = d[3 * i + 1];
    const b = d[3 * i + 2];
    if (space === 'rgb') {
      out[i] = r;
      out[n + i] = g;
      out[2 * n + i] = b;
    } else if (space === 'hsv') {
      const max = Math.max(r, g, b);
      const min = Math.min(r, g, b);
      const c = max - min;
      let h = 0;
      if (c > 0) {
        if (max === r) h = ((g - b) / c + 6) % 6;
        else if (max === g) h = (b - r) / c + 2;
        else h = (r - g) / c + 4;
      }
      out[i] = (h / 6) * 255;
      out[n + i] = max === 0 ? 0 : (c / max) * 255;
      out[2 * n + i] = max;
    } else {
      const R = SRGB_TO_LINEAR[r];
      const G = SRGB_TO_LINEAR[g];
      const B = SRGB_TO_LINEAR[b];
      // D65 white.
      const fx = labF((0.4124564 * R + 0.3575761 * G + 0.1804375 * B) / 0.95047);
      const fy = labF(0.2126729 * R + 0.7151522 * G + 0.072175 * B);
      const fz = labF((0.0193339 * R + 0.119192 * G + 0.9503041 * B) / 1.08883);
      out[i] = (116 * fy - 16) * 2.55;
      out[n + i] = 500 * (fx - fy) + 128;
      out[2 * n + i] = 200 * (fy - fz) + 128;
    }
  }
  return out;
}

const SRGB_TO_LINEAR = Float64Array.from({ length: 256 }, (_, v) => {
  const c = v / 255;
  return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
});

function labF(t: number): number {
  return t > 216 / 24389 ? Math.cbrt(t) : (24389 / 27 * t + 16) / 116;
}

/** Separable Gaussian blur of each plane (edges clamped); sigma ≤ 0 returns the input. */
export function gaussianBlur(planes: Float32Array, width: number, height: number, sigma: number): Float32Array {
  if (sigma <= 0) return planes;
  const r = Math.max(1, Math.ceil(4 * sigma));
  const kernel = new Float32Array(2 * r + 1);
  let sum = 0;
  for (let i = -r; i <= r; i++) sum += kernel[i + r] = Math.exp(-(i * i) / (2 * sigma * sigma));
  for (let i = 0; i < kernel.length; i++) kernel[i] /= sum;
  const n = width * height;
  const out = new Float32Array(planes.length);
  const tmp = new Float32Array(n);
  // Clamped borders via a padded line buffer, so the inner loops have no branches.
  const line = new Float32Array(Math.max(width, height) + 2 * r);
  const K = kernel.length;
  for (let p = 0; p < planes.length / n; p++) {
    const src = planes.subarray(p * n, (p + 1) * n);
    const dst = out.subarray(p * n, (p + 1) * n);
    for (let y = 0; y < height; y++) {
      const row = y * width;
      for (let i = 0; i < r; i++) {
        line[i] = src[row];
        line[r + width + i] = src[row + width - 1];
      }
      line.set(src.subarray(row, row + width), r);
      for (let x = 0; x < width; x++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += kernel[k] * line[x + k];
        tmp[row + x] = s;
      }
    }
    for (let x = 0; x < width; x++) {
      for (let y = 0; y < height; y++) line[r + y] = tmp[y * width + x];
      for (let i = 0; i < r; i++) {
        line[i] = tmp[x];
        line[r + height + i] = tmp[(height - 1) * width + x];
      }
      for (let y = 0; y < height; y++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += kernel[k] * line[y + k];
        dst[y * width + x] = s;
      }
    }
  }
  return out;
}

export const COLOR_BINS = 25;
export const TEXTURE_ORIENTATIONS = 8;
export const TEXTURE_MAGNITUDES = 10;
export const TEXTURE_BINS = TEXTURE_ORIENTATIONS * TEXTURE_MAGNITUDES;

/** Per pixel and channel, the colour-histogram bin (25 bins over 0..255): Uint8Array [3][n]. */
export function colorCodes(planes: Float32Array): Uint8Array {
  const out = new Uint8Array(planes.length);
  for (let i = 0; i < planes.length; i++) {
    const v = planes[i];
    out[i] = v <= 0 ? 0 : v >= 255 ? COLOR_BINS - 1 : Math.floor((v * COLOR_BINS) / 256);
  }
  return out;
}

/**
 * Per pixel and channel, a texture code in 0..79: the gradient orientation (8 sectors of the full
 * circle) × a log-scaled magnitude bin (10 bins), from Sobel derivatives of the σ=1 smoothed channel.
 * A simplification of selective search's 8 Gaussian-derivative histograms per channel: each pixel
 * votes once per channel in its dominant orientation instead of in all eight.
 */
export function textureCodes(smoothed: Float32Array, width: number, height: number): Uint8Array {
  const n = width * height;
  const out = new Uint8Array(smoothed.length);
  const magScale = TEXTURE_MAGNITUDES / Math.log2(1 + 1024);
  for (let p = 0; p < smoothed.length / n; p++) {
    const c = smoothed.subarray(p * n, (p + 1) * n);
    for (let y = 0; y < height; y++) {
      const ym = y > 0 ? y - 1 : 0;
      const yp = y < height - 1 ? y + 1 : y;
      for (let x = 0; x < width; x++) {
        const xm = x > 0 ? x - 1 : 0;
        const xp = x < width - 1 ? x + 1 : x;
        const a = c[ym * width + xm], b = c[ym * width + x], d = c[ym * width + xp];
        const e = c[y * width + xm], f = c[y * width + xp];
        const g = c[yp * width + xm], h = c[yp * width + x], k = c[yp * width + xp];
        const gx = d + 2 * f + k - a - 2 * e - g;
        const gy = g + 2 * h + k - a - 2 * b - d;
        const mag = Math.abs(gx) + Math.abs(gy);
        const mb = Math.min(TEXTURE_MAGNITUDES - 1, Math.floor(Math.log2(1 + mag) * magScale));
        const ob = orientationSector(gx, gy);
        out[p * n + y * width + x] = ob * TEXTURE_MAGNITUDES + mb;
      }
    }
  }
  return out;
}

// Sector of the full circle (8 × 45°) without atan2: compare |gx|, |gy| and signs.
function orientationSector(gx: number, gy: number): number {
  const ax = Math.abs(gx);
  const ay = Math.abs(gy);
  // Octant within the quadrant: 0 when |gx| ≥ |gy|.
  if (gx >= 0 && gy >= 0) return ax >= ay ? 0 : 1;
  if (gx < 0 && gy >= 0) return ax >= ay ? 3 : 2;
  if (gx < 0) return ax >= ay ? 4 : 5;
  return ax >= ay ? 7 : 6;
}
