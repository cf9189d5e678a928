// The project screen's Import… dialog: a tags CSV shows in the grid's tag filter, COCO annotations
// imported as prior labels show in the instance counts, and a malformed file is the service's sentence
// in the dialog with nothing changed.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Page } from 'playwright-core';
import type { PeakLabelApi } from '../../src/common/api';
import type { Bridge } from '../../src/main/bridge/server';
import { sharedPath, testOutput } from '../helpers/shared';
import { freshWorkDir, openSession, screenshotPath, type E2eSession } from './harness';

let bridge: Bridge;
let page: Page;
let api: PeakLabelApi; // a second client of the same service, to check what the UI stored
let errors: string[];
const work = testOutput('e2e', 'import-dialog');

let session: E2eSession;

beforeAll(async () => {
  freshWorkDir(work);
  session = await openSession();
  ({ bridge, api, page, errors } = session);
});

afterAll(async () => {
  await session?.close();
});

interface Coco {
  images: { id: number; file_name: string }[];
  annotations: { image_id: number }[];
  categories: unknown[];
}

/** The pennfudan ground truth restricted to its first `n` images. */
function cocoSubset(n: number): { coco: Coco; instances: number } {
  const full = JSON.parse(readFileSync(sharedPath('data', 'pennfudan', 'instances.json'), 'utf8')) as Coco;
  const images = full.images.slice(0, n);
  const ids = new Set(images.map((im) => im.id));
  const annotations = full.annotations.filter((a) => ids.has(a.image_id));
  return { coco: { ...full, images, annotations }, instances: annotations.length };
}

async function importFile(kind: string, path: string): Promise<void> {
  await page.getByTestId('open-import').click();
  await page.getByTestId(`import-kind-${kind}`).check();
  await page.getByTestId('import-path').fill(path);
}

const gridTotal = () => page.getByTestId('grid-total').textContent();

test('import tags from a CSV and COCO annotations as prior labels; a malformed file is a sentence', async () => {
  await api.createProject(join(work, 'import.peaklabel'));
  await api.addImageFolder(sharedPath('data', 'pennfudan', 'images'));
  await page.goto(bridge.url);
  await expect.poll(gridTotal).toMatch(/^107 images/);

  // Tags CSV: two project images, one name the project does not have. Enter submits.
  const csv = join(work, 'tags.csv');
  writeFileSync(csv, 'file,tags\nFudanPed00004.png,person;street\nFudanPed00006.png,person\nnot-in-project.png,person\n');
  await importFile('tags-csv', csv);
  await page.getByTestId('import-path').press('Enter');
  await expect.poll(() => page.getByTestId('import-result').textContent().catch(() => ''))
    .toContain('Tags imported: 2 images matched, 3 tags added, 1 name matched no project image.');
  expect(await page.getByTestId('import-result').textContent()).toContain('not-in-project.png');
  // Escape closes the dialog, even from the path field.
  await page.getByTestId('import-path').press('Escape');
  await expect.poll(() => page.getByTestId('import-dialog').count()).toBe(0);
  await page.getByTestId('tag-filter').fill('person');
  await expect.poll(gridTotal).toMatch(/^2 images/);
  await page.getByTestId('tag-filter').fill('street');
  await expect.poll(gridTotal).toMatch(/^1 image\b/);
  await expect.poll(() => page.getByTestId('tile').first().locator('.tags').textContent()).toBe('personstreet');
  await page.getByTestId('tag-filter').fill('');
  await expect.poll(gridTotal).toMatch(/^107 images/);

  // A malformed CSV (line 3 has no tags column): the service's sentence, and no tag from its good line.
  const badCsv = join(work, 'bad-tags.csv');
  writeFileSync(badCsv, 'FudanPed00007.png,bogus\nFudanPed00008.png,person\nFudanPed00012.png\n');
  await importFile('tags-csv', badCsv);
  await page.getByTestId('import-run').click();
  await expect.poll(() => page.getByTestId('import-error').textContent().catch(() => '')).toContain(`${badCsv} line 3`);
  expect(await page.getByTestId('import-result').count()).toBe(0);
  expect((await api.listImages({ offset: 0, limit: 1, tag: 'bogus' })).total).toBe(0);

  // COCO annotations as prior labels: suggestions on three images, the "person" category becomes a class.
  const { coco, instances } = cocoSubset(3);
  const cocoPath = join(work, 'prior.json');
  writeFileSync(cocoPath, JSON.stringify(coco));
  await page.getByTestId('import-kind-coco-annotations').check();
  await page.getByTestId('import-as-prior').check();
  await page.getByTestId('import-path').fill(cocoPath);
  await page.getByTestId('import-run').click();
  await expect.poll(() => page.getByTestId('import-result').textContent().catch(() => ''))
    .toContain(`Imported ${instances} instances on 3 images in 1 category as suggestions to review.`);
  expect(await page.getByTestId('import-error').count()).toBe(0); // the earlier error is gone
  await expect.poll(() => page.getByTestId('summary').textContent()).toContain(`${instances} suggested`);
  await expect.poll(() => page.getByTestId('class-name').first().inputValue().catch(() => '')).toBe('person');
  await page.screenshot({ path: screenshotPath('import-dialog.png') });
  const summary = await api.projectSummary();
  expect(summary.instances.suggested).toBe(instances);
  expect(summary.byStatus.suggested).toBe(3);

  // A malformed COCO file: the sentence names the file; the suggestions stay as they were.
  const badCoco = join(work, 'broken.json');
  writeFileSync(badCoco, '{"images": [');
  await page.getByTestId('import-path').fill(badCoco);
  await page.getByTestId('import-run').click();
  await expect.poll(() => page.getByTestId('import-error').textContent().catch(() => '')).toContain(`${badCoco} is not valid JSON`);
  expect((await api.projectSummary()).instances.suggested).toBe(instances);
  await page.getByTestId('import-dialog').getByRole('button', { name: 'Close', exact: true }).click();
  await expect.poll(() => page.getByTestId('import-dialog').count()).toBe(0);
  await page.getByTestId('status-filters').getByRole('button', { name: /Suggested/ }).click();
  await expect.poll(gridTotal).toMatch(/^3 images/);
  expect(errors).toEqual([]);
});
