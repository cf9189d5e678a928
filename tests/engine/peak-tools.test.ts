// Issue 6's editing aids through the service, against the real model bundle on a PennFudan image: the
// selected peak's PRM / IAM overlay (peakMap), WISE's snap to the best-matching proposal
// (snapToProposal), and the proposal under the cursor (proposalAt). Without a bundle they reject
// with MODEL_UNAVAILABLE; bad arguments are refused before the engine sees them.
import { mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InstanceRow, PeakLabelApi } from '../../src/common/api';
import { maskArea, maskIou } from '../../src/common/mask';
import { decodeRle, encodeMask } from '../../src/common/rle';
import { ServiceContext } from '../../src/main/api/context';
import { createEngineMethods } from '../../src/main/api/engine-methods';
import { createService, invokeApi } from '../../src/main/api/service';
import { sharedPath, testOutput } from '../helpers/shared';

process.env.PEAKLABEL_CONFIG_DIR ??= testOutput('config');
const dir = testOutput('engine', 'peak-tools');
const ctx = new ServiceContext();
const engine = createEngineMethods(ctx, { cacheDir: join(dir, 'cache') });
const api: PeakLabelApi = createService(ctx, engine);
let imageId = 0;
let suggestion: InstanceRow;

beforeAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  const images = join(dir, 'images');
  mkdirSync(images, { recursive: true });
  const src = sharedPath('data', 'pennfudan', 'images');
  const file = readdirSync(src).sort()[0];
  symlinkSync(join(src, file), join(images, file)); // one image, read in place
  await api.createProject(join(dir, 'p.peaklabel'));
  expect((await api.addImageFolder(images)).added).toBe(1);
  imageId = (await api.listImages({ offset: 0, limit: 1 })).items[0].id;
  await api.setTags([imageId], ['person'], []);
  const peaks = await api.findPeaks(imageId);
  expect(peaks.length).toBeGreaterThan(0);
  const best = [...peaks].sort((a, b) => b.score - a.score)[0];
  suggestion = await api.suggestForPeak(imageId, best);
}, 240_000);

afterAll(async () => {
  await engine.closeEngine();
  ctx.close();
});

async function grayStats(png: Uint8Array): Promise<{ width: number; height: number; max: number; bright: number }> {
  expect((await sharp(Buffer.from(png)).metadata()).channels).toBe(1);
  const { data, info } = await sharp(Buffer.from(png)).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
  let max = 0;
  let bright = 0;
  for (const v of data) {
    if (v > max) max = v;
    if (v > 64) bright++;
  }
  return { width: info.width, height: info.height, max, bright };
}

describe('peakMap', () => {
  it("returns the suggestion's PRM as a grayscale PNG at model input size, brightest near the peak", async () => {
    const row = await api.getImage(imageId);
    const map = await api.peakMap(imageId, { classId: suggestion.classId, ...suggestion.peak! });
    expect(map.mime).toBe('image/png');
    writeFileSync(join(dir, 'prm.png'), map.data);
    expect(map.max).toBeGreaterThan(map.min);
    expect(map.min).toBeGreaterThanOrEqual(0);
    expect(map.scale).toBeCloseTo(map.width / row.width, 6);
    expect(Math.abs(map.height / row.height - map.scale)).toBeLessThan(0.02);
    const st = await grayStats(map.data);
    expect([st.width, st.height]).toEqual([map.width, map.height]);
    expect(st.max).toBe(255);
    // Most of the response lies on the instance the peak stands for.
    const { data, info } = await sharp(Buffer.from(map.data)).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
    const m = decodeRle(suggestion.mask);
    let inside = 0;
    let total = 0;
    for (let y = 0; y < info.height; y++) {
      for (let x = 0; x < info.width; x++) {
        const v = data[y * info.width + x];
        total += v;
        if (m.data[Math.min(m.height - 1, Math.floor(y / map.scale)) * m.width + Math.min(m.width - 1, Math.floor(x / map.scale))]) inside += v;
      }
    }
    expect(inside / total).toBeGreaterThan(0.3);
  });

  it('gives the IAM activation when the bundle has IAM', async () => {
    const info = await api.engineInfo();
    expect(info.methods).toContain('iam'); // resources/models ships iam.onnx
    const map = await api.peakMap(imageId, { classId: suggestion.classId, ...suggestion.peak! }, 'iam');
    writeFileSync(join(dir, 'iam.png'), map.data);
    expect(map.min).toBeGreaterThanOrEqual(0);
    expect(map.max).toBeLessThanOrEqual(1.0001);
    const st = await grayStats(map.data);
    expect(st.bright).toBeGreaterThan(100);
  });
});

