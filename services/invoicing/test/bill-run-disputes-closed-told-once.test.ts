// A bill run's batch bills its accounts in savepoint attempts (bill-run-set-aside.ts): an attempt refused for a
// permanent reason is rolled back and its accounts tried again in smaller groups. A billed re-rate correction closes
// the disputes of its usage record, and the dispute workflows are told once the bill commits (billAccounts queues it
// after commit). The signal must come from the attempt that billed the account, not from one rolled back: here the
// correction's account shares its batch with an account refused BILL_UNSTORABLE, so the first (whole-batch) attempt
// is rolled back; the dispute is told once. (It is: billAccounts queues the signal as its last step, after every
// statement that can refuse, so an attempt rolled back never reached it; this pins that down.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { account, charges, startHarness, subscribe, type Harness } from './support';
import { closedSeptember, customer, disputeCalls, disputeMutations, NO_DISPUTE_WORKFLOW } from './dispute-support';

let h: Harness;
const pokes: string[] = [];
const { OPEN } = disputeMutations('id status');
const { as } = disputeCalls(() => h);
const usage = (acc: string, chargeId: string, amount: string, units: string, occurredAt = '2026-09-10T10:00:00Z') => ({
  chargeId, billingAccountId: acc, lineId: `lin_sub_${acc}`, usageType: 'DATA', zone: 'EU_ROAMING', units, unit: 'MB', amount, currency: 'EUR', occurredAt,
});

beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false, disputes: { ...NO_DISPUTE_WORKFLOW, poke: async (id) => void pokes.push(id) } });
});
afterAll(async () => h?.svc.close());

describe("a bill run's batch with a refused account and a re-rate correction that closes a dispute", () => {
  it("tells the dispute's workflow once, from the attempt that billed it", async () => {
    const acc = 'acc_dct_a';
    const record = 'usg_dct_roam';
    const sep = await closedSeptember(h, acc, 'cus_dct_a', () => charges(h, [usage(acc, record, '10.00', '100')]));
    const dispute = (await as(customer('cus_dct_a'), OPEN, { i: { invoiceId: sep.id, usageRecordId: record, amount: '11.90', reason: 'I was at home', idempotencyKey: 'dct-a' } })).openDispute.dispute;
    await charges(h, [{ ...usage(acc, `${record}:rerate:2`, '-10.00', '0'), usageRecordId: record }]);
    // Another account of the same cycle whose October no invoice can hold (10^15 EUR: invoice totals are NUMERIC(18,4)).
    const bad = 'acc_dct_b';
    await account(h, bad, { customerId: 'cus_dct_b' });
    await subscribe(h, bad, `sub_${bad}`, 'postpaid20', '2026-08-01T00:00:00Z');
    await charges(h, [usage(bad, 'chg_dct_huge', '1000000000000000.00', '1', '2026-10-10T10:00:00Z')]);

    h.clock.set(new Date('2026-11-01T08:00:00Z'));
    const run = (await h.gql<any>('mutation($i: StartBillRunInput!) { startBillRun(input: $i) { billRun { id totalBatches } } }', { i: { cycleDate: '2026-11-01', driver: 'WORKFLOW' } })).startBillRun.billRun;
    expect(run.totalBatches).toBe(1);
    pokes.length = 0;
    const r = (await h.gql<any>('mutation($i: ProcessBillRunBatchInput!) { processBillRunBatch(input: $i) { batchNo accountsSetAside accountsLeft } }', { i: { billRunId: run.id, batchNo: 0 } })).processBillRunBatch;
    expect(r).toEqual({ batchNo: 0, accountsSetAside: 1, accountsLeft: 0 });
    const status = (await h.gql<any>('query($id: ID!) { dispute(id: $id) { status } }', { id: dispute.id })).dispute?.status;
    expect(status).toBe('ACCEPTED');
    expect(pokes.filter((id) => id === dispute.id)).toEqual([dispute.id]);
  });
});
