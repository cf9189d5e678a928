// Refinement of a soft foreground map (an Instance Activation Map) by a convolutional CRF: binary
// mean-field inference where each pixel talks to the pixels of a local window (ConvCRF, Teichmann &
// Cipolla 2018) through two Gaussian kernels, as in the dense CRF of Krähenbühl & Koltun:
//   appearance  w_a · exp(−|p_i − p_j|² / 2θα² − |I_i − I_j|² / 2θβ²)   (same colour → same label)
//   smoothness  w_s · exp(−|p_i − p_j|² / 2θγ²)                         (removes speckles)
// with Potts compatibility. For two labels one mean-field step is, in logits,
//   ℓ_i = logit(P_i) + Σ_j k(i, j) · (2·Q_j − 1),   Q = σ(ℓ).
// Each kernel's spatial part is normalised to sum 1 over the window, so w_a and w_s read as the most
// logit the neighbourhood can add or remove. Only a box around the uncertain pixels is updated: far
// from the object the unary is confident and nothing would change.

import type { BinaryMask } from './mask';

export interface CrfImage {
  width: number;
  height: number;
  /** RGB interleaved, 8 bits per channel. */
  data: Uint8Array;
}

export interface CrfOptions {
  /** Mean-field iterations. */
  iterations?: number;
  /** Window half-size in samples; the window covers (2·radius + 1)² samples. */
  radius?: number;
  /** Pixels between window samples: a dilated window reaches farther at the same cost. */
  dilation?: number;
  appearanceWeight?: number;
  /** Spatial scale of the appearance kernel (pixels). */
  thetaAlpha?: number;
  /** Colour scale of the appearance kernel (RGB units). */
  thetaBeta?: number;
  smoothnessWeight?: number;
  /** Spatial scale of the smoothness kernel (pixels). */
  thetaGamma?: number;
  /** Probabilities are clipped to [eps, 1 − eps] before the logit. */
  eps?: number;
  /** Pixels with probability in (uncertain, 1 − uncertain) — and everything within reach of them — are updated. */
  uncertain?: number;
  /** The updated box is averaged down by an integer factor until its longer side is at most this (speed). */
  maxSide?: number;
}

export const DEFAULT_CRF_OPTIONS: Required<CrfOptions> = {
  iterations: 10,
  radius: 3,
  dilation: 2,
  appearanceWeight: 20,
  thetaAlpha: 8,
  thetaBeta: 12,
  smoothnessWeight: 1,
  thetaGamma: 2,
  eps: 1e-4,
  uncertain: 0.1,
  maxSide: 160,
};

/** Refined foreground probabilities, same layout as `prob` (row-major, image size). */
export function crfRefine(prob: Float32Array, image: CrfImage, options: CrfOptions = {}): Float32Array {
  const o = { ...DEFAULT_CRF_OPTIONS, ...options };
  const { width: W, height: H } = image;
  if (prob.length !== W * H) throw new RangeError(`crfRefine: map has ${prob.length} values, image is ${W}×${H}`);
  if (image.data.length !== W * H * 3) throw new RangeError(`crfRefine: image data is not ${W}×${H} RGB`);

  const out = Float32Array.from(prob);
  const box = updateBox(prob, W, H, o);
  if (!box) return out;
  const [x0, y0, x1, y1] = box;
  const f = Math.max(1, Math.ceil(Math.max(x1 - x0, y1 - y0) / o.maxSide));
  const grid = boxGrid(prob, image, box, f);
  const q = meanField(grid, f, o);
  // Back to pixels: bilinear from cell centres when the box was reduced.
  const { gw, gh } = grid;
  for (let y = y0; y < y1; y++) {
    const gy = Math.min(gh - 1, Math.max(0, (y - y0 + 0.5) / f - 0.5));
    const ya = Math.floor(gy), yb = Math.min(gh - 1, ya + 1), fy = gy - ya;
    for (let x = x0; x < x1; x++) {
      const gx = Math.min(gw - 1, Math.max(0, (x - x0 + 0.5) / f - 0.5));
      const xa = Math.floor(gx), xb = Math.min(gw - 1, xa + 1), fx = gx - xa;
      out[y * W + x] =
        (1 - fy) * ((1 - fx) * q[ya * gw + xa] + fx * q[ya * gw + xb]) + fy * ((1 - fx) * q[yb * gw + xa] + fx * q[yb * gw + xb]);
    }
  }
  return out;
}

interface BoxGrid {
  gw: number;
  gh: number;
  /** Mean probability and mean RGB of each f×f cell of the box. */
  prob: Float32Array;
  rgb: Uint8Array;
}

function boxGrid(prob: Float32Array, image: CrfImage, [x0, y0, x1, y1]: [number, number, number, number], f: number): BoxGrid {
  const W = image.width;
  const gw = Math.ceil((x1 - x0) / f), gh = Math.ceil((y1 - y0) / f);
  const p = new Float32Array(gw * gh);
  const rgb = new Uint8Array(gw * gh * 3);
  for (let gy = 0; gy < gh; gy++) {
    for (let gx = 0; gx < gw; gx++) {
      let n = 0, sp = 0, r = 0, g = 0, b = 0;
      for (let y = y0 + gy * f; y < Math.min(y1, y0 + (gy + 1) * f); y++) {
        for (let x = x0 + gx * f; x < Math.min(x1, x0 + (gx + 1) * f); x++) {
          const i = y * W + x;
          sp += prob[i];
          r += image.data[3 * i];
          g += image.data[3 * i + 1];
          b += image.data[3 * i + 2];
          n++;
        }
      }
      const c = gy * gw + gx;
      p[c] = sp / n;
      rgb[3 * c] = Math.round(r / n);
      rgb[3 * c + 1] = Math.round(g / n);
      rgb[3 * c + 2] = Math.round(b / n);
    }
  }
  return { gw, gh, prob: p, rgb };
}

