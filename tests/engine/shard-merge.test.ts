// `prelabel --shard I/N` on three "machines" and `merge-coco` of their outputs give the same COCO file as
// one unsharded run (images, annotations, ids). Parts that do not belong together are refused.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CocoDataset } from '../../src/common/coco/types';
import { parseShard, shardOf } from '../../src/main/engine/shard';
import { repoRoot, testOutput } from '../helpers/shared';

const root = testOutput('engine-shard');
const images = join(root, 'images');
const N = 3;

function cli(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(repoRoot, 'bin', 'peaklabel.mjs'), ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
    env: { ...process.env, PEAKLABEL_CACHE_DIR: join(root, 'cache') },
    timeout: 600_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const read = (f: string) => JSON.parse(readFileSync(f, 'utf8')) as CocoDataset;
const prelabel = (out: string, extra: string[] = []) => cli(['prelabel', '--images', images, '--out', out, '--method', 'iam', '--provider', 'cpu', ...extra]);

let names: string[];
let whole: CocoDataset;
const parts = Array.from({ length: N }, (_, i) => join(root, `part-${i}.json`));

beforeAll(async () => {
  rmSync(root, { recursive: true, force: true });
  mkdirSync(images, { recursive: true });
  // The samples and their mirror images: 8 images, so every shard of 3 gets some.
  const samples = join(repoRoot, 'resources', 'samples');
  for (const f of readdirSync(samples).filter((n) => n.endsWith('.jpg'))) {
    copyFileSync(join(samples, f), join(images, f));
    await sharp(join(samples, f)).flop().jpeg().toFile(join(images, `mirrored-${f}`));
  }
  names = readdirSync(images).sort();
  const r = prelabel(join(root, 'whole.json'));
  expect(r.code, r.stderr).toBe(0);
  whole = read(join(root, 'whole.json'));
  for (let i = 0; i < N; i++) {
    const s = prelabel(parts[i], ['--shard', `${i}/${N}`]);
    expect(s.code, s.stderr).toBe(0);
  }
}, 900_000); // four CLI runs, each loading the model: minutes on a loaded 2-core machine

describe('prelabel --shard and merge-coco', () => {
  it('splits the images by a hash of the file name: disjoint shards that cover the folder', () => {
    const seen: string[] = [];
    for (let i = 0; i < N; i++) {
      const got = read(parts[i]).images.map((im) => im.file_name);
      for (const f of got) expect(shardOf(f, N), f).toBe(i);
      seen.push(...got);
    }
    expect(seen.sort()).toEqual(names);
    expect(read(parts[0]).info?.shard).toEqual({ index: 0, count: N });
  });

  it('merged shards equal the unsharded run: same images and annotations, ids renumbered alike', () => {
    const out = join(root, 'merged.json');
    const r = cli(['merge-coco', '--out', out, ...parts]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^${names.length} images, ${whole.annotations.length} annotations from ${N} files`, 'm'));
    const merged = read(out);
    expect(merged.categories).toEqual(whole.categories);
    expect(merged.images).toEqual(whole.images);
    expect(merged.annotations.length).toBeGreaterThan(0);
    expect(merged.annotations).toEqual(whole.annotations);
    expect(merged.info?.complete).toBe(true);
  });

  it('refuses parts of other models, an image in two parts, and a missing shard, naming the files', () => {
    const other = read(parts[1]);
    other.categories = other.categories.map((c, i) => (i === 0 ? { ...c, name: 'plane' } : c));
    const otherFile = join(root, 'other-model.json');
    writeFileSync(otherFile, JSON.stringify(other));
    let r = cli(['merge-coco', '--out', join(root, 'x.json'), parts[0], otherFile, parts[2]]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${otherFile} has other categories than ${parts[0]}`);

    // Plain COCO files (no shard info) sharing an image.
    const plain = (f: string, to: string) => {
      const d = read(f);
      delete d.info;
      writeFileSync(to, JSON.stringify(d));
      return to;
    };
    const a = plain(join(root, 'whole.json'), join(root, 'plain-a.json'));
    const b = plain(parts[0], join(root, 'plain-b.json'));
    const twice = read(b).images[0].file_name;
    r = cli(['merge-coco', '--out', join(root, 'x.json'), a, b]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`The image ${twice} is in both ${a} and ${b}`);

    r = cli(['merge-coco', '--out', join(root, 'x.json'), parts[0], parts[2]]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Shard 1 of 3 is missing/);
    expect(readdirSync(root)).not.toContain('x.json');
  });

  it('--shard must be I/N with 0 ≤ I < N', () => {
    expect(parseShard('0/3')).toEqual({ index: 0, count: 3 });
    expect(parseShard('2/3')).toEqual({ index: 2, count: 3 });
    for (const bad of ['3/3', '1/0', '-1/3', 'a/b', '1']) expect(() => parseShard(bad), bad).toThrow(/--shard must be I\/N/);
    const r = cli(['prelabel', '--images', images, '--out', join(root, 'y.json'), '--shard', '3/3']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--shard must be I\/N with 0 ≤ I < N/);
  });
});
