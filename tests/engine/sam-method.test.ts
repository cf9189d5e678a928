// segmentPeaks' prompts, with a recording stand-in for the decoder: which clicks each peak sends, and which
// peaks only support a mask already drawn.
import { describe, expect, it } from 'vitest';
import type { BinaryMask } from '../../src/common/mask';
import { decoderMaskChoice, DEFAULT_SAM_PROMPT_OPTIONS, type SamPromptOptions } from '../../src/common/sam-prompts';
import { crmRegions, rankInstances, segmentPeaks, type SamPeak } from '../../src/main/engine/sam-method';
import { samMaskPixels, type SamEmbedding, type SamMask, type SamPrompt, type Segmenter } from '../../src/main/engine/segmenter';

const W = 200;
const H = 100;

function rect(x0: number, y0: number, x1: number, y1: number): BinaryMask {
  const data = new Uint8Array(W * H);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) data[y * W + x] = 1;
  return { width: W, height: H, data };
}

/** A decoder that answers every prompt with `mask` and keeps the prompts it was given. */
function recordingSegmenter(mask: BinaryMask): { seg: Segmenter; prompts: SamPrompt[] } {
  const prompts: SamPrompt[] = [];
  const seg = {
    decode: async (_e: SamEmbedding, prompt: SamPrompt): Promise<SamMask> => {
      prompts.push(prompt);
      return { logits: Float32Array.from(mask.data, (v) => (v ? 1 : -1)), width: W, height: H, iou: 0.9 };
    },
  } as unknown as Segmenter;
  return { seg, prompts };
}

const embedding: SamEmbedding = { data: new Float32Array(0), width: W, height: H, scale: 1024 / W };
const peak = (x: number, y: number, value: number, region: BinaryMask | null, regionClicks = true, regionIsExtent = true): SamPeak => ({ classIndex: 0, value, point: { x, y }, region, regionClicks, regionIsExtent, prm: { width: 1, height: 1, data: new Float32Array(1) } });
const opts = (o: Partial<SamPromptOptions> = {}): SamPromptOptions => ({ ...DEFAULT_SAM_PROMPT_OPTIONS, ...o });

describe('segmentPeaks prompts', () => {
  it('clicks at the peak and at its region’s innermost pixel; a peak at the centre clicks once', async () => {
    const region = rect(20, 20, 80, 80); // innermost pixel near (49, 49)
    const { seg, prompts } = recordingSegmenter(rect(10, 10, 90, 90));
    await segmentPeaks(seg, embedding, [peak(25, 30, 1, region)], opts());
    expect(prompts).toHaveLength(1);
    const [p, q] = prompts[0].points;
    expect(p).toMatchObject({ x: 25, y: 30, label: 1 });
    expect(q.label).toBe(1);
    expect(Math.abs(q.x - 49.5)).toBeLessThanOrEqual(1.5);
    expect(Math.abs(q.y - 49.5)).toBeLessThanOrEqual(1.5);

    const centre = recordingSegmenter(rect(10, 10, 90, 90));
    await segmentPeaks(centre.seg, embedding, [peak(50, 50, 1, region)], opts());
    expect(centre.prompts[0].points).toEqual([{ x: 50, y: 50, label: 1 }]);
  });

  it('with click=peak, without a region, or for a project-trained class, sends the peak alone', async () => {
    const a = recordingSegmenter(rect(10, 10, 90, 90));
    await segmentPeaks(a.seg, embedding, [peak(25, 30, 1, rect(20, 20, 80, 80))], opts({ click: 'peak' }));
    expect(a.prompts[0].points).toEqual([{ x: 25, y: 30, label: 1 }]);
    const b = recordingSegmenter(rect(10, 10, 90, 90));
    await segmentPeaks(b.seg, embedding, [peak(25, 30, 1, null)], opts());
    expect(b.prompts[0].points).toEqual([{ x: 25, y: 30, label: 1 }]);
    const c = recordingSegmenter(rect(10, 10, 90, 90));
    await segmentPeaks(c.seg, embedding, [peak(25, 30, 1, rect(20, 20, 80, 80), false)], opts());
    expect(c.prompts[0].points).toEqual([{ x: 25, y: 30, label: 1 }]);
  });

  it('a weaker peak inside a drawn mask of its class only supports it (no second decode)', async () => {
    const { seg, prompts } = recordingSegmenter(rect(10, 10, 90, 90));
    // The weaker peak's region (2,500 px) is of its mask's size (6,400 px: under groupSplit × 2,500), so not a group.
    const found = await segmentPeaks(seg, embedding, [peak(60, 60, 0.5, rect(30, 30, 80, 80)), peak(30, 30, 1, rect(20, 20, 40, 40)), peak(150, 50, 0.2, null)], opts());
    // The strongest peak is decoded first; the other peak inside its mask adds support; the one outside is decoded.
    expect(prompts.map((p) => p.points[0])).toEqual([
      { x: 30, y: 30, label: 1 },
      { x: 150, y: 50, label: 1 },
    ]);
    expect(found[0]).toMatchObject({ peakIndex: 1, parts: { support: 1 } });
  });
});

