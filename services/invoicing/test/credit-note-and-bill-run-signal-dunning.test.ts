// A dunned invoice that a credit note clears (or reduces), or that account credit pays inside a
// bill run (a negative invoice's credit reaching an older, dunned invoice), tells its dunning
// workflow at once (`paymentRecorded`, as a payment does). Before, only payments and credit applied
// by a resolver signalled: the dunning noticed at its next daily check, and the customer's lines
// stayed barred up to a day after the note or the bill run. An account a bill run set aside and billed once
// fixed (`billSetAsideAccounts`) is billed as its batch would have: the dunning its credit paid looks again too
// (before, only the batch's drivers told it, and billSetAsideAccounts did not).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DunningStarter } from '../src/ports/dunning';
import { account, charges, invoicesOf, PLANS, runBillRun, startHarness, waitFor, type Harness } from './support';

let h: Harness;
const pokes: [string, string][] = [];
const dunning: DunningStarter = { start: async () => undefined, poke: async (invoiceId, what) => void pokes.push([invoiceId, what]) };

const CLOSE = 'mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { invoice { id state total { amount } lines { id } } } } }';
const NOTE = 'mutation($i: IssueCreditNoteInput!) { issueCreditNote(input: $i) { invoice { state amountDue { amount } } } }';

async function close(acc: string, periodStart: string, periodEnd: string, at: string): Promise<any> {
  h.clock.set(new Date(at));
  return (await h.gql<any>(CLOSE, { i: { billingAccountId: acc, periodStart, periodEnd } })).closeBillingPeriod.billingPeriod.invoice;
}
async function accountWithPlan(acc: string, endsAt: string | null = null, over: Record<string, unknown> = {}): Promise<void> {
  await account(h, acc, over);
  await h.gql('mutation($i: RecordSubscriptionInput!) { recordSubscription(input: $i) { ok } }', {
    i: { subscriptionId: `sub_${acc}`, lineId: `lin_${acc}`, billingAccountId: acc, planCode: 'POSTPAID_20GB', planVersionId: 'plv_postpaid20_v1', startsAt: '2026-07-01T00:00:00Z', endsAt },
  });
}
const dunned = (...ids: string[]) => h.svc.runtime.orm.em.fork().getConnection().execute(`update invoice set dunning_started_at = now() where id in (${ids.map((i) => `'${i}'`).join(', ')})`);
const invoice = async (acc: string, id: string) => (await invoicesOf(h, acc)).find((i: any) => i.id === id);

beforeAll(async () => {
  h = await startHarness('2026-09-01T09:00:00Z', { consume: false, dunning });
});
afterAll(async () => h?.svc.close());

