// Project heads (issue 12) through the real service and engine on a few dev images: the head is trained,
// stored (versioned, active), applied to every method; classes without enough data are named with what
// they need; a cancelled run keeps the previous head; a head of another backbone is never applied;
// accepted instances become point labels; the feature cache is reused; the same tagged images give the same head in
// any project.
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PeakLabelApi } from '../../src/common/api';
import { ServiceContext } from '../../src/main/api/context';
import { createEngineMethods } from '../../src/main/api/engine-methods';
import { createService } from '../../src/main/api/service';
import { readBundle } from '../../src/main/engine/bundle';
import { effectiveBundle, headMismatch } from '../../src/main/engine/project-head';
import { featureDir, readFeatures } from '../../src/main/training/feature-file';
import { activeHead, headHistory, saveHead } from '../../src/main/training/head-store';
import { ProjectStore } from '../../src/main/store/project-store';
import { repoRoot, sharedPath, testOutput } from '../helpers/shared';
import { capture } from '../helpers/cli';
import { main } from '../../src/main/cli/index';

process.env.PEAKLABEL_CONFIG_DIR ??= testOutput('config');
const root = testOutput('train-head');
const bundle = readBundle(join(repoRoot, 'resources', 'models'));
const D = bundle.manifest.head.channels;

function pick(dataset: string, n: number, into: string): string[] {
  const dir = sharedPath('data', dataset, 'images');
  const names = readdirSync(dir).sort().slice(0, n);
  mkdirSync(into, { recursive: true });
  for (const f of names) copyFileSync(join(dir, f), join(into, f));
  return names;
}

describe('project heads: effective bundle', () => {
  it('puts a trained row in place of its built-in class, appends new classes, refuses another backbone', () => {
    const w = new Float32Array(2 * D).fill(0.5);
    w.fill(-1, D);
    const head = { key: 'k', modelId: bundle.manifest.modelId, featureDim: D, classes: ['balloon', 'Person'], weight: w, bias: Float32Array.from([1, 2]), fineTuned: [false, true] };
    const e = effectiveBundle(bundle, head);
    const C0 = bundle.manifest.classes.length;
    expect(e.manifest.classes.length).toBe(C0 + 1);
    const person = bundle.manifest.classes.findIndex((c) => c.name === 'person');
    expect(e.headWeight[person * D]).toBe(-1);
    expect(e.headBias[person]).toBe(2);
    expect(e.manifest.classes[C0].name).toBe('balloon');
    expect(e.headWeight[C0 * D + 3]).toBe(0.5);
    expect(e.headBias[C0]).toBe(1);
    expect(e.projectHead!.rows.sort()).toEqual([person, C0].sort());
    // only the fine-tuned row keeps sam's region click
    expect(e.projectHead!.peakClickRows).toEqual([C0]);
    // untouched rows are the bundle's
    expect(Array.from(e.headWeight.subarray(0, D))).toEqual(Array.from(bundle.headWeight.subarray(0, D)));
    expect(headMismatch(bundle, { modelId: 'efficientnet-b0-x', featureDim: D })).toMatch(/efficientnet-b0-x/);
    expect(headMismatch(bundle, { modelId: bundle.manifest.modelId, featureDim: 1280 })).toMatch(/1280/);
    expect(() => effectiveBundle(bundle, { ...head, featureDim: 1280 })).toThrow(/cannot be used/);
    expect(effectiveBundle(bundle, null)).toBe(bundle);
  });

  it("drops the image head's rows that a project head supplies: their score is their peaks, as they were trained", () => {
    const lite0 = readBundle(join(repoRoot, 'resources', 'models-effnet-lite0'));
    const D1 = lite0.manifest.head.channels;
    expect(lite0.imageHead).not.toBeNull();
    const person = lite0.manifest.classes.findIndex((c) => c.name === 'person');
    const head = { key: 'k', modelId: lite0.manifest.modelId, featureDim: D1, classes: ['person', 'balloon'], weight: new Float32Array(2 * D1), bias: new Float32Array(2), fineTuned: [true, false] };
    const e = effectiveBundle(lite0, head);
    const image = e.imageHead!;
    expect(image.bias.length).toBe(lite0.manifest.classes.length); // the new class has no row: imageHeadLogits gives it 0
    expect(image.bias[person]).toBe(0);
    expect(image.weight.subarray(person * D1, (person + 1) * D1).every((v) => v === 0)).toBe(true);
    const cat = lite0.manifest.classes.findIndex((c) => c.name === 'cat');
    expect(image.bias[cat]).toBe(lite0.imageHead!.bias[cat]);
    expect(lite0.imageHead!.bias[person]).not.toBe(0); // the bundle's own head is left as it was
  });
});

