import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';

export default defineConfig({
  resolve: {
    // Tests use the client's sources, as tsconfig.json's paths do; the tarball test uses the build.
    alias: {
      '@slotlock/client': fileURLToPath(new URL('./packages/client/src/index.ts', import.meta.url)),
    },
  },
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
