// `peaklabel info` through the real CLI: which bundle and backbone, which methods (and why one is missing),
// and what gives sam its peak regions, for the default SqueezeNet bundle and the EfficientNet-Lite0 one.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot, testOutput } from '../helpers/shared';

function info(args: string[]) {
  const r = spawnSync(process.execPath, [join(repoRoot, 'bin', 'peaklabel.mjs'), 'info', '--provider', 'cpu', ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
    env: { ...process.env, PEAKLABEL_CONFIG_DIR: testOutput('config-info') },
    timeout: 120_000,
  });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

describe('peaklabel info', () => {
  it('shows the default SqueezeNet bundle with its second IAM graph giving sam its regions, and its image head', () => {
    const out = info([]);
    expect(out).toMatch(/^backbone +squeezenet1\.1 /m);
    expect(out).toMatch(/^methods +.*\biam\b.*\bsam\b/m);
    expect(out).toMatch(/sam peak regions: IAM trained for sam \(.*sam-regions\.onnx\)$/m);
    expect(out).toMatch(/sam masks: the whole object for two clicks, the decoder.s own pick for one/);
    expect(out).toMatch(/^scores +mean class response at the peaks \+ image head/m);
    expect(out).toMatch(/^cells +class-map cell i at input pixel 16·i \+ 13$/m);
  });

  it('shows the EfficientNet-Lite0 bundle: iam, class-response regions for sam (retrieval.json says so), its image head; --json says the same', () => {
    const dir = join(repoRoot, 'resources', 'models-effnet-lite0');
    const out = info(['--model', dir]);
    expect(out).toMatch(/^backbone +efficientnet-lite0 /m);
    expect(out).toMatch(/^methods +.*\biam\b/m);
    expect(out).toMatch(/sam peak regions: class response maps \(retrieval\.json: samRegions "crm"/);
    expect(out).toMatch(/^scores +mean class response at the peaks \+ image head/m);
    const j = JSON.parse(info(['--model', dir, '--json'])) as { backbone: string; samRegions: string; methods: string[] };
    expect(j).toMatchObject({ backbone: 'efficientnet-lite0', samRegions: 'class-response', imageHead: true, cells: { stride: 16, centerOffset: 2 } });
    expect(j.methods).toContain('sam');
  });
});
