// Issuing a draft of an account that has credit, while staff put the draft on hold (disputeInvoice).
// issueInvoice locked the draft's row and, issuing it, took the account's credit lock to let the credit
// pay it; disputeInvoice takes the credit lock and then the invoice's row. Each held what the other
// waited for: PostgreSQL failed one (40P01), answered INTERNAL_SERVER_ERROR. Now issuing takes the
// account's billing and credit locks before the draft (lock-order.ts), so one waits for the other.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Em } from '@ledgerline/platform';
import { processBillRunBatch, startBillRun } from '../src/application/bill-run';
import { startHarness, type Harness } from './support';
import { closedSeptember } from './dispute-support';

let h: Harness;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const answer = (r: { errors?: readonly { extensions?: Record<string, unknown> }[] }) => (r.errors?.length ? String(r.errors[0]!.extensions?.reason ?? r.errors[0]!.extensions?.code) : 'ok');

beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false });
});
afterAll(async () => h?.svc.close());

describe('issuing a draft while staff put it on hold', () => {
  it('issueInvoice and disputeInvoice at once, 24 times: neither deadlocks', async () => {
    const accounts = Array.from({ length: 24 }, (_, i) => `acc_issue_lock_${String(i).padStart(2, '0')}`);
    for (const acc of accounts) {
      const sep = await closedSeptember(h, acc, `cus_${acc}`);
      // Paid over what September asks: the rest is account credit, which issuing October lets pay it.
      await h.gql('mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { payment { id } } }', {
        i: { invoiceId: sep.id, channel: 'BANK_TRANSFER', amount: { amount: '50.00', currency: 'EUR' }, idempotencyKey: `over-${acc}`, allowOverpayment: true },
      });
    }
    h.clock.set('2026-11-01T08:00:00Z');
    const now = new Date('2026-11-01T08:00:00Z');
    const orm = h.svc.runtime.orm;
    const { run } = await orm.em.fork().transactional((em) => startBillRun(em as Em, { cycleDate: '2026-11-01', batchSize: 100, autoIssue: false, now }));
    await orm.em.fork().transactional((em) => processBillRunBatch(em as Em, run.id, 0, { catalog: null }, now));

    const seen: unknown[] = [];
    for (const [i, acc] of accounts.entries()) {
      const draft = (await h.gql<any>('query($a: ID) { invoices(billingAccountId: $a) { edges { node { id state } } } }', { a: acc })).invoices.edges.map((e: any) => e.node).find((n: any) => n.state === 'NEW').id as string;
      const issue = async (delayMs: number) => {
        await sleep(delayMs);
        return answer(await h.svc.request('mutation($i: InvoiceIdInput!) { issueInvoice(input: $i) { invoice { id } } }', { i: { invoiceId: draft } }));
      };
      const hold = async (delayMs: number) => {
        await sleep(delayMs);
        return answer(await h.svc.request('mutation($i: DisputeInvoiceInput!) { disputeInvoice(input: $i) { invoice { id } } }', { i: { invoiceId: draft, amount: '5.00', reason: 'Roaming looks wrong' } }));
      };
      const offset = (i % 6) * 2;
      const [issued, held] = await Promise.all(i % 2 === 0 ? [issue(0), hold(offset)] : [issue(offset), hold(0)]);
      // Held first, the draft cannot be issued (INVOICE_ON_HOLD); issued first, the hold is on the issued invoice.
      seen.push({ acc, deadlocked: [issued, held].includes('INTERNAL_SERVER_ERROR') ? { issued, held } : null });
    }
    expect(seen).toEqual(accounts.map((acc) => ({ acc, deadlocked: null })));
  });
});
