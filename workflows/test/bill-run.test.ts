// Bill run workflow against the time-skipping test server, with an in-memory invoicing that is
// idempotent per batch like the real one (one transaction per batch, unique invoice per account).
import { fileURLToPath } from 'node:url';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Worker, type WorkflowBundle } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInvoicingActivities, type BillBatchRequest, type InvoicingPort } from '../src/activities/invoicing';
import { billRunProgressQuery, billRunWorkflow, billRunWorkflowId } from '../src/workflows/bill-run';
import { createTimeSkippingEnv, uniqueId } from './support/env';

class FakeInvoicing implements InvoicingPort {
  readonly invoices = new Map<string, number>();
  batchCalls = 0;
  /** Batches whose first call commits and then loses its answer (a crash after the commit). */
  crashAfterCommit = new Set<number>();
  constructor(private readonly accounts: string[], private readonly batchSize: number) {}
  async startBillRun() {
    return { billRunId: 'billrun_test', totalBatches: Math.ceil(this.accounts.length / this.batchSize), totalAccounts: this.accounts.length };
  }
  private readonly done = new Map<number, { batchNo: number; accounts: number; invoicesCreated: number }>();
  async processBillRunBatch(req: BillBatchRequest) {
    this.batchCalls += 1;
    // Like invoicing: a batch already committed reports what it did, and bills nothing again.
    const seen = this.done.get(req.batchNo);
    if (seen) return seen;
    const slice = this.accounts.slice(req.batchNo * this.batchSize, (req.batchNo + 1) * this.batchSize);
    let created = 0;
    for (const a of slice) {
      if (!this.invoices.has(a)) created += 1;
      this.invoices.set(a, (this.invoices.get(a) ?? 0) + 1);
    }
    const result = { batchNo: req.batchNo, accounts: slice.length, invoicesCreated: created };
    this.done.set(req.batchNo, result);
    if (this.crashAfterCommit.delete(req.batchNo)) throw new Error(`worker died after committing batch ${req.batchNo}`);
    return result;
  }
  async invoiceStatus(): Promise<never> {
    throw new Error('unused');
  }
  async addLateFee() {}
}

let env: TestWorkflowEnvironment;
let bundle: WorkflowBundle;
beforeAll(async () => {
  env = await createTimeSkippingEnv();
  bundle = await bundleWorkflowCode({ workflowsPath: fileURLToPath(new URL('../src/workflows/bill-run.ts', import.meta.url)), logger: new DefaultLogger('WARN') });
});
afterAll(async () => env?.teardown());

const worker = (taskQueue: string, invoicing: InvoicingPort) =>
  Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: bundle,
    activities: createInvoicingActivities({ invoicing, reminders: { sendReminder: async () => undefined }, lines: { suspendAccountLines: async () => ({ lines: 0 }), restoreAccountLines: async () => ({ lines: 0 }) } }),
    shutdownGraceTime: '1 second',
  });

describe('billRunWorkflow', () => {
  it('bills every account exactly once in batches, reports progress, and cannot be started twice', async () => {
    const accounts = Array.from({ length: 10 }, (_, i) => `acc_${i}`);
    const invoicing = new FakeInvoicing(accounts, 3);
    invoicing.crashAfterCommit.add(2);
    const taskQueue = uniqueId('billrun');
    const w = await worker(taskQueue, invoicing);
    const workflowId = billRunWorkflowId(`2026-10-01-${taskQueue}`);
    await w.runUntil(async () => {
      const handle = await env.client.workflow.start(billRunWorkflow, { taskQueue, workflowId, args: [{ cycleDate: '2026-10-01', batchSize: 3, concurrency: 2 }] });
      await expect(env.client.workflow.start(billRunWorkflow, { taskQueue, workflowId, args: [{ cycleDate: '2026-10-01', batchSize: 3 }] })).rejects.toBeInstanceOf(WorkflowExecutionAlreadyStartedError);
      const result = await handle.result();
      expect(result).toMatchObject({ billRunId: 'billrun_test', totalBatches: 4, batchesDone: 4, accountsDone: 10, invoicesCreated: 10, done: true });
      expect(await handle.query(billRunProgressQuery)).toEqual(result);
      // Children have deterministic ids: the parent's id plus the batch number.
      for (const n of [0, 1, 2, 3]) {
        const child = await env.client.workflow.getHandle(`${workflowId}-batch-${n}`).describe();
        expect(child).toMatchObject({ type: 'billRunBatchWorkflow', status: { name: 'COMPLETED' } });
      }
    });
    // Batch 2 committed, crashed, was retried: still one invoice per account.
    expect([...invoicing.invoices.values()].every((n) => n === 1)).toBe(true);
    expect(invoicing.invoices.size).toBe(10);
    expect(invoicing.batchCalls).toBe(5);
  });
});
