// waiveOneOffCharge: the dunning workflow's way to take back a late fee that reached invoicing after the
// customer had paid (workflows/test/dunning-late-fee-waived.timeskipping.test.ts drives it). One call
// asks and waives, exactly once: WAIVED_IN_ADVANCE (not there yet), WAIVED (unbilled: never billed, the
// same id added again stays waived), CREDITED (billed: a credit note gives the line back).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './support';
import { closedSeptember, customer, disputeCalls, lateFee, SYSTEM } from './dispute-support';
import { callerHeaders, DEV_INTERNAL_SECRET, SYSTEM_CALLER } from '@ledgerline/platform';
import { GraphqlInvoicingClient } from '../../../workflows/src/activities/invoicing';

let h: Harness;
const { as, refusal, credit } = disputeCalls(() => h);
const WAIVE = 'mutation($i: WaiveOneOffChargeInput!) { waiveOneOffCharge(input: $i) { outcome creditNote { id total { amount } } } }';
const INVOICE = 'query($id: ID!) { invoice(id: $id) { id state total { amount } amountDue { amount } lines { id description grossAmount { amount } creditedAmount { amount } } } }';
const feeId = (acc: string) => `dunning-inv_${acc}:late-fee`;
const waive = async (acc: string) => (await as(SYSTEM, WAIVE, { i: { id: feeId(acc), reason: 'the customer paid before the fee' } })).waiveOneOffCharge;
const closeSeptember = (acc: string) =>
  h.gql<any>('mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { invoice { id } } } }', {
    i: { billingAccountId: acc, periodStart: '2026-08-31T22:00:00Z', periodEnd: '2026-09-30T22:00:00Z' },
  });

beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false });
});
afterAll(async () => h?.svc.close());

describe('waiveOneOffCharge', () => {
  it('no such charge yet: WAIVED_IN_ADVANCE (waive-one-off-charge-in-advance.test.ts); an id no charge can have: NOT_FOUND', async () => {
    expect(await waive('acc_waive_none')).toEqual({ outcome: 'WAIVED_IN_ADVANCE', creditNote: null });
    expect((await as(SYSTEM, WAIVE, { i: { id: `dunning-inv_${'x'.repeat(80)}:late-fee`, reason: 'typo' } })).waiveOneOffCharge).toEqual({ outcome: 'NOT_FOUND', creditNote: null });
  });

  it('not billed yet: WAIVED, never billed, and the same fee added again stays waived', async () => {
    let invoiceId = '';
    await closedSeptember(h, 'acc_waive_open', 'cus_waive_open', async () => {
      await lateFee(h, 'acc_waive_open');
      expect(await waive('acc_waive_open')).toEqual({ outcome: 'WAIVED', creditNote: null });
      expect(await waive('acc_waive_open')).toEqual({ outcome: 'WAIVED', creditNote: null }); // asked again: as it was
      await lateFee(h, 'acc_waive_open'); // a late retry of the fee with its key
    }).then((inv) => (invoiceId = inv.id));
    const invoice = (await h.gql<any>(INVOICE, { id: invoiceId })).invoice;
    expect(invoice.lines.map((l: any) => l.description)).not.toContainEqual(expect.stringMatching(/^Late payment fee/));
    // Nothing of it waits for a later invoice either.
    const next = await h.gql<any>('query { previewNextInvoice(billingAccountId: "acc_waive_open") { lines { description } } }');
    expect(next.previewNextInvoice.lines.map((l: any) => l.description)).not.toContainEqual(expect.stringMatching(/^Late payment fee/));
  });

  it('billed on an issued invoice: CREDITED by a credit note for the line, once; paid already, it becomes account credit', async () => {
    const inv = await closedSeptember(h, 'acc_waive_billed', 'cus_waive_billed', () => lateFee(h, 'acc_waive_billed'));
    const before = (await h.gql<any>(INVOICE, { id: inv.id })).invoice;
    const fee = before.lines.find((l: any) => l.description.startsWith('Late payment fee'));
    expect(fee).toBeTruthy();
    await h.gql('mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { invoice { state } } }', {
      i: { invoiceId: inv.id, channel: 'CARD', paymentMethodToken: 'tok_visa', amount: { amount: before.total.amount, currency: 'EUR' }, idempotencyKey: 'waive-billed-paid' },
    });
    const first = await waive('acc_waive_billed');
    expect(first.outcome).toBe('CREDITED');
    expect(first.creditNote.total.amount).toBe(fee.grossAmount.amount);
    const again = await waive('acc_waive_billed');
    expect(again).toEqual(first);
    const after = (await h.gql<any>(INVOICE, { id: inv.id })).invoice;
    expect(after.lines.find((l: any) => l.id === fee.id).creditedAmount.amount).toBe(fee.grossAmount.amount);
    expect(await credit('acc_waive_billed')).toBe(fee.grossAmount.amount);
    // And never billed again.
    await closeSeptember('acc_waive_billed');
    const next = await h.gql<any>('query { previewNextInvoice(billingAccountId: "acc_waive_billed") { lines { description } } }');
    expect(next.previewNextInvoice.lines.map((l: any) => l.description)).not.toContainEqual(expect.stringMatching(/^Late payment fee/));
  });

  it("the dunning worker's client: the fee as addLateFee charges it, then waived through waiveLateFee (the same id)", async () => {
    await closedSeptember(h, 'acc_waive_worker', 'cus_waive_worker');
    const client = new GraphqlInvoicingClient({ url: h.svc.url, headers: callerHeaders(SYSTEM_CALLER, DEV_INTERNAL_SECRET) });
    const fee = { billingAccountId: 'acc_waive_worker', invoiceId: 'inv_w', amount: '5.00', currency: 'EUR', idempotencyKey: 'dunning-inv_w:late-fee' };
    const waiver = { invoiceId: 'inv_w', idempotencyKey: fee.idempotencyKey, reason: 'invoice inv_w was paid before the late fee took effect' };
    // A fee that has not come yet is waived in advance (its late request is then recorded waived).
    expect(await client.waiveLateFee({ ...waiver, idempotencyKey: 'dunning-inv_w0:late-fee' })).toEqual({ outcome: 'WAIVED_IN_ADVANCE', creditNoteId: null });
    const preview = async () => (await h.gql<any>('query { previewNextInvoice(billingAccountId: "acc_waive_worker") { lines { description } } }')).previewNextInvoice.lines.map((l: any) => l.description);
    await client.addLateFee(fee);
    expect(await preview()).toContain('Late payment fee (invoice inv_w)'); // charged: the next invoice would bill it
    expect(await client.waiveLateFee(waiver)).toEqual({ outcome: 'WAIVED', creditNoteId: null });
    await client.addLateFee(fee); // an attempt whose answer was lost, arriving late
    expect(await preview()).not.toContain('Late payment fee (invoice inv_w)');
  });

  it('staff only; a reason is required', async () => {
    expect(await refusal(customer('cus_waive_billed'), WAIVE, { i: { id: feeId('acc_waive_billed'), reason: 'mine' } })).toMatchObject({ code: 'FORBIDDEN' });
    expect(await refusal(SYSTEM, WAIVE, { i: { id: feeId('acc_waive_billed'), reason: ' ' } })).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.reason' });
  });
});
