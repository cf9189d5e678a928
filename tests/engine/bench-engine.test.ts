// `peaklabel bench --method iam,prm`: both pipelines run on real images, each stage is attributed to the
// method that pays for it, and the comparison line is the ratio of the measured per-image times.
// (Speed targets are read off the bench's output, not asserted here.)
import { describe, expect, it } from 'vitest';
import { main } from '../../src/main/cli';
import { capture } from '../helpers/cli';
import { sharedPath } from '../helpers/shared';

describe('bench engine --method iam,prm', () => {
  it('prints one table per method and how much faster per image the first is', async () => {
    const c = capture();
    const images = sharedPath('data', 'pennfudan', 'images');
    const tags = sharedPath('data', 'pennfudan', 'instances.json');
    expect(await main(['bench', 'engine', '--method', 'iam,prm', '--limit', '2', '--workers', '1', '--images', images, '--tags', tags], c)).toBe(0);
    const out = c.stdout.join('\n');
    const rows = [...out.matchAll(/^\s+1\s+2\s+([\d.\s]+)$/gm)].map((m) => m[1].trim().split(/\s+/).map(Number));
    expect(rows).toHaveLength(2);
    // decode preprocess backbone peaks prm proposals iam retrieval encode ORT peaks/img wall images/s
    const [iam, prm] = rows;
    expect(iam[4]).toBe(0); // IAM never runs prm.onnx …
    expect(iam[6]).toBeGreaterThan(0); // … its own graph does the back-propagation
    expect(prm[4]).toBeGreaterThan(0);
    expect(prm[5]).toBeGreaterThan(0); // proposals
    expect(prm[6]).toBe(0);
    expect(out).toContain('click at a new point (one IAM call)');
    expect(out).toContain('click at a new point (one PRM call)');
    const ratio = out.match(/iam is ([\d.]+)× faster per image than prm/);
    expect(ratio).not.toBeNull();
    expect(Math.abs(Number(ratio![1]) - prm[11] / iam[11])).toBeLessThan(0.1); // printed rounded to 0.1
  });

  it('refuses an unknown method before loading anything', async () => {
    const c = capture();
    expect(await main(['bench', 'engine', '--method', 'iam,magic'], c)).toBe(2);
    expect(c.stderr.join('\n')).toMatch(/unknown method magic; use prm, iam, sam, threshold, rect, ellipse/);
  });
});
