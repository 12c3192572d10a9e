// Builds the Temporal worker. Shared by main.ts (production) and the tests, so both run the same
// workflows with the same options; only the connection and the activity deps differ.
import { fileURLToPath } from 'node:url';
import { Worker, type NativeConnection, type WorkerOptions } from '@temporalio/worker';
import type { Activities } from './activities';

/** The module the workflow bundler starts from. */
export const workflowsPath = fileURLToPath(new URL('./workflows/index.ts', import.meta.url));

export const DEFAULT_TASK_QUEUE = 'ledgerline';

export interface CreateWorkerOptions {
  connection: NativeConnection;
  namespace?: string;
  taskQueue?: string;
  activities: Activities;
  /**
   * A prebuilt bundle (from `bundleWorkflowCode`, or `{ codePath }` of dist/workflow-bundle.js).
   * Without it the worker bundles `workflowsPath` at start-up, which takes a few seconds.
   */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** How long in-flight activities may finish after shutdown is requested (default 10 s). */
  shutdownGraceTime?: WorkerOptions['shutdownGraceTime'];
  identity?: string;
  /** Any other Worker option (tuning, interceptors); wins over the values above. */
  overrides?: Partial<WorkerOptions>;
}

export function createWorker(opts: CreateWorkerOptions): Promise<Worker> {
  const { connection, namespace = 'default', taskQueue = DEFAULT_TASK_QUEUE, activities, workflowBundle, shutdownGraceTime = '10 seconds', identity, overrides } = opts;
  return Worker.create({
    connection,
    namespace,
    taskQueue,
    activities,
    ...(workflowBundle ? { workflowBundle } : { workflowsPath }),
    shutdownGraceTime,
    ...(identity ? { identity } : {}),
    ...overrides,
  });
}
