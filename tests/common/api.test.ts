import { describe, expect, it } from 'vitest';
import { preferredMethod } from '../../src/common/api';

describe('preferredMethod', () => {
  it('takes sam, else IAM, else PRM retrieval, else whatever the engine offers', () => {
    expect(preferredMethod(['prm', 'iam', 'sam', 'rect'])).toBe('sam');
    expect(preferredMethod(['prm', 'iam', 'rect'])).toBe('iam');
    expect(preferredMethod(['rect', 'prm'])).toBe('prm');
    expect(preferredMethod(['ellipse'])).toBe('ellipse');
  });
});