describe('classResponse', () => {
  it("gives the class map with the frame that puts its brightest cell on the strongest peak", async () => {
    const row = await api.getImage(imageId);
    const map = await api.classResponse(imageId, suggestion.classId);
    expect(map.mime).toBe('image/png');
    const f = map.frame!;
    expect(f).toBeDefined();
    // the frame covers the image up to the cells' offset (under one cell on each side)
    const cell = f.width / map.width;
    expect(Math.abs(f.x)).toBeLessThan(cell);
    expect(Math.abs(f.x + f.width - row.width)).toBeLessThan(cell);
    const { data, info } = await sharp(Buffer.from(map.data)).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
    const top = data.indexOf(Math.max(...data));
    const at = { x: f.x + ((top % info.width) + 0.5) * (f.width / info.width), y: f.y + (Math.floor(top / info.width) + 0.5) * (f.height / info.height) };
    const peaks = await api.findPeaks(imageId);
    const best = [...peaks].filter((p) => p.classId === suggestion.classId).sort((a, b) => b.score - a.score)[0];
    // findPeaks reports pixel centres (pixel k at k); the frame spans pixel k as [k, k+1]
    expect(Math.hypot(at.x - (best.x + 0.5), at.y - (best.y + 0.5))).toBeLessThan(0.05 * cell);
  });
});

describe('snapToProposal', () => {
  it("replaces a mask by the proposal overlapping it most, at image size", async () => {
    const snapped = await api.snapToProposal(imageId, suggestion.mask);
    expect(snapped).not.toBeNull();
    const a = decodeRle(suggestion.mask);
    const b = decodeRle(snapped!.mask);
    expect(snapped!.mask.size).toEqual(suggestion.mask.size);
    expect(maskArea(b)).toBeGreaterThan(0);
    // IoU measured here at full size agrees with the engine's on the proposal grid.
    expect(maskIou(a, b)).toBeGreaterThan(0.3);
    expect(Math.abs(maskIou(a, b) - snapped!.iou)).toBeLessThan(0.1);
    // The snapped mask is itself a proposal: snapping it again returns it unchanged.
    const again = await api.snapToProposal(imageId, snapped!.mask);
    expect(again!.iou).toBeGreaterThan(0.95);
  });

  it('returns null for an empty mask and refuses a mask of the wrong size', async () => {
    const row = await api.getImage(imageId);
    const empty = encodeMask({ width: row.width, height: row.height, data: new Uint8Array(row.width * row.height) });
    expect(await api.snapToProposal(imageId, empty)).toBeNull();
    const wrong = encodeMask({ width: 10, height: 10, data: new Uint8Array(100) });
    await expect(api.snapToProposal(imageId, wrong)).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
  });
});

describe('proposalAt', () => {
  it('gives a proposal containing the point, small but not a sliver', async () => {
    const row = await api.getImage(imageId);
    const { x, y } = suggestion.peak!;
    const rle = await api.proposalAt(imageId, x, y);
    expect(rle).not.toBeNull();
    const m = decodeRle(rle!);
    expect(m.data[Math.round(y) * m.width + Math.round(x)]).toBe(1);
    const area = maskArea(m);
    expect(area).toBeGreaterThanOrEqual(0.004 * row.width * row.height);
    expect(area).toBeLessThan(0.9 * row.width * row.height);
  });
});

describe('without a bundle, and with bad arguments', () => {
  it('rejects with MODEL_UNAVAILABLE and BAD_ARGUMENT', async () => {
    const c2 = new ServiceContext();
    const bare = createService(c2);
    try {
      await bare.openProject(join(dir, 'p.peaklabel'));
      for (const call of [
        () => bare.peakMap(imageId, { classId: 1, x: 1, y: 1 }),
        () => bare.snapToProposal(imageId, suggestion.mask),
        () => bare.proposalAt(imageId, 1, 1),
      ]) {
        await expect(call()).rejects.toMatchObject({ code: 'MODEL_UNAVAILABLE', message: expect.stringMatching(/model bundle/) });
      }
      expect(await invokeApi(bare, 'peakMap', [imageId, { classId: 1, x: 1, y: 1 }, 'crf'])).toMatchObject({ ok: false, error: { code: 'BAD_ARGUMENT' } });
      expect(await invokeApi(bare, 'snapToProposal', [imageId, { size: [1, 1], counts: 7 }])).toMatchObject({ ok: false, error: { code: 'BAD_ARGUMENT' } });
      expect(await invokeApi(bare, 'proposalAt', [imageId, 'x', 1])).toMatchObject({ ok: false, error: { code: 'BAD_ARGUMENT' } });
    } finally {
      c2.close();
    }
  });
});
