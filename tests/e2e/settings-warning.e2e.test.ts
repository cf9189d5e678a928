// A damaged engine-settings.json reaches the window: a warning notice that names the file and the
// problem (shown once, until dismissed), the same sentence in Settings, and gone after saving Settings.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { engineFactory } from '../../src/main/api/engine-methods';
import { engineSettingsFile } from '../../src/main/engine/settings';
import { testOutput } from '../helpers/shared';
import { freshWorkDir, openSession, type E2eSession } from './harness';

const work = testOutput('e2e', 'settings-warning');
let session: E2eSession;

beforeAll(async () => {
  freshWorkDir(work);
  mkdirSync(join(work, 'config'), { recursive: true });
  writeFileSync(engineSettingsFile(), '{"workers": 2,');
  // No model needed: the warning comes with engineInfo whether or not the bundle opens.
  session = await openSession({ engine: engineFactory({ bundleDir: join(work, 'no-bundle'), cacheDir: null }) });
});

afterAll(async () => {
  await session?.close();
});

test('the window warns about a damaged engine-settings.json, and saving Settings ends it', async () => {
  const { page } = session;
  await page.goto(session.bridge.url);
  const notice = page.getByTestId('notice-warning');
  await expect.poll(() => notice.textContent().catch(() => '')).toContain(`The engine settings file ${engineSettingsFile()} is not valid JSON`);
  expect(await notice.count()).toBe(1);

  await page.getByTestId('open-settings').click();
  await expect.poll(() => page.getByTestId('settings-warning').textContent().catch(() => '')).toMatch(/the defaults apply/);
  expect(await notice.count()).toBe(1); // reopening the engine info does not repeat the notice
  await page.getByTestId('save-settings').click();
  await expect.poll(() => page.getByTestId('settings-warning').count()).toBe(0);
  expect(session.errors).toEqual([]);
});
