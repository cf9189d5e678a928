// The editor on a 4,000-px image: opens at a downscaled level, a brush stroke is drawn while dragging
// and stored on release. Frame intervals during the drag and the stroke's commit time are measured
// and written to test-output/e2e/large-image-timings.json (reported, not asserted: no timed tests).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Page } from 'playwright-core';
import type { PeakLabelApi } from '../../src/common/api';
import type { Bridge } from '../../src/main/bridge/server';
import { fitView, imageToScreen } from '../../src/renderer/src/canvas/view';
import { testOutput } from '../helpers/shared';
import { freshWorkDir, openSession, screenshotPath, type E2eSession } from './harness';

const W = 4000, H = 3000;
let session: E2eSession;
let bridge: Bridge;
let page: Page;
let api: PeakLabelApi;
let errors: string[];
const work = testOutput('e2e', 'large');

beforeAll(async () => {
  freshWorkDir(work);
  mkdirSync(join(work, 'images'));
  // A generated photo-sized image: a smooth gradient with a few shapes (JPEG, 4000×3000).
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}">
    <defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="#2a4d69"/><stop offset="1" stop-color="#e8d9a0"/></linearGradient></defs>
    <rect width="${W}" height="${H}" fill="url(#g)"/>
    <circle cx="1200" cy="1100" r="520" fill="#c0392b"/><rect x="2400" y="1500" width="900" height="1100" fill="#27ae60"/></svg>`;
  await sharp(Buffer.from(svg)).jpeg({ quality: 85 }).toFile(join(work, 'images', 'large.jpg'));
  session = await openSession();
  ({ bridge, api, page, errors } = session);
  await api.createProject(join(work, 'large.peaklabel'));
  await api.saveClass({ name: 'object', color: '#f58231', order: 0 });
  await api.addImageFolder(join(work, 'images'));
});

afterAll(async () => {
  await session?.close();
});

test('brush on a 4000×3000 image: live preview while dragging, stored on release', async () => {
  await page.goto(bridge.url);
  await page.getByTestId('tile').first().dblclick();
  await expect.poll(() => page.locator('.foot').textContent(), { timeout: 60_000 }).toMatch(/level 1024px/);
  await page.getByTestId('canvas').hover();
  await page.keyboard.press('b');
  for (let i = 0; i < 6; i++) await page.keyboard.press(']');

  const box = (await page.getByTestId('canvas').boundingBox())!;
  const view = fitView(W, H, box.width, box.height);
  const at = (x: number, y: number) => { const s = imageToScreen(view, x, y); return { x: box.x + s.x, y: box.y + s.y }; };

  // Count animation frames while dragging a long stroke across the image.
  await page.evaluate(() => {
    const w = window as unknown as { __frames: number[]; __stop: boolean };
    w.__frames = [];
    w.__stop = false;
    const tick = (t: number) => { w.__frames.push(t); if (!w.__stop) requestAnimationFrame(tick); };
    requestAnimationFrame(tick);
  });
  const a = at(600, 600);
  await page.mouse.move(a.x, a.y);
  await page.mouse.down();
  for (let k = 1; k <= 60; k++) {
    const p = at(600 + k * 45, 600 + k * 30);
    await page.mouse.move(p.x, p.y);
  }
  const frames = await page.evaluate(() => {
    const w = window as unknown as { __frames: number[]; __stop: boolean };
    w.__stop = true;
    return w.__frames;
  });
  await page.mouse.up();
  await expect.poll(async () => (await api.listInstances(1)).length, { timeout: 60_000 }).toBe(1);
  await expect.poll(() => page.locator('.foot').textContent()).toMatch(/edit \d+ ms/);
  const inst = (await api.listInstances(1))[0];
  expect(inst.source).toBe('manual');
  expect(inst.mask.size).toEqual([H, W]);
  expect(inst.bbox[0]).toBeGreaterThan(500);
  expect(inst.bbox[2]).toBeGreaterThan(2500);

  const gaps = frames.slice(1).map((t, i) => t - frames[i]).sort((x, y) => x - y);
  const q = (f: number) => Math.round(gaps[Math.min(gaps.length - 1, Math.floor(f * gaps.length))] * 10) / 10;
  const foot = (await page.locator('.foot').textContent())!.replace(/\s+/g, ' ').trim();
  const report = { image: `${W}x${H}`, frames: frames.length, frameMsMedian: q(0.5), frameMsP95: q(0.95), footer: foot };
  writeFileSync(testOutput('e2e', 'large-image-timings.json'), JSON.stringify(report, null, 2));
  console.log('large image editor timings', report);
  await page.screenshot({ path: screenshotPath('editor-large.png') });
  expect(errors).toEqual([]);
});
