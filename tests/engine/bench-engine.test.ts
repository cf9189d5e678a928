// `peaklabel bench --method iam,prm`: both pipelines run on real images, each stage is attributed to the
// method that pays for it, and the comparison line is the ratio of the measured per-image times.
// (Speed targets are read off the bench's output, not asserted here.)
import { describe, expect, it } from 'vitest';
import { main } from '../../src/main/cli';
import { capture } from '../helpers/cli';
import { sharedPath } from '../helpers/shared';

/** `bench engine --method M` on 2 tagged PennFudan images with 1 worker: its output and the stage rows, one per method. */
async function bench(methods: string): Promise<{ out: string; rows: number[][] }> {
  const c = capture();
  const images = sharedPath('data', 'pennfudan', 'images');
  const tags = sharedPath('data', 'pennfudan', 'instances.json');
  expect(await main(['bench', 'engine', '--method', methods, '--limit', '2', '--workers', '1', '--images', images, '--tags', tags], c)).toBe(0);
  const out = c.stdout.join('\n');
  return { out, rows: [...out.matchAll(/^\s+1\s+2\s+([\d.\s]+)$/gm)].map((m) => m[1].trim().split(/\s+/).map(Number)) };
}

describe('bench engine --method iam,prm', () => {
  it('prints one table per method and how much faster per image the first is', async () => {
    const { out, rows } = await bench('iam,prm');
    expect(rows).toHaveLength(2);
    // decode preprocess backbone peaks prm proposals iam samEncoder samDecoder retrieval encode ORT peaks/img prompts/img wall images/s
    const [iam, prm] = rows;
    expect(iam[4]).toBe(0); // IAM never runs prm.onnx …
    expect(iam[6]).toBeGreaterThan(0); // … its own graph does the back-propagation
    expect(prm[4]).toBeGreaterThan(0);
    expect(prm[5]).toBeGreaterThan(0); // proposals
    expect(prm[6]).toBe(0);
    expect([iam[7], iam[8], iam[13], prm[7], prm[8], prm[13]]).toEqual([0, 0, 0, 0, 0, 0]); // no segmenter
    expect(out).toContain('click at a new point (one IAM call)');
    expect(out).toContain('click at a new point (one PRM call)');
    const ratio = out.match(/iam is ([\d.]+)× faster per image than prm/);
    expect(ratio).not.toBeNull();
    expect(Math.abs(Number(ratio![1]) - prm[14] / iam[14])).toBeLessThan(0.1); // printed rounded to 0.1
  });

  it('method sam: encoder and decoder columns, prompts per image, the sam summary and the refining click', async () => {
    const { out, rows } = await bench('sam');
    const [row] = rows;
    expect(row[7]).toBeGreaterThan(0); // encoder
    expect(row[8]).toBeGreaterThan(0); // decoder
    expect(row[13]).toBeGreaterThanOrEqual(1); // prompts per image
    expect(out).toMatch(/sam: encoder \d+ ms\/image \(target ≤ 800\), decoder [\d.]+ ms\/prompt \(target ≤ 50\), [\d.]+ prompts\/image, whole [\d.]+ s\/image/);
    expect(out).toMatch(/click → mask, embedding computed, a refining point \(decoder only\): mean \d+ ms/);
  });

  it('refuses an unknown method before loading anything', async () => {
    const c = capture();
    expect(await main(['bench', 'engine', '--method', 'iam,magic'], c)).toBe(2);
    expect(c.stderr.join('\n')).toMatch(/unknown method magic; use prm, iam, sam, threshold, rect, ellipse/);
  });
});