describe('segmentPeaks group split (groupSplit)', () => {
  /** The first prompt gets a mask over the whole group; later ones a 30×30 box around their first click. */
  function groupThenOwn(): { seg: Segmenter; prompts: SamPrompt[] } {
    const prompts: SamPrompt[] = [];
    const seg = {
      decode: async (_e: SamEmbedding, prompt: SamPrompt): Promise<SamMask> => {
        prompts.push(prompt);
        const { x, y } = prompt.points[0];
        const m = prompts.length === 1 ? rect(10, 10, 190, 90) : rect(x - 15, y - 15, x + 15, y + 15);
        return { logits: Float32Array.from(m.data, (v) => (v ? 1 : -1)), width: W, height: H, iou: 0.9 };
      },
    } as unknown as Segmenter;
    return { seg, prompts };
  }
  // Three people in a row: the strongest peak's mask takes all three (14,400 px, 36× a 400-px region).
  const crowd = () => [peak(25, 45, 1, rect(20, 40, 40, 60)), peak(100, 50, 0.8, rect(90, 40, 110, 60)), peak(104, 54, 0.7, rect(94, 44, 114, 64)), peak(170, 50, 0.6, rect(60, 15, 180, 85))];

  it('off (0): every peak inside the group mask only supports it', async () => {
    const { seg, prompts } = groupThenOwn();
    const found = await segmentPeaks(seg, embedding, crowd(), opts({ groupSplit: 0 }));
    expect(prompts).toHaveLength(1);
    expect(found).toHaveLength(1);
    expect(found[0].parts.support).toBe(3);
  });

  it('a peak inside a mask many times its own region starts its own instance with one click, and supports the group', async () => {
    const { seg, prompts } = groupThenOwn();
    const found = await segmentPeaks(seg, embedding, crowd(), opts({ groupSplit: 6 }));
    // Peak 1 splits (36×); peak 2 falls inside peak 1's own mask, the smallest around it, and supports it;
    // peak 3's region is large (8,400 px: under 6× of the group's area), so it only supports the group.
    expect(prompts.map((p) => p.points)).toEqual([[{ x: 25, y: 45, label: 1 }, expect.anything()], [{ x: 100, y: 50, label: 1 }]]);
    expect(found.map((f) => [f.peakIndex, f.splitFrom, f.parts.support])).toEqual([
      [0, undefined, 2],
      [1, 0, 1],
    ]);
  });

  it('a class-response region (not a learnt extent) never splits a group', async () => {
    const { seg, prompts } = groupThenOwn();
    const found = await segmentPeaks(seg, embedding, crowd().map((p) => ({ ...p, regionIsExtent: false })), opts({ groupSplit: 6 }));
    expect(prompts).toHaveLength(1);
    expect(found[0].parts.support).toBe(3);
  });

  it('ranking keeps an instance split from its group, and still drops a part inside a better mask', async () => {
    const { seg } = groupThenOwn();
    const peaks = crowd();
    // The group mask ranks first (the split one is given a low IoU estimate), so containment is checked against it.
    const found = (await segmentPeaks(seg, embedding, peaks, opts({ groupSplit: 6 }))).map((f) => (f.splitFrom === undefined ? f : { ...f, parts: { ...f.parts, iouPred: 0.01 } }));
    expect(rankInstances(found, peaks, opts({ groupSplit: 6 })).map((f) => f.peakIndex)).toEqual([0, 1]);
    const asPart = found.map((f) => ({ ...f, splitFrom: undefined }));
    expect(rankInstances(asPart, peaks, opts({ groupSplit: 6 })).map((f) => f.peakIndex)).toEqual([0]);
  });
});

