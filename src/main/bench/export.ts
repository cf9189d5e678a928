// `peaklabel bench export`: exports a generated project of N images / M instances (default
// 10,000 / 100,000, 640×480, ellipse masks) to COCO as polygons and as RLE, each in a fresh child
// process, and prints seconds and memory (target ≤ 20 s, flat memory: RSS at 10% ≈ RSS at 90%).
import { spawnSync } from 'node:child_process';
import { peakRssMb } from './import';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PeakLabelError } from '../../common/errors';
import { createMask } from '../../common/mask';
import { encodeMask } from '../../common/rle';
import { ServiceContext } from '../api/context';
import { createService } from '../api/service';
import { parseOptions } from '../cli/args';
import type { BenchSuite } from '../cli/commands/bench';
import type { CliContext } from '../cli/types';
import { ProjectStore, type NewImage } from '../store/project-store';
import { poolStats } from '../coco/export-pool';
import { formatTable } from './import';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..');
const W = 640, H = 480;

function ellipse(cx: number, cy: number, rx: number, ry: number) {
  const m = createMask(W, H);
  for (let y = Math.max(0, cy - ry); y < Math.min(H, cy + ry + 1); y++) {
    for (let x = Math.max(0, cx - rx); x < Math.min(W, cx + rx + 1); x++) {
      if (((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1) m.data[y * W + x] = 1;
    }
  }
  return encodeMask(m);
}

/** Builds the project straight through the store (no image files: export reads only the database). */
function generate(path: string, images: number, instances: number, ctx: CliContext): void {
  if (existsSync(path)) {
    const s = ProjectStore.open(path);
    const ok = s.summary().images === images && s.summary().instances.accepted === instances;
    s.close();
    if (ok) return;
    rmSync(path, { force: true });
  }
  ctx.err(`generating a project of ${images} images and ${instances} instances in ${path} (once)…`);
  mkdirSync(join(path, '..'), { recursive: true });
  const s = ProjectStore.create(path);
  const classes = ['person', 'car', 'dog', 'cat', 'bird'].map((name) => s.ensureClass(name).id);
  let seed = 1;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const masks = Array.from({ length: 64 }, () => ellipse(40 + Math.floor(rand() * 560), 40 + Math.floor(rand() * 400), 8 + Math.floor(rand() * 90), 8 + Math.floor(rand() * 70)));
  const thumb = { width: 1, height: 1, jpeg: new Uint8Array([0xff, 0xd8, 0xff, 0xd9]) };
  const perImage = Math.floor(instances / images);
  let made = 0;
  for (let start = 0; start < images; start += 1000) {
    const batch: NewImage[] = [];
    for (let i = start; i < Math.min(images, start + 1000); i++) {
      batch.push({ path: `/bench/images/img-${String(i).padStart(6, '0')}.jpg`, hash: `h${i}`, width: W, height: H, orientation: 1, fileSize: 0, workingCopy: null, thumbnail: thumb });
    }
    const ids = s.insertImages(batch);
    s.transaction(() => {
      for (const [k, id] of ids.entries()) {
        const n = start + k === images - 1 ? instances - made : perImage;
        s.insertInstancesBulk(id, Array.from({ length: n }, (_, j) => ({
          classId: classes[(id + j) % classes.length], mask: masks[(id * 7 + j) % masks.length], source: 'accepted' as const, score: 0.5,
        })));
        made += n;
      }
    });
  }
  s.close();
}

interface Measured { workerChunks: number; inlineChunks: number; format: string; seconds: number; cpuSeconds: number; annotations: number; rssAt10Mb: number; rssAt90Mb: number; peakRssMb: number; bytes: number }

async function measure(project: string, out: string, format: 'polygon' | 'rle'): Promise<Measured> {
  const ctx = new ServiceContext();
  const api = createService(ctx);
  await api.openProject(project);
  let rssAt10 = 0, rssAt90 = 0;
  api.onProgress((e) => {
    if (!rssAt10 && e.done >= e.total * 0.1) rssAt10 = process.memoryUsage().rss;
    if (!rssAt90 && e.done >= e.total * 0.9) rssAt90 = process.memoryUsage().rss;
  });
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const r = await api.exportCoco({ out, format });
  const seconds = (performance.now() - t0) / 1000;
  const c1 = process.cpuUsage(c0);
  const cpuSeconds = (c1.user + c1.system) / 1e6;
  ctx.close();
  const { statSync } = await import('node:fs');
  const mb = (b: number) => b / 1024 / 1024;
  return { ...poolStats, format, seconds, cpuSeconds, annotations: r.annotations, rssAt10Mb: mb(rssAt10), rssAt90Mb: mb(rssAt90), peakRssMb: peakRssMb(), bytes: statSync(out).size };
}

export const suite: BenchSuite = {
  name: 'export',
  summary: 'COCO export time and memory on a generated 10,000-image / 100,000-instance project',
  async run(args, ctx) {
    const { values } = parseOptions('bench export', args, {
      images: { type: 'string' }, instances: { type: 'string' }, 'measure-child': { type: 'string' }, project: { type: 'string' }, out: { type: 'string' },
    });
    if (values['measure-child']) {
      ctx.out(JSON.stringify(await measure(values.project!, values.out!, values['measure-child'] as 'polygon' | 'rle')));
      return 0;
    }
    const images = Number(values.images ?? 10_000), instances = Number(values.instances ?? 100_000);
    if (!(images > 0 && instances >= images)) throw new PeakLabelError('BAD_ARGUMENT', 'bench export: --images must be positive and --instances at least as many.');
    const dir = join(repoRoot, 'test-output', 'bench');
    const project = join(dir, `export-${images}-${instances}.peaklabel`);
    generate(project, images, instances, ctx);
    const rows: [string, string, string][] = [['format', 'result', 'target']];
    let pass = true;
    const runChild = (format: string, extraNodeArgs: string[] = []) => {
      const child = spawnSync(process.execPath, [...extraNodeArgs, join(repoRoot, 'bin', 'peaklabel.mjs'), 'bench', 'export', '--measure-child', format, '--project', project, '--out', join(dir, `export-${format}.json`)], {
        encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, PEAKLABEL_CONFIG_DIR: join(dir, 'config') },
      });
      return child.status === 0 ? (JSON.parse(child.stdout.trim().split('\n').pop()!) as Measured) : null;
    };
    for (const format of ['polygon', 'rle'] as const) {
      const m = runChild(format);
      if (!m) throw new PeakLabelError('INTERNAL', `bench export: the measuring process for ${format} failed.`);
      pass &&= m.seconds <= 20 && m.annotations === instances;
      rows.push([`${format}: seconds (wall)`, m.seconds.toFixed(2), '≤ 20']);
      rows.push([`${format}: CPU seconds (this process)`, m.cpuSeconds.toFixed(2), '']);
      rows.push([`${format}: annotations, file MB`, `${m.annotations}, ${(m.bytes / 1048576).toFixed(0)}`, `${instances}`]);
      rows.push([`${format}: RSS at 10% → 90% (MB)`, `${m.rssAt10Mb.toFixed(0)} → ${m.rssAt90Mb.toFixed(0)}`, 'flat']);
      rows.push([`${format}: peak RSS (MB)`, m.peakRssMb.toFixed(0), '']);
      rows.push([`${format}: chunks in workers / main thread`, `${m.workerChunks} / ${m.inlineChunks}`, '']);
    }
    // Flat memory, shown directly: the whole polygon export also runs with the JS heap capped at 64 MB.
    const capped = runChild('polygon', ['--max-old-space-size=64']);
    rows.push(['polygon with a 64 MB JS heap cap', capped ? `completes, peak RSS ${capped.peakRssMb.toFixed(0)} MB` : 'FAILS', 'completes']);
    pass &&= capped !== null;
    ctx.out(formatTable(rows));
    return pass ? 0 : 1;
  },
};
