// Issue 2's done-when: images + COCO in, COCO out. RLE export equals the input masks pixel for pixel
// (checked in pycocotools, where COCOeval of the export against the original gives AP 1.0); the
// default polygon export keeps every instance at IoU ≥ 0.98. Balloon goes through the real CLI.
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ServiceContext } from '../../src/main/api/context';
import { createService } from '../../src/main/api/service';
import { python, repoRoot, sharedPath, testOutput } from '../helpers/shared';

process.env.PEAKLABEL_CONFIG_DIR ??= testOutput('config');
const dir = testOutput('integration', 'coco-roundtrip');

interface Check { annotations: number; equal: boolean; minIou: number; ap: number; images: number; countMismatch: string[] }

function pycocoCheck(original: string, exported: string): Check {
  const r = spawnSync(python, [join(repoRoot, 'tests', 'integration', 'coco_check.py'), original, exported], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`coco_check.py failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Check;
}

function cli(...args: string[]): string {
  const r = spawnSync(process.execPath, [join(repoRoot, 'bin', 'peaklabel.mjs'), ...args], {
    cwd: repoRoot, encoding: 'utf8', env: { ...process.env, PEAKLABEL_CONFIG_DIR: join(dir, 'config') },
  });
  if (r.status !== 0) throw new Error(`peaklabel ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

function expectRoundTrip(original: string, rleOut: string, polyOut: string, annotations: number): void {
  const rle = pycocoCheck(original, rleOut);
  expect(rle.countMismatch).toEqual([]);
  expect(rle.annotations).toBe(annotations);
  expect(rle.equal).toBe(true);
  expect(rle.ap).toBe(1);
  const poly = pycocoCheck(original, polyOut);
  expect(poly.annotations).toBe(annotations);
  expect(poly.minIou).toBeGreaterThanOrEqual(0.98);
}

describe('COCO round trip on the dev sets', () => {
  mkdirSync(dir, { recursive: true });

  it('balloon through the CLI: import, import-coco, export --format rle and polygons', () => {
    const project = join(dir, 'balloon.peaklabel');
    rmSync(project, { force: true });
    const coco = sharedPath('data', 'balloon', 'instances.json');
    expect(cli('import', '--project', project, '--images', sharedPath('data', 'balloon', 'images'))).toMatch(/44 added/);
    expect(cli('import-coco', '--project', project, '--coco', coco)).toMatch(/191 instances/);
    cli('export', '--project', project, '--out', join(dir, 'balloon-rle.json'), '--format', 'rle');
    cli('export', '--project', project, '--out', join(dir, 'balloon-poly.json'));
    expectRoundTrip(coco, join(dir, 'balloon-rle.json'), join(dir, 'balloon-poly.json'), 191);
  });

  for (const [name, images, annotations] of [['pennfudan', 107, 251], ['coco-mini', 162, 1386]] as const) {
    it(`${name} through the service`, async () => {
      const project = join(dir, `${name}.peaklabel`);
      rmSync(project, { force: true });
      const ctx = new ServiceContext();
      const api = createService(ctx);
      try {
        await api.createProject(project);
        const imported = await api.addImageFolder(sharedPath('data', name, 'images'));
        expect(imported.failed).toEqual([]);
        expect(imported.added).toBe(images);
        const coco = sharedPath('data', name, 'instances.json');
        const r = await api.importCoco(coco, 'ground_truth');
        expect(r.skipped).toEqual([]);
        expect(r.instances).toBe(annotations);
        await api.exportCoco({ out: join(dir, `${name}-rle.json`), format: 'rle' });
        await api.exportCoco({ out: join(dir, `${name}-poly.json`), format: 'polygon' });
        expectRoundTrip(coco, join(dir, `${name}-rle.json`), join(dir, `${name}-poly.json`), annotations);
      } finally {
        ctx.close();
      }
    });
  }
});
