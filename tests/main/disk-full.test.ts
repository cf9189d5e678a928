// A full disk while writing whole files (engine settings, the one-shot prelabel --out file, working copies
// of huge images): DISK_FULL naming the file, the previous file kept, no temp file left behind. The disk
// is simulated: once `disk.full` is set, a write stores a few bytes (what fitted) and fails with ENOSPC.
// The same cases run against a real full tmpfs in scripts/check-disk-full.ts (needs root).
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { writeJsonAtomic } from '../../src/main/cli/commands/prelabel';
import { engineSettingsFile, writeEngineSettings } from '../../src/main/engine/settings';
import { writeWorkingCopy } from '../../src/main/images/importer';
import { imagePixels } from '../../src/main/images/pixels';
import type { ProjectStore } from '../../src/main/store/project-store';
import { testOutput } from '../helpers/shared';

const disk = vi.hoisted(() => ({
  full: false,
  /** The first bytes of `data`: what a write stores before the disk runs out. */
  part: (data: string | NodeJS.ArrayBufferView) => (typeof data === 'string' ? data.slice(0, 8) : Buffer.from(data.buffer, data.byteOffset, Math.min(8, data.byteLength))),
  enospc: () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' }),
}));

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const writeFileSync: typeof fs.writeFileSync = (file, data, options) => {
    if (!disk.full) return fs.writeFileSync(file, data, options);
    fs.writeFileSync(file, disk.part(data));
    throw disk.enospc();
  };
  return { ...fs, default: { ...fs, writeFileSync }, writeFileSync };
});

vi.mock('node:fs/promises', async (importOriginal) => {
  const fsp = await importOriginal<typeof import('node:fs/promises')>();
  const writeFile = async (file: string, data: string | NodeJS.ArrayBufferView) => {
    if (!disk.full) return fsp.writeFile(file, data);
    await fsp.writeFile(file, disk.part(data));
    throw disk.enospc();
  };
  return { ...fsp, default: { ...fsp, writeFile }, writeFile };
});

const root = testOutput('main', 'disk-full');
process.env.PEAKLABEL_CONFIG_DIR = join(root, 'config');

beforeAll(() => {
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
});

afterEach(() => {
  disk.full = false;
});

describe('a full disk while writing a whole file', () => {
  it('engine settings: DISK_FULL naming engine-settings.json, the previous file kept, no temp file', () => {
    writeEngineSettings({ maxPeaks: 7 });
    const file = engineSettingsFile();
    const before = readFileSync(file, 'utf8');
    disk.full = true;
    expect(() => writeEngineSettings({ maxPeaks: 9 })).toThrow(expect.objectContaining({ code: 'DISK_FULL', file, message: expect.stringContaining(file) }));
    expect(readFileSync(file, 'utf8')).toBe(before);
    expect(readdirSync(join(root, 'config'))).toEqual(['engine-settings.json']);
  });

  it('prelabel --out: DISK_FULL naming the file, no temp file', () => {
    const dir = join(root, 'prelabel');
    const out = join(dir, 'suggestions.json');
    disk.full = true;
    expect(() => writeJsonAtomic(out, { images: [], annotations: [] })).toThrow(expect.objectContaining({ code: 'DISK_FULL', file: out, message: expect.stringContaining(out) }));
    expect(readdirSync(dir)).toEqual([]);
  });

  it('working copy at import: DISK_FULL naming the copy, no temp file', async () => {
    const dir = join(root, 'working');
    const copy = join(dir, 'abc.jpg');
    disk.full = true;
    await expect(writeWorkingCopy(dir, 'abc.jpg', Buffer.alloc(1000, 1))).rejects.toMatchObject({ code: 'DISK_FULL', file: copy, message: expect.stringContaining(copy) });
    expect(readdirSync(dir)).toEqual([]);
  });

  it('working copy rebuilt for viewing: DISK_FULL naming the copy (not a decode error of the image), no temp file', async () => {
    const image = join(root, 'original.png');
    await sharp({ create: { width: 40, height: 30, channels: 3, background: '#336699' } }).png().toFile(image);
    const dir = join(root, 'rebuild');
    const copy = join(dir, 'def.jpg');
    // The cache was cleared: the view decodes the original again and rewrites its working copy.
    const store = { imageSource: () => ({ id: 1, path: image, width: 40, height: 30, orientation: 1, workingCopy: copy, status: 'new', tags: [] }) } as unknown as ProjectStore;
    disk.full = true;
    await expect(imagePixels(store, 1, 256)).rejects.toMatchObject({ code: 'DISK_FULL', file: copy, message: expect.stringContaining(copy) });
    expect(readdirSync(dir)).toEqual([]);
  });
});
