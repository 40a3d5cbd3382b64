import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

export default defineConfig({
  resolve: {
    // graphql ships CommonJS (main) and ESM (module) copies. Node, and so Apollo Server
    // and graphql-jit at run time, load the CommonJS one; Vite would hand our sources the
    // ESM one, and a GraphQLError from one copy is not an instance of the other's class.
    // Tests must run on the same single copy the product runs on.
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/utils/setup.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Each file starts its own gateway and simulators on port 0; two workers suit these 2-core machines.
    maxWorkers: 2,
  },
});