describe('segmentPeaks probe split (probeSplit: classes clicked once)', () => {
  /** A bunch of balloons: the first prompt gets the whole bunch; later ones `own(x, y)` around their click. */
  function bunchThen(own: (x: number, y: number, prompt: SamPrompt) => BinaryMask): { seg: Segmenter; prompts: SamPrompt[] } {
    const prompts: SamPrompt[] = [];
    const seg = {
      decode: async (_e: SamEmbedding, prompt: SamPrompt): Promise<SamMask> => {
        prompts.push(prompt);
        const { x, y } = prompt.points[0];
        const m = prompts.length === 1 ? rect(10, 10, 190, 90) : own(x, y, prompt);
        return { logits: Float32Array.from(m.data, (v) => (v ? 1 : -1)), width: W, height: H, iou: 0.9 };
      },
    } as unknown as Segmenter;
    return { seg, prompts };
  }
  // Peaks of a class learnt from scratch: one click each, no region.
  const bunch = () => [peak(25, 45, 1, null, false, false), peak(100, 50, 0.8, null, false, false), peak(170, 50, 0.6, null, false, false)];

  it('a peak whose own mask is far smaller than the mask around it, and leaves its peak out, starts its own instance', async () => {
    const { seg, prompts } = bunchThen((x, y) => rect(x - 15, y - 15, x + 15, y + 15));
    const found = await segmentPeaks(seg, embedding, bunch(), opts({ probeSplit: 3 }));
    const [holder, ...members] = [{ x: 25, y: 45 }, { x: 100, y: 50 }, { x: 170, y: 50 }];
    expect(prompts.map((p) => p.points)).toEqual([
      [{ ...holder, label: 1 }],
      // each probe says "not that one" at the holder's peak
      [{ ...members[0], label: 1 }, { ...holder, label: 0 }],
      [{ ...members[1], label: 1 }, { ...holder, label: 0 }],
      // then each member again against the bunch's peak and the other members
      [{ ...members[0], label: 1 }, { ...holder, label: 0 }, { ...members[1], label: 0 }],
      [{ ...members[1], label: 1 }, { ...holder, label: 0 }, { ...members[0], label: 0 }],
      // and the bunch's own peak gets its own balloon, its members' peaks as negatives
      [{ ...holder, label: 1 }, ...members.map((m) => ({ ...m, label: 0 }))],
    ]);
    expect(found.map((f) => [f.peakIndex, f.splitFrom, f.parts.support, f.area])).toEqual([
      [0, undefined, 2, 14_400],
      [1, 0, 0, 900],
      [2, 0, 0, 900],
      [0, 0, 0, 900],
    ]);
  });

  it('a member decoded again against the other members keeps the smaller mask', async () => {
    // Probes (two points) get 30×30; against all the others (three points) 20×20.
    const { seg } = bunchThen((x, y, prompt) => (prompt.points.length === 3 && prompt.points[0].x !== 25 ? rect(x - 10, y - 10, x + 10, y + 10) : rect(x - 15, y - 15, x + 15, y + 15)));
    const found = await segmentPeaks(seg, embedding, bunch(), opts({ probeSplit: 3 }));
    expect(found.map((f) => [f.peakIndex, f.area])).toEqual([
      [0, 14_400],
      [1, 400],
      [2, 400],
      [0, 900],
    ]);
    expect(found[1].mask.data[50 * W + 100]).toBe(1);
    expect(found[1].mask.data[50 * W + 112]).toBe(0);
  });

  it('a probed mask that is not far smaller, or holds the holder’s peak, is dropped: the peak only supports', async () => {
    const large = bunchThen(() => rect(10, 10, 120, 90)); // 8,800 px against the bunch's 14,400: under 3×
    const kept = await segmentPeaks(large.seg, embedding, bunch(), opts({ probeSplit: 3 }));
    expect(kept.map((f) => [f.peakIndex, f.parts.support])).toEqual([[0, 2]]);
    expect(large.prompts).toHaveLength(3); // no member split off: the bunch's own peak is not decoded again
    const withHolderPeak = bunchThen((x) => rect(x < 120 ? 20 : 150, 35, x < 120 ? 50 : 180, 60)); // peak 1's probe holds the first peak
    const found = await segmentPeaks(withHolderPeak.seg, embedding, bunch(), opts({ probeSplit: 3 }));
    expect(found.map((f) => [f.peakIndex, f.splitFrom])).toEqual([
      [0, undefined],
      [2, 0],
      [0, 0],
    ]);
  });

  it('off (0), or for a class with region clicks, peaks inside the mask are not decoded again', async () => {
    const off = bunchThen((x, y) => rect(x - 15, y - 15, x + 15, y + 15));
    expect(await segmentPeaks(off.seg, embedding, bunch(), opts({ probeSplit: 0 }))).toHaveLength(1);
    expect(off.prompts).toHaveLength(1);
    const bundleClass = bunchThen((x, y) => rect(x - 15, y - 15, x + 15, y + 15));
    const found = await segmentPeaks(bundleClass.seg, embedding, bunch().map((p) => ({ ...p, regionClicks: true })), opts({ probeSplit: 3 }));
    expect(bundleClass.prompts).toHaveLength(1);
    expect(found[0].parts.support).toBe(2);
  });
});

