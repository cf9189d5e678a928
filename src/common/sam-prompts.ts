// How PRM/IAM evidence becomes segment-anything prompts, and how the segmenter's masks are scored.
// Environment-free: the engine (src/main/engine/sam-method.ts) runs the decoder; the choices live here.
// What was tried and measured: docs/adr/sam-prompts.md.
import { DEFAULT_MIN_REGION_FRACTION, type BinaryMask } from './mask';

export interface Point {
  x: number;
  y: number;
}

/** Where a peak's positive clicks go: at the peak, at its IAM region's innermost pixel, or both. */
export type ClickPlacement = 'peak' | 'innermost' | 'peak+innermost';

export interface SamPromptOptions {
  click: ClickPlacement;
  /** A peak inside an already segmented instance of its class adds no new instance (it supports that one). */
  mergeInside: boolean;
  /** Likewise a peak whose IAM region lies at least this much (fraction of its area) inside one (> 1: off). */
  regionInside: number;
  /** Class-wise mask NMS IoU. */
  nmsIou: number;
  /** A mask lying this much (intersection / its own area) inside a better one of its class is a part of it: dropped. */
  containment: number;
  /** Score = iouPred^a · agreement^b · peakValue(normalised)^c · (1 + support)^d · stability^e. */
  score: { iou: number; agreement: number; peak: number; support: number; stability: number };
  /** Masks smaller than this fraction of the image are dropped (specks from a click on an edge). */
  minAreaFraction: number;
  /**
   * Without an IAM module, a peak's region is where its class response stays at or above this fraction of
   * the peak's value (src/common/crm-regions.ts); 0: no region (one click, agreement 1).
   */
  crmFraction: number;
  /** Which of the segmenter's three masks a prompt of one or two points gets: see MaskChoice. */
  maskChoice: MaskChoice;
  /** Islands and holes of a mask smaller than this fraction of the image are removed (0: masks as decoded). */
  minRegionFraction: number;
  /**
   * A peak inside a mask of its class at least this many times its own region's area (a learnt extent, not a
   * class-response region) also starts an instance of its own, one click, besides supporting that mask, which
   * is then taken for a group (0: off; docs/adr/sam-prompts.md, group split).
   */
  groupSplit: number;
  /**
   * For a class clicked once per peak (learnt from scratch: no region to size it by), a peak inside a mask of
   * its class is decoded as well, with a negative click at the holder's peak; its own mask starts an instance
   * when the holder is at least this many times its area and leaves the holder's peak out. A holder that lost
   * members so is a bunch: its members and its own peak are decoded again against each other (0 off;
   * docs/adr/sam-prompts.md, probe split).
   */
  probeSplit: number;
}

/**
 * `estimate`: the segmenter's own pick, by its IoU estimate (which prefers parts: a torso, a coat);
 * `whole`: its whole-object mask, the last of the three; `two-clicks`: the whole object for a prompt of two
 * positive clicks (they already span the object), the own pick for one (docs/adr/sam-prompts.md, 2026-12-04).
 */
export type MaskChoice = 'estimate' | 'whole' | 'two-clicks';

/** What the segmenter is asked for, for one prompt's points, under `choice`. */
export function decoderMaskChoice(choice: MaskChoice, points: readonly { label: number }[]): 'estimate' | 'whole' {
  if (choice !== 'two-clicks') return choice;
  return points.filter((p) => p.label === 1).length >= 2 ? 'whole' : 'estimate';
}

export const DEFAULT_SAM_PROMPT_OPTIONS: SamPromptOptions = {
  click: 'peak+innermost',
  mergeInside: true,
  regionInside: 0.5,
  nmsIou: 0.5,
  containment: 0.8,
  score: { iou: 1, agreement: 0.5, peak: 1, support: 1, stability: 1 },
  minAreaFraction: 0.0005,
  crmFraction: 0.6,
  maskChoice: 'two-clicks',
  minRegionFraction: DEFAULT_MIN_REGION_FRACTION,
  groupSplit: 3,
  probeSplit: 3,
};

/** The parts a score is made of, kept so tuning can re-rank without decoding again. */
export interface ScoreParts {
  iouPred: number;
  /** IoU of the segmenter's mask with the peak's own IAM/PRM mask (1 when there is none). */
  agreement: number;
  /** The peak's class response divided by its class's strongest peak in the image. */
  peakRel: number;
  /** Further peaks of the class that fell inside this mask. */
  support: number;
  /**
   * SAM's stability score: the mask at logit > 1 over the mask at logit > −1 (1: the edge is sharp; a mask
   * that grows or shrinks much with the threshold is ambiguous).
   */
  stability: number;
}

