// The whole-file writer flushes the data and the folder to the disk, and gives every write its own
// temporary name. The fs calls are recorded (fd → path) to see what was flushed, and when.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { writeFileAtomic, writeFileAtomicSync } from '../../src/main/fs/atomic-write';
import { testOutput } from '../helpers/shared';

const log = vi.hoisted(() => ({ calls: [] as string[], fds: new Map<number, string>() }));

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const openSync = ((path: string, ...rest: unknown[]) => {
    const fd = (fs.openSync as (...a: unknown[]) => number)(path, ...rest);
    log.fds.set(fd, String(path));
    return fd;
  }) as typeof fs.openSync;
  const fsyncSync: typeof fs.fsyncSync = (fd) => {
    log.calls.push(`fsync ${log.fds.get(fd)}`);
    fs.fsyncSync(fd);
  };
  const renameSync: typeof fs.renameSync = (a, b) => {
    log.calls.push(`rename ${a} ${b}`);
    fs.renameSync(a, b);
  };
  const over = { openSync, fsyncSync, renameSync };
  return { ...fs, ...over, default: { ...fs, ...over } };
});

vi.mock('node:fs/promises', async (importOriginal) => {
  const fsp = await importOriginal<typeof import('node:fs/promises')>();
  const open: typeof fsp.open = async (path, ...rest) => {
    const fh = await fsp.open(path, ...rest);
    const sync = fh.sync.bind(fh);
    fh.sync = async () => {
      log.calls.push(`fsync ${path}`);
      return sync();
    };
    return fh;
  };
  const rename: typeof fsp.rename = async (a, b) => {
    log.calls.push(`rename ${a} ${b}`);
    return fsp.rename(a, b);
  };
  const over = { open, rename };
  return { ...fsp, ...over, default: { ...fsp, ...over } };
});

const dir = testOutput('main', 'atomic-write');

beforeEach(() => {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  log.calls.length = 0;
});

/** The recorded calls with the temporary name shown as TMP. */
function steps(file: string): string[] {
  return log.calls.map((c) => c.replace(new RegExp(`${file}\\.[^ ]+\\.tmp`), 'TMP'));
}

describe('writeFileAtomic', () => {
  for (const [name, write] of [
    ['sync', async (f: string, d: string) => writeFileAtomicSync(f, d)],
    ['async', writeFileAtomic],
  ] as const) {
    it(`${name}: flushes the temporary file before the rename and the folder after it`, async () => {
      const file = join(dir, 'settings.json');
      await write(file, '{"a":1}');
      expect(readFileSync(file, 'utf8')).toBe('{"a":1}');
      expect(steps(file)).toEqual(['fsync TMP', `rename TMP ${file}`, `fsync ${dir}`]);
      expect(readdirSync(dir)).toEqual(['settings.json']);
    });
  }

  it('gives each write its own temporary name: concurrent writes of one file all succeed, whole', async () => {
    const file = join(dir, 'shared.json');
    const bodies = Array.from({ length: 12 }, (_, i) => JSON.stringify({ writer: i, pad: 'x'.repeat(20_000 + i) }));
    await Promise.all(bodies.map((b) => writeFileAtomic(file, b)));
    expect(bodies).toContain(readFileSync(file, 'utf8'));
    const temps = new Set(log.calls.filter((c) => c.startsWith('rename ')).map((c) => c.split(' ')[1]));
    expect(temps.size).toBe(bodies.length);
    expect(readdirSync(dir)).toEqual(['shared.json']);
    expect(existsSync(file)).toBe(true);
  });
});
