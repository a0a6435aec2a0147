import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['{spec,server,client,conformance,bench,scripts,testkit,e2e,demo}/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Socket tests share loopback ports and timers; two workers match the 2-core machines.
    maxWorkers: 2,
  },
});
