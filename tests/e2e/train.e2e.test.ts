// Issue 12 end-to-end in the UI: a project with the class "balloon" (which the built-in VOC head lacks),
// the balloon dev images plus PennFudan's as negatives, tags from their COCO files through Import…,
// Train on the project screen (progress, a chart of loss and held-out AP, the head in use), then in the
// editor a click on a balloon with "balloon" active gives a mask of that balloon.
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Page } from 'playwright-core';
import type { ImageRow, PeakLabelApi } from '../../src/common/api';
import { parseCoco } from '../../src/common/coco/parse';
import { segmentationToMask } from '../../src/common/coco/segmentation';
import { decodeRle } from '../../src/common/rle';
import { maskIou } from '../../src/common/mask';
import type { Bridge } from '../../src/main/bridge/server';
import { engineFactory } from '../../src/main/api/engine-methods';
import { fitView, imageToScreen } from '../../src/renderer/src/canvas/view';
import { sharedPath, testOutput } from '../helpers/shared';
import { createProjectWithClass, freshWorkDir, openSession, screenshotPath, type E2eSession } from './harness';

let bridge: Bridge;
let page: Page;
let api: PeakLabelApi;
let errors: string[];
let session: E2eSession;
const work = testOutput('e2e', 'train');

beforeAll(async () => {
  freshWorkDir(work);
  session = await openSession({ engine: engineFactory({ cacheDir: join(work, 'proposals') }) });
  ({ bridge, api, page, errors } = session);
});

afterAll(async () => {
  await session?.close();
});

async function importTags(file: string): Promise<void> {
  await page.getByTestId('open-import').click();
  await page.getByTestId('import-kind-tags-coco').check();
  await page.getByTestId('import-path').fill(file);
  await page.getByTestId('import-run').click();
  await expect.poll(() => page.getByTestId('import-result').textContent().catch(() => ''), { timeout: 60_000 }).toMatch(/Tags imported: \d+ images matched/);
  await page.getByTestId('import-dialog').getByRole('button', { name: 'Close', exact: true }).click();
  await expect.poll(() => page.getByTestId('import-dialog').count()).toBe(0);
}

