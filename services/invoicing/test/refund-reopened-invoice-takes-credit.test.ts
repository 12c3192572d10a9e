// A refund that reopens a SETTLED invoice (it owes again) left the account's other credit unused:
// credit pays issued unpaid invoices whenever it arrives (applyAccountCredit), but a refund is not
// credit arriving, so the reopened invoice was dunned while the customer's own credit sat next to it.
// Now the refund applies the account's credit to what it reopened, in its transaction (under the
// `credit:<account>` lock, before the invoice row locks), once under retries. Only credit that is not
// the refunded payment's: the refund takes back the payment's kept credit first, so what pays the
// reopened invoice is credit from elsewhere, and a refund of an ACCOUNT_CREDIT payment stays refused.
// Real PostgreSQL (and NATS for the outbox).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DunningStarter } from '../src/ports/dunning';
import { account, invoicesOf, startHarness, subscribe, type Harness } from './support';

let h: Harness;
const pokes: [string, string][] = [];
const dunning: DunningStarter = { start: async () => undefined, poke: async (invoiceId, what) => void pokes.push([invoiceId, what]) };

const MONTHS = {
  aug: { periodStart: '2026-07-31T22:00:00Z', periodEnd: '2026-08-31T22:00:00Z', at: '2026-09-01T09:00:00Z' },
  sep: { periodStart: '2026-08-31T22:00:00Z', periodEnd: '2026-09-30T22:00:00Z', at: '2026-10-01T09:00:00Z' },
  oct: { periodStart: '2026-09-30T22:00:00Z', periodEnd: '2026-10-31T23:00:00Z', at: '2026-11-01T09:00:00Z' },
};
const CLOSE = 'mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { invoice { id state total { amount } lines { id } } } } }';
const NOTE = 'mutation($i: IssueCreditNoteInput!) { issueCreditNote(input: $i) { creditNote { id } } }';
const PAY = 'mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { payment { id creditAmount { amount } } invoice { state } } }';
const REFUND = 'mutation($i: RefundPaymentInput!) { refundPayment(input: $i) { payment { id refundedAmount { amount } } } }';

async function close(acc: string, month: keyof typeof MONTHS): Promise<any> {
  const m = MONTHS[month];
  h.clock.set(new Date(m.at));
  return (await h.gql<any>(CLOSE, { i: { billingAccountId: acc, periodStart: m.periodStart, periodEnd: m.periodEnd } })).closeBillingPeriod.billingPeriod.invoice;
}
const pay = async (invoiceId: string, amount: string, key: string) =>
  (await h.gql<any>(PAY, { i: { invoiceId, channel: 'BANK_TRANSFER', amount: { amount, currency: 'EUR' }, idempotencyKey: key, allowOverpayment: true } })).recordPayment;
const credit = async (acc: string) => (await h.gql<any>(`query { _entities(representations: [{ __typename: "BillingAccount", id: "${acc}" }]) { ... on BillingAccount { accountCredit { amount } } } }`))._entities[0].accountCredit.amount;
const view = async (acc: string, id: string) => {
  const inv = (await invoicesOf(h, acc)).find((i: any) => i.id === id);
  return { state: inv.state, amountPaid: inv.amountPaid.amount, amountDue: inv.amountDue.amount };
};
async function creditPayments(acc: string): Promise<{ id: string; invoiceId: string; amount: string }[]> {
  const d = await h.gql<any>(`query { payments(billingAccountId: "${acc}", first: 100) { edges { node { id channel invoiceId amount { amount } } } } }`);
  return d.payments.edges.map((e: any) => e.node).filter((p: any) => p.channel === 'ACCOUNT_CREDIT').map((p: any) => ({ id: p.id, invoiceId: p.invoiceId, amount: p.amount.amount }));
}

beforeAll(async () => {
  h = await startHarness('2026-09-01T09:00:00Z', { consume: false, runBillRuns: false, dunning });
});
afterAll(async () => h?.svc.close());

