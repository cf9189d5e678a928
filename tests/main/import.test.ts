// Image import against generated files: formats, EXIF orientation, duplicates, bad files, huge images,
// cancellation. Files are generated with sharp under test-output/.
import { copyFileSync, existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { ServiceContext } from '../../src/main/api/context';
import { createService } from '../../src/main/api/service';
import { decodeOriented } from '../../src/main/engine/preprocess';
import { testOutput } from '../helpers/shared';

process.env.PEAKLABEL_CONFIG_DIR ??= testOutput('config');
const root = testOutput('main', 'import');
const src = join(root, 'src');

const noise = (w: number, h: number, seed: number) =>
  sharp({ create: { width: w, height: h, channels: 3, background: '#000000', noise: { type: 'gaussian', mean: 60 + seed * 20, sigma: 30 } } });

/** w×h, left half red, right half blue. */
function halves(w: number, h: number): Promise<Buffer> {
  const px = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) px.set(x < w / 2 ? [255, 0, 0] : [0, 0, 255], (y * w + x) * 3);
  return sharp(px, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();
}

/** A 24-bit bottom-up BMP, 3×2: top row red, bottom row green. */
function bmp(): Buffer {
  const w = 3, h = 2, stride = 12, size = 54 + stride * h;
  const b = Buffer.alloc(size);
  b.write('BM', 0); b.writeUInt32LE(size, 2); b.writeUInt32LE(54, 10); b.writeUInt32LE(40, 14);
  b.writeInt32LE(w, 18); b.writeInt32LE(h, 22); b.writeUInt16LE(1, 26); b.writeUInt16LE(24, 28);
  for (let x = 0; x < w; x++) {
    b.set([0, 255, 0], 54 + x * 3); // first stored row = bottom: green (BGR)
    b.set([0, 0, 255], 54 + stride + x * 3); // top: red
  }
  return b;
}

function session(project: string) {
  rmSync(project, { force: true });
  rmSync(`${project}.cache`, { recursive: true, force: true });
  const ctx = new ServiceContext();
  return { ctx, api: createService(ctx) };
}

beforeAll(async () => {
  rmSync(src, { recursive: true, force: true });
  mkdirSync(join(src, 'sub'), { recursive: true });
  await noise(64, 48, 0).jpeg().toFile(join(src, 'plain.jpg'));
  copyFileSync(join(src, 'plain.jpg'), join(src, 'sub', 'plain-copy.jpg'));
  await sharp(await halves(80, 40)).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toFile(join(src, 'rotated.jpg'));
  await noise(30, 20, 1).png().toFile(join(src, 'a.png'));
  await noise(30, 20, 2).webp().toFile(join(src, 'a.webp'));
  await noise(30, 20, 3).tiff().toFile(join(src, 'sub', 'a.tif'));
  writeFileSync(join(src, 'a.bmp'), bmp());
  const full = await noise(200, 150, 4).jpeg().toBuffer();
  writeFileSync(join(src, 'truncated.jpg'), full.subarray(0, full.length >> 1));
  writeFileSync(join(src, 'notes.png'), 'not an image at all\n');
  symlinkSync(join(src, 'does-not-exist.jpg'), join(src, 'gone.jpg'));
  writeFileSync(join(src, 'readme.txt'), 'ignored');
});

describe('image import', () => {
  it('imports every format, orients, reports duplicates and bad files, and goes on', async () => {
    const { ctx, api } = session(join(root, 'formats.peaklabel'));
    try {
      await api.createProject(join(root, 'formats.peaklabel'));
      const events: string[] = [];
      api.onProgress((e) => events.push(e.state));
      const r = await api.addImageFolder(src);
      expect(r.cancelled).toBe(false);
      expect(r.added).toBe(6); // plain, rotated, png, webp, tif, bmp
      expect(r.duplicates).toEqual([{ path: join(src, 'sub', 'plain-copy.jpg'), duplicateOf: join(src, 'plain.jpg') }]);
      const byFile = Object.fromEntries(r.failed.map((f) => [f.file!.split('/').pop(), f]));
      expect(Object.keys(byFile).sort()).toEqual(['gone.jpg', 'notes.png', 'truncated.jpg']);
      expect(byFile['truncated.jpg'].code).toBe('IMAGE_DECODE');
      expect(byFile['notes.png'].code).toBe('NOT_AN_IMAGE');
      expect(byFile['gone.jpg'].code).toBe('UNREADABLE');
      for (const f of r.failed) expect(f.message).toContain(f.file!);
      expect(events.at(-1)).toBe('done');

      const page = await api.listImages({ offset: 0, limit: 100 });
      const rotated = page.items.find((i) => i.fileName === 'rotated.jpg')!;
      expect([rotated.width, rotated.height]).toEqual([40, 80]); // stored 80×40, orientation 6
      // Orientation 6 turns the image clockwise: the stored left (red) half becomes the top, in the pixels the
      // engine reads as in the size the store keeps.
      const engineRgb = (id: number) => decodeOriented(ctx.store().imageSource(id).path, `image ${id}`);
      const rgb = await engineRgb(rotated.id);
      expect([rgb.width, rgb.height]).toEqual([40, 80]);
      const at = (x: number, y: number) => Array.from(rgb.data.subarray((y * rgb.width + x) * 3, (y * rgb.width + x) * 3 + 3));
      expect(at(20, 10)[0]).toBeGreaterThan(200);
      expect(at(20, 70)[2]).toBeGreaterThan(200);
      const thumb = await api.thumbnail(rotated.id);
      expect(thumb.mime).toBe('image/jpeg');
      expect((await sharp(Buffer.from(thumb.data)).metadata()).height).toBeGreaterThan((await sharp(Buffer.from(thumb.data)).metadata()).width!);

      const bmpRow = page.items.find((i) => i.fileName === 'a.bmp')!;
      const b = await engineRgb(bmpRow.id);
      expect([b.width, b.height]).toEqual([3, 2]);
      expect(Array.from(b.data.subarray(0, 3))).toEqual([255, 0, 0]);
      expect(Array.from(b.data.subarray(9, 12))).toEqual([0, 255, 0]);

      // Importing the same folder again adds nothing and reports nothing new as duplicate.
      const again = await api.addImageFolder(src);
      expect(again.added).toBe(0);
      expect(again.duplicates).toEqual([{ path: join(src, 'sub', 'plain-copy.jpg'), duplicateOf: join(src, 'plain.jpg') }]);
    } finally {
      ctx.close();
    }
  });

  it('stops when cancelled, keeps what was imported, and a second run adds the rest', async () => {
    const dir = join(root, 'many');
    if (!existsSync(join(dir, 'img-29.jpg'))) {
      mkdirSync(dir, { recursive: true });
      for (let i = 0; i < 30; i++) await noise(120, 90, i % 5).jpeg().toFile(join(dir, `img-${String(i).padStart(2, '0')}.jpg`));
    }
    const project = join(root, 'cancel.peaklabel');
    const { ctx, api } = session(project);
    try {
      await api.createProject(project);
      api.onProgress((e) => { if (e.state === 'running') void api.cancelJob(e.jobId); });
      const first = await api.addImageFolder(dir);
      expect(first.cancelled).toBe(true);
      expect(first.added).toBeLessThan(30);
      expect((await api.currentProject())!.imageCount).toBe(first.added);
      ctx.close();
      const ctx2 = new ServiceContext();
      const api2 = createService(ctx2);
      await api2.openProject(project);
      const second = await api2.addImageFolder(dir);
      expect(second.cancelled).toBe(false);
      expect(first.added + second.added).toBe(30);
      ctx2.close();
    } finally {
      ctx.close();
    }
  });

  it('imports a 30,000×30,000 PNG through one decode into a cached working copy', async () => {
    const dir = join(root, 'huge');
    const file = join(dir, 'huge-30000.png');
    if (!existsSync(file)) {
      mkdirSync(dir, { recursive: true });
      // Quick to make: a flat image with a dark square, compressed fast.
      await sharp({ create: { width: 30000, height: 30000, channels: 3, background: '#3366cc' }, limitInputPixels: false })
        .composite([{ input: { create: { width: 10000, height: 10000, channels: 3, background: '#000000' } }, left: 0, top: 0 }])
        .toColourspace('b-w').png({ compressionLevel: 1 }).toFile(`${file}.tmp`);
      copyFileSync(`${file}.tmp`, file);
      rmSync(`${file}.tmp`);
    }
    const project = join(root, 'huge.peaklabel');
    const { ctx, api } = session(project);
    try {
      await api.createProject(project);
      const r = await api.addImageFolder(dir);
      expect(r.failed).toEqual([]);
      expect(r.added).toBe(1);
      const [img] = (await api.listImages({ offset: 0, limit: 1 })).items;
      expect([img.width, img.height]).toEqual([30000, 30000]);
      const src = ctx.store().imageSource(img.id);
      expect(src.workingCopy).not.toBeNull();
      expect(existsSync(src.workingCopy!)).toBe(true);
      // Views come from the working copy: they work even with the original gone.
      const moved = `${file}.away`;
      copyFileSync(file, moved);
      rmSync(file);
      try {
        const px = await api.imagePixels(img.id, 1024);
        expect([px.width, px.height]).toEqual([1024, 1024]);
        expect(px.scale).toBeCloseTo(1024 / 30000, 6);
        const { data } = await sharp(Buffer.from(px.data)).raw().toBuffer({ resolveWithObject: true });
        expect(data[0]).toBeLessThan(30); // top-left: the dark square
        expect(data[data.length - 1]).toBeGreaterThan(60); // bottom-right: the lighter background
      } finally {
        copyFileSync(moved, file);
        rmSync(moved);
      }
    } finally {
      ctx.close();
    }
  }, 300_000); // one 900-megapixel decode: minutes on a loaded 2-core machine
});
