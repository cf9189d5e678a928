// Seeded PRNG for reproducible random test cases.
export { seededRandom as rng } from '../../src/common/random';