describe('project heads: store', () => {
  it('stores versions, keeps one active, reads the weights back exactly', () => {
    mkdirSync(root, { recursive: true });
    const path = join(root, 'store.peaklabel');
    rmSync(path, { force: true });
    const s = ProjectStore.create(path);
    try {
      const metrics = { trainedClasses: ['a'], classes: [], tags: ['a'], trainImages: 1, heldOutImages: 0, instancesUsed: 0, mAPBefore: null, mAPAfter: 0.5, pointwiseBefore: null, pointwiseAfter: null, curve: [], seconds: 1, featureSeconds: 0, featuresComputed: 0 };
      const w = Float32Array.from({ length: 3 }, (_, i) => i + 0.25);
      const h1 = saveHead(s, { modelId: 'm', featureDim: 3, classes: ['a'], weight: w, bias: Float32Array.from([7]), metrics });
      const h2 = saveHead(s, { modelId: 'm', featureDim: 3, classes: ['a'], weight: w.map((v) => -v), bias: Float32Array.from([8]), metrics: { ...metrics, mAPAfter: 0.75 } });
      const a = activeHead(s)!;
      expect(a.summary.id).toBe(h2.summary.id);
      expect(Array.from(a.weight)).toEqual([-0.25, -1.25, -2.25]);
      expect(Array.from(a.bias)).toEqual([8]);
      expect(headHistory(s).map((h) => [h.id, h.active, h.mAPAfter])).toEqual([[h2.summary.id, true, 0.75], [h1.summary.id, false, 0.5]]);
      expect(() => saveHead(s, { modelId: 'm', featureDim: 3, classes: ['a', 'b'], weight: w, bias: Float32Array.from([1]), metrics })).toThrow(/does not fit/);
    } finally {
      s.close();
    }
  });
});

