// Component test in Chromium: the virtualised image grid with 10,000 images. The page gets a
// synthetic window.peaklabel (the same slot the Electron preload fills) that generates image rows and
// thumbnails on request, so the test can count what the grid asks for and what it puts in the DOM.
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { startBridge, type Bridge } from '../../src/main/bridge/server';
import { buildRenderer, launchChromium, screenshotPath, watchErrors } from '../e2e/harness';

const TOTAL = 10_000;
let bridge: Bridge;
let browser: Browser;
let page: Page;
let errors: string[];

/** Runs in the page before the app: a PeakLabelApi over generated data. */
function installSyntheticApi(total: number): void {
  const calls = { listImages: 0, thumbnail: 0 };
  (window as unknown as { __calls: typeof calls }).__calls = calls;
  const row = (i: number) => ({
    id: i + 1, path: `/data/img_${String(i).padStart(5, '0')}.jpg`, fileName: `img_${String(i).padStart(5, '0')}.jpg`,
    width: 640, height: 480, status: (['new', 'suggested', 'in_review', 'done'] as const)[i % 4], error: null,
    tags: i % 3 === 0 ? ['person'] : [], counts: { suggested: i % 5, accepted: i % 2, edited: 0, manual: 0, imported: 0 },
  });
  const thumb = async (id: number) => {
    const c = new OffscreenCanvas(96, 72);
    const g = c.getContext('2d')!;
    g.fillStyle = `hsl(${(id * 37) % 360} 60% 45%)`;
    g.fillRect(0, 0, 96, 72);
    g.fillStyle = '#fff';
    g.font = '20px sans-serif';
    g.fillText(String(id), 8, 44);
    const blob = await c.convertToBlob({ type: 'image/png' });
    return { mime: 'image/png', data: new Uint8Array(await blob.arrayBuffer()), width: 96, height: 72, scale: 1 };
  };
  const byStatus = { new: total / 4, suggested: total / 4, in_review: total / 4, done: total / 4, error: 0, missing: 0 };
  const api: Record<string, unknown> = {
    recentProjects: async () => [],
    currentProject: async () => ({ path: '/tmp/big.peaklabel', name: 'big', schemaVersion: 1, imageCount: total }),
    listClasses: async () => [{ id: 1, name: 'person', color: '#e6194b', order: 0 }],
    projectSummary: async () => ({ images: total, byStatus, instances: { suggested: 0, accepted: 0, edited: 0, manual: 0, imported: 0 } }),
    engineInfo: async () => ({ available: false, provider: null, fallbackReasons: [], modelId: null, modelClasses: [], methods: [], error: { code: 'MODEL_UNAVAILABLE', message: 'No model in this test.' } }),
    listImages: async (q: { offset: number; limit: number }) => {
      calls.listImages++;
      const items = [];
      for (let i = q.offset; i < Math.min(total, q.offset + q.limit); i++) items.push(row(i));
      return { total, items };
    },
    thumbnail: async (id: number) => {
      calls.thumbnail++;
      return thumb(id);
    },
    onProgress: () => () => undefined,
  };
  (window as unknown as { peaklabel: unknown }).peaklabel = new Proxy(api, {
    get: (t, k: string) => t[k] ?? (async () => { throw { code: 'INTERNAL', message: `not in this test: ${k}` }; }),
  });
}

beforeAll(async () => {
  const staticDir = await buildRenderer();
  bridge = await startBridge({ staticDir }); // only serves the built renderer here
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1400, height: 860 } });
  errors = watchErrors(page);
  await page.addInitScript(installSyntheticApi, TOTAL);
});

afterAll(async () => {
  await browser?.close();
  await bridge?.close();
});

/** Tiles inside the scroller's visible box whose row has not arrived (blank tiles). */
async function blankVisibleTiles(): Promise<{ visible: number; blank: number; thumbs: number }> {
  return page.getByTestId('image-grid').evaluate((el) => {
    const box = el.getBoundingClientRect();
    let visible = 0, blank = 0, thumbs = 0;
    for (const t of el.querySelectorAll('[data-testid=tile]')) {
      const r = t.getBoundingClientRect();
      if (r.bottom < box.top || r.top > box.bottom) continue;
      visible++;
      if (!t.querySelector('.name')) blank++;
      const img = t.querySelector('img') as HTMLImageElement | null;
      if (img && img.complete && img.naturalWidth > 0) thumbs++;
    }
    return { visible, blank, thumbs };
  });
}

test('a 10,000-image grid renders only visible rows, pages its data and fills every row it shows', async () => {
  await page.goto(bridge.url);
  await expect.poll(() => page.getByTestId('grid-total').textContent()).toMatch(/^10000 images/);
  const grid = page.getByTestId('image-grid');

  for (const fraction of [0.5, 0.9, 1, 0.25]) {
    await grid.evaluate((el, f) => { el.scrollTop = (el.scrollHeight - el.clientHeight) * f; }, fraction);
    await expect.poll(async () => (await blankVisibleTiles()).blank).toBe(0);
    await expect.poll(async () => { const v = await blankVisibleTiles(); return v.thumbs === v.visible; }).toBe(true);
    const inDom = await page.getByTestId('tile').count();
    expect(inDom).toBeLessThan(120); // a window of rows, not 10,000 tiles
  }
  // The last image is reachable.
  await grid.evaluate((el) => { el.scrollTop = el.scrollHeight; });
  await expect.poll(() => page.getByText('img_09999.jpg').count()).toBe(1);

  const calls = await page.evaluate(() => (window as unknown as { __calls: { listImages: number; thumbnail: number } }).__calls);
  expect(calls.listImages).toBeLessThan(20); // pages of 200, only those scrolled past
  expect(calls.thumbnail).toBeLessThan(600);
  await grid.evaluate((el) => { el.scrollTop = (el.scrollHeight - el.clientHeight) * 0.5; });
  await expect.poll(async () => (await blankVisibleTiles()).blank).toBe(0);
  await page.screenshot({ path: screenshotPath('grid-10000.png') });
  expect(errors).toEqual([]);
});
