// Review 3: a CREDIT credit note can credit more than the invoice billed. Each line may be credited
// up to its own gross amount, but a discount line already took part of the fee off: crediting the
// whole fee line of a 50%-discounted invoice credits 35.69 on an invoice of 17.84, and the 17.85
// "already paid" part becomes account credit although the customer paid nothing.
// Correct (TMF678 / brief: a credit note corrects what was billed; STATUS: "Credit notes
// CREDIT/REFUND/OFFSET linked to lines"): what an invoice's credit notes credit never exceeds its
// total, so an unpaid invoice can be credited down to zero but never produce account credit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dec } from '@ledgerline/contracts';
import { account, startHarness, subscribe, type Harness } from './support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false });
  await account(h, 'acc_cn_cap');
  await subscribe(h, 'acc_cn_cap', 'sub_cn_cap', 'postpaid20', '2026-08-01T00:00:00Z');
  await h.gql('mutation($i: AddDiscountInput!) { addDiscount(input: $i) { ok } }', {
    i: { billingAccountId: 'acc_cn_cap', code: 'HALF', description: '50% off the plan', percent: '50', target: 'RECURRING', validFrom: '2026-08-01T00:00:00Z' },
  });
});
afterAll(async () => h?.svc.close());

const CLOSE = 'mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { invoice { id state total { amount } lines { id kind grossAmount { amount } } } } } }';
const ISSUE = 'mutation($i: IssueCreditNoteInput!) { issueCreditNote(input: $i) { creditNote { total { amount } } invoice { state total { amount } amountPaid { amount } amountCredited { amount } amountDue { amount } } } }';
const credit = async (acc: string) => (await h.gql<any>(`query { _entities(representations: [{ __typename: "BillingAccount", id: "${acc}" }]) { ... on BillingAccount { accountCredit { amount } } } }`))._entities[0].accountCredit.amount;

describe('review3: credit note above the invoice total', () => {
  it('crediting the fee line of a discounted, unpaid invoice never turns into account credit', async () => {
    const inv = (await h.gql<any>(CLOSE, { i: { billingAccountId: 'acc_cn_cap', periodStart: '2026-08-31T22:00:00Z', periodEnd: '2026-09-30T22:00:00Z' } })).closeBillingPeriod.billingPeriod.invoice;
    const fee = inv.lines.find((l: any) => l.kind === 'RECURRING');
    expect(inv.lines.map((l: any) => l.kind)).toEqual(['RECURRING', 'DISCOUNT']);
    expect(dec(fee.grossAmount.amount).gt(inv.total.amount)).toBe(true); // 35.69 fee, 17.84 invoice

    const r = await h.svc.request<any>(ISSUE, { i: { invoiceId: inv.id, kind: 'CREDIT', reason: 'Plan not delivered', lines: [{ invoiceLineId: fee.id, amount: fee.grossAmount.amount }], idempotencyKey: 'cn-cap-1' } });
    const after = r.data?.issueCreditNote?.invoice;
    const kept = await credit('acc_cn_cap');
    expect(
      { accountCredit: kept, creditedAtMost: after ? dec(after.amountCredited.amount).lte(after.total.amount) : true, amountPaidNotNegative: after ? !dec(after.amountPaid.amount).isNegative() : true },
      `an unpaid invoice of ${inv.total.amount} was credited ${after?.amountCredited.amount} (paid ${after?.amountPaid.amount}) and the account got ${kept} credit; ` +
        'expected the credit note to be refused or capped at the invoice total, with no account credit',
    ).toEqual({ accountCredit: '0', creditedAtMost: true, amountPaidNotNegative: true });
  });
});
