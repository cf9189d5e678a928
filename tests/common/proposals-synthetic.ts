// A synthetic RGB image: grey background with three coloured rectangles and mild deterministic noise.
import type { BinaryMask } from '../../src/common/mask';

export const RECTS = [
  { x: 10, y: 12, w: 30, h: 40, rgb: [200, 40, 40] },
  { x: 55, y: 20, w: 25, h: 50, rgb: [40, 180, 60] },
  { x: 90, y: 50, w: 22, h: 30, rgb: [50, 60, 210] },
] as const;

export const RECT_IMAGE_SIZE = { width: 120, height: 90 };

export function rectImage(): { width: number; height: number; data: Uint8Array } {
  const { width, height } = RECT_IMAGE_SIZE;
  const data = new Uint8Array(width * height * 3);
  let seed = 12345;
  const noise = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return ((seed >>> 16) % 11) - 5;
  };
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const r = RECTS.find((q) => x >= q.x && x < q.x + q.w && y >= q.y && y < q.y + q.h);
      const rgb = r ? r.rgb : [128, 128, 120];
      for (let c = 0; c < 3; c++) data[(y * width + x) * 3 + c] = Math.max(0, Math.min(255, rgb[c] + noise()));
    }
  }
  return { width, height, data };
}

/** Rectangle i as a mask of the image, or of the image scaled to width × height (nearest). */
export function rectMask(i: number, width = RECT_IMAGE_SIZE.width, height = RECT_IMAGE_SIZE.height): BinaryMask {
  const q = RECTS[i];
  const sx = width / RECT_IMAGE_SIZE.width;
  const sy = height / RECT_IMAGE_SIZE.height;
  const data = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    const oy = Math.floor((y + 0.5) / sy);
    if (oy < q.y || oy >= q.y + q.h) continue;
    for (let x = 0; x < width; x++) {
      const ox = Math.floor((x + 0.5) / sx);
      if (ox >= q.x && ox < q.x + q.w) data[y * width + x] = 1;
    }
  }
  return { width, height, data };
}
