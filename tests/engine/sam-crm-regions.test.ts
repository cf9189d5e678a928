// Method sam with class-response regions (the EfficientNet-Lite0 bundle's retrieval.json: samRegions "crm"):
// the class response maps give each peak its region, so new instances get the second click; with the fraction
// at 0 they get the peak alone. The bundle's IAM serves method iam and is not run for sam. Its class scores add
// the image head's logits.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imageHeadLogits } from '../../src/common/image-head';
import { DEFAULT_SAM_PROMPT_OPTIONS } from '../../src/common/sam-prompts';
import { readBundle } from '../../src/main/engine/bundle';
import { Pipeline } from '../../src/main/engine/pipeline';
import { decodeOriented, preprocess } from '../../src/main/engine/preprocess';
import { ProposalCache } from '../../src/main/engine/proposal-cache';
import type { SamHost } from '../../src/main/engine/sam-method';
import type { SamPrompt } from '../../src/main/engine/segmenter';
import type { ModelSessions } from '../../src/main/engine/sessions';
import { openSamPipeline, type SamPipeline } from '../helpers/sam-pipeline';
import { repoRoot } from '../helpers/shared';

const bundle = readBundle(join(repoRoot, 'resources', 'models-effnet-lite0'));
const image = { file: join(repoRoot, 'resources', 'samples', 'astronaut.jpg') };
const person = bundle.manifest.classes.findIndex((c) => c.name === 'person');
let opened: SamPipeline;
let sessions: ModelSessions;
let host: SamHost;
let pipeline: Pipeline;
let iamRegions: Pipeline;
const prompts: SamPrompt[] = [];

beforeAll(async () => {
  opened = await openSamPipeline(bundle);
  ({ sessions, host, pipeline } = opened);
  const seg = await host.segmenter();
  const decode = seg.decode.bind(seg);
  seg.decode = (e, prompt, out) => {
    prompts.push(prompt);
    return decode(e, prompt, out);
  };
  expect(bundle.samRegions).toBe('crm');
  iamRegions = new Pipeline({ ...bundle, samRegions: 'iam' }, sessions, new ProposalCache(null), undefined, host);
}, 120_000);

afterAll(async () => {
  await opened?.release();
});

async function run(crmFraction: number, p = pipeline) {
  Object.assign(host.prompts, DEFAULT_SAM_PROMPT_OPTIONS, { crmFraction });
  prompts.length = 0;
  const r = await p.processImage(image, { classes: [person] }, 'sam', () => undefined);
  return { instances: r.instances, prompts: [...prompts], iamMs: r.timings.iam };
}

describe('sam with class-response regions', () => {
  it('places a second click from the class-response region; without regions, the peak alone', async () => {
    const withRegions = await run(DEFAULT_SAM_PROMPT_OPTIONS.crmFraction);
    expect(withRegions.instances.length).toBeGreaterThan(0);
    expect(withRegions.prompts.some((p) => p.points.length === 2)).toBe(true);
    // Each peak is decoded at most once (a peak inside a drawn mask only supports it). How many calls that
    // leaves depends on the masks the two clicks draw, so it is not compared with the peak-only run.
    const firstClicks = withRegions.prompts.map((p) => `${p.points[0].x},${p.points[0].y}`);
    expect(new Set(firstClicks).size).toBe(firstClicks.length);
    const without = await run(0);
    expect(without.prompts.every((p) => p.points.length === 1)).toBe(true);
    // The astronaut (512×512) fills much of the photo: one suggestion covers her.
    expect(withRegions.instances.some((i) => i.area > 0.3 * 512 * 512)).toBe(true);
    expect(withRegions.iamMs).toBe(0);
  }, 120_000);

  it('samRegions "iam" runs the IAM for the regions instead', async () => {
    expect(sessions.hasIam).toBe(true);
    const r = await run(DEFAULT_SAM_PROMPT_OPTIONS.crmFraction, iamRegions);
    expect(r.iamMs).toBeGreaterThan(0);
    expect(r.instances.length).toBeGreaterThan(0);
  }, 120_000);
});

describe("the bundle's image head", () => {
  it("adds its logit on the max-pooled features to every class's peak score", async () => {
    expect(bundle.imageHead).not.toBeNull();
    const peaksOnly = new Pipeline({ ...bundle, imageHead: null }, sessions, new ProposalCache(null), undefined, host);
    const sel = { classes: [person] };
    const withHead = (await pipeline.processImage(image, sel, 'iam', () => undefined)).classScores;
    const without = (await peaksOnly.processImage(image, sel, 'iam', () => undefined)).classScores;
    const pre = await preprocess(await decodeOriented(image.file, 'astronaut.jpg'), bundle.manifest);
    const f = await sessions.runFeatures(pre.tensor, pre.geometry.height, pre.geometry.width);
    const logits = imageHeadLogits(f.data, f.D, bundle.imageHead!.weight, bundle.imageHead!.bias);
    expect(withHead).toHaveLength(logits.length);
    for (let c = 0; c < logits.length; c++) expect(withHead[c] - without[c]).toBeCloseTo(logits[c], 4);
    // the astronaut photo: person is the most likely class, and it is above the bundle's class threshold
    expect(withHead.indexOf(Math.max(...withHead))).toBe(person);
    expect(withHead[person]).toBeGreaterThanOrEqual(bundle.retrieval.classScoreThreshold);
  });
});
