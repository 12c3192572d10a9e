// Bill run workflow against the time-skipping test server, with an in-memory invoicing that is
// idempotent per batch like the real one (one transaction per batch, unique invoice per account).
import { fileURLToPath } from 'node:url';
import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Worker, type WorkflowBundle } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInvoicingActivities, type BillBatchRequest, type InvoicingPort } from '../src/activities/invoicing';
import { billRunBatchWorkflow, billRunProgressQuery, billRunWorkflow, billRunWorkflowId } from '../src/workflows/bill-run';
import { createTimeSkippingEnv, uniqueId } from './support/env';

class FakeInvoicing implements InvoicingPort {
  readonly invoices = new Map<string, number>();
  /** When each invoice was made (the time-skipping server's clock). */
  readonly billedAt = new Map<string, number>();
  batchCalls = 0;
  /** Batches whose first call commits and then loses its answer (a crash after the commit). */
  crashAfterCommit = new Set<number>();
  /**
   * Accounts whose period ends at the given instant (a zone west of where the run started), as
   * invoicing keeps them: their batch bills the others and waits for them.
   */
  readonly periodEndsAt = new Map<string, number>();
  /** The most accounts one call decides (invoicing's time budget per call): the rest are left for the next call of the batch. */
  perCall = Infinity;
  constructor(private readonly accounts: string[], private readonly batchSize: number, private readonly now: () => Promise<number> = async () => 0) {}
  startCalls = 0;
  async startBillRun() {
    this.startCalls += 1;
    return { billRunId: 'billrun_test', totalBatches: Math.ceil(this.accounts.length / this.batchSize), totalAccounts: this.accounts.length };
  }
  private readonly done = new Map<number, { batchNo: number; accounts: number; invoicesCreated: number }>();
  private readonly waiting = new Set<number>();
  private readonly created = new Map<number, number>();
  private slice = (batchNo: number) => this.accounts.slice(batchNo * this.batchSize, (batchNo + 1) * this.batchSize);
  async processBillRunBatch(req: BillBatchRequest) {
    this.batchCalls += 1;
    const now = await this.now();
    // No batch named: any one due (invoicing picks a waiting batch whose first period has ended).
    const batchNo = req.batchNo ?? [...this.waiting].find((b) => this.slice(b).some((a) => !this.invoices.has(a) && (this.periodEndsAt.get(a) ?? 0) <= now));
    if (batchNo === undefined) return { batchNo: null, accounts: 0, invoicesCreated: 0 };
    // Like invoicing: a batch already committed reports what it did, and bills nothing again.
    const seen = this.done.get(batchNo);
    if (seen && !this.waiting.has(batchNo)) return seen;
    let created = this.created.get(batchNo) ?? 0;
    let left = 0;
    let accountsLeft = 0;
    for (const a of this.slice(batchNo)) {
      if (this.invoices.has(a)) continue;
      if ((this.periodEndsAt.get(a) ?? 0) > now) {
        left += 1;
        continue;
      }
      if (created - (this.created.get(batchNo) ?? 0) >= this.perCall) {
        accountsLeft += 1;
        continue;
      }
      created += 1;
      this.invoices.set(a, (this.invoices.get(a) ?? 0) + 1);
      this.billedAt.set(a, now);
    }
    this.created.set(batchNo, created);
    if (accountsLeft > 0) return { batchNo, accounts: this.slice(batchNo).length, invoicesCreated: created, accountsLeft };
    if (left > 0) this.waiting.add(batchNo);
    else this.waiting.delete(batchNo);
    const result = { batchNo, accounts: this.slice(batchNo).length, invoicesCreated: created };
    this.done.set(batchNo, result);
    if (this.crashAfterCommit.delete(batchNo)) throw new Error(`worker died after committing batch ${batchNo}`);
    return result;
  }
  async billRunState() {
    // Like invoicing: the accounts of WAITING batches (a batch left PENDING is not waiting).
    const waitingAccounts = [...this.waiting].flatMap((b) => this.slice(b)).filter((a) => !this.invoices.has(a));
    const ends = waitingAccounts.map((a) => this.periodEndsAt.get(a) ?? 0);
    return {
      batchesDone: [...this.done.keys()].filter((b) => !this.waiting.has(b)).length,
      accountsDone: this.invoices.size,
      invoicesCreated: [...this.created.values()].reduce((x, y) => x + y, 0),
      accountsWaiting: waitingAccounts.length,
      nextAttemptAt: ends.length ? new Date(Math.min(...ends)).toISOString() : null,
    };
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

  // Invoicing stops a call billing a batch once its time budget is spent (a cause refusing every account of a large
  // batch costs about an attempt each: minutes in one call, past the activity's call timeout) and answers the
  // accounts it left (`accountsLeft`); the batch is not done until a call leaves none. Before, the batch's
  // workflow called once and the run counted the batch done: the accounts left were never billed.
  it('calls a batch again while invoicing answers accounts left for the next call, until none is left', async () => {
    const accounts = Array.from({ length: 7 }, (_, i) => `acc_${i}`);
    const invoicing = new FakeInvoicing(accounts, 4);
    invoicing.perCall = 2;
    const taskQueue = uniqueId('billrun');
    const w = await worker(taskQueue, invoicing);
    const result = await w.runUntil(() => env.client.workflow.execute(billRunWorkflow, { taskQueue, workflowId: billRunWorkflowId(`2026-10-01-${taskQueue}`), args: [{ cycleDate: '2026-10-01', batchSize: 4, concurrency: 1 }] }));
    expect([...invoicing.invoices.entries()].sort()).toEqual(accounts.map((a) => [a, 1]));
    expect(result).toMatchObject({ totalBatches: 2, batchesDone: 2, accountsDone: 7, invoicesCreated: 7, done: true });
    // Batch 0 (4 accounts): 2 calls; batch 1 (3 accounts): 2 calls.
    expect(invoicing.batchCalls).toBe(4);
  });

  // A run started early: cycle dates are local to each account, so at 03:00 UTC on the 1st the
  // Los Angeles and Honolulu accounts' September has not ended. Invoicing bills the others and
  // keeps those waiting; the workflow sleeps until each period ends and bills them then, once.
  it('bills accounts whose period had not ended when the run started once it has, each once', async () => {
    const accounts = Array.from({ length: 6 }, (_, i) => `acc_${i}`);
    const invoicing = new FakeInvoicing(accounts, 3, () => env.currentTimeMs());
    const start = await env.currentTimeMs();
    const losAngeles = start + 4 * 3_600_000;
    const honolulu = start + 7 * 3_600_000;
    invoicing.periodEndsAt.set('acc_1', losAngeles).set('acc_4', losAngeles).set('acc_5', honolulu);
    const taskQueue = uniqueId('billrun');
    const w = await worker(taskQueue, invoicing);
    const workflowId = billRunWorkflowId(`2026-10-01-${taskQueue}`);
    const result = await w.runUntil(() => env.client.workflow.execute(billRunWorkflow, { taskQueue, workflowId, args: [{ cycleDate: '2026-10-01', batchSize: 3 }] }));
    expect(result).toMatchObject({ totalAccounts: 6, accountsDone: 6, invoicesCreated: 6, batchesDone: 2, done: true });
    expect([...invoicing.invoices.entries()].sort()).toEqual(accounts.map((a) => [a, 1]));
    // Each waiting account billed once its own period had ended (and not hours later).
    for (const [a, end] of [['acc_1', losAngeles], ['acc_4', losAngeles], ['acc_5', honolulu]] as const) {
      expect(invoicing.billedAt.get(a)).toBeGreaterThanOrEqual(end);
      expect(invoicing.billedAt.get(a)! - end).toBeLessThan(3_600_000);
    }
  });
});

