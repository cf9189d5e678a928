// Worker thread of the COCO export: turns a chunk of numbered instances into annotation JSON.
import { parentPort } from 'node:worker_threads';
import { annotationJson, type NumberedInstance } from './annotation-json';

export interface ChunkRequest { seq: number; format: 'polygon' | 'rle'; items: NumberedInstance[] }
export type ChunkReply = { seq: number; ok: true; json: string[] } | { seq: number; ok: false; message: string };

parentPort?.on('message', (req: ChunkRequest) => {
  try {
    parentPort!.postMessage({ seq: req.seq, ok: true, json: req.items.map((i) => annotationJson(i, req.format)) } satisfies ChunkReply);
  } catch (err) {
    parentPort!.postMessage({ seq: req.seq, ok: false, message: err instanceof Error ? err.message : String(err) } satisfies ChunkReply);
  }
});
