// `peaklabel bench train`: project-head training on N generated 1024×768 JPEGs (default 2,000): half show
// a few discs of the class "disc", half only the background texture (tagged "texture", so negatives).
// Prints the feature caching rate (target ≥ 10 images/s), the training time from an empty feature cache
// (target ≤ 10 min for 2,000 images), a second run on the warm cache, and peak RSS.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PeakLabelError } from '../../common/errors';
import { seededRandom } from '../../common/random';
import { ServiceContext } from '../api/context';
import { createEngineMethods } from '../api/engine-methods';
import { createService } from '../api/service';
import { parseOptions } from '../cli/args';
import type { BenchSuite } from '../cli/commands/bench';
import { formatTable, generateImages, H, peakRssMb, W } from './import';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..');

const isPositive = (i: number) => i % 2 === 0;

/** Positive images (even i) get 1–3 red discs, the class the bench trains. */
function discs(i: number): Buffer | null {
  if (!isPositive(i)) return null;
  const rand = seededRandom(i + 1);
  const circles = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => {
    const r = 40 + rand() * 80;
    return `<circle cx="${(r + rand() * (W - 2 * r)).toFixed(0)}" cy="${(r + rand() * (H - 2 * r)).toFixed(0)}" r="${r.toFixed(0)}" fill="#d02020" stroke="#ffffff" stroke-width="6"/>`;
  });
  return Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}">${circles.join('')}</svg>`);
}

export const suite: BenchSuite = {
  name: 'train',
  summary: 'project-head training time and feature caching rate on generated images',
  async run(args, ctx) {
    const { values } = parseOptions('bench train', args, { images: { type: 'string' }, dir: { type: 'string' }, epochs: { type: 'string' }, workers: { type: 'string' } });
    const n = Number(values.images ?? 2000);
    if (!Number.isInteger(n) || n < 20) throw new PeakLabelError('BAD_ARGUMENT', `bench train: --images must be an integer ≥ 20, not "${values.images}".`);
    const dir = resolve(values.dir ?? join(repoRoot, 'test-output', 'bench', `train-${n}`));
    await generateImages(dir, n, ctx, discs);
    const out = join(repoRoot, 'test-output', 'bench', 'train');
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out, { recursive: true });
    const project = join(out, 'train-bench.peaklabel');
    const service = new ServiceContext();
    const workers = Number(values.workers ?? 2);
    const engine = createEngineMethods(service, { cacheDir: null, workers });
    const api = createService(service, engine);
    try {
      await api.createProject(project);
      await api.saveClass({ name: 'disc' });
      await api.addImageFolder(dir);
      const page = await api.listImages({ offset: 0, limit: 10_000 });
      const pos = page.items.filter((im) => isPositive(Number(/gen-(\d+)/.exec(im.fileName)![1]))).map((im) => im.id);
      const neg = page.items.filter((im) => !pos.includes(im.id)).map((im) => im.id);
      await api.setTags(pos, ['disc'], []);
      await api.setTags(neg, ['texture'], []);
      await api.engineInfo(); // open the engine first: its start-up is not training time
      const epochs = values.epochs ? Number(values.epochs) : undefined;
      const cold0 = performance.now();
      const cold = await api.trainHead({ epochs });
      const coldSeconds = (performance.now() - cold0) / 1000;
      const warm0 = performance.now();
      const warm = await api.trainHead({ epochs });
      const warmSeconds = (performance.now() - warm0) / 1000;
      const h = cold.head!;
      const rate = h.featuresComputed / h.featureSeconds;
      const rss = peakRssMb();
      ctx.out(formatTable([
        ['measure', 'value', 'target'],
        ['images (tagged; held out)', `${h.trainImages + h.heldOutImages} (${h.heldOutImages})`, `${n}`],
        [`features cached (${workers} workers)`, `${h.featuresComputed} in ${h.featureSeconds.toFixed(1)} s = ${rate.toFixed(1)} images/s`, '≥ 10 images/s'],
        ['train, empty cache (s)', coldSeconds.toFixed(1), '≤ 600'],
        [`train, warm cache (s, ${warm.head!.curve.length} epochs)`, warmSeconds.toFixed(1), ''],
        ['held-out AP (disc)', h.mAPAfter === null ? '–' : (h.mAPAfter * 100).toFixed(1), ''],
        ['peak RSS (MB)', rss.toFixed(0), ''],
      ]));
      writeFileSync(join(repoRoot, 'test-output', 'bench', 'train.json'), JSON.stringify({ images: n, workers, coldSeconds, warmSeconds, featuresPerSecond: rate, heldOutAp: h.mAPAfter, peakRssMb: rss, epochs: h.curve.length }, null, 2));
      return coldSeconds <= 600 && rate >= 10 ? 0 : 1;
    } finally {
      await engine.closeEngine();
      service.close();
    }
  },
};
