// Preprocessing: EXIF orientation applied, input size from the manifest's policy, BGR minus mean, and
// coordinates that map back to the original oriented image exactly.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { readBundle } from '../../src/main/engine/bundle';
import { WORKING_COPY_SIDE } from '../../src/main/images/decode';
import { crmFrame, decodeOriented, gridToInput, inputSize, inputToGrid, preprocess, toInput, toOriginal, toTensor } from '../../src/main/engine/preprocess';
import { repoRoot, testOutput } from '../helpers/shared';

const manifest = readBundle(join(repoRoot, 'resources', 'models')).manifest;

/** A 300×200 (as displayed) grey image with a pure red 40×30 block at x 200–239, y 50–79. */
function displayed(): Buffer {
  const w = 300;
  const h = 200;
  const px = Buffer.alloc(w * h * 3, 128);
  for (let y = 50; y < 80; y++) for (let x = 200; x < 240; x++) px.set([255, 0, 0], (y * w + x) * 3);
  return px;
}

describe('preprocessing', () => {
  it('honours the channel order, mean and scale of the manifest', () => {
    const px = new Uint8Array([255, 0, 10, 0, 127, 200]); // two pixels, RGB
    const bgr = toTensor(px, 2, { channelOrder: 'BGR', mean: [104, 117, 123], scale: 1 });
    expect([...bgr]).toEqual([10 - 104, 200 - 104, 0 - 117, 127 - 117, 255 - 123, 0 - 123]);
    const rgb = toTensor(px, 2, { channelOrder: 'RGB', mean: [127, 127, 127], scale: 1 / 128 });
    expect([...rgb]).toEqual([128 / 128, -127 / 128, -127 / 128, 0, -117 / 128, 73 / 128]);
  });

  it('applies EXIF orientation 6 and maps the red block back to where it is displayed', async () => {
    // Stored rotated 90° counter-clockwise with orientation 6 ("rotate 90° clockwise to display").
    const stored = await sharp(displayed(), { raw: { width: 300, height: 200, channels: 3 } })
      .rotate(-90)
      .withMetadata({ orientation: 6 })
      .png()
      .toBuffer();
    const meta = await sharp(stored).metadata();
    expect([meta.width, meta.height, meta.orientation]).toEqual([200, 300, 6]);
    const dir = testOutput('engine-preprocess');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'rotated-exif6.png');
    writeFileSync(file, stored);

    const img = await decodeOriented(file, file);
    expect([img.width, img.height]).toEqual([300, 200]);
    const at = (x: number, y: number) => [...img.data.subarray((y * 300 + x) * 3, (y * 300 + x) * 3 + 3)];
    expect(at(220, 65)).toEqual([255, 0, 0]);
    expect(at(100, 65)).toEqual([128, 128, 128]);

    const pre = await preprocess(img, manifest);
    const g = pre.geometry;
    expect([g.origWidth, g.origHeight]).toEqual([300, 200]);
    expect(g.height).toBe(manifest.preprocess.inputPolicy.shorterSide);
    expect(g.width % manifest.preprocess.inputPolicy.multipleOf).toBe(0);
    // Red centroid in the tensor (B plane ≈ 0 − mean, R plane ≈ 255 − mean) maps back to the block's centre.
    const plane = g.width * g.height;
    const [mb, , mr] = manifest.preprocess.mean;
    let sx = 0;
    let sy = 0;
    let n = 0;
    for (let y = 0; y < g.height; y++) {
      for (let x = 0; x < g.width; x++) {
        const i = y * g.width + x;
        if (pre.tensor[i] < 40 - mb && pre.tensor[2 * plane + i] > 215 - mr) {
          sx += x;
          sy += y;
          n++;
        }
      }
    }
    expect(n).toBeGreaterThan(100);
    const back = toOriginal(g, sx / n, sy / n);
    expect(back.x).toBeCloseTo(219.5, 0);
    expect(back.y).toBeCloseTo(64.5, 0);
  });

  it('input size follows the policy and coordinate maps are exact inverses', () => {
    const p = manifest.preprocess.inputPolicy;
    const s = inputSize(p, 396, 397);
    expect(s.width % p.multipleOf).toBe(0);
    expect(Math.min(s.width, s.height)).toBe(Math.round(p.shorterSide / p.multipleOf) * p.multipleOf);
    const wide = inputSize(p, 4000, 1000);
    expect(wide.width).toBeLessThanOrEqual(p.maxLongerSide);
    const g = { origWidth: 397, origHeight: 396, ...inputSize(p, 397, 396) };
    for (const [x, y] of [[0, 0], [396, 395], [123.25, 77.5]]) {
      const i = toInput(g, x, y);
      const o = toOriginal(g, i.x, i.y);
      expect(o.x).toBeCloseTo(x, 9);
      expect(o.y).toBeCloseTo(y, 9);
    }
    // Pixel corners map onto pixel corners: the image's outer edges coincide.
    expect(toInput(g, -0.5, -0.5)).toEqual({ x: -0.5, y: -0.5 });
    const far = toInput(g, 396.5, 395.5);
    expect(far.x).toBeCloseTo(g.width - 0.5, 9);
    expect(far.y).toBeCloseTo(g.height - 0.5, 9);
    const grid = { stride: manifest.stride, centerOffset: manifest.crmGeometry.centerOffset };
    const c = inputToGrid(grid, 100, 50);
    expect(gridToInput(grid, c.gy, c.gx)).toEqual({ x: 100, y: 50 });
  });

  it("crmFrame draws each class-map cell over its cell's centre, for any crmGeometry", () => {
    const g = { origWidth: 397, origHeight: 296, ...inputSize(manifest.preprocess.inputPolicy, 397, 296) };
    for (const centerOffset of [15.5, 13, 2]) {
      const grid = { stride: 16, centerOffset };
      const w = Math.floor(g.width / 16), h = Math.floor(g.height / 16);
      const f = crmFrame(grid, g, w, h);
      for (const [gy, gx] of [[0, 0], [h - 1, w - 1], [3, 7]]) {
        const o = toOriginal(g, gridToInput(grid, gy, gx).x, gridToInput(grid, gy, gx).y);
        // drawn cell centre (pixel k spans [k, k+1]) = the cell centre's original pixel + 0.5
        expect(f.x + (gx + 0.5) * (f.width / w)).toBeCloseTo(o.x + 0.5, 9);
        expect(f.y + (gy + 0.5) * (f.height / h)).toBeCloseTo(o.y + 0.5, 9);
      }
    }
  });

  it('a huge image (above the working-copy threshold) is shrunk while decoding; coordinates keep its real size', async () => {
    // 9000×5000 = 45 MP, stored with orientation 6: displayed 5000×9000. Its raw pixels would be 135 MB, and
    // sharp refuses raw buffers above 268 MP, so a 300 MP scan used to fail in the engine after importing.
    const stored = await sharp({ create: { width: 9000, height: 5000, channels: 3, background: { r: 40, g: 90, b: 200 } } })
      .withMetadata({ orientation: 6 })
      .jpeg({ quality: 50 })
      .toBuffer();
    const img = await decodeOriented(stored, 'scan.jpg');
    expect(img.display).toEqual({ width: 5000, height: 9000 });
    expect(Math.max(img.width, img.height)).toBe(WORKING_COPY_SIDE);
    expect(img.width).toBe(Math.round((WORKING_COPY_SIDE * 5000) / 9000));
    const pre = await preprocess(img, manifest);
    expect([pre.geometry.origWidth, pre.geometry.origHeight]).toEqual([5000, 9000]);
    // Below the threshold nothing changes: no display size, pixels at full size.
    const small = await decodeOriented(await sharp(stored).resize(500).jpeg().toBuffer(), 'small.jpg');
    expect(small.display).toBeUndefined();
  });

  it('an unreadable file is an error naming it', async () => {
    const file = join(testOutput('engine-preprocess'), 'not-an-image.png');
    mkdirSync(testOutput('engine-preprocess'), { recursive: true });
    writeFileSync(file, 'hello');
    await expect(decodeOriented(file, file)).rejects.toMatchObject({ code: expect.stringMatching(/NOT_AN_IMAGE|IMAGE_DECODE/), file });
  });
});
