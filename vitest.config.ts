import { defineConfig } from 'vitest/config';

// One test runner for everything TypeScript; Python tests (model kit) run beside it from scripts/test.mjs.
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'tests/**/*.test.ts'],
    environment: 'node',
    testTimeout: 120_000,
    hookTimeout: 300_000,
    // Browser tests poll the real services; 1 s (the default) is too short on a loaded 2-core machine.
    expect: { poll: { timeout: 15_000 } },
    pool: 'forks',
    maxWorkers: 2,
  },
});
