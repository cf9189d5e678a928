// Browse… buttons with native dialogs: the bridge's service gets a fake chooser (standing in for the
// desktop app's OS dialogs), so the buttons appear; a chosen path fills its field, a cancel leaves the
// typed text, and the chosen paths work (create the project, add its folder, export).
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Page } from 'playwright-core';
import type { ChoosePathRequest, PathPurpose } from '../../src/common/api';
import { testOutput } from '../helpers/shared';
import { freshWorkDir, openSession, screenshotPath, type E2eSession } from './harness';

const work = testOutput('e2e', 'browse');
const images = join(work, 'images');
const chosen: Partial<Record<PathPurpose, string>> = {
  'new-project': join(work, 'chosen.peaklabel'),
  'image-folder': images,
  'export-coco': join(work, 'picked.json'),
}; // purposes not listed answer null: the user cancelled
const asked: ChoosePathRequest[] = [];
let session: E2eSession;
let page: Page;

beforeAll(async () => {
  freshWorkDir(work);
  mkdirSync(images);
  await sharp({ create: { width: 64, height: 48, channels: 3, background: '#3366cc' } }).png().toFile(join(images, 'one.png'));
  session = await openSession({
    pathChooser: async (req) => {
      asked.push(req);
      return chosen[req.purpose] ?? null;
    },
  });
  page = session.page;
});

afterAll(async () => {
  await session?.close();
});

const value = (testid: string) => page.getByTestId(testid).inputValue();

test('Browse… fills path fields from the dialog; cancel keeps what was typed', async () => {
  await page.goto(session.bridge.url);
  await page.getByTestId('create-path-browse').waitFor();
  expect(await page.getByRole('button', { name: 'Browse…' }).count()).toBe(2);

  // Cancelled: the typed text stays. The next Browse's answer arrives after the cancel's (one socket, in order).
  await page.getByTestId('open-path').fill('typed.peaklabel');
  await page.getByTestId('open-path-browse').click();
  await page.getByTestId('create-path-browse').click();
  await expect.poll(() => value('create-path')).toBe(chosen['new-project']);
  expect(await value('open-path')).toBe('typed.peaklabel');
  await page.screenshot({ path: screenshotPath('browse-start.png') });

  await page.getByTestId('create-project').click();
  await page.getByTestId('folder-path-browse').click();
  await expect.poll(() => value('folder-path')).toBe(images);
  await page.getByTestId('add-folder').click();
  await expect.poll(() => page.getByTestId('grid-total').textContent()).toMatch(/^1 image/);
  await page.screenshot({ path: screenshotPath('browse-project.png') });

  await page.getByTestId('open-export').click();
  const suggested = await value('export-path');
  await page.getByTestId('export-path-browse').click();
  await expect.poll(() => value('export-path')).toBe(chosen['export-coco']);
  await page.screenshot({ path: screenshotPath('browse-export.png') });
  await page.getByTestId('export-run').click();
  await expect.poll(() => page.getByTestId('export-result').textContent().catch(() => '')).toContain(chosen['export-coco']);
  expect(existsSync(chosen['export-coco']!)).toBe(true);

  // Each dialog started from the field's text (none when it was empty).
  expect(asked).toEqual([
    { purpose: 'open-project', defaultPath: 'typed.peaklabel' },
    { purpose: 'new-project' },
    { purpose: 'image-folder' },
    { purpose: 'export-coco', defaultPath: suggested },
  ]);
  expect(suggested).toBe(join(work, 'chosen.coco.json')); // the dialog's default: beside the project
  expect(session.errors).toEqual([]);
});
