// onnxruntime-node reproduces the IAMs and stride-16 seeds that PyTorch computed (golden files from
// tools/model-kit/iam/golden.py), for every bundle that ships an IAM.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { IAM_INPUTS, IAM_OUTPUTS, openIam } from '../../src/main/engine/iam';
import { repoRoot } from '../helpers/shared';

// Method iam's graph of each bundle, and the SqueezeNet bundle's second graph for method sam's regions.
const graphs = [
  ['models', 'iam'],
  ['models', 'sam-regions'],
  ['models-effnet-lite0', 'iam'],
].map(([d, name]) => ({ dir: join(repoRoot, 'resources', d), name, label: `${d}/${name}` }));

interface GoldenSpec {
  tolerance: { maxAbsErrorRelativeToMax: number };
  tensors: Record<string, { file: string; dims: number[]; dtype: 'float16' | 'float32' }>;
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

function readTensor(goldenDir: string, spec: GoldenSpec['tensors'][string]): Float32Array {
  const buf = readFileSync(join(goldenDir, spec.file));
  const n = spec.dims.reduce((a, b) => a * b, 1);
  if (spec.dtype === 'float32') return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + n * 4));
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = halfToFloat(buf.readUInt16LE(2 * i));
  return out;
}

describe('iam.onnx golden', () => {
  it('every shipped IAM graph has golden files', () => {
    for (const g of graphs) expect(existsSync(join(g.dir, 'golden', g.name, 'golden.json')), g.label).toBe(true);
  });

  it.each(graphs)('$label: reproduces the PyTorch Instance Activation Maps and stride-16 seeds within 1e-4 of their maximum', async ({ dir, name }) => {
    const goldenDir = join(dir, 'golden', name);
    const spec = JSON.parse(readFileSync(join(goldenDir, 'golden.json'), 'utf8')) as GoldenSpec;
    const { session } = await openIam(dir, {}, `${name}.json`);
    const feeds: Record<string, ort.Tensor> = {};
    for (const name of IAM_INPUTS) feeds[name] = new ort.Tensor('float32', readTensor(goldenDir, spec.tensors[name]), spec.tensors[name].dims);
    const out = await session.run(feeds);
    for (const name of IAM_OUTPUTS) {
      const want = readTensor(goldenDir, spec.tensors[name]);
      expect(out[name].dims).toEqual(spec.tensors[name].dims);
      const got = out[name].data as Float32Array;
      let maxRef = 0, maxErr = 0;
      for (let i = 0; i < want.length; i++) {
        maxRef = Math.max(maxRef, Math.abs(want[i]));
        maxErr = Math.max(maxErr, Math.abs(got[i] - want[i]));
      }
      expect(maxRef).toBeGreaterThan(0);
      expect(maxErr).toBeLessThanOrEqual(spec.tolerance.maxAbsErrorRelativeToMax * maxRef);
    }
  });
});
