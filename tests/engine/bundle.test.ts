// Bundle validation and provider reporting: every broken bundle stops with MODEL_INVALID naming the file,
// before any image is touched; optional graphs only remove their methods.
import { copyFileSync, mkdirSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PeakLabelError } from '../../src/common/errors';
import { readBundle } from '../../src/main/engine/bundle';
import { Engine } from '../../src/main/engine/engine';
import { hasVulkanLoader, precheckProvider, providerOrder, summarizeProviderError } from '../../src/main/engine/providers';
import { ModelSessions } from '../../src/main/engine/sessions';
import { repoRoot, sharedPath, testOutput } from '../helpers/shared';
import { caught } from '../helpers/errors';

const models = join(repoRoot, 'resources', 'models');

/** A copy of the real bundle (graphs linked, not copied) that a test may break. */
function bundleCopy(name: string, edit?: (manifest: Record<string, any>, dir: string) => void): string {
  const dir = testOutput('engine-bundle', name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(models, 'manifest.json'), 'utf8'));
  copyFileSync(join(models, manifest.head.file), join(dir, manifest.head.file));
  if (manifest.imageHead) copyFileSync(join(models, manifest.imageHead.file), join(dir, manifest.imageHead.file));
  for (const g of ['backbone', 'prm']) symlinkSync(join(models, manifest.graphs[g].file), join(dir, manifest.graphs[g].file));
  edit?.(manifest, dir);
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
  return dir;
}

async function rejected(p: Promise<unknown>): Promise<PeakLabelError> {
  const err = await p.then(() => null, (e: unknown) => e);
  if (!(err instanceof PeakLabelError)) throw new Error(`expected a PeakLabelError, got ${String(err)}`);
  return err;
}

