// A waiver of a one-off charge racing the composing of its account's invoice (the bill-cycle close,
// a bill run's batch). The bill read the charge as billable, the waiver then marked it WAIVED (no
// credit note: "not billed yet") and committed, and the bill still put the charge on its invoice's
// line and marked it billed (its update looks at invoice_id only): the customer was charged a fee
// that was waived, with nothing giving it back. Now both take the account's row lock first (the
// bill in unbilledParts, the waiver before the credit lock), so one waits for the other: waived
// first, the bill leaves it out; billed first, the waiver credits it (CREDITED). Either way the
// customer owes the invoice without the fee, and nothing fails.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dec } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { account, startHarness, subscribe, type Harness } from './support';
import { disputeCalls, SYSTEM } from './dispute-support';
import { processBillRunBatch, startBillRun } from '../src/application/bill-run';

let h: Harness;
const { as } = disputeCalls(() => h);
const WAIVE = 'mutation($i: WaiveOneOffChargeInput!) { waiveOneOffCharge(input: $i) { outcome creditNote { total { amount } } } }';
const INVOICE = 'query($id: ID!) { invoice(id: $id) { total { amount } amountCredited { amount } lines { description grossAmount { amount } } } }';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const feeId = (acc: string) => `race-${acc}:late-fee`;
const FEE = '7.50';

const waive = async (acc: string, delayMs: number) => {
  await sleep(delayMs);
  return (await as(SYSTEM, WAIVE, { i: { id: feeId(acc), reason: 'the customer paid before the fee' } })).waiveOneOffCharge;
};

async function withFee(acc: string, billCycleDay: number, occurredAt: string): Promise<void> {
  await account(h, acc, { billCycleDay });
  await subscribe(h, acc, `sub_${acc}`, 'postpaid20', '2026-08-01T00:00:00Z');
  await h.gql('mutation($i: AddOneOffChargeInput!) { addOneOffCharge(input: $i) { ok } }', {
    i: { id: feeId(acc), billingAccountId: acc, code: 'LATE_FEE', description: 'Late payment fee', amount: { amount: FEE, currency: 'EUR' }, occurredAt },
  });
}

const closeSeptember = async (acc: string, delayMs: number): Promise<string> => {
  await sleep(delayMs);
  const r = await h.gql<any>('mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { invoice { id } } } }', {
    i: { billingAccountId: acc, periodStart: '2026-08-31T22:00:00Z', periodEnd: '2026-09-30T22:00:00Z' },
  });
  return r.closeBillingPeriod.billingPeriod.invoice.id;
};

/** What each account's invoice asks after its credit notes, and whether it billed the fee, with the waiver's answer. */
async function money(invoiceId: string, waived: { outcome: string; creditNote: { total: { amount: string } } | null }) {
  const inv = (await h.gql<any>(INVOICE, { id: invoiceId })).invoice;
  const feeLine = inv.lines.find((l: any) => l.description.startsWith('Late payment fee'));
  return {
    owed: dec(inv.total.amount).minus(inv.amountCredited.amount).toFixed(2),
    feeBilled: (feeLine?.grossAmount.amount as string | undefined) ?? null,
    outcome: waived.outcome,
    credited: waived.creditNote?.total.amount ?? null,
  };
}

/** Billed: credited for its whole line; not billed: waived, nothing credited. The customer owes `base` either way. */
const expected = (base: string, feeBilled: string | null) => ({ owed: base, feeBilled, outcome: feeBilled ? 'CREDITED' : 'WAIVED', credited: feeBilled });

beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false });
});
afterAll(async () => h?.svc.close());

