// Runs before each integration test file. Files share a worker process (vitest `isolate: false`,
// see vitest.config.ts), so the window throw-away consumers read the shared stream from starts
// again here: a file's consumers must not replay the events earlier files published.
import { startRunWindow } from '@ledgerline/platform';

startRunWindow();
