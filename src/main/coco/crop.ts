// Paints only the bounding-box window of an RLE instance, so polygon tracing costs the object's size
// rather than the image's: an export of 100,000 instances stays within seconds. The window is the tight
// box itself (no margin): the tracer treats outside-the-window as background, and a tight window spares
// it a second crop.
import { createMask, type BinaryMask } from '../../common/mask';

/** The window of the mask inside bbox [x, y, w, h], with `counts` (column-major runs over an h×w image) painted in. */
export function countsToCroppedMask(
  counts: ArrayLike<number>, h: number, w: number, bbox: [number, number, number, number],
): { mask: BinaryMask; x0: number; y0: number } {
  const x0 = Math.max(0, Math.floor(bbox[0]));
  const y0 = Math.max(0, Math.floor(bbox[1]));
  const x1 = Math.min(w, Math.ceil(bbox[0] + bbox[2]));
  const y1 = Math.min(h, Math.ceil(bbox[1] + bbox[3]));
  const cw = Math.max(0, x1 - x0), ch = Math.max(0, y1 - y0);
  const mask = createMask(cw, ch);
  const d = mask.data;
  const total = h * w;
  let pos = 0;
  for (let j = 0; j < counts.length && pos < total; j++) {
    const end = Math.min(total, pos + counts[j]);
    if (j & 1) {
      let y = pos % h;
      let x = (pos - y) / h;
      let p = pos;
      while (p < end) {
        // The part of this column inside the run.
        const runInCol = Math.min(end - p, h - y);
        if (x >= x0 && x < x1) {
          const ya = Math.max(y, y0), yb = Math.min(y + runInCol, y1);
          for (let yy = ya; yy < yb; yy++) d[(yy - y0) * cw + (x - x0)] = 1;
        }
        p += runInCol;
        y = 0;
        x++;
      }
    }
    pos = end;
  }
  return { mask, x0, y0 };
}