/** SAM's stability score of decoder logits (ScoreParts.stability); 0 for an empty mask. */
export function stabilityScore(logits: ArrayLike<number>, offset = 1): number {
  let inner = 0;
  let outer = 0;
  for (let i = 0; i < logits.length; i++) {
    if (logits[i] > -offset) outer++;
    if (logits[i] > offset) inner++;
  }
  return outer > 0 ? inner / outer : 0;
}

export function combineScore(p: ScoreParts, w: SamPromptOptions['score']): number {
  const pow = (v: number, e: number) => (e === 0 ? 1 : Math.pow(Math.max(v, 1e-6), e));
  return pow(p.iouPred, w.iou) * pow(p.agreement, w.agreement) * pow(p.peakRel, w.peak) * pow(1 + p.support, w.support) * pow(p.stability, w.stability);
}

/**
 * The pixel of `region` farthest from its border (chamfer 3-4 distance), in the connected part that holds
 * `near` when given (else the whole region). A click there sits well inside the object, where the
 * segmenter is least ambiguous; a peak itself often sits on an edge or between legs. Null when empty.
 */
export function innermostPoint(region: BinaryMask, near?: Point): Point | null {
  const { width: w, height: h, data } = region;
  const keep = near ? componentAt(region, near) : data;
  if (!keep) return null;
  const big = 1 << 30;
  const d = new Int32Array(w * h);
  for (let i = 0; i < d.length; i++) d[i] = keep[i] ? big : 0;
  // Forward and backward passes; pixels outside the image count as background.
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      if (!d[i]) continue;
      let v = d[i];
      v = Math.min(v, x > 0 ? d[i - 1] + 3 : 3, y > 0 ? d[i - w] + 3 : 3);
      v = Math.min(v, x > 0 && y > 0 ? d[i - w - 1] + 4 : 4, x < w - 1 && y > 0 ? d[i - w + 1] + 4 : 4);
      d[i] = v;
    }
  }
  let best = -1;
  let bestV = 0;
  for (let y = h - 1; y >= 0; y--) {
    for (let x = w - 1; x >= 0; x--) {
      const i = y * w + x;
      if (!d[i]) continue;
      let v = d[i];
      v = Math.min(v, x < w - 1 ? d[i + 1] + 3 : 3, y < h - 1 ? d[i + w] + 3 : 3);
      v = Math.min(v, x < w - 1 && y < h - 1 ? d[i + w + 1] + 4 : 4, x > 0 && y < h - 1 ? d[i + w - 1] + 4 : 4);
      d[i] = v;
      // Ties go to the pixel nearest `near`, so a uniform blob's click stays by the peak.
      if (v > bestV || (v === bestV && near && dist2(i, w, near) < dist2(best, w, near))) {
        bestV = v;
        best = i;
      }
    }
  }
  return best < 0 ? null : { x: best % w, y: Math.floor(best / w) };
}

function dist2(i: number, w: number, p: Point): number {
  const dx = (i % w) - p.x;
  const dy = Math.floor(i / w) - p.y;
  return dx * dx + dy * dy;
}

/** The 8-connected part of `m` holding the pixel nearest `p` (the pixel itself when set), as 0/1 bytes. */
function componentAt(m: BinaryMask, p: Point): Uint8Array | null {
  const { width: w, height: h, data } = m;
  const seed = nearestSet(m, p);
  if (seed < 0) return null;
  const out = new Uint8Array(w * h);
  const stack = [seed];
  out[seed] = 1;
  while (stack.length) {
    const i = stack.pop()!;
    const x = i % w;
    const y = (i - x) / w;
    for (let dy = -1; dy <= 1; dy++) {
      const yy = y + dy;
      if (yy < 0 || yy >= h) continue;
      for (let dx = -1; dx <= 1; dx++) {
        const xx = x + dx;
        if (xx < 0 || xx >= w) continue;
        const j = yy * w + xx;
        if (data[j] && !out[j]) {
          out[j] = 1;
          stack.push(j);
        }
      }
    }
  }
  return out;
}

function nearestSet(m: BinaryMask, p: Point): number {
  const { width: w, height: h, data } = m;
  const px = Math.min(Math.max(Math.round(p.x), 0), w - 1);
  const py = Math.min(Math.max(Math.round(p.y), 0), h - 1);
  if (data[py * w + px]) return py * w + px;
  let best = -1;
  let bestD = Infinity;
  for (let i = 0; i < data.length; i++) {
    if (!data[i]) continue;
    const d = dist2(i, w, { x: px, y: py });
    if (d < bestD) {
      bestD = d;
      best = i;
    }
  }
  return best;
}

/** Whether a point (pixel coordinates) lies on a set pixel. */
export function maskHas(m: BinaryMask, p: Point): boolean {
  const x = Math.round(p.x);
  const y = Math.round(p.y);
  return x >= 0 && y >= 0 && x < m.width && y < m.height && m.data[y * m.width + x] === 1;
}