describe('project heads: training through the service', () => {
  const images = join(root, 'images');
  const project = join(root, 'p.peaklabel');
  let ctx: ServiceContext;
  let api: PeakLabelApi;
  let engine: ReturnType<typeof createEngineMethods>;
  let balloons: string[];
  let people: string[];
  const ids: Record<string, number> = {};

  beforeAll(async () => {
    rmSync(root, { recursive: true, force: true });
    balloons = pick('balloon', 8, images);
    people = pick('pennfudan', 8, images);
    ctx = new ServiceContext();
    engine = createEngineMethods(ctx, { cacheDir: null });
    api = createService(ctx, engine);
    await api.createProject(project);
    await api.saveClass({ name: 'balloon' });
    await api.saveClass({ name: 'kite' });
    await api.addImageFolder(images);
    for (const im of (await api.listImages({ offset: 0, limit: 100 })).items) ids[im.fileName] = im.id;
    await api.setTags(balloons.map((f) => ids[f]), ['balloon'], []);
    await api.setTags(people.map((f) => ids[f]), ['person'], []);
    await api.setTags([ids[balloons[0]]], ['kite'], []);
  }, 120_000);

  afterAll(async () => {
    await engine.closeEngine();
    ctx.close();
  });

  it('says which classes cannot be trained and what they need', async () => {
    const st = await api.headStatus();
    const kite = st.readiness.find((r) => r.name === 'kite')!;
    expect(kite.use).toBe('none');
    expect(kite.positives).toBe(1);
    expect(kite.reason).toMatch(/"kite".*at least 5 images tagged "kite" \(it has 1\).*no suggestions/);
    const balloon = st.readiness.find((r) => r.name === 'balloon')!;
    expect(balloon).toMatchObject({ use: 'trained', positives: 8, negatives: 8, reason: null });
    expect(st.active).toBeNull();
    expect(st.applied).toBe(false);
  });

  it('trains, stores and applies a head; the prelabel suggests the new class with every method', async () => {
    const events: string[] = [];
    const off = api.onProgress((e) => e.kind === 'train' && events.push(`${e.state}:${e.current ?? ''}`));
    const r = await api.trainHead({ epochs: 4 });
    off();
    expect(r.cancelled).toBe(false);
    const h = r.head!;
    expect(h.trainedClasses).toEqual(['balloon']);
    expect(h.modelId).toBe(bundle.manifest.modelId);
    expect(h.featureDim).toBe(D);
    expect(h.trainImages + h.heldOutImages).toBe(16);
    expect(h.featuresComputed).toBe(16);
    expect(h.curve.map((c) => c.epoch)).toEqual([1, 2, 3, 4]);
    expect(h.curve.every((c) => Number.isFinite(c.loss))).toBe(true);
    expect(h.classes.find((c) => c.name === 'kite')).toMatchObject({ use: 'none' });
    // only a row started from a built-in row is fine-tuned (and keeps sam's region click)
    const balloonReport = h.classes.find((c) => c.name === 'balloon')!;
    expect(balloonReport.fineTuned).toBe(balloonReport.initFrom!.startsWith('built-in'));
    expect(events.some((e) => e.startsWith('running:features'))).toBe(true);
    expect(events.some((e) => e.startsWith('running:epoch 4/4'))).toBe(true);
    expect(events.at(-1)).toMatch(/^done/);
    // the features are cached per image hash and model
    const dir = featureDir(`${project}.cache`, bundle.manifest.modelId);
    const files = readdirSync(dir);
    expect(files).toHaveLength(16);
    const f = readFeatures(join(dir, files[0]), D);
    expect(f.features.data.length).toBe(f.h * f.w * D);

    const st = await api.headStatus();
    expect(st.applied).toBe(true);
    expect(st.active!.id).toBe(h.id);
    const info = await api.engineInfo();
    expect(info.modelClasses).toContain('balloon');

    const balloonId = (await api.listClasses()).find((c) => c.name === 'balloon')!.id;
    for (const method of ['iam', 'prm'] as const) {
      const p = await api.prelabel({ imageIds: [ids[balloons[1]]], method, force: true });
      expect(p.images).toBe(1);
      const inst = await api.listInstances(ids[balloons[1]]);
      expect(inst.length).toBeGreaterThan(0);
      expect(inst.every((i) => i.classId === balloonId && i.method === method)).toBe(true);
      expect(inst[0].modelId).toBe(`${bundle.manifest.modelId}+head${h.id}`);
    }
    // untagged, a project with its own head gets suggestions of its own classes only (no "bottle" or "boat")
    const classesBefore = (await api.listClasses()).map((c) => c.name).sort();
    const untagged = ids[people[1]];
    await api.setTags([untagged], [], ['person']);
    await api.prelabel({ imageIds: [untagged], method: 'iam', force: true });
    const projectIds = new Set((await api.listClasses()).map((c) => c.id));
    expect((await api.listClasses()).map((c) => c.name).sort()).toEqual(classesBefore);
    expect((await api.listInstances(untagged)).every((i) => projectIds.has(i.classId))).toBe(true);
    await api.setTags([untagged], ['person'], []);
    // a click with the trained class gives its instance
    const peaks = await api.findPeaks(ids[balloons[1]]);
    const top = peaks.find((p) => p.classId === balloonId)!;
    const one = await api.suggestForPeak(ids[balloons[1]], { classId: balloonId, x: top.x, y: top.y }, 'iam');
    expect(one.classId).toBe(balloonId);
  }, 600_000);

  it('uses accepted instances as point labels, reuses the cache, and a cancelled run keeps the previous head', async () => {
    const before = (await api.headStatus()).active!;
    const inst = await api.listInstances(ids[balloons[1]]);
    await api.acceptInstances([inst[0].id]);
    let cancelled = false;
    const off = api.onProgress((e) => {
      if (e.kind === 'train' && e.current?.startsWith('epoch 1/') && !cancelled) {
        cancelled = true;
        void api.cancelTraining();
      }
    });
    const r = await api.trainHead({ epochs: 50 });
    off();
    expect(r).toEqual({ head: null, cancelled: true });
    const st = await api.headStatus();
    expect(st.active!.id).toBe(before.id);
    expect(st.history).toHaveLength(1);
    expect(st.training).toBeNull();

    const again = await api.trainHead({ epochs: 2 });
    expect(again.head!.featuresComputed).toBe(0);
    const balloonReport = again.head!.classes.find((c) => c.name === 'balloon')!;
    expect(balloonReport.points).toBe(1);
    expect(again.head!.instancesUsed).toBe(1);
    expect((await api.headStatus()).history.map((x) => x.active)).toEqual([true, false]);
    // a cached file cut short (a crash, a full disk) is computed again, not an error; the CLI says where
    // each trained row started (a third head)
    const dir = featureDir(`${project}.cache`, bundle.manifest.modelId);
    const damaged = join(dir, readdirSync(dir)[0]);
    truncateSync(damaged, 1000);
    const cli = capture();
    expect(await main(['train', '--project', project, '--epochs', '1'], cli)).toBe(0);
    expect(cli.stdout.join('\n')).toMatch(/ 1 feature maps computed /);
    expect(statSync(damaged).size).toBeGreaterThan(1000);
    expect(cli.stdout.join('\n')).toMatch(/\n {2}balloon: trained .*\n {4}started from (feature centroids|built-in "\w+" \(training AP [\d.]+\), only fine-tuned)\n/);
    expect((await api.headStatus()).history).toHaveLength(3);
  }, 600_000);

  it('Ctrl-C on `peaklabel train` cancels cleanly (exit 130) and keeps the previous head', async () => {
    const before = headHistory(ctx.store());
    const child = spawn(process.execPath, [join(repoRoot, 'bin', 'peaklabel.mjs'), 'train', '--project', project, '--epochs', '500'], { cwd: repoRoot, env: process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    const started = new Promise<void>((resolve) => child.stderr.on('data', (d) => {
      stderr += d;
      if (/train \d+\/\d+/.test(stderr)) resolve();
    }));
    await started;
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(stderr).not.toMatch(/Aborted|Napi::Error/);
    expect(code).toBe(130);
    expect(stdout).toContain('training cancelled: the previous head stays in use');
    expect(headHistory(ctx.store())).toEqual(before);
  }, 300_000);

  it('never applies a head of another backbone, and says why', async () => {
    const store = ctx.store();
    const cur = activeHead(store)!;
    saveHead(store, { modelId: 'efficientnet-b0-other', featureDim: 1280, classes: ['balloon'], weight: new Float32Array(1280), bias: new Float32Array(1), metrics: { ...cur.summary } });
    const st = await api.headStatus();
    expect(st.applied).toBe(false);
    expect(st.notApplied).toMatch(/efficientnet-b0-other.*Train again/);
    const info = await api.engineInfo();
    expect(info.modelClasses).not.toContain('balloon');
    expect(info.modelClasses).toHaveLength(bundle.manifest.classes.length);
  }, 120_000);

  it('the CLI names the class and what it needs when nothing can be trained', async () => {
    const p2 = join(root, 'nonneg.peaklabel');
    rmSync(p2, { force: true });
    const out = capture();
    expect(await main(['create', '--project', p2, '--class', 'balloon'], out)).toBe(0);
    expect(await main(['import', '--project', p2, '--images', images], out)).toBe(0);
    const s = ProjectStore.open(p2);
    const all = s.db.prepare('SELECT id FROM images').all() as { id: number }[];
    s.setTags(all.map((r) => r.id), ['balloon'], []);
    s.close();
    const err = capture();
    expect(await main(['train', '--project', p2, '--epochs', '1'], err)).toBe(2);
    expect(err.stderr.join('\n')).toMatch(/Cannot train "balloon": it needs negatives: at least 5 tagged images that do not show it \(it has none/);
    expect(existsSync(`${p2}.cache/features`)).toBe(false);
    const st = capture();
    expect(await main(['train', '--project', p2, '--status'], st)).toBe(0);
    expect(st.stdout[0]).toBe('no trained head: the built-in classes only');
    expect(st.stdout[1]).toMatch(/^ {2}balloon: no suggestions; cannot be trained \(16 tagged, 0 negatives, 0 instances\)$/);
    expect(st.stdout[2]).toMatch(/needs negatives/);
  }, 120_000);
});

describe('project heads: reproducible training', () => {
  it('the same tagged images give the same head whatever order they were imported in', async () => {
    const dir = join(root, 'order');
    rmSync(dir, { recursive: true, force: true });
    const folders = { balloon: join(dir, 'balloons'), person: join(dir, 'people') };
    pick('balloon', 6, folders.balloon);
    pick('pennfudan', 6, folders.person);
    const train = async (name: string, order: ('balloon' | 'person')[]) => {
      const ctx = new ServiceContext();
      const engine = createEngineMethods(ctx, { cacheDir: null });
      const api = createService(ctx, engine);
      try {
        await api.createProject(join(dir, `${name}.peaklabel`));
        await api.saveClass({ name: 'balloon' });
        for (const tag of order) {
          const before = new Set((await api.listImages({ offset: 0, limit: 100 })).items.map((im) => im.id));
          await api.addImageFolder(folders[tag]);
          const added = (await api.listImages({ offset: 0, limit: 100 })).items.filter((im) => !before.has(im.id));
          await api.setTags(added.map((im) => im.id), [tag], []);
        }
        const firstId = Math.min(...(await api.listImages({ offset: 0, limit: 100 })).items.map((im) => im.id));
        const firstFile = (await api.getImage(firstId)).path;
        expect((await api.trainHead({ epochs: 3 })).head).not.toBeNull();
        return { weight: activeHead(ctx.store())!.weight, firstFile };
      } finally {
        await engine.closeEngine();
        ctx.close();
      }
    };
    const a = await train('a', ['balloon', 'person']);
    const b = await train('b', ['person', 'balloon']);
    expect(a.firstFile).toContain('balloons'); // the two projects number their images differently
    expect(b.firstFile).toContain('people');
    expect(Array.from(b.weight)).toEqual(Array.from(a.weight));
  }, 300_000);
});