describe('waiving a one-off charge while its account is billed', () => {
  it('the bill-cycle close and the waiver at once, 40 times: billed and credited, or waived and not billed', async () => {
    // What September costs without the fee, and what the fee's line comes to.
    await account(h, 'acc_race_base');
    await subscribe(h, 'acc_race_base', 'sub_acc_race_base', 'postpaid20', '2026-08-01T00:00:00Z');
    const base = dec((await h.gql<any>(INVOICE, { id: await closeSeptember('acc_race_base', 0) })).invoice.total.amount).toFixed(2);
    const seen: unknown[] = [];
    const want: unknown[] = [];
    for (let i = 0; i < 40; i++) {
      const acc = `acc_race_close_${String(i).padStart(2, '0')}`;
      await withFee(acc, 1, '2026-09-15T10:00:00Z');
      // Offsets either way round, so that the waiver lands before, inside and after the bill's reads.
      const offset = (i % 10) * 3;
      const [invoiceId, waived] = await Promise.all(i % 2 === 0 ? [closeSeptember(acc, 0), waive(acc, offset)] : [closeSeptember(acc, offset), waive(acc, 0)]);
      const got = await money(invoiceId, waived);
      seen.push({ acc, ...got });
      want.push({ acc, ...expected(base, got.feeBilled) });
    }
    expect(seen).toEqual(want);
  });

  it("a bill run's batches and the waivers at once: billed and credited, or waived and not billed", async () => {
    // Accounts of cycle day 15 (none of the other test's): one batch each, all batches and all waivers at once.
    await account(h, 'acc_race_run_base', { billCycleDay: 15 });
    await subscribe(h, 'acc_race_run_base', 'sub_acc_race_run_base', 'postpaid20', '2026-08-01T00:00:00Z');
    const accounts = Array.from({ length: 30 }, (_, i) => `acc_race_run_${String(i).padStart(2, '0')}`);
    for (const acc of accounts) await withFee(acc, 15, '2026-09-01T10:00:00Z');
    const now = new Date('2026-10-01T08:00:00Z');
    const orm = h.svc.runtime.orm;
    const { run } = await orm.em.fork().transactional((em) => startBillRun(em as Em, { cycleDate: '2026-09-15', batchSize: 1, now }));
    expect(run.totalBatches).toBe(31); // acc_race_run_* sort before acc_race_run_base: batches 0–29 are theirs
    const deps = { catalog: null };
    const batches = run.totalBatches;
    const billed = Array.from({ length: batches }, async (_, b) => {
      await sleep((b % 7) * 4);
      return orm.em.fork().transactional((em) => processBillRunBatch(em as Em, run.id, b, deps, now));
    });
    const waivers = accounts.map((acc, i) => waive(acc, (i % 9) * 4));
    const [, waived] = await Promise.all([Promise.all(billed), Promise.all(waivers)]);

    const invoiceOf = async (acc: string) => (await h.gql<any>('query($a: ID) { invoices(billingAccountId: $a) { edges { node { id } } } }', { a: acc })).invoices.edges[0].node.id as string;
    const base = dec((await h.gql<any>(INVOICE, { id: await invoiceOf('acc_race_run_base') })).invoice.total.amount).toFixed(2);
    const seen: unknown[] = [];
    const want: unknown[] = [];
    for (const [i, acc] of accounts.entries()) {
      const got = await money(await invoiceOf(acc), waived[i]);
      seen.push({ acc, ...got });
      want.push({ acc, ...expected(base, got.feeBilled) });
    }
    expect(seen).toEqual(want);
  });

  it('regenerating the draft that bills it and the waiver at once: the waiver is refused ON_DRAFT, neither deadlocks', async () => {
    // Regenerating voids the draft (its charges' rows) and bills again (the account's row); the waiver
    // takes the account's row and then the charge's: without the account first in both, they deadlocked.
    const accounts = Array.from({ length: 20 }, (_, i) => `acc_race_regen_${String(i).padStart(2, '0')}`);
    for (const acc of accounts) await withFee(acc, 20, '2026-09-01T10:00:00Z');
    const now = new Date('2026-10-01T08:00:00Z');
    const orm = h.svc.runtime.orm;
    const { run } = await orm.em.fork().transactional((em) => startBillRun(em as Em, { cycleDate: '2026-09-20', batchSize: 100, autoIssue: false, now }));
    await orm.em.fork().transactional((em) => processBillRunBatch(em as Em, run.id, 0, { catalog: null }, now));
    const draftOf = async (acc: string) => (await h.gql<any>('query($a: ID) { invoices(billingAccountId: $a) { edges { node { id state } } } }', { a: acc })).invoices.edges.map((e: any) => e.node).find((i: any) => i.state === 'NEW').id as string;
    const answer = (r: { errors?: readonly { extensions?: Record<string, unknown> }[]; data?: any }) => (r.errors?.length ? String(r.errors[0]!.extensions?.reason ?? r.errors[0]!.extensions?.code) : 'ok');
    const seen: unknown[] = [];
    for (const [i, acc] of accounts.entries()) {
      const draft = await draftOf(acc);
      const offset = (i % 5) * 2;
      const regenerate = async (delayMs: number) => {
        await sleep(delayMs);
        return answer(await h.svc.request('mutation($i: InvoiceIdInput!) { regenerateInvoice(input: $i) { invoice { id } } }', { i: { invoiceId: draft } }));
      };
      const waiver = async (delayMs: number) => {
        await sleep(delayMs);
        return answer(await h.svc.request(WAIVE, { i: { id: feeId(acc), reason: 'the customer paid before the fee' } }, SYSTEM));
      };
      const [regenerated, waived] = await Promise.all(i % 2 === 0 ? [regenerate(0), waiver(offset)] : [regenerate(offset), waiver(0)]);
      seen.push({ acc, regenerated, waived });
    }
    expect(seen).toEqual(accounts.map((acc) => ({ acc, regenerated: 'ok', waived: 'ONE_OFF_CHARGE_ON_DRAFT' })));
  });
});
