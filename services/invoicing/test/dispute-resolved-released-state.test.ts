// dispute.resolved's `invoiceState` on an invoice paid while it was ON_HOLD for the dispute: every
// closing path sends the state the invoice is released to (releasedState / disputeInvoiceState in
// invoice-lifecycle.ts), as resolveDispute does (dispute-resolved-invoice-state-paths.test.ts):
// - decideDispute and withdrawDispute sent ON_HOLD, so subscribers told a customer who had paid
//   "The amount is due again";
// - a dispute closed by a billed re-rate correction (decidedBy rerate:<chargeId>) sent none;
// - a credit note covering the dispute sent ON_HOLD too (the state before the note).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { charges, startHarness, type Harness } from './support';
import { agent, closedSeptember, customer, disputeCalls, disputeMutations, lateFee } from './dispute-support';

let h: Harness;
const AGENT = agent('agent-rs');
const { OPEN, DECIDE, WITHDRAW } = disputeMutations('id status');
const { as, outbox } = disputeCalls(() => h);
const INVOICE = 'query($id: ID!) { invoice(id: $id) { id state total { amount currency } lines { id description grossAmount { amount } } } }';
const PAY = 'mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { invoice { state } } }';
const invoice = async (id: string) => (await h.gql<any>(INVOICE, { id })).invoice;
const resolvedOf = async (disputeId: string) => (await outbox('billing.invoicing.dispute.resolved')).find((e: any) => e.data.disputeId === disputeId)?.data;

/** The customer pays `amount` (all of it when not given) of the held invoice; it stays ON_HOLD. */
async function payDuringHold(invoiceId: string, key: string, amount?: string): Promise<void> {
  const paid = await h.gql<any>(PAY, { i: { invoiceId, channel: 'CARD', paymentMethodToken: 'tok_visa', amount: amount ? { amount, currency: 'EUR' } : (await invoice(invoiceId)).total, idempotencyKey: key } });
  expect(paid.recordPayment.invoice.state).toBe('ON_HOLD');
}

/** September's invoice of a new account with an open dispute of 5.00 on it (held). */
async function heldSeptember(acc: string, cus: string): Promise<{ invoiceId: string; disputeId: string }> {
  const inv = await closedSeptember(h, acc, cus);
  const d = (await as(customer(cus), OPEN, { i: { invoiceId: inv.id, amount: '5.00', reason: 'A call I did not make', idempotencyKey: `${acc}-d` } })).openDispute.dispute;
  expect((await invoice(inv.id)).state).toBe('ON_HOLD');
  return { invoiceId: inv.id, disputeId: d.id };
}

beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false });
});
afterAll(async () => h?.svc.close());

