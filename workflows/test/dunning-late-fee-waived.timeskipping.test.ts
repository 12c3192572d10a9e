// A late fee step cancelled by the payment (patch `dunning-step-races-payment`) whose fee had reached
// invoicing all the same (each attempt charged it and its answer was lost): the customer paid what was
// asked, so the workflow waives the fee by its key (patch `dunning-waives-cancelled-late-fee`), exactly
// once. A fee that never reached invoicing is answered WAIVED_IN_ADVANCE (invoicing keeps its key waived,
// services/invoicing/test/waive-one-off-charge-in-advance.test.ts) and no step is done. An attempt still
// running when the step is cancelled is waited for, so what it charges is waived too. Runs of the
// code before the patch (fixtures/dunning-before-fee-waiver.ts) replay on the current code.
// Invoicing is a fake ledger here (its waiveOneOffCharge: services/invoicing/test/waive-one-off-charge.test.ts);
// the dunning workflow runs on the time-skipping server.
import { fileURLToPath } from 'node:url';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Worker, type WorkflowBundle } from '@temporalio/worker';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InvoiceStatus, InvoicingActivities, LateFeeRequest, LateFeeWaiverRequest } from '../src/activities/invoicing';
import { dunningWorkflow, dunningWorkflowId, paymentRecordedSignal, type DunningStatus } from '../src/workflows/dunning';
import { createTimeSkippingEnv, uniqueId } from './support/env';

let env: TestWorkflowEnvironment;
let bundle: WorkflowBundle;
beforeAll(async () => {
  env = await createTimeSkippingEnv();
  bundle = await bundleWorkflowCode({ workflowsPath: fileURLToPath(new URL('../src/workflows/dunning.ts', import.meta.url)), logger: new DefaultLogger('WARN') });
});
afterAll(async () => {
  await env?.teardown();
});

/** Invoicing's one-off charges as the fee and its waiver see them. */
class Ledger {
  readonly fees = new Map<string, { amount: string; waived: boolean }>();
  readonly feeAttempts: string[] = [];
  readonly waivers: LateFeeWaiverRequest[] = [];
  /** Whether an attempt reaches the ledger before its answer is lost. */
  constructor(readonly reaches: boolean) {}
  addLateFee = async (r: LateFeeRequest) => {
    this.feeAttempts.push(r.idempotencyKey);
    if (this.reaches && !this.fees.has(r.idempotencyKey)) this.fees.set(r.idempotencyKey, { amount: r.amount, waived: false });
    throw ApplicationFailure.retryable('invoicing did not answer in time', 'INVOICING_TIMEOUT');
  };
  waiveLateFee = async (r: LateFeeWaiverRequest) => {
    this.waivers.push(r);
    const fee = this.fees.get(r.idempotencyKey);
    if (!fee) return { outcome: 'WAIVED_IN_ADVANCE' as const, creditNoteId: null }; // as invoicing does since 2026-11-28
    fee.waived = true;
    return { outcome: 'WAIVED' as const, creditNoteId: null };
  };
  /** What the customer still owes in fees. */
  owed = () => [...this.fees.values()].filter((f) => !f.waived).map((f) => f.amount);
}

async function run(ledger: Ledger, workflowBundle: WorkflowBundle = bundle) {
  let status: InvoiceStatus = { invoiceId: 'inv_fee', billingAccountId: 'ba_fee', state: 'SENT', currency: 'EUR', amountDue: '39.90', amountDisputed: '0' };
  const activities = {
    invoiceStatus: async () => ({ ...status }),
    addLateFee: ledger.addLateFee,
    waiveLateFee: ledger.waiveLateFee,
    sendReminder: async () => {},
    suspendAccountLines: async () => ({ lines: 0, lineIds: [] }),
    restoreAccountLines: async () => ({ lines: 0, lineIds: [] }),
  } as unknown as Partial<InvoicingActivities>;
  const taskQueue = uniqueId('dunning-fee');
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle, activities, shutdownGraceTime: '1 second' });
  return worker.runUntil(async () => {
    const dueDate = new Date((await env.currentTimeMs()) - 11 * 86_400_000).toISOString();
    const handle = await env.client.workflow.start(dunningWorkflow, {
      taskQueue,
      workflowId: dunningWorkflowId(`inv_${taskQueue}`),
      args: [{ invoiceId: 'inv_fee', billingAccountId: 'ba_fee', dueDate, policy: { reminderDays: [], lateFee: { afterDays: 10, amount: '5.00' }, suspendAfterDays: 30 } }],
    });
    await env.sleep('2 hours'); // the fee step has been retried for two hours
    const attemptsBefore = ledger.feeAttempts.length;
    status = { ...status, state: 'SETTLED', amountDue: '0' };
    await handle.signal(paymentRecordedSignal);
    const result = await Promise.race([handle.result(), new Promise<'STILL_RUNNING'>((resolve) => setTimeout(() => resolve('STILL_RUNNING'), 15_000))]);
    if (result === 'STILL_RUNNING') await handle.terminate('test: still running after the payment');
    await env.sleep('1 day'); // no attempt of the fee comes after the waiver
    const history = await handle.fetchHistory();
    return { attemptsBefore, attemptsAfter: ledger.feeAttempts.length, result: result as DunningStatus | 'STILL_RUNNING', history };
  });
}

