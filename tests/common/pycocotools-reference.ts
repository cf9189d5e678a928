// Runs tests/py/coco_reference.py with the project's Python: the pycocotools answers our RLE code must equal.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { python, repoRoot, testOutput } from '../helpers/shared';

const script = join(repoRoot, 'tests', 'py', 'coco_reference.py');

export interface ReferenceAnnotation {
  id: number;
  /** pycocotools annToRLE counts string. */
  rle: string;
  /** encode(decode(rle)): the canonical string of the mask. */
  canon: string;
  area: number;
  bbox: [number, number, number, number];
}

function runPython(args: string[]): unknown {
  const out = execFileSync(python, [script, ...args], { maxBuffer: 512 * 1024 * 1024, encoding: 'utf8' });
  return JSON.parse(out);
}

export function referenceForDataset(instancesJson: string): ReferenceAnnotation[] {
  return runPython(['dataset', instancesJson]) as ReferenceAnnotation[];
}

export interface ReferenceCases {
  polys: { h: number; w: number; polys: number[][] }[];
  masks: { h: number; w: number; data: Uint8Array }[];
  /** [i, j, crowd]: pycocotools iou of mask i (detection) against mask j (ground truth, crowd or not). */
  pairs?: [number, number, boolean][];
}

/** Compressed counts pycocotools gives for each polygon set (merged) and each row-major mask, and pair IoUs. */
export function referenceForCases(name: string, cases: ReferenceCases): { polys: string[]; masks: string[]; ious: number[] } {
  const dir = testOutput('pycocotools');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.json`);
  const masks = cases.masks.map((m) => ({ h: m.h, w: m.w, data: Buffer.from(m.data).toString('base64') }));
  writeFileSync(file, JSON.stringify({ polys: cases.polys, masks, pairs: cases.pairs ?? [] }));
  return runPython(['cases', file]) as { polys: string[]; masks: string[]; ious: number[] };
}
