import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/utils/setup.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Each file starts its own gateway and simulators on port 0; two workers suit these 2-core machines.
    maxWorkers: 2,
  },
});
