// Worker threads for the export's annotation JSON, with the main thread as the fallback: on 2 cores the
// main thread reads SQLite and writes the file while the workers trace polygons.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { annotationJson, type NumberedInstance } from './annotation-json';
import type { ChunkReply } from './export-worker';

export interface JsonPool {
  /** Annotation JSON strings of the chunk, in order. */
  convert(items: NumberedInstance[], format: 'polygon' | 'rle'): Promise<string[]>;
  close(): Promise<void>;
}

/** Chunks done by workers and on the main thread (the bench reports them: a silent fallback would hide). */
export const poolStats = { workerChunks: 0, inlineChunks: 0 };

const inline: JsonPool = {
  convert: async (items, format) => {
    poolStats.inlineChunks++;
    return items.map((i) => annotationJson(i, format));
  },
  close: async () => undefined,
};

export function createJsonPool(size: number): JsonPool {
  const entry = new URL('./export-worker-entry.mjs', import.meta.url);
  if (size < 1 || entry.protocol !== 'file:' || !existsSync(fileURLToPath(entry))) return inline;
  const workers: Worker[] = [];
  const pending = new Map<number, { resolve: (j: string[]) => void; reject: (e: Error) => void }>();
  let seq = 0;
  let broken: Error | null = null;
  const fail = (err: Error) => {
    broken = err;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  for (let i = 0; i < size; i++) {
    // Small heaps: a chunk needs little, and lazy GC in three heaps would otherwise triple the RSS.
    const w = new Worker(entry, { resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 8 } });
    w.on('message', (m: ChunkReply) => {
      const p = pending.get(m.seq);
      if (!p) return;
      pending.delete(m.seq);
      if (m.ok) {
        poolStats.workerChunks++;
        p.resolve(m.json);
      }
      else p.reject(new Error(m.message));
    });
    w.on('error', (err) => fail(err));
    workers.push(w);
  }
  return {
    convert(items, format) {
      // A worker that cannot start or dies (e.g. no TypeScript loader in a bundled build): do it here.
      if (broken) return inline.convert(items, format);
      const id = seq++;
      return new Promise<string[]>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        workers[id % workers.length].postMessage({ seq: id, format, items });
      }).catch(() => inline.convert(items, format));
    },
    async close() {
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}
