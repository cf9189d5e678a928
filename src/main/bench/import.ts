// `peaklabel bench import`: imports N generated 1024×768 JPEGs into a fresh project and prints
// images/s and peak RSS (target: ≥ 50 images/s, ≤ 500 MB on 2 cores). The images are generated once
// (cached under test-output/bench) and the import runs in a fresh child process, so peak RSS is the
// import's own.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { PeakLabelError } from '../../common/errors';
import { ServiceContext } from '../api/context';
import { createService } from '../api/service';
import { parseOptions } from '../cli/args';
import type { BenchSuite } from '../cli/commands/bench';
import type { CliContext } from '../cli/types';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..');
export const W = 1024, H = 768;

/**
 * A smooth, photo-like base (blurred noise); every image is a different window of it, so no duplicates.
 * `overlay(i)` may draw on image i (an SVG the image's size), e.g. objects for the training bench.
 */
export async function generateImages(dir: string, n: number, ctx: CliContext, overlay?: (i: number) => Buffer | null): Promise<void> {
  const have = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.jpg')).length : 0;
  if (have >= n) return;
  mkdirSync(dir, { recursive: true });
  ctx.err(`generating ${n} JPEGs of ${W}×${H} in ${dir} (once)…`);
  const BW = W + 256, BH = H + 192;
  const base = await sharp({ create: { width: BW, height: BH, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 128, sigma: 60 } } })
    .blur(1.2).raw().toBuffer();
  const smooth = await sharp(base, { raw: { width: BW, height: BH, channels: 3 } }).modulate({ saturation: 2 }).raw().toBuffer();
  for (let i = have; i < n; i++) {
    const left = (i * 7) % 256, top = Math.floor(i / 37) % 192;
    let img = sharp(smooth, { raw: { width: BW, height: BH, channels: 3 } })
      .extract({ left, top, width: W, height: H })
      .modulate({ brightness: 0.8 + (i % 40) / 100 });
    const svg = overlay?.(i);
    if (svg) img = sharp(await img.raw().toBuffer(), { raw: { width: W, height: H, channels: 3 } }).composite([{ input: svg }]);
    await img.jpeg({ quality: 85 }).toFile(join(dir, `gen-${String(i).padStart(5, '0')}.jpg`));
  }
}

/**
 * Peak RSS of this process in MB. VmHWM, not getrusage's maxRSS: Linux keeps ru_maxrss across exec, so
 * a child would report its parent's peak.
 */
export function peakRssMb(): number {
  try {
    const m = readFileSync('/proc/self/status', 'utf8').match(/VmHWM:\s+(\d+) kB/);
    if (m) return Number(m[1]) / 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS / 1024;
}

interface Measured { images: number; seconds: number; failed: number; peakRssMb: number }

/** The child side: import the folder into a new project, print one JSON line. */
async function measure(folder: string, project: string): Promise<Measured> {
  rmSync(project, { force: true });
  const ctx = new ServiceContext();
  const api = createService(ctx);
  await api.createProject(project);
  const t0 = performance.now();
  const r = await api.addImageFolder(folder);
  const seconds = (performance.now() - t0) / 1000;
  ctx.close();
  return { images: r.added, seconds, failed: r.failed.length, peakRssMb: peakRssMb() };
}

export function formatTable(rows: [string, string, string][]): string {
  const w = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(w[i])).join(' | ')} |`;
  return [line(rows[0]), `|${w.map((x) => '-'.repeat(x + 2)).join('|')}|`, ...rows.slice(1).map(line)].join('\n');
}

export const suite: BenchSuite = {
  name: 'import',
  summary: 'image import speed and peak RSS on generated 1024×768 JPEGs',
  async run(args, ctx) {
    const { values } = parseOptions('bench import', args, {
      images: { type: 'string' }, dir: { type: 'string' }, 'measure-child': { type: 'string' }, project: { type: 'string' },
    });
    if (values['measure-child']) {
      ctx.out(JSON.stringify(await measure(values['measure-child'], values.project!)));
      return 0;
    }
    const n = Number(values.images ?? 2000);
    if (!Number.isInteger(n) || n <= 0) throw new PeakLabelError('BAD_ARGUMENT', `bench import: --images must be a positive integer, not "${values.images}".`);
    const dir = resolve(values.dir ?? join(repoRoot, 'test-output', 'bench', `import-${n}`));
    await generateImages(dir, n, ctx);
    const project = join(repoRoot, 'test-output', 'bench', 'import-bench.peaklabel');
    const child = spawnSync(process.execPath, [join(repoRoot, 'bin', 'peaklabel.mjs'), 'bench', 'import', '--measure-child', dir, '--project', project], {
      encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, PEAKLABEL_CONFIG_DIR: join(repoRoot, 'test-output', 'bench', 'config') },
    });
    if (child.status !== 0) throw new PeakLabelError('INTERNAL', `bench import: the measuring process failed (exit ${child.status}).`);
    const m = JSON.parse(child.stdout.trim().split('\n').pop()!) as Measured;
    const rate = m.images / m.seconds;
    ctx.out(formatTable([
      ['measure', 'value', 'target'],
      ['images imported', `${m.images} (${m.failed} failed)`, `${n}`],
      ['seconds', m.seconds.toFixed(2), ''],
      ['images/s', rate.toFixed(1), '≥ 50'],
      ['peak RSS (MB)', m.peakRssMb.toFixed(0), '≤ 500'],
    ]));
    writeFileSync(join(repoRoot, 'test-output', 'bench', 'import.json'), JSON.stringify({ ...m, imagesPerSecond: rate }, null, 2));
    return rate >= 50 && m.peakRssMb <= 500 && m.images === n ? 0 : 1;
  },
};
