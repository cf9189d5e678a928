// The IAM kit's segmenter pseudo masks (iam/segmenter_masks.py runs it): the segmenter's mask for one click at
// each listed point (original image pixels), written as bytes (0/1) at the image size.
//   npx tsx tools/model-kit/iam/segmenter-masks.ts LIST.json   # [{file, width, height, points: [[x,y]...], out}]
// Embeddings are read from (or written to) tools/sam/work/embeddings, shared with tools/sam/embed-dev.ts.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { defaultSegmenterFiles, Segmenter, type SamEmbedding } from '../../../src/main/engine/segmenter';
import { embeddingFile } from '../../sam/embed-dev';

const list = JSON.parse(readFileSync(process.argv[2], 'utf8')) as { file: string; width: number; height: number; points: [number, number][]; out: string }[];
const seg = await Segmenter.open(defaultSegmenterFiles(), 'cpu', { intraOpNumThreads: 2, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
const t0 = performance.now();
let n = 0;
for (const it of list) {
  const ef = embeddingFile(it.file);
  let e: SamEmbedding;
  if (existsSync(ef)) {
    const b = readFileSync(ef);
    e = { data: new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4), width: it.width, height: it.height, scale: 1024 / Math.max(it.width, it.height) };
  } else {
    e = await seg.embed(it.file);
    mkdirSync(dirname(ef), { recursive: true });
    writeFileSync(ef, Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength));
  }
  const plane = it.width * it.height;
  const out = new Uint8Array(it.points.length * plane);
  for (let k = 0; k < it.points.length; k++) {
    const [x, y] = it.points[k];
    const m = await seg.decode(e, { points: [{ x, y, label: 1 }] });
    for (let j = 0; j < plane; j++) out[k * plane + j] = m.logits[j] > 0 ? 1 : 0;
  }
  writeFileSync(it.out, out);
  if (++n % 30 === 0) console.log(`${n}/${list.length} ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}
await seg.release();
