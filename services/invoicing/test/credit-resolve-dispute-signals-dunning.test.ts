// Account credit pays a dunned invoice whenever it becomes payable — reopened by a refund, released
// by a resolved dispute — and its dunning is told at once (`paymentRecorded` for an invoice the
// credit paid, `disputeChanged` for the released one), as after a payment or a credit note. Before,
// a dunned invoice the credit paid waited for its dunning's next daily check, its lines barred
// meanwhile.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DunningStarter } from '../src/ports/dunning';
import { account, invoicesOf, startHarness, type Harness } from './support';

let h: Harness;
const pokes: [string, string][] = [];
const dunning: DunningStarter = { start: async () => undefined, poke: async (invoiceId, what) => void pokes.push([invoiceId, what]) };

const CLOSE = 'mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { invoice { id state total { amount } } } } }';
const PAY = 'mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { payment { id creditAmount { amount } } invoice { state } } }';
const credit = async (acc: string) =>
  (await h.gql<any>(`query { _entities(representations: [{ __typename: "BillingAccount", id: "${acc}" }]) { ... on BillingAccount { accountCredit { amount } } } }`))._entities[0].accountCredit.amount;
const dunned = (...ids: string[]) => h.svc.runtime.orm.em.fork().getConnection().execute(`update invoice set dunning_started_at = now() where id in (${ids.map((i) => `'${i}'`).join(', ')})`);

async function close(acc: string, periodStart: string, periodEnd: string, at: string): Promise<any> {
  h.clock.set(new Date(at));
  return (await h.gql<any>(CLOSE, { i: { billingAccountId: acc, periodStart, periodEnd } })).closeBillingPeriod.billingPeriod.invoice;
}

beforeAll(async () => {
  h = await startHarness('2026-09-01T09:00:00Z', { consume: false, runBillRuns: false, dunning });
});
afterAll(async () => h?.svc.close());

describe('resolving a dispute while the account holds credit', () => {
  it('signals the dunning of every dunned invoice the credit paid, not only the released one', async () => {
    const acc = 'acc_rd_sig';
    await account(h, acc);
    await h.gql('mutation($i: RecordSubscriptionInput!) { recordSubscription(input: $i) { ok } }', {
      i: { subscriptionId: `sub_${acc}`, lineId: `lin_${acc}`, billingAccountId: acc, planCode: 'POSTPAID_20GB', planVersionId: 'plv_postpaid20_v1', startsAt: '2026-07-01T00:00:00Z' },
    });
    const aug = await close(acc, '2026-07-31T22:00:00Z', '2026-08-31T22:00:00Z', '2026-09-01T09:00:00Z');
    const sep = await close(acc, '2026-08-31T22:00:00Z', '2026-09-30T22:00:00Z', '2026-10-01T09:00:00Z');
    expect([aug.state, aug.total.amount, sep.state, sep.total.amount]).toEqual(['SENT', '35.69', 'SENT', '35.69']);

    h.clock.set(new Date('2026-10-05T10:00:00Z'));
    // September is disputed in full: held, nothing of it is due.
    await h.gql('mutation($i: DisputeInvoiceInput!) { disputeInvoice(input: $i) { invoice { state } } }', { i: { invoiceId: sep.id, amount: '35.69', reason: 'Never used the line' } });
    // August is paid, then 20.00 more arrives on it: kept as credit (nothing else is due).
    const paid = (await h.gql<any>(PAY, { i: { invoiceId: aug.id, channel: 'BANK_TRANSFER', amount: { amount: '35.69', currency: 'EUR' }, idempotencyKey: 'rd-sig-pay' } })).recordPayment;
    expect(paid.invoice.state).toBe('SETTLED');
    await h.gql(PAY, { i: { invoiceId: aug.id, channel: 'BANK_TRANSFER', amount: { amount: '20.00', currency: 'EUR' }, idempotencyKey: 'rd-sig-over', allowOverpayment: true } });
    expect(await credit(acc)).toBe('20');
    await dunned(aug.id, sep.id);
    // 10.00 of the August payment goes back to the payer: August owes 10.00 again, and the account's
    // credit pays it at once (a refund reopening an invoice takes the account's other credit); its
    // dunning is told.
    pokes.length = 0;
    await h.gql('mutation($i: RefundPaymentInput!) { refundPayment(input: $i) { payment { id } } }', {
      i: { paymentId: paid.payment.id, amount: { amount: '10.00', currency: 'EUR' }, idempotencyKey: 'rd-sig-refund' },
    });
    const before = new Map((await invoicesOf(h, acc)).map((i: any) => [i.id, i]));
    expect([before.get(aug.id).state, before.get(aug.id).amountDue.amount]).toEqual(['SETTLED', '0']);
    expect(await credit(acc)).toBe('10');
    expect(pokes, 'August was paid by the credit: its dunning must look again at once').toEqual([[aug.id, 'paymentRecorded']]);

    // The dispute is lost: September is due again, and the rest of the credit pays 10.00 of it.
    h.clock.set(new Date('2026-10-06T10:00:00Z'));
    pokes.length = 0;
    await h.gql('mutation($i: InvoiceIdInput!) { resolveDispute(input: $i) { invoice { state } } }', { i: { invoiceId: sep.id } });
    const after = new Map((await invoicesOf(h, acc)).map((i: any) => [i.id, i]));
    expect([after.get(aug.id).state, after.get(sep.id).state, after.get(sep.id).amountDue.amount]).toEqual(['SETTLED', 'PARTIALLY_PAID', '25.69']);
    expect(await credit(acc)).toBe('0');
    expect(pokes).toEqual([[sep.id, 'disputeChanged']]);
  });
});