describe('a refund that reopens an invoice', () => {
  it('takes the account’s other credit onto the reopened invoice, not the refunded payment’s own, once under retries', async () => {
    await account(h, 'acc_rf_other');
    await subscribe(h, 'acc_rf_other', 'sub_rf_other', 'postpaid20', '2026-07-01T00:00:00Z');
    const aug = await close('acc_rf_other', 'aug');
    const sep = await close('acc_rf_other', 'sep');
    const oct = await close('acc_rf_other', 'oct');
    await pay(sep.id, '35.69', 'rf-other-sep');
    await pay(oct.id, '35.69', 'rf-other-oct');
    // August paid with 50.00: 14.31 of it kept as credit (no other invoice open).
    const augPay = await pay(aug.id, '50.00', 'rf-other-aug');
    expect(augPay).toMatchObject({ payment: { creditAmount: { amount: '14.31' } }, invoice: { state: 'SETTLED' } });
    // A 10.00 credit note on paid September: credit from elsewhere, 24.31 in all.
    await h.gql(NOTE, { i: { invoiceId: sep.id, kind: 'CREDIT', reason: 'Outage on 12 Sep', lines: [{ invoiceLineId: sep.lines[0].id, amount: '10.00' }], idempotencyKey: 'rf-other-note' } });
    expect(await credit('acc_rf_other')).toBe('24.31');
    // August had been dunned before it was paid.
    await h.svc.runtime.orm.em.fork().getConnection().execute(`update invoice set dunning_started_at = now() where id = '${aug.id}'`);

    // The bank recalls the whole 50.00 August payment: 14.31 comes back out of its kept credit,
    // 35.69 reopens August — and the 10.00 the credit note left on the account pays August.
    h.clock.set(new Date('2026-11-03T10:00:00Z'));
    const i = { paymentId: augPay.payment.id, amount: { amount: '50.00', currency: 'EUR' }, idempotencyKey: 'rf-other-refund' };
    const [first, retry] = await Promise.all([h.gql<any>(REFUND, { i }), h.gql<any>(REFUND, { i })]);
    expect(first.refundPayment.payment.refundedAmount.amount).toBe('50');
    expect(retry.refundPayment.payment.refundedAmount.amount).toBe('50');
    expect(
      { aug: await view('acc_rf_other', aug.id), credit: await credit('acc_rf_other'), fromCredit: (await creditPayments('acc_rf_other')).map((p) => [p.invoiceId, p.amount]) },
      'the account’s 10.00 from the credit note must pay the reopened August invoice (once), not sit next to it',
    ).toEqual({
      aug: { state: 'PARTIALLY_PAID', amountPaid: '10', amountDue: '25.69' },
      credit: '0',
      fromCredit: [[aug.id, '10']],
    });
    // Still owing after the credit: re-armed, so the due-date job dunns it again (its dunning had
    // stopped on the payment); nothing to tell a dunning that is over.
    const [armed] = await h.svc.runtime.orm.em.fork().getConnection().execute(`select dunning_started_at from invoice where id = '${aug.id}'`);
    expect(armed.dunning_started_at).toBeNull();

    // A retry later: the same refund, nothing applied again.
    const again = await h.gql<any>(REFUND, { i });
    expect(again.refundPayment.payment.refundedAmount.amount).toBe('50');
    expect((await creditPayments('acc_rf_other')).length).toBe(1);
    expect(await view('acc_rf_other', aug.id)).toEqual({ state: 'PARTIALLY_PAID', amountPaid: '10', amountDue: '25.69' });

    // The credit applied to August is not money to give back (as before).
    const [applied] = await creditPayments('acc_rf_other');
    const refused = await h.gqlError(REFUND, { i: { paymentId: applied!.id, amount: { amount: '10.00', currency: 'EUR' }, idempotencyKey: 'rf-other-refund-credit' } });
    expect(refused).toMatchObject({ reason: 'REFUND_NOT_ALLOWED', field: 'input.paymentId' });
    expect(await credit('acc_rf_other')).toBe('0');
  });

  it('the refunded payment’s own kept credit never pays the invoice it reopens (the customer gets it back)', async () => {
    await account(h, 'acc_rf_own');
    await subscribe(h, 'acc_rf_own', 'sub_rf_own', 'postpaid20', '2026-07-01T00:00:00Z');
    h.clock.set(new Date('2026-09-01T09:00:00Z'));
    const aug = await close('acc_rf_own', 'aug');
    const augPay = await pay(aug.id, '50.00', 'rf-own-aug');
    expect(await credit('acc_rf_own')).toBe('14.31');
    // 40.00 back: the 14.31 kept first, then 25.69 off August.
    await h.gql(REFUND, { i: { paymentId: augPay.payment.id, amount: { amount: '40.00', currency: 'EUR' }, idempotencyKey: 'rf-own-refund' } });
    expect({ aug: await view('acc_rf_own', aug.id), credit: await credit('acc_rf_own'), fromCredit: await creditPayments('acc_rf_own') }).toEqual({
      aug: { state: 'PARTIALLY_PAID', amountPaid: '10', amountDue: '25.69' },
      credit: '0',
      fromCredit: [],
    });
  });
});