describe('segmentPeaks mask choice', () => {
  /** A decoder whose own pick is a part (IoU estimate 0.9) and whose whole-object mask is `whole` (0.8). */
  function partOrWhole(whole: BinaryMask): { seg: Segmenter; choices: string[] } {
    const choices: string[] = [];
    const part = rect(40, 40, 60, 60);
    const seg = {
      decode: async (_e: SamEmbedding, _p: SamPrompt, _out: unknown, choice = 'estimate'): Promise<SamMask> => {
        choices.push(choice);
        const m = choice === 'whole' ? whole : part;
        return { logits: Float32Array.from(m.data, (v) => (v ? 1 : -1)), width: W, height: H, iou: choice === 'whole' ? 0.8 : 0.9 };
      },
    } as unknown as Segmenter;
    return { seg, choices };
  }
  const region = rect(20, 20, 80, 80);
  const areaOf = (m: BinaryMask) => m.data.reduce((a, b) => a + b, 0);

  it('estimate and whole ask the decoder once, for its own pick or the whole object', async () => {
    const a = partOrWhole(rect(20, 20, 80, 80));
    const [own] = await segmentPeaks(a.seg, embedding, [peak(50, 50, 1, region)], opts({ maskChoice: 'estimate' }));
    expect(a.choices).toEqual(['estimate']);
    expect(areaOf(own.mask)).toBe(400);
    const b = partOrWhole(rect(20, 20, 80, 80));
    const [whole] = await segmentPeaks(b.seg, embedding, [peak(50, 50, 1, region)], opts({ maskChoice: 'whole' }));
    expect(b.choices).toEqual(['whole']);
    expect(areaOf(whole.mask)).toBe(3600);
    expect(whole.parts.iouPred).toBe(0.8);
  });

  it('two-clicks takes the whole object for a peak with two clicks, the own pick for a peak clicked once', async () => {
    const a = partOrWhole(rect(20, 20, 80, 80));
    // Peak off-centre in its region: two clicks. A project-trained row (regionClicks false): the peak alone.
    await segmentPeaks(a.seg, embedding, [peak(25, 30, 1, region), peak(150, 50, 0.5, rect(140, 40, 160, 60), false)], opts({ maskChoice: 'two-clicks' }));
    expect(a.choices).toEqual(['whole', 'estimate']);
  });
});