describe('dispute.resolved on an invoice paid while held: the state it is released to, on every path', () => {
  it('decideDispute: SETTLED when paid in full during the hold (ACCEPT), PARTIALLY_PAID when paid in part (REJECT); not ON_HOLD', async () => {
    h.clock.set(new Date('2026-10-01T08:00:00Z'));
    const full = await heldSeptember('acc_rs_dec', 'cus_rs_dec');
    await payDuringHold(full.invoiceId, 'rs-dec-paid');
    await as(AGENT, DECIDE, { i: { disputeId: full.disputeId, decision: 'ACCEPT', note: 'Call made by the network test' } });
    expect(await resolvedOf(full.disputeId)).toMatchObject({ status: 'ACCEPTED', creditedAmount: '5.00', invoiceState: 'SETTLED' });
    expect((await invoice(full.invoiceId)).state).toBe('SETTLED');

    const part = await heldSeptember('acc_rs_dec_part', 'cus_rs_dec_part');
    await payDuringHold(part.invoiceId, 'rs-dec-part-paid', '10.00');
    await as(AGENT, DECIDE, { i: { disputeId: part.disputeId, decision: 'REJECT', note: 'The call was made' } });
    expect(await resolvedOf(part.disputeId)).toMatchObject({ status: 'REJECTED', invoiceState: 'PARTIALLY_PAID' });
  });

  it('withdrawDispute: SETTLED when paid in full during the hold', async () => {
    h.clock.set(new Date('2026-10-01T08:00:00Z'));
    const { invoiceId, disputeId } = await heldSeptember('acc_rs_wd', 'cus_rs_wd');
    await payDuringHold(invoiceId, 'rs-wd-paid');
    await as(customer('cus_rs_wd'), WITHDRAW, { i: { disputeId } });
    expect(await resolvedOf(disputeId)).toMatchObject({ status: 'WITHDRAWN', invoiceState: 'SETTLED' });
    expect((await invoice(invoiceId)).state).toBe('SETTLED');
  });

  it('a credit note covering the dispute: SETTLED when paid in full during the hold', async () => {
    h.clock.set(new Date('2026-10-01T08:00:00Z'));
    const inv = await closedSeptember(h, 'acc_rs_cn', 'cus_rs_cn', () => lateFee(h, 'acc_rs_cn'));
    const fee = (await invoice(inv.id)).lines.find((l: any) => l.description.startsWith('Late payment fee'));
    const d = (await as(customer('cus_rs_cn'), OPEN, { i: { invoiceId: inv.id, invoiceLineId: fee.id, amount: fee.grossAmount.amount, reason: 'Not late', idempotencyKey: 'rs-cn-d' } })).openDispute.dispute;
    await payDuringHold(inv.id, 'rs-cn-paid');
    await as(AGENT, 'mutation($i: IssueCreditNoteInput!) { issueCreditNote(input: $i) { creditNote { id } } }', {
      i: { invoiceId: inv.id, kind: 'CREDIT', reason: 'Late fee waived', lines: [{ invoiceLineId: fee.id, amount: fee.grossAmount.amount }], idempotencyKey: 'rs-cn-note' },
    });
    expect(await resolvedOf(d.id)).toMatchObject({ status: 'ACCEPTED', invoiceState: 'SETTLED' });
  });

  it('a dispute closed by a billed re-rate correction: SETTLED when paid during the hold, SENT when not (before: no invoiceState)', async () => {
    const record = (acc: string) => `usg_${acc}`;
    const usage = (acc: string, chargeId: string, amount: string, units: string) => ({
      chargeId, billingAccountId: acc, lineId: `lin_sub_${acc}`, usageType: 'DATA', zone: 'EU_ROAMING', units, unit: 'MB', amount, currency: 'EUR', occurredAt: '2026-09-10T10:00:00Z',
    });
    const disputed: Record<string, string> = {};
    for (const [acc, pay] of [['acc_rs_rr_paid', true], ['acc_rs_rr_open', false]] as const) {
      h.clock.set(new Date('2026-10-01T08:00:00Z'));
      const cus = acc.replace('acc_', 'cus_');
      const sep = await closedSeptember(h, acc, cus, () => charges(h, [usage(acc, record(acc), '10.00', '100')]));
      const d = (await as(customer(cus), OPEN, { i: { invoiceId: sep.id, usageRecordId: record(acc), amount: '11.90', reason: 'I was at home', idempotencyKey: `${acc}-d` } })).openDispute.dispute;
      if (pay) await payDuringHold(sep.id, `${acc}-paid`);
      // The record's correction (-10.00, 11.90 with tax) is billed on October: it closes the dispute.
      await charges(h, [{ ...usage(acc, `${record(acc)}:rerate:2`, '-10.00', '0'), usageRecordId: record(acc) }]);
      h.clock.set(new Date('2026-11-01T08:00:00Z'));
      await h.gql('mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { invoice { id } } } }', {
        i: { billingAccountId: acc, periodStart: '2026-09-30T22:00:00Z', periodEnd: '2026-10-31T23:00:00Z' },
      });
      disputed[acc] = d.id;
    }
    expect(await resolvedOf(disputed.acc_rs_rr_paid!)).toMatchObject({ status: 'ACCEPTED', creditedAmount: '11.90', creditNoteId: null, decidedBy: 'rerate:usg_acc_rs_rr_paid:rerate:2', invoiceState: 'SETTLED' });
    // decidedBy rerate:… is how subscribers knows the credit is on the next invoice (notifications.ts).
    expect(await resolvedOf(disputed.acc_rs_rr_open!)).toMatchObject({ status: 'ACCEPTED', creditNoteId: null, decidedBy: expect.stringMatching(/^rerate:/), invoiceState: 'SENT' });
  });
});