describe('dunning: a late fee charged although the step was cancelled by the payment', () => {
  it('the fee reached the ledger: waived once, the dunning ends PAID, and the run replays', async () => {
    const ledger = new Ledger(true);
    const r = await run(ledger);
    expect(r.attemptsBefore).toBeGreaterThan(3);
    expect(ledger.fees.size).toBe(1); // charged (once: the key)
    expect(r.result).toMatchObject({ phase: 'PAID', lateFeeWaiver: 'WAIVED', stepsDone: ['LATE_FEE_WAIVED'] });
    expect(ledger.owed()).toEqual([]); // nothing owed after paying what was asked
    expect(ledger.waivers).toEqual([{ invoiceId: 'inv_fee', idempotencyKey: 'dunning-inv_fee:late-fee', reason: 'invoice inv_fee was paid before the late fee took effect' }]);
    expect(r.attemptsAfter).toBe(r.attemptsBefore); // the cancelled fee is not tried again after the waiver
    await Worker.runReplayHistory({ workflowBundle: bundle }, r.history);
  });

  it('the fee never reached the ledger: invoicing answers WAIVED_IN_ADVANCE, no fee was waived (no step done)', async () => {
    const ledger = new Ledger(false);
    const r = await run(ledger);
    expect(r.result).toMatchObject({ phase: 'PAID', lateFeeWaiver: 'WAIVED_IN_ADVANCE', stepsDone: [] });
    expect(ledger.waivers).toHaveLength(1);
    expect(ledger.fees.size).toBe(0);
  });

  it('an attempt still running when the payment comes: the workflow waits for it to end, then waives what it charged', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const fees = new Map<string, boolean>();
    const waivers: LateFeeWaiverRequest[] = [];
    let status: InvoiceStatus = { invoiceId: 'inv_fee', billingAccountId: 'ba_fee', state: 'SENT', currency: 'EUR', amountDue: '39.90', amountDisputed: '0' };
    let attempts = 0;
    const activities = {
      invoiceStatus: async () => ({ ...status }),
      // The one attempt hangs (invoicing slow to answer) and then charges the fee.
      addLateFee: async (r: LateFeeRequest) => {
        attempts += 1;
        await released;
        fees.set(r.idempotencyKey, false);
      },
      waiveLateFee: async (r: LateFeeWaiverRequest) => {
        waivers.push(r);
        if (!fees.has(r.idempotencyKey)) return { outcome: 'NOT_FOUND' as const, creditNoteId: null };
        fees.set(r.idempotencyKey, true);
        return { outcome: 'WAIVED' as const, creditNoteId: null };
      },
      sendReminder: async () => {},
      suspendAccountLines: async () => ({ lines: 0, lineIds: [] }),
      restoreAccountLines: async () => ({ lines: 0, lineIds: [] }),
    } as unknown as Partial<InvoicingActivities>;
    const taskQueue = uniqueId('dunning-fee-running');
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: bundle, activities, shutdownGraceTime: '1 second' });
    const result = await worker.runUntil(async () => {
      const dueDate = new Date((await env.currentTimeMs()) - 11 * 86_400_000).toISOString();
      const handle = await env.client.workflow.start(dunningWorkflow, {
        taskQueue,
        workflowId: dunningWorkflowId(`inv_${taskQueue}`),
        args: [{ invoiceId: 'inv_fee', billingAccountId: 'ba_fee', dueDate, policy: { reminderDays: [], lateFee: { afterDays: 10, amount: '5.00' }, suspendAfterDays: 30 } }],
      });
      for (let i = 0; i < 100 && attempts === 0; i++) await new Promise((r) => setTimeout(r, 50));
      expect(attempts).toBe(1);
      status = { ...status, state: 'SETTLED', amountDue: '0' };
      await handle.signal(paymentRecordedSignal);
      await new Promise((r) => setTimeout(r, 1_000)); // the step is cancelled meanwhile; its attempt still runs
      release();
      return handle.result();
    });
    // Without waiting, the waiver would have come before the fee (NOT_FOUND) and the fee stayed owed.
    expect(result).toMatchObject({ phase: 'PAID', lateFeeWaiver: 'WAIVED', stepsDone: ['LATE_FEE_WAIVED'] });
    expect([...fees.values()]).toEqual([true]);
    expect(waivers).toHaveLength(1);
  });

  it('a run of the code before the patch replays on the current code (its cancelled fee is left as it was)', async () => {
    const before = await bundleWorkflowCode({ workflowsPath: fileURLToPath(new URL('./fixtures/dunning-before-fee-waiver.ts', import.meta.url)), logger: new DefaultLogger('WARN') });
    const ledger = new Ledger(true);
    const r = await run(ledger, before);
    expect(r.result).toMatchObject({ phase: 'PAID', stepsDone: [] });
    expect(ledger.waivers).toEqual([]);
    await Worker.runReplayHistory({ workflowBundle: bundle }, r.history);
  });
});
