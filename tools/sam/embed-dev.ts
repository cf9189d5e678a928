// Computes the segmenter's embedding of every dev image once and stores it in tools/sam/work/embeddings
// (4 MB each), so prompt tuning (tune.ts) runs the decoder alone.
//   npx tsx tools/sam/embed-dev.ts [--sets pennfudan,coco-mini]
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultSegmenterFiles, Segmenter } from '../../src/main/engine/segmenter';

const repo = join(import.meta.dirname, '..', '..');
const shared = process.env.PEAKLABEL_SHARED ?? join(repo, '..', 'shared');
export const EMBED_DIR = join(repo, 'tools', 'sam', 'work', 'embeddings');

export function embeddingFile(imageFile: string): string {
  return join(EMBED_DIR, `${createHash('sha1').update(readFileSync(imageFile)).digest('hex')}.f32`);
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--sets');
  const sets = (i >= 0 ? process.argv[i + 1] : 'pennfudan,coco-mini').split(',');
  mkdirSync(EMBED_DIR, { recursive: true });
  const seg = await Segmenter.open(defaultSegmenterFiles(), 'cpu', { intraOpNumThreads: 2, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
  for (const set of sets) {
    const coco = JSON.parse(readFileSync(join(shared, 'data', set, 'instances.json'), 'utf8')) as { images: { file_name: string }[] };
    let n = 0;
    const t0 = performance.now();
    for (const im of coco.images) {
      const file = join(shared, 'data', set, 'images', im.file_name);
      const out = embeddingFile(file);
      if (existsSync(out)) continue;
      const e = await seg.embed(file);
      writeFileSync(out, Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength));
      n++;
    }
    console.log(`${set}: ${n} embedded, encoder ${(seg.encoderMs / Math.max(1, seg.decoderCalls + n)).toFixed(0)} ms/image avg, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    seg.encoderMs = 0;
  }
}

if (process.argv[1]?.endsWith('embed-dev.ts')) await main();