test('train on the balloon dev images, then a click on a balloon gives its mask', async () => {
  await page.goto(bridge.url);
  await createProjectWithClass(page, join(work, 'balloon.peaklabel'), 'balloon');
  // Before any tag: the panel says what "balloon" needs, and that it gets no suggestions.
  await expect.poll(() => page.getByTestId('class-reason').first().textContent().catch(() => ''), { timeout: 60_000 }).toMatch(/Cannot train "balloon": it needs at least 5 images tagged "balloon" \(it has 0\).*no suggestions/);

  for (const set of ['balloon', 'pennfudan']) {
    await page.getByTestId('folder-path').fill(sharedPath('data', set, 'images'));
    await page.getByTestId('add-folder').click();
    await expect.poll(() => page.getByTestId('grid-total').textContent(), { timeout: 180_000 }).toMatch(set === 'balloon' ? /^44 images/ : /^151 images/);
  }
  await importTags(sharedPath('data', 'balloon', 'instances.json'));
  await importTags(sharedPath('data', 'pennfudan', 'instances.json'));
  await expect.poll(() => page.locator('[data-testid=train-class][data-class=balloon]').getAttribute('data-use'), { timeout: 30_000 }).toBe('ready');

  // Train: a progress bar with the phase and ETA, then the chart and the head in use.
  await page.getByTestId('train').click();
  await expect.poll(() => page.getByTestId('train-progress').count(), { timeout: 30_000 }).toBe(1);
  await expect.poll(() => page.getByTestId('train-eta').textContent().catch(() => ''), { timeout: 120_000 }).toMatch(/features .* left|epoch/);
  await expect.poll(() => page.getByTestId('train-chart-loss').count(), { timeout: 600_000 }).toBe(1);
  await page.screenshot({ path: screenshotPath('train-running.png') });
  await expect.poll(() => page.getByTestId('head-in-use').textContent().catch(() => ''), { timeout: 600_000 }).toMatch(/Head \d+ in use/);
  await expect.poll(() => page.locator('[data-testid=train-class][data-class=balloon]').getAttribute('data-use')).toBe('trained');
  expect(await page.getByTestId('train-chart-ap').count()).toBe(1);
  const status = await api.headStatus();
  expect(status.applied).toBe(true);
  expect(status.active!.trainedClasses).toEqual(['balloon']);
  expect(status.active!.curve.length).toBe(30);
  expect(status.active!.mAPAfter!).toBeGreaterThan(0.9);
  expect(await page.getByTestId('head-in-use').textContent()).toContain((status.active!.mAPAfter! * 100).toFixed(1));
  // balloon is no built-in concept: learnt from feature centroids, not fine-tuned
  expect(await page.locator('[data-testid=train-class][data-class=balloon] [data-testid=train-class-use]').getAttribute('title')).toBe('started from feature centroids');
  await page.screenshot({ path: screenshotPath('train-done.png') });

  // The editor: of the first balloon images in the grid, the one with the largest balloon; click its centre.
  const gt = parseCoco(JSON.parse(readFileSync(sharedPath('data', 'balloon', 'instances.json'), 'utf8')), 'balloon').dataset;
  await page.getByTestId('tag-filter').fill('balloon');
  await expect.poll(() => page.getByTestId('grid-total').textContent()).toMatch(/^44 images/);
  const shown = (await api.listImages({ offset: 0, limit: 6, tag: 'balloon' })).items;
  const byName = new Map(gt.images.map((im) => [im.file_name, im]));
  const biggest = gt.annotations
    .filter((a) => shown.some((r) => byName.get(r.fileName)?.id === a.image_id))
    .sort((a, b) => b.area - a.area)[0];
  const gtImage = gt.images.find((im) => im.id === biggest.image_id)!;
  const gtMask = segmentationToMask(biggest.segmentation, gtImage.width, gtImage.height);
  const row: ImageRow = shown.find((r) => r.fileName === gtImage.file_name)!;
  await page.getByTestId('tile').filter({ hasText: row.fileName }).dblclick();
  await page.getByTestId('canvas').waitFor();
  await expect.poll(() => page.getByTestId('editor').textContent()).toContain(row.fileName);
  await page.getByTestId('class-balloon').click();

  // centre of the balloon's box, moved onto the mask if the centre is outside it
  const [bx, by, bw, bh] = biggest.bbox;
  let cx = Math.round(bx + bw / 2), cy = Math.round(by + bh / 2);
  if (!gtMask.data[cy * gtMask.width + cx]) {
    let best = Infinity;
    for (let y = 0; y < gtMask.height; y += 4) for (let x = 0; x < gtMask.width; x += 4) {
      const d = (x - cx) ** 2 + (y - cy) ** 2;
      if (gtMask.data[y * gtMask.width + x] && d < best) [best, cx, cy] = [d, x, y];
    }
  }
  const box = (await page.getByTestId('canvas').boundingBox())!;
  const view = fitView(row.width, row.height, box.width, box.height);
  const at = imageToScreen(view, cx, cy);
  await expect.poll(() => page.locator('.foot').textContent(), { timeout: 60_000 }).toMatch(/image \d+ ms/);
  await page.mouse.click(box.x + at.x, box.y + at.y);
  await expect.poll(async () => (await api.listInstances(row.id)).length, { timeout: 120_000 }).toBe(1);
  const [inst] = await api.listInstances(row.id);
  const balloonClass = (await api.listClasses()).find((c) => c.name === 'balloon')!;
  expect(inst.classId).toBe(balloonClass.id);
  expect(inst.modelId).toBe(`${(await api.engineInfo()).modelId}+head${status.active!.id}`);
  const mask = decodeRle(inst.mask);
  const iou = maskIou(mask, gtMask);
  // the suggestion is that balloon's mask: it overlaps the balloon's ground truth substantially
  expect(iou).toBeGreaterThan(0.3);
  await page.screenshot({ path: screenshotPath('train-click.png') });
  expect(errors).toEqual([]);
}, 1_500_000);