describe('mask cleaning (minRegionFraction)', () => {
  // An object with a 2×2 hole, and a 2×2 speck beside it: the specks a decoder leaves on fur and foliage.
  const specked = rect(20, 20, 80, 80);
  for (const [x, y] of [[50, 50], [51, 50], [50, 51], [51, 51]]) specked.data[y * W + x] = 0;
  for (const [x, y] of [[120, 30], [121, 30], [120, 31], [121, 31]]) specked.data[y * W + x] = 1;
  const logits: SamMask = { logits: Float32Array.from(specked.data, (v) => (v ? 2 : -2)), width: W, height: H, iou: 0.9 };
  const at = (m: BinaryMask, x: number, y: number) => m.data[y * W + x];

  it('samMaskPixels drops islands and fills holes under the fraction of the frame, and keeps them at 0', () => {
    const raw = samMaskPixels(logits);
    expect([at(raw, 50, 50), at(raw, 120, 30)]).toEqual([0, 1]);
    const clean = samMaskPixels(logits, 0.001); // 20 px of 20,000
    expect([at(clean, 50, 50), at(clean, 120, 30)]).toEqual([1, 0]);
    expect(clean.data.reduce((a, b) => a + b, 0)).toBe(3600);
    expect(samMaskPixels(logits, 0.0001).data).toEqual(raw.data); // 2 px: the 4-px pieces stay
  });

  it('segmentPeaks cleans each decoded mask before it is scored', async () => {
    const { seg } = recordingSegmenter(specked);
    const [raw] = await segmentPeaks(seg, embedding, [peak(30, 30, 1, null)], opts({ minRegionFraction: 0 }));
    const [clean] = await segmentPeaks(seg, embedding, [peak(30, 30, 1, null)], opts({ minRegionFraction: 0.001 }));
    expect(raw.mask.data.reduce((a, b) => a + b, 0)).toBe(3600);
    expect([at(raw.mask, 50, 50), at(raw.mask, 120, 30)]).toEqual([0, 1]);
    expect([at(clean.mask, 50, 50), at(clean.mask, 120, 30)]).toEqual([1, 0]);
  });
});

describe('decoderMaskChoice', () => {
  const click = { label: 1 };
  const outside = { label: 0 };
  it('asks for the whole object from two positive clicks under two-clicks; the other choices are as named', () => {
    expect(decoderMaskChoice('two-clicks', [click])).toBe('estimate');
    expect(decoderMaskChoice('two-clicks', [click, outside])).toBe('estimate');
    expect(decoderMaskChoice('two-clicks', [click, click])).toBe('whole');
    expect(decoderMaskChoice('whole', [click])).toBe('whole');
    expect(decoderMaskChoice('estimate', [click, click])).toBe('estimate');
  });
});

describe('crmRegions (bundles without IAM)', () => {
  // A 10×5 class-response grid per class, cell i centred on frame pixel 20·i + 10 (frame 200×100).
  const grid = (bumps: [number, number, number][]) => {
    const data = new Float32Array(50);
    for (let y = 0; y < 5; y++) for (let x = 0; x < 10; x++) for (const [bx, by, v] of bumps) data[y * 10 + x] += v * Math.exp(-((x - bx) ** 2 + (y - by) ** 2) / 2);
    return { width: 10, height: 5, data };
  };
  const maps = [grid([[2, 2, 1], [5, 2, 1]]), grid([[8, 2, 1]])];
  const toGrid = (x: number, y: number) => ({ gx: (x - 10) / 20, gy: (y - 10) / 20 });
  const centre = (m: BinaryMask) => {
    let sx = 0, sy = 0, n = 0;
    for (let i = 0; i < m.data.length; i++) if (m.data[i]) (sx += i % m.width), (sy += Math.floor(i / m.width)), n++;
    return { x: sx / n, y: sy / n };
  };

  it('gives each peak its own part of its class map, drawn where the peak is in the frame', () => {
    const peaks = [{ classIndex: 0, x: 2, y: 2, value: 1 }, { classIndex: 0, x: 5, y: 2, value: 1 }, { classIndex: 1, x: 8, y: 2, value: 1 }];
    const [a, b, c] = crmRegions((k) => maps[k], peaks, { width: W, height: H }, toGrid, 0.3);
    expect(a!.width).toBe(W);
    expect(centre(a!).x).toBeLessThan(centre(b!).x);
    expect(Math.abs(centre(a!).x - 50)).toBeLessThan(15);
    expect(Math.abs(centre(c!).x - 170)).toBeLessThan(15);
    for (let i = 0; i < a!.data.length; i++) expect(a!.data[i] & b!.data[i]).toBe(0);
  });

  it('a peak below its own fraction gets no region', () => {
    const [r] = crmRegions((k) => maps[k], [{ classIndex: 1, x: 0, y: 0, value: 1 }], { width: W, height: H }, toGrid, 0.5);
    expect(r).toBeNull();
  });
});
