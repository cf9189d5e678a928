// Preview PNGs from known masks (no model): the mask is painted in its class colour, pixels away from
// masks and labels stay as they were, greyscale photos get colour, and huge images are refused by name.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { createMask } from '../../src/common/mask';
import { encodeMask } from '../../src/common/rle';
import { writePreview } from '../../src/main/images/preview';
import { testOutput } from '../helpers/shared';

const dir = testOutput('main', 'preview');
const classes = [{ name: 'cat', color: '#ff0000' }, { name: 'dog', color: '#0000ff' }];
const W = 120, H = 80;

/** A W×H mask with the rectangle [x0, x1) × [y0, y1) set. */
function rect(x0: number, y0: number, x1: number, y1: number) {
  const m = createMask(W, H);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) m.data[y * W + x] = 1;
  return encodeMask(m);
}

async function pixel(file: string, x: number, y: number): Promise<number[]> {
  const { data, info } = await sharp(file).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return Array.from(data.subarray((y * info.width + x) * info.channels, (y * info.width + x) * info.channels + 3));
}

beforeAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  await sharp({ create: { width: W, height: H, channels: 3, background: '#808080' } }).png().toFile(join(dir, 'grey-rgb.png'));
  await sharp({ create: { width: W, height: H, channels: 3, background: '#808080' } }).toColourspace('b-w').jpeg().toFile(join(dir, 'grey.jpg'));
});

describe('writePreview', () => {
  for (const name of ['grey-rgb.png', 'grey.jpg']) {
    it(`${name}: masks in class colour, the rest untouched, at the image size`, async () => {
      const out = join(dir, 'out', `${name}.png`);
      await writePreview(join(dir, name), W, H, [
        { classIndex: 0, mask: rect(10, 40, 50, 75), score: 0.9, peak: { x: 30, y: 60 } },
        { classIndex: 1, mask: rect(70, 40, 110, 75), score: 0.4, peak: { x: 90, y: 60 } },
      ], classes, out);
      const meta = await sharp(out).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['png', W, H]);
      const [r, g, b] = await pixel(out, 20, 70); // inside the cat mask, away from its label
      expect(r).toBeGreaterThan(g + 40);
      expect(r).toBeGreaterThan(b + 40);
      const [r2, , b2] = await pixel(out, 100, 70); // inside the dog mask
      expect(b2).toBeGreaterThan(r2 + 40);
      expect(await pixel(out, 60, 5)).toEqual([128, 128, 128]); // no mask, no label
    });
  }

  it('refuses an image too large to draw, naming it', async () => {
    await expect(writePreview('/photos/huge.tif', 20_000, 20_000, [], classes, join(dir, 'huge.png'))).rejects.toMatchObject({ code: 'IMAGE_TOO_LARGE', message: expect.stringContaining('/photos/huge.tif') });
  });
});
