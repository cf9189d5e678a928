// Resampling of single-channel float maps (class response maps, PRMs) between grids.
// Convention everywhere: pixel (i, j) has its centre at coordinate (i, j); a map of size h is
// resampled to size H by mapping target centre I to source (I + 0.5)·h/H − 0.5 (align_corners = false).

export interface FloatMap {
  width: number;
  height: number;
  data: Float32Array;
}

/** Bilinear resampling with edge clamping; use for upsampling smooth maps (CRM → image grid). */
export function resizeBilinear(src: FloatMap, width: number, height: number): FloatMap {
  const { width: w, height: h, data } = src;
  const out = new Float32Array(width * height);
  const x0s = new Int32Array(width);
  const x1s = new Int32Array(width);
  const fxs = new Float32Array(width);
  for (let X = 0; X < width; X++) {
    const x = Math.min(Math.max(((X + 0.5) * w) / width - 0.5, 0), w - 1);
    const x0 = Math.floor(x);
    x0s[X] = x0;
    x1s[X] = Math.min(x0 + 1, w - 1);
    fxs[X] = x - x0;
  }
  for (let Y = 0; Y < height; Y++) {
    const y = Math.min(Math.max(((Y + 0.5) * h) / height - 0.5, 0), h - 1);
    const y0 = Math.floor(y);
    const y1 = Math.min(y0 + 1, h - 1);
    const fy = y - y0;
    const r0 = y0 * w;
    const r1 = y1 * w;
    const o = Y * width;
    for (let X = 0; X < width; X++) {
      const a = data[r0 + x0s[X]] + (data[r0 + x1s[X]] - data[r0 + x0s[X]]) * fxs[X];
      const b = data[r1 + x0s[X]] + (data[r1 + x1s[X]] - data[r1 + x0s[X]]) * fxs[X];
      out[o + X] = a + (b - a) * fy;
    }
  }
  return { width, height, data: out };
}

/**
 * Bicubic (Catmull-Rom, a = −0.5) upsampling by an integer factor f with the samples kept in place
 * (align-corners): output (Y, X) is source coordinate (Y/f, X/f), size ((h−1)f+1) × ((w−1)f+1).
 * Unlike bilinear interpolation, whose maxima always sit on source samples, it moves a peak between
 * samples; keeping the samples keeps a symmetric peak exactly on its sample. Used for sub-pixel peaks.
 */
export function upsampleBicubic(src: FloatMap, f: number): FloatMap {
  const { width: w, height: h, data } = src;
  const width = (w - 1) * f + 1;
  const height = (h - 1) * f + 1;
  const xi = new Int32Array(width * 4);
  const xw = new Float32Array(width * 4);
  for (let X = 0; X < width; X++) taps(X / f, w, xi, xw, X * 4);
  const yi = new Int32Array(4);
  const yw = new Float32Array(4);
  const out = new Float32Array(width * height);
  for (let Y = 0; Y < height; Y++) {
    taps(Y / f, h, yi, yw, 0);
    for (let X = 0; X < width; X++) {
      let s = 0;
      for (let j = 0; j < 4; j++) {
        const row = yi[j] * w;
        let r = 0;
        for (let i = 0; i < 4; i++) r += xw[X * 4 + i] * data[row + xi[X * 4 + i]];
        s += yw[j] * r;
      }
      out[Y * width + X] = s;
    }
  }
  return { width, height, data: out };
}

// The four clamped source indices and Catmull-Rom weights around coordinate t.
function taps(t: number, n: number, idx: Int32Array, wts: Float32Array, o: number): void {
  const t0 = Math.floor(t);
  const f = t - t0;
  const k = [1 + f, f, 1 - f, 2 - f];
  for (let i = 0; i < 4; i++) {
    idx[o + i] = Math.min(n - 1, Math.max(0, t0 - 1 + i));
    const d = k[i];
    wts[o + i] = d <= 1 ? 1.5 * d ** 3 - 2.5 * d ** 2 + 1 : -0.5 * d ** 3 + 2.5 * d ** 2 - 4 * d + 2;
  }
}

/**
 * Area (box-filter) resampling that preserves the total mass of the map: each target pixel receives
 * the source mass overlapping its footprint. Use for PRMs, which are mass distributions (sum 1).
 */
export function resizeMass(src: FloatMap, width: number, height: number): FloatMap {
  if (src.width === width && src.height === height) return { width, height, data: src.data.slice() };
  const tmp = resampleAxis(src.data, src.width, src.height, width, true);
  const out = resampleAxis(tmp, src.height, width, height, false);
  return { width, height, data: out };
}

// Weights of one axis: source cell s spreads its mass over targets idx[start[s]..start[s+1]).
function axisWeights(n: number, m: number): { start: Int32Array; idx: Int32Array; wts: Float32Array } {
  const scale = m / n;
  const start = new Int32Array(n + 1);
  const idx: number[] = [];
  const wts: number[] = [];
  for (let s = 0; s < n; s++) {
    start[s] = idx.length;
    const a = s * scale;
    const b = (s + 1) * scale;
    for (let t = Math.floor(a); t < Math.min(Math.ceil(b), m); t++) {
      const overlap = Math.min(b, t + 1) - Math.max(a, t);
      if (overlap > 1e-9) {
        idx.push(t);
        wts.push(overlap / scale);
      }
    }
  }
  start[n] = idx.length;
  return { start, idx: Int32Array.from(idx), wts: Float32Array.from(wts) };
}

// One separable pass of mass-preserving area resampling, along x (rows) or y (columns).
function resampleAxis(data: Float32Array, n: number, other: number, m: number, alongX: boolean): Float32Array {
  const { start, idx, wts } = axisWeights(n, m);
  if (alongX) {
    // data: other rows × n columns → other rows × m columns.
    const out = new Float32Array(other * m);
    for (let o = 0; o < other; o++) {
      const src = o * n;
      const dst = o * m;
      for (let s = 0; s < n; s++) {
        const v = data[src + s];
        if (v === 0) continue;
        for (let k = start[s]; k < start[s + 1]; k++) out[dst + idx[k]] += v * wts[k];
      }
    }
    return out;
  }
  // data: n rows × other columns → m rows × other columns; whole rows at a time.
  const out = new Float32Array(m * other);
  for (let s = 0; s < n; s++) {
    const src = s * other;
    for (let k = start[s]; k < start[s + 1]; k++) {
      const dst = idx[k] * other;
      const w = wts[k];
      for (let o = 0; o < other; o++) out[dst + o] += w * data[src + o];
    }
  }
  return out;
}

/** Median of the values (average of the two middle ones for even counts); NaN for an empty map. */
export function median(values: Float32Array): number {
  const n = values.length;
  if (n === 0) return NaN;
  const a = Float64Array.from(values).sort();
  return n % 2 ? a[(n - 1) / 2] : (a[n / 2 - 1] + a[n / 2]) / 2;
}
