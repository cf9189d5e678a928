import { describe, expect, it } from 'vitest';
import { base64ToBytes, bytesToBase64, decodeWire, encodeWire } from '../../src/common/wire';

describe('wire encoding', () => {
  it('matches Node base64 for every length remainder', () => {
    for (const n of [0, 1, 2, 3, 4, 5, 1000, 12289]) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 255);
      expect(bytesToBase64(bytes)).toBe(Buffer.from(bytes).toString('base64'));
      expect(Array.from(base64ToBytes(bytesToBase64(bytes)))).toEqual(Array.from(bytes));
    }
  });

  it('round-trips nested byte arrays and leaves other values alone', () => {
    const value = { a: [1, 'x', { data: new Uint8Array([0, 255, 7]) }], b: null };
    const json = JSON.parse(JSON.stringify(encodeWire(value)));
    const back = decodeWire(json) as typeof value;
    expect(back.a[2]).toEqual({ data: new Uint8Array([0, 255, 7]) });
    expect(back.b).toBeNull();
  });

  it('rejects corrupt base64', () => {
    expect(() => base64ToBytes('ab!d')).toThrow(/invalid base64/);
  });
});
