// The subset of COCO instance annotations PeakLabel reads and writes (see spec.md beside this file).

/** Polygon rings, each flat [x1, y1, x2, y2, …] in pixel-corner coordinates; the mask is their union. */
export type CocoPolygons = number[][];

/** RLE as in COCO files: compressed string counts, or uncompressed number counts (crowd annotations). */
export interface CocoRleObject {
  size: [number, number];
  counts: string | number[];
}

export type CocoSegmentation = CocoPolygons | CocoRleObject;

export interface CocoImage {
  id: number;
  file_name: string;
  width: number;
  height: number;
  license?: number;
  [key: string]: unknown;
}

export interface CocoCategory {
  id: number;
  name: string;
  supercategory?: string;
  [key: string]: unknown;
}

export interface CocoAnnotation {
  id: number;
  image_id: number;
  category_id: number;
  segmentation: CocoSegmentation;
  /** Mask pixel count (we write it so; other tools may write polygon areas). */
  area: number;
  /** [x, y, w, h]. */
  bbox: [number, number, number, number];
  iscrowd: 0 | 1;
  /** Confidence, present in predictions. */
  score?: number;
  [key: string]: unknown;
}

export interface CocoDataset {
  info?: Record<string, unknown>;
  licenses?: unknown[];
  images: CocoImage[];
  annotations: CocoAnnotation[];
  categories: CocoCategory[];
}
