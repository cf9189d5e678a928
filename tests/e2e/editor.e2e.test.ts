// Issue 6 end-to-end: create a project, add ../shared/data/pennfudan/images, open an image, click a peak
// (or, with PEAKLABEL_E2E_ENGINE=0, paint an instance with the brush as a machine without the model
// would), accept, brush-edit, undo, redo, export COCO from the dialog, and check the exported file's
// masks. A model that fails to load fails the test: it never falls back to the brush path on its own.
// Screenshots of the project screen and of the editor go to test-output/e2e/.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Page } from 'playwright-core';
import type { ImageRow, InstanceRow, PeakLabelApi } from '../../src/common/api';
import { maskArea, maskHasHoles, type BinaryMask } from '../../src/common/mask';
import { decodeRle } from '../../src/common/rle';
import type { Bridge } from '../../src/main/bridge/server';
import { engineFactory } from '../../src/main/api/engine-methods';
import { fitView, imageToScreen } from '../../src/renderer/src/canvas/view';
import { sharedPath, testOutput } from '../helpers/shared';
import { createProjectWithClass, freshWorkDir, openSession, screenshotPath, type E2eSession } from './harness';

let bridge: Bridge;
let page: Page;
let api: PeakLabelApi; // a second client of the same service, to check what the UI stored
let errors: string[];
const work = testOutput('e2e', 'editor');

let session: E2eSession;
/** The model path runs unless PEAKLABEL_E2E_ENGINE=0 asks for the machine-without-a-model path. */
const withModel = process.env.PEAKLABEL_E2E_ENGINE !== '0';

beforeAll(async () => {
  freshWorkDir(work);
  // PEAKLABEL_E2E_ENGINE=0 runs the flow as a machine without the model bundle would (brush path).
  // PRM retrieval, as this flow (PRM/IAM activation overlays, threshold slider) was written for; method
  // sam's editor flow is tests/e2e/sam.e2e.test.ts.
  session = await openSession({ engine: withModel ? engineFactory({ method: 'prm' }) : undefined });
  ({ bridge, api, page, errors } = session);
});

afterAll(async () => {
  await session?.close();
});

/** Screen position (page coordinates) of an image pixel, using the editor's own fit math. */
async function toPage(row: ImageRow, x: number, y: number): Promise<{ x: number; y: number }> {
  const box = (await page.getByTestId('canvas').boundingBox())!;
  const zoom = await page.getByTestId('zoom').textContent();
  const view = fitView(row.width, row.height, box.width, box.height);
  expect(zoom).toBe(`${Math.round(view.scale * 100)}%`); // the view is still the fitted one
  const s = imageToScreen(view, x, y);
  return { x: box.x + s.x, y: box.y + s.y };
}

async function drag(points: { x: number; y: number }[]): Promise<void> {
  await page.mouse.move(points[0].x, points[0].y);
  await page.mouse.down();
  for (const p of points.slice(1)) await page.mouse.move(p.x, p.y, { steps: 8 });
  await page.mouse.up();
}

/** Centre of a (2r+1)² square of background pixels, away from the image border. */
function backgroundSpot(m: BinaryMask, r: number): { x: number; y: number } {
  for (let y = r + 5; y < m.height - r - 5; y += 7) {
    for (let x = r + 5; x < m.width - r - 5; x += 7) {
      let clear = true;
      for (let dy = -r; dy <= r && clear; dy++) for (let dx = -r; dx <= r && clear; dx++) if (m.data[(y + dy) * m.width + x + dx]) clear = false;
      if (clear) return { x, y };
    }
  }
  throw new Error('no background area for the brush test');
}

const stored = async (imageId: number): Promise<InstanceRow[]> => api.listInstances(imageId);

/**
 * What an action ended in: the text of an error notice when one is shown, else `state()`. Polled until it
 * equals the state that proves the action finished, so a late error fails with its own sentence instead
 * of a fixed sleep passing before it arrives.
 */
async function outcome(state: () => Promise<string | null>): Promise<string | null> {
  const errorNotices = page.getByTestId('notice-error');
  if (await errorNotices.count()) return `error notice: ${await errorNotices.last().textContent()}`;
  return state();
}

