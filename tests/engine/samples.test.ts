// The README's first command on a fresh clone: the one-shot prelabel of resources/samples, run exactly
// as the README writes it, with nothing from ../shared. It writes a COCO file and preview PNGs whose
// masks are visibly drawn. The samples stay small and each one's source and licence is written down.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseCoco } from '../../src/common/coco/parse';
import { decodeRle } from '../../src/common/rle';
import { repoRoot, testOutput } from '../helpers/shared';

const samples = join(repoRoot, 'resources', 'samples');
const photos = readdirSync(samples).filter((f) => f.endsWith('.jpg')).sort();
const work = testOutput('engine-samples');

/** The arguments of the README's `npx peaklabel prelabel --images resources/samples …` command. */
function readmeCommand(): string[] {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const line = readme.split('\n').find((l) => l.includes('npx peaklabel prelabel --images resources/samples'));
  if (!line) throw new Error('README.md has no `npx peaklabel prelabel --images resources/samples` command');
  return line.slice(line.indexOf('npx peaklabel') + 'npx peaklabel'.length).split('#')[0].trim().split(/\s+/);
}

describe('resources/samples', () => {
  it('ships 4–8 small JPEGs, each with its source and licence in README.md', async () => {
    expect(photos.length).toBeGreaterThanOrEqual(4);
    expect(photos.length).toBeLessThanOrEqual(8);
    const readme = readFileSync(join(samples, 'README.md'), 'utf8');
    for (const f of photos) {
      expect(statSync(join(samples, f)).size).toBeLessThanOrEqual(150 * 1024);
      const m = await sharp(join(samples, f)).metadata();
      expect(m.format).toBe('jpeg');
      expect(Math.max(m.width!, m.height!)).toBeLessThanOrEqual(640);
      const row = readme.split('\n').find((l) => l.startsWith(`| \`${f}\``));
      expect(row, `${f} has no row in resources/samples/README.md`).toBeDefined();
      expect(row).toMatch(/public domain|CC0/);
    }
  });
});

describe('the README first command (one-shot prelabel of the samples, with --preview)', () => {
  const args = readmeCommand();
  const out = join(work, args[args.indexOf('--out') + 1]);
  const previews = join(work, args[args.indexOf('--preview') + 1]);
  let r: ReturnType<typeof spawnSync>;

  beforeAll(() => {
    rmSync(work, { recursive: true, force: true });
    // Paths in the command are relative to the clone; outputs go to test-output/ instead of the clone.
    const run = args.map((a, i) => (args[i - 1] === '--out' || args[i - 1] === '--preview' ? join(work, a) : a));
    r = spawnSync(process.execPath, [join(repoRoot, 'bin', 'peaklabel.mjs'), ...run], {
      cwd: repoRoot,
      encoding: 'utf8',
      env: { ...process.env, PEAKLABEL_SHARED: join(work, 'no-shared-here'), PEAKLABEL_CACHE_DIR: join(work, 'cache') },
      timeout: 600_000,
    });
  }, 600_000);

  it('writes a COCO file with every sample and suggestions of the tagged classes', () => {
    expect(r.status, String(r.stderr)).toBe(0);
    const { dataset, problems } = parseCoco(JSON.parse(readFileSync(out, 'utf8')), out);
    expect(problems).toEqual([]);
    expect(dataset.images.map((i) => i.file_name)).toEqual(photos);
    const names = new Map(dataset.categories.map((c) => [c.id, c.name]));
    const tags = new Map(readFileSync(join(samples, 'tags.csv'), 'utf8').trim().split('\n').map((l) => l.split(',') as [string, string]));
    for (const im of dataset.images) {
      const anns = dataset.annotations.filter((a) => a.image_id === im.id);
      expect(anns.length, im.file_name).toBeGreaterThan(0);
      for (const a of anns) expect(names.get(a.category_id)).toBe(tags.get(im.file_name));
    }
  });

  it('draws one preview PNG per image, at the image size, with the masks visibly painted', async () => {
    const { dataset } = parseCoco(JSON.parse(readFileSync(out, 'utf8')), out);
    expect(readdirSync(previews).sort()).toEqual(photos.map((p) => `${p}.png`));
    for (const im of dataset.images) {
      const png = join(previews, `${im.file_name}.png`);
      const meta = await sharp(png).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['png', im.width, im.height]);
      const drawn = await sharp(png).removeAlpha().raw().toBuffer();
      const original = await sharp(join(samples, im.file_name)).toColourspace('srgb').removeAlpha().raw().toBuffer();
      expect(original.length).toBe(drawn.length);
      // Inside the image's best mask most pixels change colour; far from every mask and label, none do.
      const best = dataset.annotations.filter((a) => a.image_id === im.id).sort((a, b) => b.score! - a.score!)[0];
      const mask = decodeRle(best.segmentation as { size: [number, number]; counts: string });
      let inside = 0, changed = 0;
      for (let i = 0; i < mask.data.length; i++) {
        if (!mask.data[i]) continue;
        inside++;
        const d = Math.abs(drawn[i * 3] - original[i * 3]) + Math.abs(drawn[i * 3 + 1] - original[i * 3 + 1]) + Math.abs(drawn[i * 3 + 2] - original[i * 3 + 2]);
        if (d > 24) changed++;
      }
      expect(inside).toBeGreaterThan(0);
      expect(changed / inside, im.file_name).toBeGreaterThan(0.5);
    }
  });
});
