// Issue 6: the Settings panel edits the engine settings end to end — change a threshold, save (the
// engine restarts), reopen the panel and see the saved value, which the service also reports; Escape
// closes it from a text field.
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Page } from 'playwright-core';
import { engineFactory } from '../../src/main/api/engine-methods';
import { readBundle } from '../../src/main/engine/bundle';
import { engineSettingsFile } from '../../src/main/engine/settings';
import { testOutput } from '../helpers/shared';
import { freshWorkDir, openSession, screenshotPath, type E2eSession } from './harness';

const work = testOutput('e2e', 'settings');
let session: E2eSession;
let page: Page;

beforeAll(async () => {
  freshWorkDir(work); // its own config folder, so engine-settings.json starts absent
  session = await openSession({ engine: engineFactory({ cacheDir: null }) });
  page = session.page;
});

afterAll(async () => {
  await session?.close();
});

test('change the peak threshold in Settings, save, and see it after reopening', async () => {
  await page.goto(session.bridge.url);
  await page.getByTestId('open-settings').click();
  const peakRel = page.getByTestId('setting-peak-rel');
  await peakRel.waitFor();
  expect(Number(await peakRel.inputValue())).toBeCloseTo(readBundle().retrieval.peakRelThreshold, 5); // the bundle's tuned default
  expect(await page.getByTestId('setting-provider').inputValue()).toBe('auto');

  await peakRel.fill('0.55');
  await page.getByTestId('setting-workers').fill('2');
  await page.getByTestId('save-settings').click();
  // Saving restarts the engine (sessions reopened and warmed up): give a loaded machine time.
  await expect.poll(() => page.getByTestId('settings-saved').textContent().catch(() => ''), { timeout: 60_000 }).toContain('using cpu');
  expect(existsSync(engineSettingsFile())).toBe(true);

  await page.getByRole('button', { name: 'Close' }).click();
  await page.getByTestId('open-settings').click();
  await expect.poll(() => page.getByTestId('setting-peak-rel').inputValue().catch(() => '')).toBe('0.55');
  expect(await page.getByTestId('setting-workers').inputValue()).toBe('2');
  await expect.poll(() => page.getByTestId('engine-info').textContent()).toContain('available');
  expect(await session.api.engineSettings()).toMatchObject({ peakRelThreshold: 0.55, workers: 2, provider: 'auto' });

  // An out-of-range value is refused with the service's sentence, shown in the panel.
  await page.getByTestId('setting-max-peaks').fill('500');
  await page.getByTestId('save-settings').click();
  await expect.poll(() => page.getByTestId('settings-error').textContent().catch(() => '')).toContain('maxPeaks is an integer from 1 to 100');
  await page.getByTestId('setting-max-peaks').fill('24');
  // The suggestion method: the engine's methods are offered, sam by default; IAM is saved like the rest.
  expect(await page.getByTestId('setting-method').inputValue()).toBe('sam');
  expect(await page.getByTestId('setting-method').locator('option').allTextContents()).toContain('IAM (instance activation maps, ~5× faster)');
  await page.getByTestId('setting-method').selectOption('iam');
  await page.getByTestId('save-settings').click();
  await expect.poll(() => page.getByTestId('settings-saved').count()).toBe(1);
  expect(await session.api.engineSettings()).toMatchObject({ maxPeaks: 24, method: 'iam' });

  // A folder that is not a model bundle is refused with the reason; the engine keeps its bundle.
  await page.getByTestId('setting-model-dir').fill('/nonexistent/bundle');
  await page.getByTestId('save-settings').click();
  await expect.poll(() => page.getByTestId('settings-error').textContent().catch(() => '')).toContain('/nonexistent/bundle/manifest.json does not exist');
  expect((await session.api.engineSettings()).modelDir).toBe('');
  await page.getByTestId('setting-model-dir').fill('');
  await page.screenshot({ path: screenshotPath('settings-edit.png') });
  // Escape closes the panel, also from a text field (the model folder has the focus).
  await page.getByTestId('setting-model-dir').press('Escape');
  await expect.poll(() => page.getByTestId('engine-settings').count()).toBe(0);
  expect(await page.getByRole('dialog').count()).toBe(0);
  expect(session.errors).toEqual([]);
});
