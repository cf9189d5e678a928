// The default bundle carries two IAM graphs (resources/models/IAM_CARD.md): method iam runs iam.onnx, and
// method sam reads its peak regions from sam-regions.onnx (retrieval.json: samRegions "sam-regions").
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBundle } from '../../src/main/engine/bundle';
import { runIam } from '../../src/main/engine/iam';
import type { Pipeline } from '../../src/main/engine/pipeline';
import type { ModelSessions } from '../../src/main/engine/sessions';
import { openSamPipeline, type SamPipeline } from '../helpers/sam-pipeline';
import { repoRoot } from '../helpers/shared';

const bundle = readBundle(join(repoRoot, 'resources', 'models'));
const image = { file: join(repoRoot, 'resources', 'samples', 'astronaut.jpg') };
const person = bundle.manifest.classes.findIndex((c) => c.name === 'person');
let opened: SamPipeline;
let sessions: ModelSessions;
let pipeline: Pipeline;
const graphsRun: string[] = [];

beforeAll(async () => {
  opened = await openSamPipeline(bundle);
  ({ sessions, pipeline } = opened);
  const iamModel = sessions.iamModel.bind(sessions);
  sessions.iamModel = (which = 'iam') => {
    graphsRun.push(which);
    return iamModel(which);
  };
}, 120_000);

afterAll(async () => {
  await opened?.release();
});

async function graphsFor(method: 'sam' | 'iam'): Promise<{ graphs: string[]; instances: number }> {
  graphsRun.length = 0;
  const r = await pipeline.processImage(image, { classes: [person] }, method, () => undefined);
  return { graphs: [...new Set(graphsRun)], instances: r.instances.length };
}

describe('two IAM graphs in one bundle', () => {
  it('the bundle names both graphs and sam reads its regions from sam-regions.onnx', () => {
    expect(bundle.samRegions).toBe('sam-regions');
    expect(bundle.paths.iam).toMatch(/[\\/]iam\.onnx$/);
    expect(bundle.paths.samRegions).toMatch(/[\\/]sam-regions\.onnx$/);
  });

  it('method sam runs only the regions graph; method iam only its own', async () => {
    const sam = await graphsFor('sam');
    expect(sam.graphs).toEqual(['sam-regions']);
    expect(sam.instances).toBeGreaterThan(0);
    const iam = await graphsFor('iam');
    expect(iam.graphs).toEqual(['iam']);
    expect(iam.instances).toBeGreaterThan(0);
  }, 120_000);

  it('the two graphs are different trainings: the same peak gets different maps', async () => {
    const side = 224;
    const img = new Float32Array(3 * side * side).map((_, i) => ((i * 37) % 97) - 48);
    const { iamFeatures } = await sessions.runBackbone(img, side, side);
    const peaks = [{ classIndex: person, y: 6, x: 6 }];
    const own = await runIam(sessions.iamModel('iam'), { peaks, head: sessions.head, features: iamFeatures! });
    const regions = await runIam(sessions.iamModel('sam-regions'), { peaks, head: sessions.head, features: iamFeatures! });
    expect(own.iam.length).toBe(regions.iam.length);
    let diff = 0;
    for (let i = 0; i < own.iam.length; i++) diff = Math.max(diff, Math.abs(own.iam[i] - regions.iam[i]));
    expect(diff).toBeGreaterThan(0.01);
  });
});
