// Regenerating a disputed draft that bills a usage record's rerate adjustment, while staff change or
// decide its dispute. regenerateInvoice took the account's billing lock, then the draft's row, and
// then (billing the released adjustment again) the account's credit lock; disputeInvoice and the
// dispute decisions (lockDispute) take the credit lock and then the invoice's row. Each held what the
// other waited for: PostgreSQL broke the cycle by failing one of them (40P01), which reached staff as
// an INTERNAL_SERVER_ERROR (nothing retries a deadlocked transaction). Now regenerate takes the credit
// lock right after the billing lock, before the draft (lock-order.ts), so one waits for the other.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Em } from '@ledgerline/platform';
import { processBillRunBatch, startBillRun } from '../src/application/bill-run';
import { account, charges, startHarness, subscribe, type Harness } from './support';
import { agent, NO_DISPUTE_WORKFLOW } from './dispute-support';

let h: Harness;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const answer = (r: { errors?: readonly { extensions?: Record<string, unknown> }[] }) => (r.errors?.length ? String(r.errors[0]!.extensions?.reason ?? r.errors[0]!.extensions?.code) : 'ok');
const usage = (acc: string, chargeId: string, amount: string, units: string, usageRecordId?: string) => ({
  chargeId, billingAccountId: acc, lineId: `lin_sub_${acc}`, usageType: 'DATA', zone: 'EU_ROAMING', units, unit: 'MB', amount, currency: 'EUR', occurredAt: '2026-09-10T10:00:00Z', ...(usageRecordId ? { usageRecordId } : {}),
});

beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false, disputes: NO_DISPUTE_WORKFLOW });
});
afterAll(async () => h?.svc.close());

describe('regenerating a disputed draft with a rerate adjustment while its dispute changes', () => {
  it('regenerate and disputeInvoice / decideDispute at once, 24 times: neither deadlocks', async () => {
    const accounts = Array.from({ length: 24 }, (_, i) => `acc_regen_lock_${String(i).padStart(2, '0')}`);
    for (const acc of accounts) {
      await account(h, acc);
      await subscribe(h, acc, `sub_${acc}`, 'postpaid20', '2026-08-01T00:00:00Z');
      // A roaming record and its correction (a re-rate): billing the correction takes the credit lock (bill-accounts.ts).
      await charges(h, [usage(acc, `usg_${acc}`, '10.00', '100'), usage(acc, `usg_${acc}:rerate:2`, '-4.00', '0', `usg_${acc}`)]);
    }
    const now = new Date('2026-10-01T08:00:00Z');
    const orm = h.svc.runtime.orm;
    const { run } = await orm.em.fork().transactional((em) => startBillRun(em as Em, { cycleDate: '2026-10-01', batchSize: 100, autoIssue: false, now }));
    await orm.em.fork().transactional((em) => processBillRunBatch(em as Em, run.id, 0, { catalog: null }, now));

    const seen: unknown[] = [];
    for (const [i, acc] of accounts.entries()) {
      const draft = (await h.gql<any>('query($a: ID) { invoices(billingAccountId: $a) { edges { node { id state } } } }', { a: acc })).invoices.edges.map((e: any) => e.node).find((n: any) => n.state === 'NEW').id as string;
      const held = await h.gql<any>('mutation($i: DisputeInvoiceInput!) { disputeInvoice(input: $i) { invoice { disputes { id } } } }', { i: { invoiceId: draft, amount: '5.00', reason: 'Roaming looks wrong' } });
      const disputeId = held.disputeInvoice.invoice.disputes[0].id as string;
      const regenerate = async (delayMs: number) => {
        await sleep(delayMs);
        return answer(await h.svc.request('mutation($i: InvoiceIdInput!) { regenerateInvoice(input: $i) { invoice { id } } }', { i: { invoiceId: draft } }));
      };
      // Half raise the staff hold (disputeInvoice), half decide it (decideDispute, lockDispute): both credit lock, then the draft.
      const change = async (delayMs: number) => {
        await sleep(delayMs);
        if (i % 4 < 2) return answer(await h.svc.request('mutation($i: DisputeInvoiceInput!) { disputeInvoice(input: $i) { invoice { id } } }', { i: { invoiceId: draft, amount: '6.00', reason: 'Roaming looks wrong' } }));
        return answer(await h.svc.request('mutation($i: DecideDisputeInput!) { decideDispute(input: $i) { dispute { id } } }', { i: { disputeId, decision: 'REJECT', note: 'Roaming was used' } }, agent('agent-regen')));
      };
      const offset = (i % 6) * 2;
      const [regenerated, changed] = await Promise.all(i % 2 === 0 ? [regenerate(0), change(offset)] : [regenerate(offset), change(0)]);
      seen.push({ acc, regenerated, deadlocked: changed === 'INTERNAL_SERVER_ERROR' || regenerated === 'INTERNAL_SERVER_ERROR' ? changed : null });
    }
    expect(seen).toEqual(accounts.map((acc) => ({ acc, regenerated: 'ok', deadlocked: null })));
  });
});
