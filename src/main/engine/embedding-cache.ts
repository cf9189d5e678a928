// Segmenter embeddings by image content hash, most recently used first, within a byte budget: a batch run
// and the editor reuse them, and prefetching the next image costs one slot.
import type { SamEmbedding } from './segmenter';

export class EmbeddingCache {
  private readonly entries = new Map<string, SamEmbedding>();
  private readonly pending = new Map<string, Promise<SamEmbedding>>();

  constructor(private readonly maxBytes = 64 * 1024 * 1024) {}

  get size(): number {
    return this.entries.size;
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** The cached embedding, or `make()`'s (one computation per key even when asked twice at once). */
  async get(key: string, make: () => Promise<SamEmbedding>): Promise<{ embedding: SamEmbedding; hit: boolean }> {
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      return { embedding: hit, hit: true };
    }
    let job = this.pending.get(key);
    if (!job) {
      job = make().finally(() => this.pending.delete(key));
      this.pending.set(key, job);
    }
    const embedding = await job;
    this.put(key, embedding);
    return { embedding, hit: false };
  }

  private put(key: string, e: SamEmbedding): void {
    this.entries.delete(key);
    this.entries.set(key, e);
    let bytes = 0;
    for (const v of this.entries.values()) bytes += v.data.byteLength;
    for (const [k, v] of this.entries) {
      if (bytes <= this.maxBytes || this.entries.size === 1) break;
      this.entries.delete(k);
      bytes -= v.data.byteLength;
    }
  }
}
