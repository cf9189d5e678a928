// COCO import (bad items reported, the rest imported; ground truth vs prior) and export (numbering,
// fields, polygons vs RLE, atomic write).
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import type { Rle } from '../../src/common/api';
import { createMask } from '../../src/common/mask';
import { decodeRle, encodeMask } from '../../src/common/rle';
import { polygonsToMask } from '../../src/common/polygon';
import { exportCoco, writeError } from '../../src/main/coco/export';
import { testOutput } from '../helpers/shared';
import { projectWithImages } from '../helpers/project';

process.env.PEAKLABEL_CONFIG_DIR ??= testOutput('config');
const root = testOutput('main', 'coco');
const images = join(root, 'images');
const W = 40, H = 30;

function maskRle(paint: (x: number, y: number) => boolean): Rle {
  const m = createMask(W, H);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) m.data[y * W + x] = paint(x, y) ? 1 : 0;
  return encodeMask(m);
}

beforeAll(async () => {
  rmSync(root, { recursive: true, force: true });
  mkdirSync(images, { recursive: true });
  for (const [i, name] of ['a.png', 'b.png', 'c.png'].entries()) {
    await sharp({ create: { width: W, height: H, channels: 3, background: { r: 40 * i, g: 100, b: 50 } } }).png().toFile(join(images, name));
  }
});

const project = (name: string) => projectWithImages(join(root, `${name}.peaklabel`), images);

const square = [[2, 2, 12, 2, 12, 12, 2, 12]];
const ring = maskRle((x, y) => x >= 20 && x < 30 && y >= 5 && y < 15 && !(x >= 24 && x < 26 && y >= 9 && y < 11));

describe('COCO import', () => {
  it('imports good items, reports bad ones with the file, and replaces a previous import', async () => {
    const { ctx, api, ids } = await project('import');
    const crowd = maskRle((x, y) => y >= 20 && x < 10);
    const counts: number[] = [];
    // Uncompressed crowd RLE as COCO writes it: column-major runs.
    {
      const m = decodeRle(crowd);
      let prev = 0, run = 0;
      for (let x = 0; x < W; x++) for (let y = 0; y < H; y++) { const v = m.data[y * W + x]; if (v !== prev) { counts.push(run); run = 0; prev = v; } run++; }
      counts.push(run);
    }
    const file = join(root, 'in.json');
    writeFileSync(file, JSON.stringify({
      images: [
        { id: 10, file_name: 'a.png', width: W, height: H },
        { id: 11, file_name: 'b.png', width: W, height: H },
        { id: 12, file_name: 'c.png', width: W + 1, height: H }, // wrong size
        { id: 13, file_name: 'zzz.png', width: W, height: H }, // not in project
      ],
      categories: [{ id: 3, name: 'box' }, { id: 8, name: 'donut' }],
      annotations: [
        { id: 1, image_id: 10, category_id: 3, segmentation: square, area: 100, bbox: [2, 2, 10, 10], iscrowd: 0 },
        { id: 2, image_id: 10, category_id: 8, segmentation: ring, area: 96, bbox: [20, 5, 10, 10], iscrowd: 0 },
        { id: 3, image_id: 11, category_id: 3, segmentation: { size: [H, W], counts }, area: 200, bbox: [0, 20, 10, 10], iscrowd: 1 },
        { id: 4, image_id: 11, category_id: 99, segmentation: square, area: 100, bbox: [2, 2, 10, 10], iscrowd: 0 }, // dangling category
        { id: 5, image_id: 77, category_id: 3, segmentation: square, area: 100, bbox: [2, 2, 10, 10], iscrowd: 0 }, // dangling image
        { id: 6, image_id: 11, category_id: 3, segmentation: [[1, 1, 5, 1, 5]], area: 1, bbox: [1, 1, 4, 1], iscrowd: 0 }, // odd polygon
        { id: 7, image_id: 11, category_id: 3, segmentation: { size: [H + 5, W], counts: ring.counts }, area: 1, bbox: [0, 0, 1, 1], iscrowd: 0 }, // wrong RLE size
        { id: 8, image_id: 12, category_id: 3, segmentation: square, area: 100, bbox: [2, 2, 10, 10], iscrowd: 0 },
      ],
    }));
    const r = await api.importCoco(file, 'ground_truth');
    expect(r).toMatchObject({ images: 2, instances: 3, categories: 2 });
    const text = r.skipped.map((s) => s.message).join('\n');
    for (const s of r.skipped) expect(s.message).toContain(file);
    expect(text).toMatch(/zzz\.png/);
    expect(text).toMatch(/c\.png/);
    expect(r.skipped.length).toBeGreaterThanOrEqual(6);
    const inst = await api.listInstances(ids['a.png']);
    expect(inst.map((i) => [i.source, i.area])).toEqual([['imported', 100], ['imported', 96]]);
    expect(decodeRle(inst[0].mask).data).toEqual(polygonsToMask(square, W, H).data);
    expect((await api.getImage(ids['a.png'])).status).toBe('done');
    // Again: replaced, not doubled.
    await api.importCoco(file, 'ground_truth');
    expect(await api.listInstances(ids['a.png'])).toHaveLength(2);
    // As prior labels: suggestions beside the ground truth.
    await api.importCoco(file, 'prior');
    const all = await api.listInstances(ids['a.png']);
    expect(all.map((i) => i.source).sort()).toEqual(['imported', 'imported', 'suggested', 'suggested']);
    ctx.close();
  });

  it('rejects a file that is not JSON or not COCO, naming it', async () => {
    const { ctx, api } = await project('bad');
    const notJson = join(root, 'broken.json');
    writeFileSync(notJson, '{"images": [');
    await expect(api.importCoco(notJson, 'ground_truth')).rejects.toMatchObject({ code: 'COCO_INVALID', file: notJson });
    ctx.close();
  });
});

