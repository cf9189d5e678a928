// Segment proposals per image, generated once and cached: in memory by the pipeline, and on disk keyed by
// the image's content hash, the working size and PROPOSALS_VERSION (files of other proposal settings are
// never reused), so re-running prelabel or reopening an image is cheap.
// File format: "PLPR1\n" + JSON header line {width,height,lengths[]} + the runs (Int32, little-endian).
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateProposals, PROPOSALS_VERSION, type Proposal } from '../../common/proposals';
import { spanArea, spanBbox } from '../../common/proposals/spans';
import { writeFileAtomic } from '../fs/atomic-write';
import type { RgbImage } from './preprocess';

/** Proposals of one image; all share the proposal grid size. */
export interface ProposalSet {
  width: number;
  height: number;
  proposals: Proposal[];
}

const MAGIC = 'PLPR1\n';
export class ProposalCache {
  constructor(private readonly dir: string | null) {}

  /** Proposals of an image from its model-input-size RGB (the key includes that size). */
  async get(hash: string, rgb: RgbImage): Promise<{ set: ProposalSet; cacheHit: boolean }> {
    const file = this.dir ? join(this.dir, `${hash}-${rgb.width}x${rgb.height}-${PROPOSALS_VERSION}.bin`) : null;
    if (file) {
      const cached = await readSet(file);
      if (cached) return { set: cached, cacheHit: true };
    }
    const proposals = generateProposals(rgb);
    const set: ProposalSet = { width: proposals[0]?.mask.width ?? 0, height: proposals[0]?.mask.height ?? 0, proposals };
    if (file) await writeSet(file, set).catch(() => undefined); // a cache that cannot be written only costs time
    return { set, cacheHit: false };
  }
}

async function readSet(file: string): Promise<ProposalSet | null> {
  let buf: Buffer;
  try {
    buf = await readFile(file);
  } catch {
    return null;
  }
  try {
    if (buf.subarray(0, MAGIC.length).toString('latin1') !== MAGIC) return null;
    const nl = buf.indexOf(10, MAGIC.length);
    const header = JSON.parse(buf.subarray(MAGIC.length, nl).toString('utf8')) as { width: number; height: number; lengths: number[] };
    // lengths alternate: runs of proposal i, contour of proposal i.
    const start = nl + 1;
    const pad = (4 - (start % 4)) % 4;
    const body = buf.subarray(start + pad);
    const all = new Int32Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength));
    const { width, height, lengths } = header;
    const proposals: Proposal[] = [];
    let off = 0;
    for (let i = 0; i + 1 < lengths.length; i += 2) {
      const runs = all.subarray(off, off + lengths[i]);
      off += lengths[i];
      const contour = all.subarray(off, off + lengths[i + 1]);
      off += lengths[i + 1];
      proposals.push({ mask: { width, height, runs }, contour, bbox: spanBbox(runs), area: spanArea(runs) });
    }
    if (off !== all.length) return null;
    return { width, height, proposals };
  } catch {
    return null; // a damaged cache file is regenerated
  }
}

async function writeSet(file: string, set: ProposalSet): Promise<void> {
  await mkdir(join(file, '..'), { recursive: true });
  const parts = set.proposals.flatMap((p) => [p.mask.runs, p.contour]);
  const header = Buffer.from(MAGIC + JSON.stringify({ width: set.width, height: set.height, lengths: parts.map((a) => a.length) }) + '\n');
  const pad = Buffer.alloc((4 - (header.length % 4)) % 4);
  const body = new Int32Array(parts.reduce((n, a) => n + a.length, 0));
  let off = 0;
  for (const a of parts) {
    body.set(a, off);
    off += a.length;
  }
  await writeFileAtomic(file, Buffer.concat([header, pad, Buffer.from(body.buffer)]));
}