describe('bundle validation', () => {
  it('reads the real bundle: classes, head weights, methods', () => {
    const b = readBundle(models);
    const C = b.manifest.classes.length;
    expect(C).toBeGreaterThan(0);
    expect(b.headWeight.length).toBe(C * b.manifest.head.channels);
    expect(b.headBias.length).toBe(C);
    expect(b.methods).toContain('prm');
    expect(b.retrieval.nmsIou).toBeGreaterThan(0);
  });

  it('a missing graph file is MODEL_INVALID naming the file', () => {
    const dir = bundleCopy('missing', (m, d) => rmSync(join(d, m.graphs.backbone.file)));
    const err = caught(() => readBundle(dir));
    expect(err.code).toBe('MODEL_INVALID');
    expect(err.file).toBe(join(dir, 'backbone.onnx'));
    expect(err.message).toContain('backbone.onnx');
  });

  it('a missing manifest is MODEL_INVALID', () => {
    const dir = testOutput('engine-bundle', 'empty');
    mkdirSync(dir, { recursive: true });
    const err = caught(() => readBundle(dir));
    expect(err.code).toBe('MODEL_INVALID');
    expect(err.message).toContain('manifest.json');
  });

  it('a wrong version or format is refused', () => {
    const v2 = caught(() => readBundle(bundleCopy('v2', (m) => (m.version = 2))));
    expect(v2.code).toBe('MODEL_INVALID');
    expect(v2.message).toMatch(/version 2/);
    const fmt = caught(() => readBundle(bundleCopy('format', (m) => (m.format = 'something-else'))));
    expect(fmt.message).toMatch(/format/);
  });

  it('a bundle for an unknown backbone is refused with the reason; one without the field is SqueezeNet 1.1', () => {
    const err = caught(() => readBundle(bundleCopy('backbone', (m) => (m.backbone = { name: 'resnet50' }))));
    expect(err.code).toBe('MODEL_INVALID');
    expect(err.message).toMatch(/backbone "resnet50".*cannot run.*squeezenet1\.1, efficientnet-lite0, efficientnet-lite1, efficientnet-lite2/);
    const legacy = readBundle(bundleCopy('no-backbone', (m) => delete m.backbone));
    expect(legacy.manifest.backbone.name).toBe('squeezenet1.1');
    const lite2 = readBundle(bundleCopy('lite2', (m) => (m.backbone = { name: 'efficientnet-lite2' })));
    expect(lite2.manifest.backbone.name).toBe('efficientnet-lite2');
    const order = caught(() => readBundle(bundleCopy('order', (m) => (m.preprocess.channelOrder = 'YUV'))));
    expect(order.message).toMatch(/channelOrder is "YUV"/);
  });

  it("retrieval.json's samRegions picks sam's region source; one the bundle lacks falls back with the reason; an unknown value names the file", () => {
    const withGraphs = (name: string, files: string[], retrieval?: unknown) =>
      bundleCopy(name, (_m, d) => {
        for (const f of files) symlinkSync(join(models, f), join(d, f));
        if (retrieval !== undefined) writeFileSync(join(d, 'retrieval.json'), JSON.stringify(retrieval));
      });
    const iam = ['iam.json', 'iam.onnx'];
    const both = [...iam, 'sam-regions.json', 'sam-regions.onnx'];
    expect(readBundle(withGraphs('regions-default', iam)).samRegions).toBe('iam');
    const second = readBundle(withGraphs('regions-second', both));
    expect(second.samRegions).toBe('sam-regions');
    expect(second.paths.samRegions).toMatch(/sam-regions\.onnx$/);
    expect(readBundle(withGraphs('regions-iam', both, { samRegions: 'iam' })).samRegions).toBe('iam');
    expect(readBundle(withGraphs('regions-crm', both, { samRegions: 'crm' })).samRegions).toBe('crm');
    expect(readBundle(bundleCopy('regions-no-iam')).samRegions).toBe('crm');
    const lacking = readBundle(withGraphs('regions-lacking', iam, { samRegions: 'sam-regions' }));
    expect(lacking.samRegions).toBe('iam');
    expect(lacking.unavailable.join('\n')).toMatch(/sam regions: .*sam-regions\.json/);
    const dir = withGraphs('regions-bad', iam, { samRegions: 'prm' });
    const err = caught(() => readBundle(dir));
    expect(err.code).toBe('MODEL_INVALID');
    expect(err.file).toBe(join(dir, 'retrieval.json'));
    expect(err.message).toMatch(/samRegions is "prm"; expected one of sam-regions, iam, crm/);
    expect(readBundle(models).samRegions).toBe('sam-regions');
    expect(readBundle(join(repoRoot, 'resources', 'models-effnet-lite0')).samRegions).toBe('crm');
  });

  it('a head.bin of the wrong size is refused with the expected size', () => {
    const dir = bundleCopy('head', (m, d) => truncateSync(join(d, m.head.file), 400));
    const err = caught(() => readBundle(dir));
    expect(err.code).toBe('MODEL_INVALID');
    expect(err.file).toBe(join(dir, 'head.bin'));
    expect(err.message).toMatch(/400 bytes/);
  });

  it('an image head is read beside the class head; a wrong size, a NaN or a manifest entry that does not fit is refused naming it', () => {
    const base = readBundle(models);
    const C = base.manifest.classes.length;
    const D = base.manifest.head.channels;
    const withImageHead = (name: string, values: Float32Array, entry: Record<string, unknown> = {}) =>
      bundleCopy(name, (m, d) => {
        writeFileSync(join(d, 'image-head.bin'), Buffer.from(values.buffer));
        m.imageHead = { file: 'image-head.bin', channels: D, pooling: 'max', ...entry };
      });
    const ok = readBundle(withImageHead('image-head', Float32Array.from({ length: C * D + C }, (_, i) => i % 7)));
    expect(ok.imageHead!.weight.length).toBe(C * D);
    expect(Array.from(ok.imageHead!.bias.subarray(0, 3))).toEqual([(C * D) % 7, (C * D + 1) % 7, (C * D + 2) % 7]);
    expect(base.imageHead!.bias.length).toBe(C);
    expect(readBundle(bundleCopy('no-image-head', (m) => delete m.imageHead)).imageHead).toBeNull();
    const missing = bundleCopy('image-head-missing', (m, d) => rmSync(join(d, m.imageHead.file)));
    expect(caught(() => readBundle(missing)).file).toBe(join(missing, 'image-head.bin'));
    const short = withImageHead('image-head-short', new Float32Array(C * D));
    const err = caught(() => readBundle(short));
    expect(err.code).toBe('MODEL_INVALID');
    expect(err.file).toBe(join(short, 'image-head.bin'));
    expect(err.message).toMatch(/image head .* has \d+ bytes/);
    const nan = new Float32Array(C * D + C);
    nan[5] = NaN;
    expect(caught(() => readBundle(withImageHead('image-head-nan', nan))).message).toMatch(/image head .*NaN/);
    const values = new Float32Array(C * D + C);
    expect(caught(() => readBundle(withImageHead('image-head-channels', values, { channels: 7 }))).message).toMatch(/imageHead\.channels is 7, expected the head's/);
    expect(caught(() => readBundle(withImageHead('image-head-pooling', values, { pooling: 'mean' }))).message).toMatch(/imageHead\.pooling is "mean"/);
  });

  it('a graph whose inputs/outputs differ from the manifest is refused when sessions open', async () => {
    // backbone.onnx replaced by the PRM graph: it has a "peaks" input and no "crm" output.
    const dir = bundleCopy('mismatch', (m, d) => {
      rmSync(join(d, m.graphs.backbone.file));
      symlinkSync(join(models, m.graphs.prm.file), join(d, m.graphs.backbone.file));
    });
    const err = await rejected(ModelSessions.open(readBundle(dir), { provider: 'cpu' }));
    expect(err.code).toBe('MODEL_INVALID');
    expect(err.file).toBe(join(dir, 'backbone.onnx'));
    expect(err.message).toMatch(/crm/);
  });

  it('a corrupt graph file is MODEL_INVALID naming it, and the engine does not start', async () => {
    const dir = bundleCopy('corrupt', (m, d) => {
      rmSync(join(d, m.graphs.prm.file));
      writeFileSync(join(d, m.graphs.prm.file), 'not a protobuf at all');
    });
    const err = await rejected(Engine.open({ bundleDir: dir, provider: 'cpu', cacheDir: null }));
    expect(err.code).toBe('MODEL_INVALID');
    expect(err.message).toContain(join(dir, 'prm.onnx'));
  });

  it('a corrupt sam-regions graph is MODEL_INVALID naming it when sessions open', async () => {
    const dir = bundleCopy('corrupt-regions', (_m, d) => {
      for (const f of ['iam.json', 'iam.onnx', 'sam-regions.json']) symlinkSync(join(models, f), join(d, f));
      writeFileSync(join(d, 'sam-regions.onnx'), 'not a protobuf at all');
    });
    const bundle = readBundle(dir);
    expect(bundle.samRegions).toBe('sam-regions');
    const err = await rejected(ModelSessions.open(bundle, { provider: 'cpu' }));
    expect(err.code).toBe('MODEL_INVALID');
    expect(err.message).toContain(join(dir, 'sam-regions.onnx'));
  });

  it('a bundle without prm.onnx opens, with its methods unavailable and the reason given; IAM still runs', async () => {
    const dir = bundleCopy('no-prm', (m, d) => {
      rmSync(join(d, m.graphs.prm.file));
      delete m.graphs.prm;
    });
    const b = readBundle(dir);
    expect(b.unavailable.join('\n')).toMatch(/iam:/); // no iam.json in the copy
    expect(b.methods).toEqual([]);
    for (const f of ['iam.json', 'iam.onnx']) symlinkSync(join(models, f), join(dir, f));
    const withIam = readBundle(dir);
    expect(withIam.methods).toEqual(['iam']);
    expect(withIam.unavailable.join('\n')).toMatch(/prm, threshold, rect, ellipse: they need the prm graph/);
    const engine = await Engine.open({ bundleDir: dir, provider: 'cpu', cacheDir: null, workers: 1 });
    try {
      const person = withIam.manifest.classes.findIndex((c) => c.name === 'person');
      const file = sharedPath('data', 'pennfudan', 'images', 'FudanPed00004.png');
      const r = await engine.processImage({ image: { file }, classes: [person], method: 'iam' });
      expect(r.instances.length).toBeGreaterThan(0);
      expect(r.timings.prm).toBe(0);
      expect(r.timings.iam).toBeGreaterThan(0);
      expect((await rejected((async () => engine.processImage({ image: { file }, classes: [person], method: 'prm' }))())).code).toBe('MODEL_UNAVAILABLE');
    } finally {
      await engine.close();
    }
  });
});

describe('prm calls', () => {
  it('a bundle with graphs.prm.peaksPerCall back-propagates its peaks in calls of that many, with the same maps', async () => {
    const bad = caught(() => readBundle(bundleCopy('prm-per-call-bad', (m) => (m.graphs.prm.peaksPerCall = 0))));
    expect(bad.message).toMatch(/graphs\.prm\.peaksPerCall must be a positive integer/);
    const side = 96;
    const image = new Float32Array(3 * side * side).map((_, i) => Math.sin(i * 0.37) * 40);
    const peaks = new Float32Array([14, 1, 1, 14, 3, 4, 2, 2.5, 2, 14, 5, 5, 7, 0, 3]); // five peaks (class, y, x)
    const maps = async (dir: string) => {
      const s = await ModelSessions.open(readBundle(dir), { provider: 'cpu' });
      try {
        return await s.runPrm(image, side, side, peaks);
      } finally {
        await s.release();
      }
    };
    const whole = await maps(models);
    const inTwos = await maps(bundleCopy('prm-per-call-2', (m) => (m.graphs.prm.peaksPerCall = 2)));
    expect(inTwos.length).toBe(5 * side * side);
    expect(Array.from(inTwos)).toEqual(Array.from(whole));
  });
});

describe('backbone outputs', () => {
  it('fetches the head features for the image head, and the finer levels only for an IAM graph', async () => {
    const dir = bundleCopy('outputs-no-iam'); // image head, no IAM graph
    const side = 64;
    const without = await ModelSessions.open(readBundle(dir), { provider: 'cpu' });
    try {
      const out = await without.runBackbone(new Float32Array(3 * side * side), side, side);
      expect(out.features?.dims).toEqual([1, readBundle(dir).manifest.head.channels, out.h, out.w]);
      expect(out.iamFeatures).toBeUndefined();
    } finally {
      await without.release();
    }
    const withIam = await ModelSessions.open(readBundle(models), { provider: 'cpu' });
    try {
      const out = await withIam.runBackbone(new Float32Array(3 * side * side), side, side);
      expect(Object.keys(out.iamFeatures ?? {}).sort()).toEqual(['features', 'features_s4', 'features_s8']);
      expect(out.iamFeatures?.features).toBe(out.features);
    } finally {
      await withIam.release();
    }
  });
});

describe('providers', () => {
  it('orders providers per platform, CPU last', () => {
    expect(providerOrder('linux')).toEqual(['cuda', 'webgpu', 'cpu']);
    expect(providerOrder('win32')).toEqual(['cuda', 'webgpu', 'dml', 'cpu']);
    expect(providerOrder('darwin')).toEqual(['cuda', 'webgpu', 'coreml', 'cpu']);
  });

  it('explains why a provider cannot run here', () => {
    if (process.platform !== 'win32') expect(precheckProvider('dml')).toMatch(/^dml: DirectML exists only on Windows/);
    expect(summarizeProviderError('webgpu', new Error('x.cc:136 adapter_result.status == wgpu::RequestAdapterStatus::Success was false. Failed to get a WebGPU adapter: No supported adapters'))).toBe(
      'webgpu: no adapter (Failed to get a WebGPU adapter: No supported adapters)',
    );
  });

  it('on Linux WebGPU is skipped with a reason when there is no Vulkan loader, instead of letting Dawn warn on the terminal', () => {
    const dir = testOutput('providers-vulkan');
    mkdirSync(dir, { recursive: true });
    const noCache = join(dir, 'no-ld.so.cache');
    // The standard library folders are looked at too, so only assert "found" from LD_LIBRARY_PATH and the cache.
    writeFileSync(join(dir, 'libvulkan.so.1'), '');
    expect(hasVulkanLoader({ LD_LIBRARY_PATH: `/nonexistent:${dir}` }, noCache)).toBe(true);
    const cache = join(dir, 'ld.so.cache');
    writeFileSync(cache, Buffer.concat([Buffer.from([0, 1, 2]), Buffer.from('/usr/lib/x86_64-linux-gnu/libvulkan.so.1\0')]));
    expect(hasVulkanLoader({}, cache)).toBe(true);
    if (process.platform === 'linux') expect(precheckProvider('webgpu') === null).toBe(hasVulkanLoader());
    if (process.platform === 'linux' && !hasVulkanLoader()) expect(precheckProvider('webgpu')).toMatch(/^webgpu: no Vulkan loader \(libvulkan\.so\.1\)/);
  });

  it('records a reason for every preferred provider it did not use', async () => {
    const s = await ModelSessions.open(readBundle(models));
    try {
      const order = providerOrder();
      const skipped = order.slice(0, order.indexOf(s.provider));
      expect(s.fallbackReasons.map((r) => r.split(':')[0])).toEqual(skipped);
      for (const r of s.fallbackReasons) expect(r.length).toBeGreaterThan(10);
    } finally {
      await s.release();
    }
  });

  it('a provider failing mid-run falls back to CPU for the rest and says so', async () => {
    const s = await ModelSessions.open(readBundle(models), { provider: 'cpu' });
    try {
      // Simulate a GPU session that dies (device lost): the real fallback path reopens on CPU.
      const internals = s as unknown as { provider: string; backbone: { run(): Promise<never>; release(): Promise<void> } };
      internals.provider = 'webgpu';
      internals.backbone = { run: () => Promise.reject(new Error('device lost')), release: async () => undefined };
      const out = await s.runBackbone(new Float32Array(3 * 64 * 64), 64, 64);
      expect(out.C).toBe(readBundle(models).manifest.classes.length);
      expect(s.provider).toBe('cpu');
      expect(s.fallbackReasons.at(-1)).toMatch(/^webgpu: failed mid-run .*device lost.*using cpu/);
    } finally {
      await s.release();
    }
  });

  it('a forced provider that cannot run fails with PROVIDER_FAILED and its reason', async () => {
    const forced = process.platform === 'win32' ? 'coreml' : 'dml';
    const err = await rejected(ModelSessions.open(readBundle(models), { provider: forced }));
    expect(err.code).toBe('PROVIDER_FAILED');
    expect(err.message).toContain(`${forced}:`);
  });
});
