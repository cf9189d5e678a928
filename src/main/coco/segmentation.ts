// The export's polygon-or-RLE decision for one (cropped) mask, taken by the common geometry code.
import type { BinaryMask } from '../../common/mask';
import { maskToPolygonsIfNoHoles } from '../../common/polygon';

/** Polygon rings in the mask's coordinates, or 'rle' where polygons cannot represent it (holes, empty). */
export function maskSegmentation(mask: BinaryMask): number[][] | 'rle' {
  const rings = maskToPolygonsIfNoHoles(mask);
  return rings && rings.length > 0 ? rings : 'rle';
}
