// The README's pictures of the app: a project of resources/samples pre-labelled with the default method,
// its project screen and its editor on two of the photos, shot in headless Chromium against the real services
// (the same harness as the e2e tests) and written to docs/img as WebP.
//   npx tsx tools/screenshots.ts
// Only the sample photos are used: ../shared's images may not be published.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { engineFactory } from '../src/main/api/engine-methods';
import { openSession } from '../tests/e2e/harness';

const repo = join(import.meta.dirname, '..');
const samples = join(repo, 'resources', 'samples');
const outDir = join(repo, 'docs', 'img');
const work = join(repo, 'test-output', 'screenshots');
/** The photos whose editor view the README shows. */
const SHOWN = ['astronaut.jpg', 'chelsea.jpg'];

async function save(png: Buffer, name: string): Promise<void> {
  const file = join(outDir, `${name}.webp`);
  await sharp(png).resize({ width: 1200 }).webp({ quality: 82 }).toFile(file);
  console.log(`${file}`);
}

async function main(): Promise<void> {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  mkdirSync(outDir, { recursive: true });
  process.env.PEAKLABEL_CONFIG_DIR = join(work, 'config');
  const session = await openSession({ engine: engineFactory({ cacheDir: null, method: 'sam' }) });
  try {
    const { api, page } = session;
    await api.createProject(join(work, 'samples.peaklabel'));
    await api.addImageFolder(samples);
    await api.importTagsCsv(join(samples, 'tags.csv'));
    const run = await api.prelabel({ method: 'sam' });
    if (run.failed.length) throw new Error(`prelabel failed: ${run.failed.map((f) => f.message).join('; ')}`);
    console.log(`pre-labelled ${run.images} images: ${run.instances} suggestions`);

    await page.goto(session.bridge.url);
    await page.getByTestId('tile').first().waitFor();
    await page.waitForLoadState('networkidle');
    await save(await page.screenshot(), 'project');

    await page.getByTestId('tile').first().dblclick();
    await page.getByTestId('canvas').waitFor();
    for (let n = 0; n < run.images; n++) {
      await page.waitForLoadState('networkidle');
      await page.waitForTimeout(1500); // the embedding and the overlays settle
      await page.keyboard.press('Tab'); // select the best suggestion, as an annotator starts
      await page.waitForTimeout(300);
      const current = (await page.locator('.bar .file').textContent())?.trim() ?? '';
      if (SHOWN.includes(current)) await save(await page.screenshot(), `editor-${current.replace(/\.[a-z]+$/i, '')}`);
      await page.keyboard.press('d');
    }
  } finally {
    await session.close();
  }
}

await main();
