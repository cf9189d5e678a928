// COCO segmentations ↔ masks. Reading follows pycocotools' annToRLE; writing prefers polygons and falls
// back to RLE where polygons cannot say it (holes, empty masks).
import type { Rle } from '../api';
import { maskArea, maskBbox, type Bbox, type BinaryMask } from '../mask';
import { maskToPolygonsIfNoHoles, polygonsToCounts, type TraceOptions } from '../polygon';
import { compressCounts, countsArea, countsToBbox, countsToMask, decompressCounts, encodeMask } from '../rle';
import type { CocoAnnotation, CocoSegmentation } from './types';

/**
 * Column-major run lengths of a segmentation on a width×height image: polygons are rasterised and
 * merged as pycocotools does; RLE counts are taken as they are (parseCoco has checked their size).
 */
export function segmentationToCounts(seg: CocoSegmentation, width: number, height: number): number[] {
  if (Array.isArray(seg)) return polygonsToCounts(seg, width, height);
  return typeof seg.counts === 'string' ? decompressCounts(seg.counts) : Array.from(seg.counts);
}

export function segmentationToRle(seg: CocoSegmentation, width: number, height: number): Rle {
  if (!Array.isArray(seg) && typeof seg.counts === 'string') return { size: [seg.size[0], seg.size[1]], counts: seg.counts };
  return { size: [height, width], counts: compressCounts(segmentationToCounts(seg, width, height)) };
}

export function segmentationToMask(seg: CocoSegmentation, width: number, height: number): BinaryMask {
  return countsToMask(segmentationToCounts(seg, width, height), height, width);
}

/** Pixel area and tight bbox of a segmentation, from its run lengths. */
export function segmentationStats(seg: CocoSegmentation, width: number, height: number): { area: number; bbox: Bbox } {
  const counts = segmentationToCounts(seg, width, height);
  return { area: countsArea(counts), bbox: countsToBbox(counts, height, width) };
}

/**
 * The mask as COCO segmentation. 'polygon' gives one exact pixel-corner ring per 8-connected component,
 * except for masks with holes or no pixels, which polygons cannot represent: those come back as RLE.
 */
export function maskToSegmentation(m: BinaryMask, format: 'polygon' | 'rle', opts: TraceOptions = {}): CocoSegmentation {
  if (format === 'polygon') {
    const rings = maskToPolygonsIfNoHoles(m, opts);
    if (rings && rings.length > 0) return rings;
  }
  const rle = encodeMask(m);
  return { size: rle.size, counts: rle.counts };
}

/** A COCO annotation for a mask: bbox from the mask, area = its pixel count. */
export function annotationFromMask(
  m: BinaryMask,
  fields: { id: number; image_id: number; category_id: number; score?: number; iscrowd?: 0 | 1 },
  format: 'polygon' | 'rle' = 'polygon',
): CocoAnnotation {
  const ann: CocoAnnotation = {
    id: fields.id,
    image_id: fields.image_id,
    category_id: fields.category_id,
    segmentation: maskToSegmentation(m, format),
    area: maskArea(m),
    bbox: maskBbox(m),
    iscrowd: fields.iscrowd ?? 0,
  };
  if (fields.score !== undefined) ann.score = fields.score;
  return ann;
}
