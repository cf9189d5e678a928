// Segment proposals for proposal retrieval: Felzenszwalb–Huttenlocher segmentations in several colour
// spaces and scales, each grouped hierarchically by selective search; every region formed is a
// proposal. Masks are run-length lists at a reduced resolution (see docs/adr/proposals-resolution.md).
import type { Bbox } from '../mask';
import { segmentGraph, sortedEdges, type SortedEdges } from './felzenszwalb';
import { colorCodes, downscale, gaussianBlur, textureCodes, toColorSpace, type ColorSpace, type RgbImage } from './image';
import { hierarchicalGrouping, type Similarities } from './selective-search';
import { fillSpanHoles, spanArea, spanBbox, spanClose, spanContour, spanHash, spansEqual, type SpanMask } from './spans';
import { seededRandom } from '../random';

export type { RgbImage, ColorSpace } from './image';
export type { SpanMask } from './spans';
export type { Similarities } from './selective-search';

export interface Proposal {
  /** The region at proposal resolution (all proposals of one image share width/height). */
  mask: SpanMask;
  /** Morphological-gradient band of the region's outer boundary (PRM's contour term), same grid. */
  contour: Int32Array;
  /** [x, y, w, h] at proposal resolution. */
  bbox: Bbox;
  /** Pixels at proposal resolution. */
  area: number;
}

export interface Strategy {
  colorSpace: ColorSpace;
  /** FH scale parameter: larger gives larger initial regions. */
  k: number;
  similarities: Similarities;
}

export interface ProposalOptions {
  /** Longer side of the proposal grid in px (the image is area-downscaled to it; never upscaled). */
  maxSide?: number;
  /** Gaussian smoothing before FH. */
  sigma?: number;
  /** FH minimum component size in px at proposal resolution. */
  minSize?: number;
  strategies?: Strategy[];
  /** Regions smaller than this fraction of the grid are dropped. */
  minAreaFraction?: number;
  /** Keep at most this many proposals, chosen by selective search's randomised level ranking (seeded). */
  maxProposals?: number;
  /** Replace each region by its hole-filled version (objects rarely have holes; regions often do). */
  fillHoles?: boolean;
  /** Contour band radius in px at proposal resolution (band width 2r). Default: 2 px at input resolution, scaled, ≥ 1. */
  contourRadius?: number;
}

const ALL: Similarities = { color: true, texture: true, size: true, fill: true };
const NO_TEXTURE: Similarities = { color: true, texture: false, size: true, fill: true };

/**
 * Two colour spaces × three FH scales, alternating two similarity sets: the best of the variants
 * measured on PennFudan dev images (docs/adr/proposals-resolution.md).
 */
export const DEFAULT_STRATEGIES: readonly Strategy[] = [
  { colorSpace: 'hsv', k: 30, similarities: ALL },
  { colorSpace: 'hsv', k: 60, similarities: NO_TEXTURE },
  { colorSpace: 'hsv', k: 120, similarities: ALL },
  { colorSpace: 'lab', k: 30, similarities: NO_TEXTURE },
  { colorSpace: 'lab', k: 60, similarities: ALL },
  { colorSpace: 'lab', k: 120, similarities: NO_TEXTURE },
];

/** Changes whenever the default proposals change: include it in cache keys of stored proposals. */
export const PROPOSALS_VERSION = 'ss256-hsvlab-k30.60.120-close1';

export const DEFAULT_PROPOSAL_OPTIONS = {
  maxSide: 256,
  sigma: 0.8,
  minSize: 20,
  minAreaFraction: 0.001,
  maxProposals: 2000,
  fillHoles: false,
} as const;

/** Proposals for one RGB image; deterministic for equal input and options. */
export function generateProposals(img: RgbImage, opts: ProposalOptions = {}): Proposal[] {
  if (img.width <= 0 || img.height <= 0 || img.data.length !== img.width * img.height * 3) {
    throw new RangeError(`generateProposals: image data has ${img.data.length} bytes, expected ${img.width}×${img.height}×3`);
  }
  const o = { ...DEFAULT_PROPOSAL_OPTIONS, ...opts };
  const strategies = opts.strategies ?? DEFAULT_STRATEGIES;
  const small = downscale(img, o.maxSide);
  const { width, height } = small;
  const scale = width / img.width;
  const contourRadius = opts.contourRadius ?? Math.max(1, Math.round(2 * scale));
  const minArea = Math.max(1, Math.ceil(o.minAreaFraction * width * height));

  // Per colour space: histogram codes and FH's sorted edge list (shared by every k); FH per (space, k).
  const spaces = new Map<ColorSpace, { edges: SortedEdges; color: Uint8Array; texture: Uint8Array }>();
  const segmentations = new Map<string, ReturnType<typeof segmentGraph>>();
  const seen = new Map<number, Int32Array[]>();
  const candidates: { runs: Int32Array; rank: number }[] = [];
  const rng = seededRandom(0x5e1ec7);
  // Rank = level × a random factor, drawn only for regions that are kept.
  const addCandidate = (region: Int32Array, level: number): void => {
    const runs = o.fillHoles ? fillSpanHoles({ width, height, runs: region }) : region;
    if (spanArea(runs) < minArea) return;
    const h = spanHash(runs);
    const same = seen.get(h);
    if (same?.some((x) => spansEqual(x, runs))) return;
    if (same) same.push(runs);
    else seen.set(h, [runs]);
    candidates.push({ runs, rank: level * rng() });
  };
  for (const s of strategies) {
    let sp = spaces.get(s.colorSpace);
    if (!sp) {
      const planes = toColorSpace(small, s.colorSpace);
      const smoothed = gaussianBlur(planes, width, height, o.sigma);
      const sigma1 = gaussianBlur(planes, width, height, 1);
      sp = { edges: sortedEdges(smoothed, width, height), color: colorCodes(planes), texture: textureCodes(sigma1, width, height) };
      spaces.set(s.colorSpace, sp);
    }
    const key = `${s.colorSpace}:${s.k}`;
    let seg = segmentations.get(key);
    if (!seg) {
      seg = segmentGraph(sp.edges, s.k, o.minSize);
      segmentations.set(key, seg);
    }
    const regions = hierarchicalGrouping({ ...seg, width, height, colorCodes: sp.color, textureCodes: sp.texture }, s.similarities);
    // Selective search's ranking: level from the top (1 = last merge) times a random factor.
    for (let r = regions.length - 1, level = 1; r >= 0; r--, level++) addCandidate(regions[r], level);
  }
  candidates.sort((a, b) => a.rank - b.rank);
  const kept = candidates.slice(0, o.maxProposals);
  return kept.map(({ runs: view }) => {
    // Own buffer per mask: merged runs may be views into a larger one, which postMessage would copy whole.
    const runs = view.byteLength === view.buffer.byteLength ? view : view.slice();
    const mask: SpanMask = { width, height, runs };
    // The contour term is meant for the object's outline: holes are filled and notches narrower
    // than the band closed first, otherwise their inner boundaries collect the PRM mass inside the
    // object and jagged regions outscore the object (docs/adr/proposals-retrieval.md).
    const filled = { width, height, runs: fillSpanHoles(mask) };
    const outline = { width, height, runs: spanClose(filled, contourRadius) };
    return { mask, contour: spanContour(outline, contourRadius), bbox: spanBbox(runs), area: spanArea(runs) };
  });
}