describe('COCO export', () => {
  it('numbers from 1 and writes bbox, area, iscrowd, info, licenses; polygons, or RLE for holes/crowd', async () => {
    const { ctx, api, ids } = await project('export');
    const box = await api.saveClass({ name: 'box' });
    const donut = await api.saveClass({ name: 'donut' });
    const split = maskRle((x, y) => (x < 5 || x >= 35) && y < 5);
    await api.createInstance(ids['b.png'], box.id, maskRle((x, y) => x >= 2 && x < 12 && y >= 2 && y < 12));
    await api.createInstance(ids['b.png'], donut.id, ring);
    await api.createInstance(ids['c.png'], box.id, split);
    const out = join(root, 'out.json');
    const r = await api.exportCoco({ out, format: 'polygon' });
    expect(r).toEqual({ path: out, images: 3, annotations: 3, categories: 2 });
    const j = JSON.parse(readFileSync(out, 'utf8'));
    expect(j.info.description).toMatch(/PeakLabel/);
    expect(j.licenses).toEqual([]);
    expect(j.categories.map((c: { id: number; name: string }) => [c.id, c.name])).toEqual([[1, 'box'], [2, 'donut']]);
    expect(j.images.map((i: { id: number; file_name: string }) => [i.id, i.file_name])).toEqual([[1, 'a.png'], [2, 'b.png'], [3, 'c.png']]);
    const [a1, a2, a3] = j.annotations;
    expect(a1).toMatchObject({ id: 1, image_id: 2, category_id: 1, bbox: [2, 2, 10, 10], area: 100, iscrowd: 0 });
    expect(Array.isArray(a1.segmentation)).toBe(true);
    expect(a2).toMatchObject({ id: 2, category_id: 2, area: 96, segmentation: ring }); // hole → RLE
    expect(a3.segmentation).toHaveLength(2); // two rings for a split object
    expect(polygonsToMask(a3.segmentation, W, H).data).toEqual(decodeRle(split).data);

    // The same file from the worker-thread path (large exports), small chunks so several are in flight.
    const viaWorkers = join(root, 'out-workers.json');
    await exportCoco(ctx.store(), { out: viaWorkers, format: 'polygon' }, undefined, { workers: 2 });
    const w = JSON.parse(readFileSync(viaWorkers, 'utf8'));
    expect(w.annotations).toEqual(j.annotations);
    expect(w.images).toEqual(j.images);

    const rle = await api.exportCoco({ out, format: 'rle' });
    expect(rle.annotations).toBe(3);
    const k = JSON.parse(readFileSync(out, 'utf8'));
    expect(k.annotations[2].segmentation).toEqual(split);
    ctx.close();
  });

  it('never leaves a half-written file: a failed or cancelled export keeps the previous one', async () => {
    const { ctx, api, ids } = await project('atomic');
    const box = await api.saveClass({ name: 'box' });
    await api.createInstance(ids['a.png'], box.id, maskRle((x, y) => x < 3 && y < 3));
    const out = join(root, 'atomic', 'out.json');
    mkdirSync(join(root, 'atomic'), { recursive: true });
    writeFileSync(out, 'previous export');
    const job = ctx.jobs.start('export', 0);
    ctx.jobs.cancel(job.id);
    await expect(exportCoco(ctx.store(), { out, format: 'polygon' }, job)).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(readFileSync(out, 'utf8')).toBe('previous export');
    expect(readdirSync(join(root, 'atomic'))).toEqual(['out.json']);

    // /sys refuses new files even to root here: the read-only case.
    const ro = '/sys/peaklabel-export-test.json';
    await expect(api.exportCoco({ out: ro, format: 'rle' })).rejects.toMatchObject({ code: 'READ_ONLY', file: ro });
    expect(existsSync(ro)).toBe(false);
    await expect(api.exportCoco({ out: join(root, 'no', 'such', 'dir', 'x.json'), format: 'rle' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const full = writeError(Object.assign(new Error('no space'), { code: 'ENOSPC' }), out) as { code: string; message: string };
    expect(full.code).toBe('DISK_FULL');
    expect(full.message).toContain(out);
    ctx.close();
  });

  it('on a nearly full disk that takes only part of a write, fails with DISK_FULL and keeps the previous file', async () => {
    const { ctx, api, ids } = await project('short-write');
    const box = await api.saveClass({ name: 'box' });
    await api.createInstance(ids['a.png'], box.id, ring);
    const dir = join(root, 'short-write');
    mkdirSync(dir, { recursive: true });
    const out = join(dir, 'out.json');
    writeFileSync(out, 'previous export');
    // The disk has room for 100 more bytes: a write takes what fits and reports the count, the next one
    // fails with ENOSPC (what a real full disk does, see scripts/check-disk-full.ts).
    const probe = await open(out, 'r');
    const proto = Object.getPrototypeOf(probe) as FileHandle;
    await probe.close();
    const realWrite = proto.write;
    let room = 100;
    const spy = vi.spyOn(proto, 'write').mockImplementation(async function (this: FileHandle, data: Uint8Array | string, offset?: number) {
      const bytes = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data.buffer, data.byteOffset + (offset ?? 0), data.byteLength - (offset ?? 0));
      if (room === 0) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      const n = Math.min(room, bytes.length);
      room -= n;
      return Reflect.apply(realWrite, this, [bytes, 0, n]);
    } as never);
    try {
      await expect(api.exportCoco({ out, format: 'rle' })).rejects.toMatchObject({ code: 'DISK_FULL', file: out });
    } finally {
      spy.mockRestore();
    }
    expect(readFileSync(out, 'utf8')).toBe('previous export');
    expect(readdirSync(dir)).toEqual(['out.json']);
    ctx.close();
  });
});