/** Mean-field iterations on the box grid (cells f pixels apart); returns Q (foreground probability). */
function meanField(grid: BoxGrid, f: number, o: Required<CrfOptions>): Float32Array {
  const { gw, gh, rgb } = grid;
  // Window offsets and the spatial factors of both kernels (distances in pixels), each normalised over the window.
  const offs: [number, number][] = [];
  const sA: number[] = [];
  const sG: number[] = [];
  for (let dy = -o.radius; dy <= o.radius; dy++) {
    for (let dx = -o.radius; dx <= o.radius; dx++) {
      if (dx === 0 && dy === 0) continue;
      const d2 = (dx * o.dilation * f) ** 2 + (dy * o.dilation * f) ** 2;
      offs.push([dx * o.dilation, dy * o.dilation]);
      sA.push(Math.exp(-d2 / (2 * o.thetaAlpha ** 2)));
      sG.push(Math.exp(-d2 / (2 * o.thetaGamma ** 2)));
    }
  }
  const sumA = sA.reduce((a, b) => a + b, 0);
  const sumG = sG.reduce((a, b) => a + b, 0);
  for (let k = 0; k < offs.length; k++) {
    sA[k] *= o.appearanceWeight / sumA;
    sG[k] *= o.smoothnessWeight / sumG;
  }
  const colour = colourLut(o.thetaBeta);

  const n = gw * gh;
  const unary = new Float32Array(n);
  const s = new Float32Array(n); // 2Q − 1 in [−1, 1], the quantity the messages sum
  for (let i = 0; i < n; i++) {
    const p = Math.min(1 - o.eps, Math.max(o.eps, grid.prob[i]));
    unary[i] = Math.log(p / (1 - p));
    s[i] = 2 * grid.prob[i] - 1;
  }
  const q = Float32Array.from(grid.prob);
  for (let it = 0; it < o.iterations; it++) {
    for (let y = 0; y < gh; y++) {
      for (let x = 0; x < gw; x++) {
        const i = y * gw + x;
        const r = rgb[3 * i], g = rgb[3 * i + 1], b = rgb[3 * i + 2];
        let m = 0;
        for (let k = 0; k < offs.length; k++) {
          const xx = x + offs[k][0], yy = y + offs[k][1];
          if (xx < 0 || yy < 0 || xx >= gw || yy >= gh) continue;
          const j = yy * gw + xx;
          const dr = r - rgb[3 * j], dg = g - rgb[3 * j + 1], db = b - rgb[3 * j + 2];
          m += (sA[k] * colour[dr * dr + dg * dg + db * db] + sG[k]) * s[j];
        }
        q[i] = 1 / (1 + Math.exp(-(unary[i] + m)));
      }
    }
    for (let i = 0; i < n; i++) s[i] = 2 * q[i] - 1;
  }
  return q;
}

/** crfRefine, then foreground where the refined probability is ≥ threshold. */
export function crfMask(prob: Float32Array, image: CrfImage, threshold = 0.5, options: CrfOptions = {}): BinaryMask {
  const q = crfRefine(prob, image, options);
  const data = new Uint8Array(q.length);
  for (let i = 0; i < q.length; i++) data[i] = q[i] >= threshold ? 1 : 0;
  return { width: image.width, height: image.height, data };
}

/** Box [x0, y0, x1, y1) around the uncertain pixels, grown by how far labels can travel; null when none. */
function updateBox(prob: Float32Array, W: number, H: number, o: Required<CrfOptions>): [number, number, number, number] | null {
  let x0 = W, y0 = H, x1 = -1, y1 = -1;
  const lo = o.uncertain, hi = 1 - o.uncertain;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const p = prob[y * W + x];
      if (p > lo && p < hi) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  if (x1 < 0) return null;
  const reach = crfReach(o);
  return [Math.max(0, x0 - reach), Math.max(0, y0 - reach), Math.min(W, x1 + 1 + reach), Math.min(H, y1 + 1 + reach)];
}

/**
 * How far (pixels) beyond the uncertain pixels the CRF updates: labels travel radius·dilation per
 * iteration, and a few iterations' reach is enough context. Pixels farther out keep their probability,
 * so a caller may run the CRF on a crop that holds every non-background pixel plus this margin.
 */
export function crfReach(options: CrfOptions = {}): number {
  const o = { ...DEFAULT_CRF_OPTIONS, ...options };
  return o.radius * o.dilation * Math.min(o.iterations, 4);
}

const lutCache = new Map<number, Float32Array>();

/** exp(−c² / 2θβ²) for every integer squared RGB distance c² (0 … 3·255²). */
function colourLut(thetaBeta: number): Float32Array {
  let lut = lutCache.get(thetaBeta);
  if (!lut) {
    lut = new Float32Array(3 * 255 * 255 + 1);
    const k = 1 / (2 * thetaBeta * thetaBeta);
    for (let c2 = 0; c2 < lut.length; c2++) lut[c2] = Math.exp(-c2 * k);
    lutCache.set(thetaBeta, lut);
  }
  return lut;
}
