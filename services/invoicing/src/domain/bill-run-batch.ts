/**
 * The most accounts a bill run's batch may hold: `startBillRun` refuses a larger `batchSize`
 * (BILL_RUN_BATCH_SIZE_INVALID), and the CLI's `billrun start --batch-size` checks the same bound
 * before sending anything. Its own module, free of imports, so the CLI can read it without loading
 * the service.
 */
export const MAX_BILL_RUN_BATCH = 10_000;
