import { describe, expect, it } from 'vitest';
import { count } from '../../src/common/count';

describe('count', () => {
  it('says "1 image" and "0 images", with an irregular plural when given', () => {
    expect([count(1, 'image'), count(0, 'image'), count(2, 'image')]).toEqual(['1 image', '0 images', '2 images']);
    expect([count(1, 'category', 'categories'), count(3, 'category', 'categories')]).toEqual(['1 category', '3 categories']);
  });
});
