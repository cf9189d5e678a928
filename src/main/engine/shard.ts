// Splitting a one-shot run over machines: `--shard I/N` keeps the images whose relative path hashes to I
// (0-based: 0 ≤ I < N, as Slurm's --array=0-(N-1) and Kubernetes' JOB_COMPLETION_INDEX count). The hash
// depends on the path alone, so every shard agrees on the split without talking to the others, and an
// image keeps its shard when images are added or removed.
import { createHash } from 'node:crypto';
import { PeakLabelError } from '../../common/errors';

export interface Shard {
  index: number;
  count: number;
}

/** Parses "I/N" (0 ≤ I < N); anything else is a BAD_ARGUMENT sentence. */
export function parseShard(text: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index >= count) {
    throw new PeakLabelError('BAD_ARGUMENT', `--shard must be I/N with 0 ≤ I < N (the first shard is 0, as in Slurm --array=0-(N-1) or JOB_COMPLETION_INDEX), not "${text}".`);
  }
  return { index, count };
}

/** The shard (0-based) of an image, from its path relative to the image folder ('/' separators). */
export function shardOf(relativePath: string, count: number): number {
  return createHash('sha256').update(relativePath.split('\\').join('/')).digest().readUInt32BE(0) % count;
}
