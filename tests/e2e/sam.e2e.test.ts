// Issue 10 end-to-end with method sam: open an image (the canvas says the embedding is being computed, then
// ready), click a peak for its segment-anything mask, refine it with a Shift+click inside and an Alt+click
// outside (live preview), accept with Enter (the refinement saved as one edit), and export COCO.
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Page } from 'playwright-core';
import type { ImageRow } from '../../src/common/api';
import { decodeRle, rleIou } from '../../src/common/rle';
import { engineFactory } from '../../src/main/api/engine-methods';
import { fitView, imageToScreen } from '../../src/renderer/src/canvas/view';
import { sharedPath, testOutput } from '../helpers/shared';
import { freshWorkDir, openSession, screenshotPath, type E2eSession } from './harness';

const work = testOutput('e2e', 'sam');
let session: E2eSession;
let page: Page;

beforeAll(async () => {
  freshWorkDir(work);
  session = await openSession({ engine: engineFactory({ cacheDir: null, method: 'sam' }) });
  page = session.page;
});

afterAll(async () => {
  await session?.close();
});

async function toPage(row: ImageRow, x: number, y: number): Promise<{ x: number; y: number }> {
  const box = (await page.getByTestId('canvas').boundingBox())!;
  const s = imageToScreen(fitView(row.width, row.height, box.width, box.height), x, y);
  return { x: box.x + s.x, y: box.y + s.y };
}

async function clickWith(key: 'Shift' | 'Alt', at: { x: number; y: number }): Promise<void> {
  await page.keyboard.down(key);
  await page.mouse.click(at.x, at.y);
  await page.keyboard.up(key);
}

const pixel = (rle: { size: [number, number]; counts: string }, x: number, y: number) => {
  const m = decodeRle(rle);
  return m.data[y * m.width + x];
};

test('click a peak → sam mask → Shift+click and Alt+click refine it → accept → export', async () => {
  const { api } = session;
  const images = join(work, 'images');
  mkdirSync(images, { recursive: true });
  copyFileSync(sharedPath('data', 'pennfudan', 'images', 'FudanPed00004.png'), join(images, 'FudanPed00004.png'));
  await api.createProject(join(work, 'sam.peaklabel'));
  await api.saveClass({ name: 'person' });
  await api.addImageFolder(images);
  const [row] = (await api.listImages({ offset: 0, limit: 10 })).items;
  await api.setTags([row.id], ['person'], []);
  expect((await api.engineInfo()).methods).toContain('sam');

  await page.goto(session.bridge.url);
  await page.getByTestId('tile').first().dblclick();
  await page.getByTestId('canvas').waitFor();
  // The embedding is computed when the image opens; the canvas says so, then says SAM is ready.
  await expect.poll(() => page.getByTestId('embedding-status').getAttribute('data-state').catch(() => null), { timeout: 90_000 }).toBe('ready');
  await expect.poll(() => page.locator('.foot').textContent(), { timeout: 60_000 }).toMatch(/peaks \d+ ms/);

  // The strongest peak on the large person (x 167–324): its suggestion is drawn by the segmenter.
  const peaks = (await api.findPeaks(row.id)).filter((p) => p.x > 167 && p.x < 324).sort((a, b) => b.score - a.score);
  expect(peaks.length).toBeGreaterThan(0);
  await page.mouse.click(...Object.values(await toPage(row, peaks[0].x, peaks[0].y)) as [number, number]);
  await expect.poll(async () => (await api.listInstances(row.id)).length, { timeout: 60_000 }).toBe(1);
  const [suggested] = await api.listInstances(row.id);
  expect(suggested).toMatchObject({ source: 'suggested', method: 'sam' });

  // Refine: a point inside on the front leg, one outside right of the person. The preview changes, nothing is saved yet.
  const inside = { x: 199, y: 300 };
  const outside = { x: 340, y: 200 };
  await clickWith('Shift', await toPage(row, inside.x, inside.y));
  await clickWith('Alt', await toPage(row, outside.x, outside.y));
  // The preview of all three points (the peak, inside, outside) is shown; the stored mask is still the
  // suggestion until the person accepts.
  await expect.poll(() => page.getByTestId('prompt-status').getAttribute('data-shown').catch(() => null), { timeout: 30_000 }).toBe('3');
  expect(await page.getByTestId('notice-error').count()).toBe(0);
  await expect.poll(async () => (await api.listInstances(row.id))[0].mask.counts).toBe(suggested.mask.counts);
  await page.screenshot({ path: screenshotPath('sam-refine.png') });

  // Enter saves the refinement: the suggestion becomes the person's edited instance (one undo step).
  await page.keyboard.press('Enter');
  await expect.poll(async () => (await api.listInstances(row.id))[0].source, { timeout: 30_000 }).toBe('edited');
  const [accepted] = await api.listInstances(row.id);
  expect(pixel(accepted.mask, inside.x, inside.y)).toBe(1);
  expect(pixel(accepted.mask, outside.x, outside.y)).toBe(0);
  expect(rleIou(accepted.mask, suggested.mask)).toBeGreaterThan(0.3); // the same person, refined
  // One undo step undoes the whole refinement: the suggestion again; redo brings the refined mask back.
  await page.getByTestId('undo').click();
  await expect.poll(async () => (await api.listInstances(row.id))[0].source).toBe('suggested');
  expect((await api.listInstances(row.id))[0].mask.counts).toBe(suggested.mask.counts);
  await page.getByTestId('redo').click();
  await expect.poll(async () => (await api.listInstances(row.id))[0].mask.counts).toBe(accepted.mask.counts);

  await page.getByTestId('open-export').click();
  const out = join(work, 'export.json');
  await page.getByTestId('export-path').fill(out);
  await page.getByTestId('export-run').click();
  await expect.poll(() => page.getByTestId('export-result').textContent().catch(() => ''), { timeout: 60_000 }).toMatch(/Wrote\s+1\s+annotations/);
  const coco = JSON.parse(readFileSync(out, 'utf8'));
  expect(coco.annotations).toHaveLength(1);
  expect(session.errors).toEqual([]);
});
