import { defineConfig } from 'vitest/config';

// One test runner for everything TypeScript; Python tests (model kit) run beside it from scripts/test.mjs.
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'tests/**/*.test.ts'],
    environment: 'node',
    testTimeout: 120_000,
    hookTimeout: 300_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
