// Benchmark (not a test): prm.onnx back-propagating 10 peaks on a 448×448 image in onnxruntime-node.
// Run: npx tsx tools/model-kit/bench-prm.ts [bundleDir] [runs]   (env ORT_THREADS=n, ORT_SPIN=0|1)
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';

const dir = resolve(process.argv[2] ?? join(import.meta.dirname, '..', '..', 'resources', 'models'));
const runs = Number(process.argv[3] ?? 7);
const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
const C = manifest.classes.length;
const raw = readFileSync(join(dir, manifest.head.file));
const head = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
const H = 448, W = 448;
let seed = 1;
const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
const image = new ort.Tensor('float32', Float32Array.from({ length: 3 * H * W }, () => rnd() * 255 - 120), [1, 3, H, W]);
const feeds = {
  image,
  head_weight: new ort.Tensor('float32', head.slice(0, C * 512), [C, 512]),
  head_bias: new ort.Tensor('float32', head.slice(C * 512), [C]),
};
const threads = Number(process.env.ORT_THREADS ?? cpus().length);
const spin = process.env.ORT_SPIN ?? '0'; // '0': worker threads sleep instead of spinning (helps on a busy CPU)
const opts: ort.InferenceSession.SessionOptions = {
  intraOpNumThreads: threads,
  graphOptimizationLevel: 'all',
  extra: { session: { intra_op: { allow_spinning: spin } } },
};
const backbone = await ort.InferenceSession.create(join(dir, 'backbone.onnx'), opts);
const prm = await ort.InferenceSession.create(join(dir, 'prm.onnx'), opts);
const crm = (await backbone.run(feeds)).crm;
const [, , h, w] = crm.dims as number[];
const peaks = new ort.Tensor('float32', Float32Array.from({ length: 30 }, (_, i) =>
  i % 3 === 0 ? Math.floor(rnd() * C) : (i % 3 === 1 ? rnd() * (h - 1) : rnd() * (w - 1))), [10, 3]);

async function time(f: () => Promise<unknown>): Promise<number[]> {
  await f();
  const t: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await f();
    t.push(performance.now() - t0);
  }
  return t.sort((a, b) => a - b);
}
const tb = await time(() => backbone.run(feeds));
const tp = await time(() => prm.run({ ...feeds, peaks }));
const fmt = (t: number[]) => `median ${t[t.length >> 1].toFixed(0)} ms, min ${t[0].toFixed(0)} ms`;
console.log(`ORT threads ${threads}, spinning ${spin}; CPU: ${cpus().length} × ${cpus()[0]?.model}; load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
console.log(`backbone.onnx 448×448:            ${fmt(tb)}`);
console.log(`prm.onnx 10 peaks, 448×448:       ${fmt(tp)}  (CRM ${h}×${w})`);
