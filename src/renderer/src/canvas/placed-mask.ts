// Masks that cover only a window of the image, and the outline edit worked inside one: a full-size
// mask of a 4000×3000 image is 12 MB, and every pass over it costs the image rather than the object.
import { cropMask, fillHoles, maskSubtract, type BinaryMask } from '../../../common/mask';
import { maskToPolygons, polygonsToWindowMask } from '../../../common/polygon';

/** A mask covering only a window of the image: pixel (0, 0) = image (ox, oy). */
export interface PlacedMask {
  bits: BinaryMask;
  ox: number;
  oy: number;
}

/** A window as the windowed decoders and rasterisers return it, as a placed mask. */
export function placed(win: { mask: BinaryMask; x0: number; y0: number }): PlacedMask {
  return { bits: win.mask, ox: win.x0, oy: win.y0 };
}

/** Outer outlines of a placed mask in image pixels (maskToPolygons at `tolerance`, moved to the window). */
export function outlineRings(m: PlacedMask, tolerance = 0.5): number[][] {
  return maskToPolygons(m.bits, { tolerance }).map((r) => r.map((v, j) => v + (j % 2 ? m.oy : m.ox)));
}

/**
 * Vertex drag finished: the rings (image pixels) become the instance's outer boundary and its holes
 * stay holes. Rasterised in the rings' box only, with the same pixels as at image size.
 */
export function reshapeOutline(inst: PlacedMask, rings: number[][], width: number, height: number): PlacedMask {
  const drawn = placed(polygonsToWindowMask(rings, width, height));
  // Holes are enclosed by the instance, so filling its own window finds them all.
  const holes = maskSubtract(fillHoles(inst.bits), inst.bits);
  const { bits, ox, oy } = drawn;
  return { bits: maskSubtract(bits, cropMask(holes, ox - inst.ox, oy - inst.oy, bits.width, bits.height)), ox, oy };
}
