import { describe, expect, it } from 'vitest';
import { EmbeddingCache } from '../../src/main/engine/embedding-cache';
import type { SamEmbedding } from '../../src/main/engine/segmenter';

const MB = 1024 * 1024;
const emb = (bytes: number): SamEmbedding => ({ data: new Float32Array(bytes / 4), width: 10, height: 10, scale: 1 });

describe('EmbeddingCache', () => {
  it('keeps the most recently used embeddings within its byte budget', async () => {
    const cache = new EmbeddingCache(10 * MB);
    for (const k of ['a', 'b', 'c']) await cache.get(k, async () => emb(4 * MB));
    expect(cache.size).toBe(2); // 12 MB > 10 MB: the oldest (a) went
    expect(cache.has('a')).toBe(false);
    // Using b makes c the oldest.
    expect((await cache.get('b', async () => emb(4 * MB))).hit).toBe(true);
    await cache.get('d', async () => emb(4 * MB));
    expect(cache.has('b')).toBe(true);
    expect(cache.has('c')).toBe(false);
  });

  it('computes an embedding once when it is asked for twice at the same time', async () => {
    const cache = new EmbeddingCache(10 * MB);
    let runs = 0;
    const make = async () => {
      runs++;
      await new Promise((r) => setTimeout(r, 20));
      return emb(MB);
    };
    const [a, b] = await Promise.all([cache.get('x', make), cache.get('x', make)]);
    expect(runs).toBe(1);
    expect(a.embedding).toBe(b.embedding);
  });

  it('keeps one entry larger than the budget, and forgets a failed computation', async () => {
    const cache = new EmbeddingCache(MB);
    await cache.get('big', async () => emb(2 * MB));
    expect(cache.size).toBe(1);
    await expect(cache.get('bad', async () => Promise.reject(new Error('decode failed')))).rejects.toThrow('decode failed');
    const again = await cache.get('bad', async () => emb(MB));
    expect(again.hit).toBe(false);
  });
});
