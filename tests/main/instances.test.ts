// Instance changes through the service (validation → service → store), as the editor makes them: a
// split or a merge is one changeInstances call and one undo step; a failing batch leaves nothing behind.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import type { InstanceRow, Rle } from '../../src/common/api';
import type { ErrorInfo } from '../../src/common/errors';
import { createMask, maskUnion, type BinaryMask } from '../../src/common/mask';
import { decodeRle, encodeMask } from '../../src/common/rle';
import { ServiceContext } from '../../src/main/api/context';
import { createService, invokeApi } from '../../src/main/api/service';
import { testOutput } from '../helpers/shared';

process.env.PEAKLABEL_CONFIG_DIR ??= testOutput('config');
const root = testOutput('main', 'instances');
const W = 40, H = 30;

function rectMask(x0: number, y0: number, x1: number, y1: number): BinaryMask {
  const m = createMask(W, H);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) m.data[y * W + x] = 1;
  return m;
}
const rect = (x0: number, y0: number, x1: number, y1: number): Rle => encodeMask(rectMask(x0, y0, x1, y1));

let n = 0;
/** A fresh project with two 40×30 images and one class, driven through invokeApi like the renderer. */
async function fresh() {
  const ctx = new ServiceContext();
  const api = createService(ctx);
  const call = async <T>(method: string, ...args: unknown[]): Promise<T> => {
    const r = await invokeApi(api, method, args);
    if (!r.ok) throw r.error;
    return r.result as T;
  };
  const failure = async (method: string, ...args: unknown[]): Promise<ErrorInfo> => {
    const r = await invokeApi(api, method, args);
    if (r.ok) throw new Error(`${method} succeeded but should have failed`);
    return r.error;
  };
  await api.createProject(join(root, `p${process.pid}-${n++}.peaklabel`));
  await api.addImageFolder(join(root, 'images'));
  const [img, other] = (await api.listImages({ offset: 0, limit: 10 })).items.map((i) => i.id);
  const cls = await api.saveClass({ name: 'cell' });
  const list = () => call<InstanceRow[]>('listInstances', img);
  return { ctx, call, failure, img, other, cls: cls.id, list };
}

beforeAll(async () => {
  rmSync(root, { recursive: true, force: true });
  mkdirSync(join(root, 'images'), { recursive: true });
  // Different colours: identical files would be imported once (duplicates).
  for (const [name, background] of [['a.png', '#336699'], ['b.png', '#996633']]) {
    await sharp({ create: { width: W, height: H, channels: 3, background } }).png().toFile(join(root, 'images', name));
  }
});

describe('changeInstances', () => {
  it('splits as one undo step: one undo restores the instance exactly, one redo re-applies the split', async () => {
    const { call, img, cls, list } = await fresh();
    const whole = await call<InstanceRow>('createInstance', img, cls, encodeMask(maskUnion(rectMask(2, 2, 10, 10), rectMask(20, 5, 30, 25))));
    const before = await list();
    const { edited, created } = await call<{ edited: InstanceRow[]; created: InstanceRow[] }>('changeInstances', img, {
      edit: [{ id: whole.id, mask: rect(20, 5, 30, 25) }],
      create: [{ classId: cls, mask: rect(2, 2, 10, 10) }],
    });
    expect(edited.map((r) => [r.id, r.area])).toEqual([[whole.id, 200]]);
    expect(created.map((r) => [r.classId, r.area, r.source])).toEqual([[cls, 64, 'manual']]);
    const split = await list();
    expect(split).toHaveLength(2);

    expect(await call('undo')).toBe(true);
    expect(await list()).toEqual(before); // same id, mask, source and timestamps
    expect(await call('redo')).toBe(true);
    expect(await list()).toEqual(split); // the created part comes back under its id
    expect(await call('redo')).toBe(false);
    // Two undos: the split, then the creation; nothing more.
    expect(await call('undo')).toBe(true);
    expect(await call('undo')).toBe(true);
    expect(await list()).toEqual([]);
    expect(await call('undo')).toBe(false);
  });

  it('merges as one undo step: one undo brings the merged-away instances back with their ids', async () => {
    const { call, img, cls, list } = await fresh();
    const a = await call<InstanceRow>('createInstance', img, cls, rect(0, 0, 10, 10));
    const b = await call<InstanceRow>('createInstance', img, cls, rect(15, 0, 25, 10));
    const c = await call<InstanceRow>('createInstance', img, cls, rect(0, 20, 5, 30));
    const before = await list();
    const union = encodeMask(maskUnion(maskUnion(decodeRle(a.mask), decodeRle(b.mask)), decodeRle(c.mask)));
    await call('changeInstances', img, { edit: [{ id: a.id, mask: union }], delete: [b.id, c.id] });
    const merged = await list();
    expect(merged.map((r) => [r.id, r.area, r.mask.counts])).toEqual([[a.id, 250, union.counts]]);

    expect(await call('undo')).toBe(true);
    expect(await list()).toEqual(before);
    expect(await call('redo')).toBe(true);
    expect(await list()).toEqual(merged);
  });

  it('applies nothing when any part of the batch fails, and records no undo step', async () => {
    const { call, failure, img, other, cls, list } = await fresh();
    const a = await call<InstanceRow>('createInstance', img, cls, rect(0, 0, 10, 10));
    const b = await call<InstanceRow>('createInstance', img, cls, rect(15, 0, 25, 10));
    const elsewhere = await call<InstanceRow>('createInstance', other, cls, rect(0, 0, 4, 4));
    const before = await list();
    const change = (del: number) => ({ edit: [{ id: a.id, mask: rect(0, 0, 30, 30) }], create: [{ classId: cls, mask: rect(5, 5, 8, 8) }], delete: [del] });

    // The edit and the creation are written before the delete fails: all of it is rolled back.
    expect((await failure('changeInstances', img, change(b.id + 1000))).code).toBe('NOT_FOUND');
    expect((await failure('changeInstances', img, change(elsewhere.id))).code).toBe('BAD_ARGUMENT');
    // Caught before the store: a mask of the wrong size, an unknown class, one id twice, a malformed call.
    expect((await failure('changeInstances', img, { edit: [{ id: a.id, mask: { size: [10, 10], counts: '0' } }] })).code).toBe('BAD_ARGUMENT');
    expect((await failure('changeInstances', img, { create: [{ classId: cls + 50, mask: rect(1, 1, 2, 2) }] })).code).toBe('NOT_FOUND');
    expect((await failure('changeInstances', img, { edit: [{ id: b.id, classId: cls }], delete: [b.id] })).code).toBe('BAD_ARGUMENT');
    expect((await failure('changeInstances', img, { edit: [{ id: a.id, colour: 'red' }] })).code).toBe('BAD_ARGUMENT');
    expect(await list()).toEqual(before);
    expect(await call<InstanceRow[]>('listInstances', other)).toEqual([elsewhere]);

    // The last undo step is still the last successful action (creating `elsewhere`).
    expect(await call('undo')).toBe(true);
    expect(await call<InstanceRow[]>('listInstances', other)).toEqual([]);
    expect(await list()).toEqual(before);
  });

  it('records no undo step for an empty batch', async () => {
    const { call, img, cls, list } = await fresh();
    await call('createInstance', img, cls, rect(0, 0, 10, 10));
    expect(await call('changeInstances', img, {})).toEqual({ edited: [], created: [] });
    expect(await call('undo')).toBe(true); // the creation
    expect(await list()).toEqual([]);
  });
});
