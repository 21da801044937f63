import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The long chaos tier runs only through `npm run test:chaos` (CHAOS_LONG=1), never in npm test.
    exclude:
      process.env.CHAOS_LONG === '1'
        ? ['**/node_modules/**']
        : ['**/node_modules/**', 'test/reliability/chaos-long.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    teardownTimeout: 20_000,
    pool: 'forks',
    // Two cores: more workers only make etcd and the tests fight for CPU.
    maxWorkers: 2,
  },
});
