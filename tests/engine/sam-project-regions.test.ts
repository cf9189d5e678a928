// Method sam for a class a project learnt from scratch, on the default (IAM) bundle: the IAM module never saw
// the class, so its peaks read their regions from the class's own response map (as a bundle without IAM
// does) and keep one click; the built-in classes still run the IAM (docs/adr/sam-prompts.md, 2026-12-05).
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SAM_PROMPT_OPTIONS } from '../../src/common/sam-prompts';
import { readBundle } from '../../src/main/engine/bundle';
import { effectiveBundle } from '../../src/main/engine/project-head';
import type { SamPrompt } from '../../src/main/engine/segmenter';
import { openSamPipeline, type SamPipeline } from '../helpers/sam-pipeline';
import { repoRoot } from '../helpers/shared';

const base = readBundle(join(repoRoot, 'resources', 'models'));
const image = { file: join(repoRoot, 'resources', 'samples', 'astronaut.jpg') };
const D = base.manifest.head.channels;
const person = base.manifest.classes.findIndex((c) => c.name === 'person');
// A new class "walker" whose row is a copy of person's, trained from scratch as far as the engine knows.
const walker = base.manifest.classes.length;
const bundle = effectiveBundle(base, {
  key: 'walker',
  modelId: base.manifest.modelId,
  featureDim: D,
  classes: ['walker'],
  weight: base.headWeight.slice(person * D, (person + 1) * D),
  bias: Float32Array.of(base.headBias[person]),
  fineTuned: [false],
});
let opened: SamPipeline;
const prompts: SamPrompt[] = [];

beforeAll(async () => {
  expect(bundle.samRegions).not.toBe('crm');
  expect(bundle.projectHead!.peakClickRows).toEqual([walker]);
  opened = await openSamPipeline(bundle);
  const seg = await opened.host.segmenter();
  const decode = seg.decode.bind(seg);
  seg.decode = (e, prompt, out, choice) => {
    prompts.push(prompt);
    return decode(e, prompt, out, choice);
  };
}, 120_000);

afterAll(async () => {
  await opened?.release();
});

async function run(classIndex: number, crmFraction = DEFAULT_SAM_PROMPT_OPTIONS.crmFraction) {
  Object.assign(opened.host.prompts, DEFAULT_SAM_PROMPT_OPTIONS, { crmFraction });
  prompts.length = 0;
  const r = await opened.pipeline.processImage(image, { classes: [classIndex] }, 'sam', () => undefined);
  return { instances: r.instances, prompts: [...prompts], iamMs: r.timings.iam };
}

describe('sam for a class learnt from scratch', () => {
  it('reads its regions from its class response map, with one positive click per peak; built-in classes run the IAM', async () => {
    const learnt = await run(walker);
    expect(learnt.instances.length).toBeGreaterThan(0);
    expect(learnt.iamMs).toBe(0);
    // One positive click per prompt; a peak probed inside another's mask adds a negative one there (probeSplit).
    expect(learnt.prompts.every((p) => p.points.filter((q) => q.label === 1).length === 1)).toBe(true);
    // The region is what the masks are scored against: without it (fraction 0) every agreement is 1.
    const noRegion = await run(walker, 0);
    expect(noRegion.instances.map((i) => i.score)).not.toEqual(learnt.instances.map((i) => i.score));
    const builtIn = await run(person);
    expect(builtIn.iamMs).toBeGreaterThan(0);
    expect(builtIn.prompts.some((p) => p.points.length === 2)).toBe(true);
  }, 120_000);
});
