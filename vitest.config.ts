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
