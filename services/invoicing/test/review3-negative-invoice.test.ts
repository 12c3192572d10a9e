// Review 3: an invoice whose credits exceed its charges (a rerate credit for a billed period on
// the last invoice of a terminated line) is issued as SETTLED with a negative total, and what the
// customer is owed disappears: issueInvoices only marks total ≤ 0 as SETTLED; no account credit
// entry, no refund, nothing carries it to a later invoice.
// Correct (rerate credits are money the customer already paid for usage that was cheaper; STATUS:
// "Account credit (overpayments, OFFSET credit notes, …) pays the account's next invoice"; late
// usage and its corrections are "never lost"): the negative total is kept as account credit
// (or refunded), so the account's credit equals −total after the invoice is issued.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dec } from '@ledgerline/contracts';
import { account, charges, startHarness, type Harness } from './support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false });
  await account(h, 'acc_negative');
  // The line is terminated at the end of September (00:00 local on 1 Oct).
  await h.gql('mutation($i: RecordSubscriptionInput!) { recordSubscription(input: $i) { ok } }', {
    i: { subscriptionId: 'sub_negative', lineId: 'lin_negative', billingAccountId: 'acc_negative', planCode: 'POSTPAID_20GB', planVersionId: 'plv_postpaid20_v1', startsAt: '2026-08-01T00:00:00Z', endsAt: '2026-09-30T22:00:00Z' },
  });
  await charges(h, [{ chargeId: 'chg_neg_roam', billingAccountId: 'acc_negative', lineId: 'lin_negative', usageType: 'DATA', zone: 'ROAMING_WORLD', units: '400', unit: 'MB', amount: '20.00', currency: 'EUR', occurredAt: '2026-09-10T12:00:00Z' }]);
});
afterAll(async () => h?.svc.close());

const CLOSE = 'mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { invoice { id state total { amount } lines { kind netAmount { amount } } } } } }';
const credit = async () => (await h.gql<any>('query { _entities(representations: [{ __typename: "BillingAccount", id: "acc_negative" }]) { ... on BillingAccount { accountCredit { amount } } } }'))._entities[0].accountCredit.amount;

describe('review3: an invoice with a negative total', () => {
  it('keeps what the customer is owed as account credit', async () => {
    const sep = (await h.gql<any>(CLOSE, { i: { billingAccountId: 'acc_negative', periodStart: '2026-08-31T22:00:00Z', periodEnd: '2026-09-30T22:00:00Z' } })).closeBillingPeriod.billingPeriod.invoice;
    await h.gql('mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { payment { id } } }', { i: { invoiceId: sep.id, channel: 'BANK_TRANSFER', amount: { amount: sep.total.amount, currency: 'EUR' }, idempotencyKey: 'neg-sep' } });

    // In October the September roaming is re-rated 15.00 cheaper: a credit for the billed period.
    await charges(h, [{ chargeId: 'adj_neg_roam', billingAccountId: 'acc_negative', lineId: 'lin_negative', usageType: 'DATA', zone: 'ROAMING_WORLD', units: '1', unit: 'ITEM', amount: '-15.00', currency: 'EUR', occurredAt: '2026-09-10T12:00:00Z' }]);
    h.clock.set(new Date('2026-11-01T09:00:00Z'));
    const oct = (await h.gql<any>(CLOSE, { i: { billingAccountId: 'acc_negative', periodStart: '2026-09-30T22:00:00Z', periodEnd: '2026-10-31T23:00:00Z' } })).closeBillingPeriod.billingPeriod.invoice;
    expect(oct.lines.map((l: any) => [l.kind, l.netAmount.amount])).toEqual([['ADJUSTMENT', '-15']]);
    expect(oct.total.amount).toBe('-17.85');

    const kept = await credit();
    expect(kept, `October's invoice is ${oct.total.amount} (${oct.state}); the 17.85 the customer is owed must become account credit, the account has ${kept}`).toBe(dec(oct.total.amount).negated().toFixed());
  });
});
