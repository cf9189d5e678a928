// One exported annotation as a JSON string. A plain function of the stored row, so the export can run it
// on the main thread or in worker threads (polygon tracing is the costly part of a large export).
import { countsToWindowMask, decompressCounts } from '../../common/rle';
import type { ExportInstanceRow } from '../store/project-store';
import { maskSegmentation } from './segmentation';

export interface NumberedInstance extends ExportInstanceRow {
  /** Ids in the exported file. */
  annId: number;
  imageId: number;
  categoryId: number;
}

export function annotationJson(inst: NumberedInstance, format: 'polygon' | 'rle'): string {
  const bbox = [inst.bbox_x, inst.bbox_y, inst.bbox_w, inst.bbox_h];
  return JSON.stringify({
    id: inst.annId, image_id: inst.imageId, category_id: inst.categoryId,
    segmentation: segmentationOf(inst, bbox as [number, number, number, number], format),
    area: inst.area, bbox, iscrowd: inst.iscrowd,
    ...(inst.score === null ? {} : { score: inst.score }),
  });
}

/** Polygons (traced on the object's bbox window only) unless RLE was asked for, the object is crowd, or it has holes. */
function segmentationOf(inst: ExportInstanceRow, bbox: [number, number, number, number], format: 'polygon' | 'rle'): unknown {
  const rle = { size: [inst.mask_h, inst.mask_w], counts: inst.rle };
  if (format === 'rle' || inst.iscrowd || inst.area === 0) return rle;
  const { mask, x0, y0 } = countsToWindowMask(decompressCounts(inst.rle), inst.mask_h, inst.mask_w, bbox);
  const seg = maskSegmentation(mask);
  if (seg === 'rle') return rle;
  return seg.map((ring) => ring.map((v, i) => v + (i & 1 ? y0 : x0)));
}
