import { defineConfig } from 'vitest/config';

// Three projects, one runner: unit tests are pure and fast; integration tests talk to real
// PostgreSQL / NATS / Temporal; end-to-end tests start the whole system through the gateway.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['services/*/src/**/*.test.ts', 'gateway/src/**/*.test.ts', 'workflows/src/**/*.test.ts', 'catalog/**/*.test.ts', 'test/architecture/**/*.test.ts'],
          exclude: ['**/node_modules/**'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['services/*/test/**/*.test.ts', 'gateway/test/**/*.test.ts', 'workflows/test/**/*.test.ts'],
          exclude: ['**/node_modules/**'],
          // Generous: a Temporal worker bundles its workflow code on first start, slow on a busy 2-core box.
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
          // Files share one worker process: each one used to pay ~1-2 s of module loading (apollo,
          // MikroORM, Temporal, NATS), most of the project's wall time. A file starts its own window
          // on the shared stream (the setup file), and module state must not carry a test's settings
          // (read configuration when a service starts, not when its module loads).
          isolate: false,
          setupFiles: ['test/setup/run-window.ts'],
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          exclude: ['**/node_modules/**'],
          testTimeout: 120_000,
          hookTimeout: 240_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
