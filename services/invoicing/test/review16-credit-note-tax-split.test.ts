// Review 16: a credit note splits each credited gross amount into net and tax pro rata, rounded per
// note (creditNoteLines, src/domain/lifecycle.ts). Crediting one line in several notes rounds the
// tax of each piece on its own, so the notes together can give back more VAT than the line charged
// (and less net): the whole line credited in three notes reverses 5.71 of the 5.70 tax it billed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dec } from '@ledgerline/contracts';
import { account, startHarness, subscribe, type Harness } from './support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false });
  await account(h, 'acc_r16_tax');
  await subscribe(h, 'acc_r16_tax', 'sub_r16_tax', 'postpaid20', '2026-08-01T00:00:00Z');
});
afterAll(async () => h?.svc.close());

const CLOSE = 'mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { invoice { id lines { id kind netAmount { amount } taxAmount { amount } grossAmount { amount } } } } } }';
const ISSUE = 'mutation($i: IssueCreditNoteInput!) { issueCreditNote(input: $i) { creditNote { total { amount } taxTotal { amount } } } }';

describe('review 16: one line credited in several notes', () => {
  it('never gives back more tax than the line charged', async () => {
    const inv = (await h.gql<any>(CLOSE, { i: { billingAccountId: 'acc_r16_tax', periodStart: '2026-08-31T22:00:00Z', periodEnd: '2026-09-30T22:00:00Z' } })).closeBillingPeriod.billingPeriod.invoice;
    const fee = inv.lines.find((l: any) => l.kind === 'RECURRING');
    const gross = dec(fee.grossAmount.amount);
    const pieces = ['0.04', '0.04', gross.minus('0.08').toFixed(2)];
    let tax = dec('0');
    for (const [i, amount] of pieces.entries()) {
      const r = await h.gql<any>(ISSUE, { i: { invoiceId: inv.id, kind: 'CREDIT', reason: 'Service outage', lines: [{ invoiceLineId: fee.id, amount }], idempotencyKey: `r16-tax-${i}` } });
      tax = tax.plus(r.issueCreditNote.creditNote.taxTotal.amount);
    }
    // The whole line (gross) is credited: exactly its tax comes back, not a cent more.
    expect({ credited: pieces.reduce((a, p) => a.plus(p), dec('0')).toFixed(2), taxCredited: tax.toFixed(2) }).toEqual({ credited: gross.toFixed(2), taxCredited: dec(fee.taxAmount.amount).toFixed(2) });
  });
});
