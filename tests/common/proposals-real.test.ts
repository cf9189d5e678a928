// Proposal recall on real photos: every ground-truth person of a few PennFudan dev images must be
// matched well by some proposal (mean best IoU, the "ABO" of the proposal set).
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import type { Rle } from '../../src/common/api';
import { resizeMaskNearest } from '../../src/common/mask';
import { generateProposals } from '../../src/common/proposals/index';
import { maskToSpans, spanIou } from '../../src/common/proposals/spans';
import { decodeRle } from '../../src/common/rle';
import { sharedPath } from '../helpers/shared';

interface Ann {
  image_id: number;
  iscrowd: number;
  segmentation: Rle;
}

describe('proposals on PennFudan', () => {
  it('cover the ground-truth instances (mean best IoU > 0.5, each > 0.3)', async () => {
    const coco = JSON.parse(readFileSync(sharedPath('data', 'pennfudan', 'instances.json'), 'utf8'));
    const best: number[] = [];
    for (const im of coco.images.slice(0, 4)) {
      // The engine's working copy: shorter side 448.
      const portrait = im.width < im.height;
      const { data, info } = await sharp(sharedPath('data', 'pennfudan', 'images', im.file_name))
        .removeAlpha()
        .resize(portrait ? { width: 448 } : { height: 448 })
        .raw()
        .toBuffer({ resolveWithObject: true });
      const props = generateProposals({ width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) });
      expect(props.length).toBeGreaterThan(300);
      expect(props.length).toBeLessThanOrEqual(2000);
      const { width, height } = props[0].mask;
      for (const a of (coco.annotations as Ann[]).filter((a) => a.image_id === im.id && !a.iscrowd)) {
        const gt = maskToSpans(resizeMaskNearest(decodeRle(a.segmentation), width, height)).runs;
        best.push(Math.max(...props.map((p) => spanIou(p.mask.runs, gt))));
      }
    }
    expect(best.length).toBeGreaterThan(5);
    const mean = best.reduce((s, v) => s + v, 0) / best.length;
    expect(mean, `best IoUs ${best.map((v) => v.toFixed(2)).join(' ')}`).toBeGreaterThan(0.5);
    expect(Math.min(...best)).toBeGreaterThan(0.3);
  });
});