test('peak or brush → accept → brush edit → undo → redo → export COCO', async () => {
  const images = sharedPath('data', 'pennfudan', 'images');
  await page.goto(bridge.url);
  await createProjectWithClass(page, join(work, 'pennfudan.peaklabel'), 'person');
  await page.getByTestId('folder-path').fill(images);
  await page.getByTestId('add-folder').click();
  await expect.poll(() => page.getByTestId('grid-total').textContent(), { timeout: 120_000 }).toMatch(/^107 images/);
  await expect.poll(() => page.getByTestId('thumb-img').count(), { timeout: 60_000 }).toBeGreaterThanOrEqual(12);
  // Image-level tags are the weak supervision: tag every image "person" in bulk.
  await page.getByTestId('select-all').click();
  await expect.poll(() => page.getByTestId('grid-total').textContent()).toContain('107 selected');
  await page.getByTestId('bulk-tags').fill('person');
  await page.getByTestId('add-tags').click();
  await page.getByTestId('tag-filter').fill('person');
  await expect.poll(() => page.getByTestId('grid-total').textContent()).toMatch(/^107 images/);
  await page.getByTestId('tag-filter').fill('');

  // The model must be up on the model path: a bundle that fails to load is a failure, not a reason to skip.
  const model = await api.engineInfo().then(
    (i) => ({ available: i.available, why: i.error?.message }),
    (e: { message?: string }) => ({ available: false, why: e.message }), // no engine at all (PEAKLABEL_E2E_ENGINE=0)
  );
  expect(model.available, `the model did not load: ${model.why ?? 'no reason given'}`).toBe(withModel);

  // Batch pre-label of a selection (third and fourth image) with the model, through the UI.
  if (withModel) {
    await page.getByTestId('tile').nth(2).click();
    await page.getByTestId('tile').nth(3).click({ modifiers: ['Shift'] });
    await page.getByTestId('prelabel').click();
    await expect.poll(() => page.getByTestId('notice-info').last().textContent(), { timeout: 120_000 }).toMatch(/Pre-labelled 2 images/);
    const pre = await api.listImages({ offset: 2, limit: 2 });
    const suggestedThere = pre.items.reduce((n, r) => n + r.counts.suggested, 0);
    expect(suggestedThere).toBeGreaterThan(0);
    await expect.poll(() => page.getByTestId('summary').textContent()).toContain(`${suggestedThere} suggested`);
  }
  await page.getByTestId('tile').first().click();
  await page.screenshot({ path: screenshotPath('project-screen.png') });

  // Open the first image.
  const row = (await api.listImages({ offset: 0, limit: 1 })).items[0];
  await page.getByTestId('tile').first().dblclick();
  await page.getByTestId('canvas').waitFor();
  await expect.poll(() => page.getByTestId('editor').textContent()).toContain(row.fileName);
  await expect.poll(() => page.locator('.foot').textContent(), { timeout: 30_000 }).toMatch(/image \d+ ms/);

  // The model path clicks its peaks; without a model the brush makes the instance. Any engine failure
  // other than the expected MODEL_UNAVAILABLE fails the test.
  const found = await api.findPeaks(row.id).then(
    (p) => p,
    (e: { code: string }) => {
      if (!withModel && e.code === 'MODEL_UNAVAILABLE') return null;
      throw new Error(`findPeaks failed: ${JSON.stringify(e)}`);
    },
  );
  const peaks0 = found ? [...found].sort((a, b) => b.score - a.score)[0] : { x: 0, y: 0 };
  let instanceId: number;
  if (found) {
    // Real model: wait for the peaks, click the best one, get its suggestion and accept it.
    await expect.poll(() => page.locator('.foot').textContent(), { timeout: 60_000 }).toMatch(/peaks \d+ ms/);
    const peaks = [...found].sort((a, b) => b.score - a.score);
    expect(peaks.length).toBeGreaterThan(0);
    const at = await toPage(row, peaks[0].x, peaks[0].y);
    await page.mouse.click(at.x, at.y);
    await expect.poll(async () => (await stored(row.id)).filter((i) => i.source === 'suggested').length, { timeout: 60_000 }).toBe(1);
    instanceId = (await stored(row.id))[0].id;
    await expect.poll(() => page.locator('.inst.sel').textContent().catch(() => '')).toContain(`#${instanceId}`);
    await page.screenshot({ path: screenshotPath('editor-suggestion.png') });
    await page.keyboard.press('Enter');
    await expect.poll(async () => (await stored(row.id))[0]?.source).toBe('accepted');
  } else {
    // No model bundle installed: the editor says so in the window, and the brush makes the instance.
    await expect.poll(() => page.getByTestId('peaks-note').textContent()).toContain('Model unavailable');
    await page.keyboard.press('b');
    const a = await toPage(row, row.width * 0.35, row.height * 0.3);
    const b = await toPage(row, row.width * 0.45, row.height * 0.7);
    await drag([a, b]);
    await expect.poll(async () => (await stored(row.id)).length).toBe(1);
    const made = (await stored(row.id))[0];
    expect(made.source).toBe('manual');
    instanceId = made.id;
    // Snapping needs the model's proposals: the window says so, and the mask stays.
    await expect.poll(() => page.locator('.inst.sel').textContent().catch(() => '')).toContain(`#${made.id}`);
    await page.keyboard.press('w');
    await expect.poll(() => page.getByTestId('notice-error').last().textContent()).toMatch(/Cannot snap to a proposal: .*model bundle/);
    expect((await stored(row.id))[0].mask.counts).toBe(made.mask.counts);
    await page.getByTestId('notice-error').last().getByRole('button').click();
  }
  const before = (await stored(row.id)).find((i) => i.id === instanceId)!;
  const areaBefore = maskArea(decodeRle(before.mask));
  expect(areaBefore).toBe(before.area);
  expect(areaBefore).toBeGreaterThan(100);

  // Brush edit of the selected instance: a stroke on background grows the mask and marks it edited.
  await page.keyboard.press('b');
  await page.keyboard.press(']');
  const free = backgroundSpot(decodeRle(before.mask), 30);
  const p0 = await toPage(row, free.x, free.y - 10);
  const p1 = await toPage(row, free.x, free.y + 10);
  await drag([p0, p1]);
  await expect.poll(async () => (await stored(row.id))[0].area, { timeout: 30_000 }).toBeGreaterThan(areaBefore);
  const edited = (await stored(row.id))[0];
  expect(edited.source).toBe(withModel ? 'edited' : 'manual');
  const areaEdited = edited.area;
  await expect.poll(() => page.locator('.foot').textContent()).toMatch(/edit \d+ ms/);
  const foot = (await page.locator('.foot').textContent())!.replace(/\s+/g, ' ').replace('? Shortcuts', '').trim();
  writeFileSync(testOutput('e2e', 'editor-timings.txt'), `${row.fileName} ${row.width}x${row.height}: ${foot}\n`);
  await page.getByTestId('canvas').hover();
  await page.screenshot({ path: screenshotPath('editor.png') });

  // Undo brings the mask back exactly; redo re-applies the edit.
  await page.keyboard.press('Control+z');
  await expect.poll(async () => (await stored(row.id))[0]?.area).toBe(areaBefore);
  expect((await stored(row.id))[0].mask.counts).toBe(before.mask.counts);
  await page.keyboard.press('Control+Shift+Z');
  await expect.poll(async () => (await stored(row.id))[0]?.area).toBe(areaEdited);

  // Split: the stroke beside the object is a second part, so S makes two instances; Shift+click on
  // the new one and G merges them back, pixel for pixel. Each is one undo step.
  await page.keyboard.press('v');
  await page.locator('[data-testid=instance]').first().click();
  await page.keyboard.press('s');
  await expect.poll(async () => (await stored(row.id)).length).toBe(2);
  const pieces = await stored(row.id);
  const kept = pieces.find((i) => i.id === instanceId)!;
  const piece = pieces.find((i) => i.id !== instanceId)!;
  expect(kept.area + piece.area).toBe(areaEdited);
  await expect.poll(() => page.locator('[data-testid=instance]').count()).toBe(2);
  await page.keyboard.press('Control+z');
  await expect.poll(async () => (await stored(row.id)).length).toBe(1);
  expect((await stored(row.id)).map((i) => [i.id, i.mask.counts])).toEqual([[instanceId, edited.mask.counts]]);
  await page.keyboard.press('Control+Shift+Z');
  await expect.poll(async () => (await stored(row.id)).length).toBe(2);
  expect(await stored(row.id)).toEqual(pieces);
  await expect.poll(() => page.locator('[data-testid=instance]').count()).toBe(2);
  const onPiece = await toPage(row, free.x, free.y);
  await page.keyboard.down('Shift');
  await page.mouse.click(onPiece.x, onPiece.y);
  await page.keyboard.up('Shift');
  await expect.poll(() => page.locator('.inst.also').count()).toBe(1);
  await page.keyboard.press('g');
  await expect.poll(async () => (await stored(row.id)).length).toBe(1);
  expect((await stored(row.id))[0].mask.counts).toBe(edited.mask.counts);
  await page.keyboard.press('Control+z');
  await expect.poll(async () => (await stored(row.id)).length).toBe(2);
  expect(await stored(row.id)).toEqual(pieces);
  await page.keyboard.press('Control+Shift+Z');
  await expect.poll(async () => (await stored(row.id)).length).toBe(1);
  expect((await stored(row.id)).map((i) => [i.id, i.mask.counts])).toEqual([[instanceId, edited.mask.counts]]);

  // The class response heat map of the selected class (needs the model).
  if (withModel) {
    const heatClass = (await stored(row.id))[0].classId;
    await page.keyboard.press('m');
    await expect.poll(() => page.getByTestId('layer-heatmap').isChecked()).toBe(true);
    // classResponse + colouring finished: the map of the selected class is on the canvas, with no error.
    await expect.poll(() => outcome(() => page.getByTestId('layer-heatmap').getAttribute('data-shown-class')), { timeout: 60_000 }).toBe(String(heatClass));
    await page.screenshot({ path: screenshotPath('editor-heatmap.png') });
    await page.keyboard.press('m');

    // The selected peak's PRM (R); its threshold slider regrows the mask live and saves it on release
    // as one undo step; W snaps the mask to the best-matching proposal (WISE); O outlines the
    // proposal under the cursor.
    await page.keyboard.press('r');
    const slider = page.getByTestId('activation-threshold');
    await slider.waitFor({ timeout: 30_000 });
    await slider.fill('0.12');
    await slider.blur();
    await expect.poll(async () => (await stored(row.id))[0].mask.counts, { timeout: 30_000 }).not.toBe(edited.mask.counts);
    const regrown = (await stored(row.id))[0];
    expect(regrown.area).toBeGreaterThan(100);
    expect(regrown.area).not.toBe(areaEdited);
    await page.keyboard.press('Control+z');
    await expect.poll(async () => (await stored(row.id))[0].mask.counts).toBe(edited.mask.counts);
    await page.keyboard.press('Control+Shift+Z');
    await expect.poll(async () => (await stored(row.id))[0].mask.counts).toBe(regrown.mask.counts);
    // The same slider on the peak's IAM (one iam.onnx call): it regrows the mask from that map instead.
    await page.getByTestId('activation-kind').selectOption('iam');
    // peakMap('iam') + colouring finished: the slider now works on the IAM map, with no error.
    await expect.poll(() => outcome(() => slider.getAttribute('data-kind')), { timeout: 60_000 }).toBe('iam');
    await slider.fill('0.5');
    await slider.blur();
    await expect.poll(async () => (await stored(row.id))[0].mask.counts, { timeout: 30_000 }).not.toBe(regrown.mask.counts);
    expect((await stored(row.id))[0].area).toBeGreaterThan(100);
    await page.screenshot({ path: screenshotPath('editor-iam-overlay.png') });
    await page.keyboard.press('Control+z');
    await expect.poll(async () => (await stored(row.id))[0].mask.counts).toBe(regrown.mask.counts);
    await page.getByTestId('activation-kind').selectOption('prm');
    await page.keyboard.press('o');
    const onPerson = await toPage(row, peaks0.x, peaks0.y);
    await page.mouse.move(onPerson.x + 3, onPerson.y + 3);
    await page.mouse.move(onPerson.x, onPerson.y, { steps: 3 });
    await expect.poll(() => page.getByTestId('proposal-area').textContent().catch(() => ''), { timeout: 60_000 }).toMatch(/\(\d+ px\)/);
    await page.screenshot({ path: screenshotPath('editor-prm-overlay.png') });
    await page.keyboard.press('w');
    await expect.poll(async () => (await stored(row.id))[0].mask.counts, { timeout: 60_000 }).not.toBe(regrown.mask.counts);
    const best = await api.snapToProposal(row.id, regrown.mask);
    expect((await stored(row.id))[0].mask.counts).toBe(best!.mask.counts);
    await page.screenshot({ path: screenshotPath('editor-snapped.png') });
    expect(await page.getByTestId('notice-error').count()).toBe(0);
    await page.keyboard.press('o');
    await page.keyboard.press('r');
    // Undo the snap and the regrow: the rest of the flow works on the brush-edited mask.
    await page.keyboard.press('Control+z');
    await expect.poll(async () => (await stored(row.id))[0].mask.counts).toBe(regrown.mask.counts);
    await page.keyboard.press('Control+z');
    await expect.poll(async () => (await stored(row.id))[0].mask.counts).toBe(edited.mask.counts);
  }

  // Export COCO (RLE) from the dialog and check the file.
  await page.keyboard.press('Escape'); // deselect
  await page.getByTestId('open-export').click();
  const out = join(work, 'export.json');
  await page.getByTestId('export-path').fill(out);
  await page.getByTestId('format-rle').check();
  await page.getByTestId('export-run').click();
  await expect.poll(() => page.getByTestId('export-result').textContent().catch(() => ''), { timeout: 60_000 }).toMatch(/Wrote\s+1\s+annotations/);
  await page.screenshot({ path: screenshotPath('export-dialog.png') });
  const coco = JSON.parse(readFileSync(out, 'utf8'));
  expect(coco.categories.map((c: { name: string }) => c.name)).toContain('person');
  expect(coco.annotations).toHaveLength(1);
  const ann = coco.annotations[0];
  const img = coco.images.find((i: { id: number }) => i.id === ann.image_id);
  expect(img.file_name).toBe(row.fileName);
  const exported = decodeRle(ann.segmentation);
  expect(maskArea(exported)).toBe(areaEdited);
  expect(ann.area).toBe(areaEdited);
  expect(ann.segmentation.counts).toBe(edited.mask.counts);

  // Polygon tool: four clicks and a click on the first vertex make a new instance; X deletes it.
  await page.getByTestId('export-run').press('Escape');
  await expect.poll(() => page.getByTestId('export-run').count()).toBe(0); // a click during the close is lost
  await page.getByTestId('canvas').hover();
  await page.keyboard.press('p');
  const corners = [[0.05, 0.05], [0.25, 0.05], [0.25, 0.25], [0.05, 0.25]].map(([fx, fy]) => [fx * row.width, fy * row.height]);
  for (const [x, y] of [...corners, corners[0]]) {
    const at = await toPage(row, x, y);
    await page.mouse.click(at.x, at.y);
  }
  await expect.poll(async () => (await stored(row.id)).length).toBe(2);
  const poly = (await stored(row.id)).find((i) => i.id !== instanceId)!;
  const expectedArea = (0.2 * row.width) * (0.2 * row.height);
  expect(Math.abs(poly.area - expectedArea) / expectedArea).toBeLessThan(0.05);
  await expect.poll(() => page.locator('[data-testid=instance]').count()).toBe(2);
  await expect.poll(() => page.locator('.inst.sel').textContent()).toContain(`#${poly.id}`);

  // Eraser inside the polygon leaves a hole (masks keep holes); H fills it again.
  await page.keyboard.press('e');
  const centre = await toPage(row, 0.15 * row.width, 0.15 * row.height);
  await drag([centre, { x: centre.x + 2, y: centre.y + 2 }]);
  const polyId = poly.id;
  const holed = async () => (await stored(row.id)).find((i) => i.id === polyId)!;
  await expect.poll(async () => (await holed()).area).toBeLessThan(poly.area);
  expect(maskHasHoles(decodeRle((await holed()).mask))).toBe(true);
  await page.keyboard.press('h');
  await expect.poll(async () => (await holed()).area).toBe(poly.area);
  expect(maskHasHoles(decodeRle((await holed()).mask))).toBe(false);

  // Vertex editing: with the polygon tool the selected instance shows its outline; dragging the
  // bottom-right corner outwards grows it.
  await page.keyboard.press('p');
  const corner = await toPage(row, Math.round(0.25 * row.width), Math.round(0.25 * row.height));
  const pulled = await toPage(row, Math.round(0.3 * row.width), Math.round(0.3 * row.height));
  await drag([corner, pulled]);
  await expect.poll(async () => (await holed()).area).toBeGreaterThan(poly.area);
  await page.screenshot({ path: screenshotPath('editor-vertex-edit.png') });

  await page.keyboard.press('x');
  await expect.poll(async () => (await stored(row.id)).length).toBe(1);

  // Next / previous image with the keyboard (fast presses: the last one wins).
  const second = (await api.listImages({ offset: 1, limit: 1 })).items[0];
  await page.keyboard.press('d');
  await page.keyboard.press('d');
  await page.keyboard.press('ArrowLeft');
  await expect.poll(() => page.locator('.bar .file').textContent()).toBe(second.fileName);
  await expect.poll(() => page.locator('.foot').textContent(), { timeout: 30_000 }).toMatch(/level \d+px/);
  await page.keyboard.press('ArrowLeft');
  await expect.poll(() => page.locator('.bar .file').textContent()).toBe(row.fileName);
  await expect.poll(() => page.locator('[data-testid=instance]').count()).toBe(1);

  // Review a pre-labelled image: Tab picks the best suggestion, Enter accepts it, "reject all below"
  // is undone, then "accept all above" with the threshold at 0 accepts the rest.
  if (withModel) {
    const third = (await api.listImages({ offset: 2, limit: 1 })).items[0];
    await page.keyboard.press('d');
    await page.keyboard.press('d');
    await expect.poll(() => page.locator('.bar .file').textContent()).toBe(third.fileName);
    await expect.poll(() => page.locator('[data-testid=instance]').count()).toBe(third.counts.suggested);
    const scores = (await stored(third.id)).map((i) => i.score ?? 0).sort((x, y) => y - x);
    await page.keyboard.press('Tab');
    await expect.poll(() => page.locator('.inst.sel .mono').textContent()).toBe(scores[0].toFixed(2));
    await page.keyboard.press('Enter');
    await expect.poll(async () => (await stored(third.id)).filter((i) => i.source === 'accepted').length).toBe(1);
    // "Reject all below" a score between the others removes the lower ones as one step (the slider spans
    // this image's scores); Ctrl+Z brings them back.
    const pending = () => stored(third.id).then((l) => l.filter((i) => i.source === 'suggested').length);
    const slider = page.getByTestId('review-threshold');
    expect(Number(await slider.getAttribute('max'))).toBeGreaterThanOrEqual(scores[1]);
    await slider.fill(String((scores[1] + scores.at(-1)!) / 2));
    const cut = Number(await slider.inputValue());
    const kept = scores.slice(1).filter((v) => v >= cut).length;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(scores.length - 1);
    await page.getByTestId('reject-below').click();
    await expect.poll(pending).toBe(kept);
    await page.keyboard.press('Control+z');
    await expect.poll(pending).toBe(third.counts.suggested - 1);
    // The slider keeps its value across images: at this image's end it reads as the end of the previous
    // image's range, and as this image's end again on the way back.
    const end = Number(await slider.getAttribute('max'));
    await slider.fill(String(end));
    await expect.poll(() => page.getByTestId('review-cut').textContent()).toBe(end.toFixed(2));
    await slider.blur();
    const secondEnd = Math.max(1, ...(await stored(second.id)).filter((i) => i.source === 'suggested').map((i) => Math.ceil(i.score ?? 0)));
    await page.keyboard.press('ArrowLeft');
    await expect.poll(() => page.locator('.bar .file').textContent()).toBe(second.fileName);
    await expect.poll(() => page.getByTestId('review-cut').textContent()).toBe(Math.min(end, secondEnd).toFixed(2));
    await page.keyboard.press('d');
    await expect.poll(() => page.locator('.bar .file').textContent()).toBe(third.fileName);
    await expect.poll(() => page.getByTestId('review-cut').textContent()).toBe(end.toFixed(2));
    await slider.fill('0');
    await page.getByTestId('accept-above').click();
    await expect.poll(async () => (await stored(third.id)).filter((i) => i.source === 'suggested').length).toBe(0);
    await page.keyboard.press('ArrowLeft');
    await page.keyboard.press('ArrowLeft');
    await expect.poll(() => page.locator('.bar .file').textContent()).toBe(row.fileName);
  }

  // The shortcut help overlay.
  await page.keyboard.press('?');
  expect(await page.getByTestId('help').locator('tr').count()).toBeGreaterThan(15);
  await page.screenshot({ path: screenshotPath('help.png') });
  await page.keyboard.press('Escape');

  expect(await page.getByTestId('notice-error').count()).toBe(0);
  expect(errors).toEqual([]);
});
