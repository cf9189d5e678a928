// The folder scan follows links but visits each real folder and each real image once: link loops end,
// two loops stay linear, and an image reached through several links is listed once.
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scanImageFolder } from '../../src/main/images/scan';
import { testOutput } from '../helpers/shared';

const root = testOutput('main', 'scan');

function tree(name: string): string {
  const dir = join(root, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'a'), { recursive: true });
  writeFileSync(join(dir, 'top.jpg'), 'x');
  writeFileSync(join(dir, 'a', 'inner.png'), 'x');
  return dir;
}

describe('scanImageFolder', () => {
  it('ends on a link to its own folder and lists each image once', async () => {
    const dir = tree('self-link');
    symlinkSync('.', join(dir, 'a', 'l'));
    const { files, problems } = await scanImageFolder(dir);
    expect(files).toEqual([join(dir, 'a', 'inner.png'), join(dir, 'top.jpg')]);
    expect(problems).toEqual([]);
  });

  it('stays linear with two loop links per folder and a link to the parent', async () => {
    const dir = tree('two-loops');
    symlinkSync('.', join(dir, 'a', 'l1'));
    symlinkSync('.', join(dir, 'a', 'l2'));
    symlinkSync('..', join(dir, 'a', 'up'));
    const started = Date.now();
    const { files } = await scanImageFolder(dir);
    expect(files).toEqual([join(dir, 'a', 'inner.png'), join(dir, 'top.jpg')]);
    expect(Date.now() - started).toBeLessThan(2_000);
  }, 10_000);

  it('lists an image reached through two folder links and a file link once', async () => {
    const dir = tree('two-links');
    const outside = join(root, 'two-links-outside');
    rmSync(outside, { recursive: true, force: true });
    mkdirSync(outside, { recursive: true });
    writeFileSync(join(outside, 'far.jpg'), 'x');
    symlinkSync(outside, join(dir, 'b'));
    symlinkSync(outside, join(dir, 'c'));
    symlinkSync(join(outside, 'far.jpg'), join(dir, 'far-link.jpg'));
    symlinkSync(join(dir, 'a', 'inner.png'), join(dir, 'inner-link.png'));
    const { files } = await scanImageFolder(dir);
    expect(files).toEqual([join(dir, 'a', 'inner.png'), join(dir, 'b', 'far.jpg'), join(dir, 'top.jpg')]);
  });

  it('reports a link that points at itself', async () => {
    const dir = tree('self-loop');
    symlinkSync('me', join(dir, 'me'));
    const { files, problems } = await scanImageFolder(dir);
    expect(files).toHaveLength(2);
    expect(problems.map((p) => p.message)).toEqual([`Cannot read ${join(dir, 'me')}: it is a link that points back to itself.`]);
  });
});
