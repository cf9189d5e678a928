// End to end through the real CLI (bin/peaklabel.mjs): one-shot prelabel of real PennFudan images into a
// COCO file that our parser and pycocotools both accept, tags steering the classes, a project run that is
// cancelled after one image and resumed, and the eval command on a hand-made case with known answers.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { paletteColor } from '../../src/common/class-colors';
import { parseCoco } from '../../src/common/coco/parse';
import type { CocoDataset } from '../../src/common/coco/types';
import { encodeMask } from '../../src/common/rle';
import { ServiceContext } from '../../src/main/api/context';
import { createEngineMethods } from '../../src/main/api/engine-methods';
import { createService } from '../../src/main/api/service';
import { readBundle } from '../../src/main/engine/bundle';
import { python, repoRoot, sharedPath, testOutput } from '../helpers/shared';

process.env.PEAKLABEL_CONFIG_DIR ??= testOutput('config');
const root = testOutput('engine-cli');
const images = join(root, 'images');
const cache = join(root, 'cache');
const NAMES = ['FudanPed00004.png', 'PennPed00010.png'];
const manifest = readBundle(join(repoRoot, 'resources', 'models')).manifest;

function cli(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(repoRoot, 'bin', 'peaklabel.mjs'), ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
    env: { ...process.env, PEAKLABEL_CACHE_DIR: cache },
    timeout: 600_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function pycocotoolsCheck(file: string): { images: number; anns: number } {
  const script = `
import json, sys
from pycocotools.coco import COCO
from pycocotools import mask as M
c = COCO(sys.argv[1])
for a in c.dataset['annotations']:
    m = c.annToMask(a)
    assert m.shape == (c.imgs[a['image_id']]['height'], c.imgs[a['image_id']]['width'])
    assert int(m.sum()) == a['area'], (m.sum(), a['area'])
    assert [int(v) for v in M.toBbox(a['segmentation'])] == a['bbox']
    assert 'score' in a
print(json.dumps({'images': len(c.imgs), 'anns': len(c.anns)}))
`;
  const r = spawnSync(python, ['-c', script, file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`pycocotools check failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

beforeAll(() => {
  rmSync(root, { recursive: true, force: true });
  mkdirSync(images, { recursive: true });
  for (const n of NAMES) copyFileSync(sharedPath('data', 'pennfudan', 'images', n), join(images, n));
  writeFileSync(join(images, 'broken.png'), 'not an image'); // reported and skipped
});

describe('peaklabel prelabel (one-shot)', () => {
  it('writes a valid COCO file with a score on every annotation, skipping the unreadable image', () => {
    const out = join(root, 'pf.json');
    const r = cli(['prelabel', '--images', images, '--out', out, '--method', 'prm', '--provider', 'cpu']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/broken\.png/);
    expect(r.stderr).toMatch(/prelabel 3\/3/);
    const json = JSON.parse(readFileSync(out, 'utf8'));
    const { dataset, problems } = parseCoco(json, out);
    expect(problems).toEqual([]);
    expect(dataset.images.map((i) => i.file_name).sort()).toEqual(NAMES);
    expect(dataset.categories.map((c) => c.name)).toEqual(manifest.classes.map((c) => c.name));
    expect(dataset.annotations.length).toBeGreaterThan(0);
    for (const a of dataset.annotations) {
      expect(typeof a.score).toBe('number');
      expect(a.area).toBeGreaterThan(0);
    }
    expect((json.info.failed as { file: string }[]).map((f) => f.file)).toEqual([join(images, 'broken.png')]);
    expect(pycocotoolsCheck(out)).toEqual({ images: NAMES.length, anns: dataset.annotations.length });
  });

  it('--tags limits peaks to the tagged classes (CSV and COCO tag files)', () => {
    const csv = join(root, 'tags.csv');
    writeFileSync(csv, `file,tags\n${NAMES.map((n) => `${n},person`).join('\n')}\n`);
    const out = join(root, 'pf-tagged.json');
    const r = cli(['prelabel', '--images', images, '--out', out, '--method', 'rect', '--tags', csv]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/2 of 3 images tagged/);
    const data = JSON.parse(readFileSync(out, 'utf8')) as CocoDataset;
    const person = data.categories.find((c) => c.name === 'person')!.id;
    expect(data.annotations.length).toBeGreaterThan(0);
    expect(new Set(data.annotations.map((a) => a.category_id))).toEqual(new Set([person]));

    const fromCoco = join(root, 'pf-coco-tagged.json');
    const r2 = cli(['prelabel', '--images', images, '--out', fromCoco, '--method', 'rect', '--tags', sharedPath('data', 'pennfudan', 'instances.json')]);
    expect(r2.code, r2.stderr).toBe(0);
    const d2 = JSON.parse(readFileSync(fromCoco, 'utf8')) as CocoDataset;
    expect(new Set(d2.annotations.map((a) => a.category_id))).toEqual(new Set([person]));
  });

  it('--method iam with --crf refines the masks that --no-crf leaves raw; both flags at once are refused', () => {
    const masks = (flag: string) => {
      const out = join(root, `pf-iam${flag}.json`);
      const r = cli(['prelabel', '--images', images, '--out', out, '--method', 'iam', flag, '--tags', sharedPath('data', 'pennfudan', 'instances.json')]);
      expect(r.code, r.stderr).toBe(0);
      const data = JSON.parse(readFileSync(out, 'utf8')) as CocoDataset;
      expect(data.annotations.length).toBeGreaterThan(0);
      return data.annotations.map((a) => JSON.stringify(a.segmentation)).sort();
    };
    expect(masks('--crf')).not.toEqual(masks('--no-crf'));
    const both = cli(['prelabel', '--images', images, '--out', join(root, 'never.json'), '--method', 'iam', '--crf', '--no-crf']);
    expect(both.code).not.toBe(0);
    expect(both.stderr).toMatch(/--crf or --no-crf, not both/);
  });

  it('a missing bundle stops before any work with a message naming it', () => {
    const r = cli(['prelabel', '--images', images, '--out', join(root, 'never.json'), '--model', join(root, 'no-such-bundle')]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/no-such-bundle.*manifest\.json/);
  });

  it('a --segmenter folder without the graphs stops before any work, naming the missing file (no quiet fallback)', () => {
    const empty = join(root, 'empty-segmenter');
    mkdirSync(empty, { recursive: true });
    const out = join(root, 'never-seg.json');
    const r = cli(['prelabel', '--images', images, '--out', out, '--segmenter', empty]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(join(empty, 'encoder.onnx'));
    expect(existsSync(out)).toBe(false);
  });
});

describe('project prelabel', () => {
  it('is cancelled after one image, keeps it, and the rerun skips it', async () => {
    const project = join(root, 'resume.peaklabel');
    const ctx = new ServiceContext();
    const engine = createEngineMethods(ctx, { provider: 'cpu', cacheDir: null, method: 'rect' });
    const api = createService(ctx, engine);
    try {
      await api.createProject(project);
      const imported = await api.addImageFolder(images);
      expect(imported.added).toBe(2);
      const off = api.onProgress((e) => {
        if (e.kind === 'prelabel' && e.state === 'running' && e.done >= 1) void api.cancelJob(e.jobId);
      });
      const first = await api.prelabel({});
      off();
      expect(first.cancelled).toBe(true);
      expect(first.images).toBe(1);
      const page = await api.listImages({ offset: 0, limit: 10 });
      const done = page.items.filter((i) => i.status === 'suggested');
      expect(done.length).toBe(1);
      const kept = await api.listInstances(done[0].id);
      expect(kept.length).toBeGreaterThan(0);
      expect(kept.every((i) => i.source === 'suggested' && i.method === 'rect' && i.modelId === manifest.modelId && i.score !== null)).toBe(true);
      // Classes the model added take the project's palette in order, not the bundle's dark VOC colours.
      const added = await api.listClasses();
      expect(added.length).toBeGreaterThan(0);
      expect(added.map((c) => c.color)).toEqual(added.map((_, n) => paletteColor(n)));
      expect(added.every((c) => c.color !== manifest.classes.find((k) => k.name === c.name)!.color)).toBe(true);

      const second = await api.prelabel({});
      expect(second).toMatchObject({ images: 1, cancelled: false, failed: [] });
      // The first image was skipped: its suggestions are the same rows.
      expect((await api.listInstances(done[0].id)).map((i) => i.id)).toEqual(kept.map((i) => i.id));
      const after = await api.listImages({ offset: 0, limit: 10 });
      expect(after.items.every((i) => i.status === 'suggested')).toBe(true);
    } finally {
      await engine.closeEngine();
      ctx.close();
    }
    // The real CLI agrees: nothing left to do without --force.
    const r = cli(['prelabel', '--project', project, '--method', 'rect']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^0 images pre-labelled/m);
  });
});

describe('peaklabel eval', () => {
  it('prints mAP^r, ABO and the masks\' pieces and holes for a hand-made case with known answers', () => {
    // One 10×10 image, two ground-truth squares; predictions: an exact match (0.9) and a miss (0.8).
    const square = (x: number, y: number, s: number) => {
      const data = new Uint8Array(100);
      for (let yy = y; yy < y + s; yy++) for (let xx = x; xx < x + s; xx++) data[yy * 10 + xx] = 1;
      return encodeMask({ width: 10, height: 10, data });
    };
    const ann = (id: number, seg: ReturnType<typeof square>, bbox: number[], score?: number) => ({ id, image_id: 1, category_id: 1, segmentation: seg, area: bbox[2] * bbox[3], bbox, iscrowd: 0, ...(score ? { score } : {}) });
    const base = { images: [{ id: 1, file_name: 'a.png', width: 10, height: 10 }], categories: [{ id: 1, name: 'person' }] };
    const gt = { ...base, annotations: [ann(1, square(0, 0, 4), [0, 0, 4, 4]), ann(2, square(6, 6, 4), [6, 6, 4, 4])] };
    const pred = { ...base, annotations: [ann(1, square(0, 0, 4), [0, 0, 4, 4], 0.9), ann(2, square(0, 6, 3), [0, 6, 3, 3], 0.8)] };
    writeFileSync(join(root, 'gt.json'), JSON.stringify(gt));
    writeFileSync(join(root, 'pred.json'), JSON.stringify(pred));
    const r = cli(['eval', '--gt', join(root, 'gt.json'), '--pred', join(root, 'pred.json'), '--json', join(root, 'eval.json')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/person\s+2\s+2\s+0\.500\s+0\.500\s+0\.500\s+0\.500/);
    const report = JSON.parse(readFileSync(join(root, 'eval.json'), 'utf8'));
    expect(report.mAP).toEqual([0.5, 0.5, 0.5]);
    expect(report.abo).toBe(0.5);
    // Both predictions are one square each: one piece, no hole.
    expect(r.stdout).toContain('masks: 1.00 pieces, 0.00 holes on average');
    expect([report.piecesPerMask, report.holesPerMask]).toEqual([1, 0]);
  });
});