/**
 * The run's input is checked before anything is asked of invoicing: a run an operator starts by
 * hand (Temporal CLI or UI) with a bad input fails at once, non-retryably, naming each field. Before,
 * no input at all threw a TypeError in the workflow (its task retried for ever, the run never
 * ending), a concurrency that is not a number ended the run "done" with no batch billed, and the
 * rest failed deep in invoicing (or, as here, was billed by a lenient one).
 */
describe('billRunWorkflow input', () => {
  /** The run's failure, or `null` if it did not fail within a few seconds (a workflow task retried for ever). */
  async function failureOf(start: (taskQueue: string) => Promise<{ result(): Promise<unknown> }>, invoicing: FakeInvoicing): Promise<ApplicationFailure | 'COMPLETED' | null> {
    const taskQueue = uniqueId('billrun-input');
    const w = await worker(taskQueue, invoicing);
    return w.runUntil(async () => {
      const handle = await start(taskQueue);
      const settled = handle.result().then(
        () => 'COMPLETED' as const,
        (err: unknown) => (err instanceof WorkflowFailedError && err.cause instanceof ApplicationFailure ? err.cause : null),
      );
      return Promise.race([settled, new Promise<null>((r) => setTimeout(() => r(null), 5_000))]);
    });
  }
  const run = (args: unknown[]) => (taskQueue: string) => env.client.workflow.start('billRunWorkflow', { taskQueue, workflowId: uniqueId('bill-run-input'), args });

  it.each([
    ['no input at all', [], ['input is required']],
    ['no cycle date', [{ batchSize: 10 }], ['cycleDate']],
    ['a date that does not exist', [{ cycleDate: '2026-02-30' }], ['cycleDate']],
    ['an instant instead of a date', [{ cycleDate: '2026-10-01T00:00:00Z' }], ['cycleDate']],
    ['a concurrency that is not a number', [{ cycleDate: '2026-10-01', concurrency: 'four' }], ['concurrency']],
    ['a batch size of 0, a fractional concurrency', [{ cycleDate: '2026-10-01', batchSize: 0, concurrency: 1.5 }], ['batchSize', 'concurrency']],
    ['a batch size past invoicing\'s largest', [{ cycleDate: '2026-10-01', batchSize: 10_001 }], ['batchSize']],
  ])('%s: fails at once, non-retryably, naming the field; invoicing is not asked', async (_name, args, fields) => {
    const invoicing = new FakeInvoicing(['acc_0', 'acc_1'], 1);
    const failure = await failureOf(run(args), invoicing);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    const f = failure as ApplicationFailure;
    expect(f.type).toBe('INVALID_BILL_RUN_INPUT');
    expect(f.nonRetryable).toBe(true);
    for (const field of fields) expect(f.message).toContain(field);
    expect(invoicing.startCalls).toBe(0);
    expect(invoicing.batchCalls).toBe(0);
  });

  it('a batch workflow started by hand with a bad input fails the same way', async () => {
    const invoicing = new FakeInvoicing(['acc_0'], 1);
    const failure = await failureOf((taskQueue) => env.client.workflow.start(billRunBatchWorkflow, { taskQueue, workflowId: uniqueId('bill-run-batch-input'), args: [{ billRunId: '', batchNo: -1 }] }), invoicing);
    expect(failure).toMatchObject({ type: 'INVALID_BILL_RUN_INPUT', nonRetryable: true });
    expect((failure as ApplicationFailure).message).toMatch(/billRunId[\s\S]*batchNo/);
    expect(invoicing.batchCalls).toBe(0);
  });

  it('a good input with the optional fields left out still bills', async () => {
    const invoicing = new FakeInvoicing(['acc_0', 'acc_1'], 500);
    expect(await failureOf(run([{ cycleDate: '2026-10-01' }]), invoicing)).toBe('COMPLETED');
    expect(invoicing.invoices.size).toBe(2);
  });
});
