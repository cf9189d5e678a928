// Benchmark (not a test): backbone.onnx of several bundles on one 448×448 (and 448×592) input in
// onnxruntime-node, runs interleaved so that both see the same machine load; min and median per bundle.
// Run: npx tsx tools/model-kit/bench-backbones.ts [runs] [bundleDir ...]   (env ORT_THREADS=n)
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';

const root = join(import.meta.dirname, '..', '..');
const runs = Number(process.argv[2] ?? 15);
const dirs = process.argv.length > 3 ? process.argv.slice(3).map((d) => resolve(d)) : ['models', 'models-effnet-lite0'].map((d) => join(root, 'resources', d));
const threads = Number(process.env.ORT_THREADS ?? cpus().length);
const opts: ort.InferenceSession.SessionOptions = { intraOpNumThreads: threads, graphOptimizationLevel: 'all', extra: { session: { intra_op: { allow_spinning: '0' } } } };

async function load(dir: string) {
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  const C = m.classes.length;
  const D = m.head.channels;
  const raw = readFileSync(join(dir, m.head.file));
  const head = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  const s = await ort.InferenceSession.create(join(dir, m.graphs.backbone.file), opts);
  return { name: m.backbone?.name ?? 'squeezenet1.1', s, hw: new ort.Tensor('float32', head.slice(0, C * D), [C, D]), hb: new ort.Tensor('float32', head.slice(C * D), [C]) };
}
const models = await Promise.all(dirs.map(load));
for (const [H, W] of [[448, 448], [448, 592]]) {
  const image = new ort.Tensor('float32', Float32Array.from({ length: 3 * H * W }, (_, i) => ((i * 7919) % 255) - 127), [1, 3, H, W]);
  const t: number[][] = models.map(() => []);
  for (const m of models) await m.s.run({ image, head_weight: m.hw, head_bias: m.hb }, ['crm']);
  for (let r = 0; r < runs; r++) {
    for (const [i, m] of models.entries()) {
      const t0 = performance.now();
      await m.s.run({ image, head_weight: m.hw, head_bias: m.hb }, ['crm']);
      t[i].push(performance.now() - t0);
    }
  }
  for (const [i, m] of models.entries()) {
    const s = [...t[i]].sort((a, b) => a - b);
    console.log(`${H}x${W} ${m.name.padEnd(20)} min ${s[0].toFixed(1)} ms  median ${s[s.length >> 1].toFixed(1)} ms  (${runs} runs, ${threads} threads, load ${loadavg()[0].toFixed(1)})`);
  }
}