describe('signalling the dunning of an invoice paid without a payment', () => {
  it('a credit note that clears or reduces a dunned invoice signals its dunning; one on an invoice not dunned does not', async () => {
    const AUG = ['2026-07-31T22:00:00Z', '2026-08-31T22:00:00Z', '2026-09-01T09:00:00Z'] as const;
    const inv: Record<string, any> = {};
    for (const acc of ['acc_sig_clear', 'acc_sig_part', 'acc_sig_calm']) {
      await accountWithPlan(acc);
      inv[acc] = await close(acc, ...AUG);
      expect(inv[acc].state).toBe('SENT');
    }
    await dunned(inv.acc_sig_clear.id, inv.acc_sig_part.id);
    h.clock.set(new Date('2026-09-10T10:00:00Z'));
    const note = (acc: string, amount: string) => ({ invoiceId: inv[acc].id, kind: 'CREDIT', reason: 'Outage in August', lines: [{ invoiceLineId: inv[acc].lines[0].id, amount }], idempotencyKey: `sig-${acc}` });

    pokes.length = 0;
    expect((await h.gql<any>(NOTE, { i: note('acc_sig_clear', '35.69') })).issueCreditNote.invoice).toMatchObject({ state: 'SETTLED', amountDue: { amount: '0' } });
    expect(pokes, 'the note cleared a dunned invoice: its dunning must look again at once').toEqual([[inv.acc_sig_clear.id, 'paymentRecorded']]);

    pokes.length = 0;
    expect((await h.gql<any>(NOTE, { i: note('acc_sig_part', '10.00') })).issueCreditNote.invoice.amountDue.amount).toBe('25.69');
    expect(pokes, 'less is owed: its dunning must look again (a dispute may now cover the rest)').toEqual([[inv.acc_sig_part.id, 'paymentRecorded']]);

    pokes.length = 0;
    await h.gql(NOTE, { i: note('acc_sig_calm', '10.00') });
    expect(pokes, 'no dunning to tell').toEqual([]);
  });

  it('a bill run whose negative invoice pays an older dunned invoice signals its dunning, driven by the service or by a workflow', async () => {
    // Two accounts whose line ended; last period's roaming is re-rated 15.00 cheaper afterwards, so
    // their next invoice is negative and its credit pays the dunned one before it.
    await accountWithPlan('acc_sig_wf', '2026-09-14T22:00:00Z', { billCycleDay: 15 });
    await accountWithPlan('acc_sig_svc', '2026-09-30T22:00:00Z');
    const roaming = (acc: string, id: string, amount: string, units: string, occurredAt: string) =>
      charges(h, [{ chargeId: id, billingAccountId: acc, lineId: `lin_${acc}`, usageType: 'DATA', zone: 'ROAMING_WORLD', units, unit: 'MB', amount, currency: 'EUR', occurredAt }]);
    await roaming('acc_sig_wf', 'chg_sig_wf', '20.00', '400', '2026-09-01T12:00:00Z');
    await roaming('acc_sig_svc', 'chg_sig_svc', '20.00', '400', '2026-09-10T12:00:00Z');
    const wf = await close('acc_sig_wf', '2026-08-14T22:00:00Z', '2026-09-14T22:00:00Z', '2026-09-15T09:00:00Z');
    const svc = await close('acc_sig_svc', '2026-08-31T22:00:00Z', '2026-09-30T22:00:00Z', '2026-10-01T09:00:00Z');
    await dunned(wf.id, svc.id);
    await roaming('acc_sig_wf', 'adj_sig_wf', '-15.00', '1', '2026-09-01T12:00:00Z');
    await roaming('acc_sig_svc', 'adj_sig_svc', '-15.00', '1', '2026-09-10T12:00:00Z');

    // A Temporal-driven run: the workflow's activity processes each batch through the mutation.
    h.clock.set(new Date('2026-10-15T09:00:00Z'));
    pokes.length = 0;
    const run = (await h.gql<any>('mutation($i: StartBillRunInput!) { startBillRun(input: $i) { billRun { id } } }', { i: { cycleDate: '2026-10-15', driver: 'WORKFLOW' } })).startBillRun.billRun.id;
    for (;;) {
      const r = (await h.gql<any>('mutation($i: ProcessBillRunBatchInput!) { processBillRunBatch(input: $i) { batchNo } }', { i: { billRunId: run } })).processBillRunBatch;
      if (r.batchNo == null) break;
    }
    expect((await invoice('acc_sig_wf', wf.id)).state).toBe('PARTIALLY_PAID');
    expect(pokes, 'the run paid a dunned invoice from credit: its dunning must look again').toEqual([[wf.id, 'paymentRecorded']]);

    // A run the service drives itself (its own runner).
    h.clock.set(new Date('2026-11-01T09:00:00Z'));
    pokes.length = 0;
    await runBillRun(h, '2026-11-01');
    expect((await invoice('acc_sig_svc', svc.id)).state).toBe('PARTIALLY_PAID');
    await waitFor(async () => pokes.some(([id]) => id === svc.id), 5_000).catch(() => undefined);
    expect(pokes, 'the run paid a dunned invoice from credit: its dunning must look again').toEqual([[svc.id, 'paymentRecorded']]);
  });

  it('closeBillingPeriod whose negative invoice pays an older dunned invoice signals its dunning once (told by the use case, no longer by its resolver)', async () => {
    const acc = 'acc_sig_close';
    await accountWithPlan(acc, '2026-09-24T22:00:00Z', { billCycleDay: 25 });
    await charges(h, [{ chargeId: 'chg_sig_close', billingAccountId: acc, lineId: `lin_${acc}`, usageType: 'DATA', zone: 'ROAMING_WORLD', units: '400', unit: 'MB', amount: '20.00', currency: 'EUR', occurredAt: '2026-09-10T12:00:00Z' }]);
    const sep = await close(acc, '2026-08-24T22:00:00Z', '2026-09-24T22:00:00Z', '2026-09-25T09:00:00Z');
    await dunned(sep.id);
    await charges(h, [{ chargeId: 'adj_sig_close', billingAccountId: acc, lineId: `lin_${acc}`, usageType: 'DATA', zone: 'ROAMING_WORLD', units: '1', unit: 'MB', amount: '-15.00', currency: 'EUR', occurredAt: '2026-09-10T12:00:00Z' }]);
    pokes.length = 0;
    const oct = await close(acc, '2026-09-24T22:00:00Z', '2026-10-24T22:00:00Z', '2026-10-25T09:00:00Z');
    expect(oct.total.amount).toMatch(/^-/);
    expect((await invoice(acc, sep.id)).state).toBe('PARTIALLY_PAID');
    await waitFor(async () => pokes.some(([id]) => id === sep.id), 5_000).catch(() => undefined);
    expect(pokes, "the period's credit paid a dunned invoice: its dunning must look again").toEqual([[sep.id, 'paymentRecorded']]);
  });

  it('a set-aside account billed once fixed (billSetAsideAccounts) whose credit pays a dunned invoice signals its dunning, as its batch would have', async () => {
    const acc = 'acc_sig_setaside';
    const UNKNOWN = 'plv_sig_setaside_unknown_v1';
    const subscription = (planVersionId: string, startsAt: string) =>
      h.gql('mutation($i: RecordSubscriptionInput!) { recordSubscription(input: $i) { ok } }', { i: { subscriptionId: `sub_${acc}`, lineId: `lin_${acc}`, billingAccountId: acc, planCode: 'POSTPAID_20GB', planVersionId, startsAt } });
    await account(h, acc, { billCycleDay: 20, timezone: 'UTC' });
    await subscription('plv_postpaid20_v1', '2026-10-20T00:00:00Z');
    const old = await close(acc, '2026-10-20T00:00:00Z', '2026-11-20T00:00:00Z', '2026-11-20T09:00:00Z');
    expect(old.state).toBe('SENT');
    await dunned(old.id);
    // From the next period on, a plan version invoicing does not know (the bill run sets the account aside), and a
    // re-rate credit larger than the period's fee: once billed, its invoice is negative and its credit pays the old one.
    await subscription(UNKNOWN, '2026-11-20T00:00:00Z');
    await charges(h, [{ chargeId: 'adj_sig_setaside', billingAccountId: acc, lineId: `lin_${acc}`, usageType: 'DATA', zone: 'ROAMING_WORLD', units: '1', unit: 'MB', amount: '-100.00', currency: 'EUR', occurredAt: '2026-11-25T12:00:00Z' }]);

    h.clock.set(new Date('2026-12-20T09:00:00Z'));
    const run = (await h.gql<any>('mutation($i: StartBillRunInput!) { startBillRun(input: $i) { billRun { id } } }', { i: { cycleDate: '2026-12-20', driver: 'WORKFLOW' } })).startBillRun.billRun.id;
    for (;;) {
      const r = (await h.gql<any>('mutation($i: ProcessBillRunBatchInput!) { processBillRunBatch(input: $i) { batchNo } }', { i: { billRunId: run } })).processBillRunBatch;
      if (r.batchNo == null) break;
    }
    expect((await h.gql<any>('query($id: ID) { billRun(id: $id) { accountsSetAside } }', { id: run })).billRun.accountsSetAside).toBe(1);

    // The data is fixed; staff bill it.
    await h.gql('mutation($i: RegisterPlanVersionInput!) { registerPlanVersion(input: $i) { ok } }', { i: { id: UNKNOWN, document: PLANS.postpaid20.document } });
    h.clock.set(new Date('2026-12-21T09:00:00Z'));
    pokes.length = 0;
    const billed = await h.gql<any>('mutation($i: BillSetAsideAccountsInput!) { billSetAsideAccounts(input: $i) { billed stillSetAside { billingAccountId } } }', { i: { billRunId: run } });
    expect(billed.billSetAsideAccounts).toEqual({ billed: [acc], stillSetAside: [] });
    const bills = await invoicesOf(h, acc);
    expect(bills.find((i: any) => i.id !== old.id)).toMatchObject({ state: 'SETTLED', total: { amount: expect.stringMatching(/^-/) } });
    expect((await invoice(acc, old.id)).state).toBe('SETTLED');
    expect(pokes, 'its credit paid a dunned invoice: its dunning must look again').toEqual([[old.id, 'paymentRecorded']]);
  });
});
