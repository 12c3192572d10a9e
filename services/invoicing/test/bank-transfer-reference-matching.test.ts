// Bank transfers name their invoice by the reference the customer wrote, and bank statements carry it
// as the customer typed it: other case, spaces or other separators, text around it
// ("INV-00000001" vs "inv 00000001" vs "Payment INV-00000001 thanks"). recordPayment matched the
// reference exactly: each of those was PAYMENT_REFERENCE_UNMATCHED.
// Correct: the reference is matched normalised (case, whitespace, separators, text around it); a
// reference naming no invoice, or more than one, is refused (UNMATCHED / AMBIGUOUS), never applied
// to a wrong invoice.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './support';
import { closedSeptember, NO_DISPUTE_WORKFLOW } from './dispute-support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false, disputes: NO_DISPUTE_WORKFLOW });
});
afterAll(async () => h?.svc.close());

const PAY = 'mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { payment { id invoiceId } } }';
const INVOICE = 'query($id: ID!) { invoice(id: $id) { id paymentReference amountPaid { amount } } }';
const transfer = (reference: string, key: string) => h.svc.request<any>(PAY, { i: { reference, channel: 'BANK_TRANSFER', amount: { amount: '1.00', currency: 'EUR' }, idempotencyKey: key } });
const codeOf = (r: any) => (r.errors?.length ? String(r.errors[0].extensions?.reason ?? r.errors[0].extensions?.code) : 'ok');

describe('bank transfer references as bank statements carry them', () => {
  it('matches the reference whatever its case, separators and surrounding text', async () => {
    const a = (await h.gql<any>(INVOICE, { id: (await closedSeptember(h, 'acc_btr_a', 'cus_btr_a')).id })).invoice;
    const b = (await h.gql<any>(INVOICE, { id: (await closedSeptember(h, 'acc_btr_b', 'cus_btr_b')).id })).invoice;
    const ref: string = a.paymentReference;
    const [prefix, digits] = [ref.replace(/[^A-Za-z].*$/, ''), ref.replace(/^[^0-9]*/, '')];
    const written = [ref, ref.toLowerCase(), `${prefix.toLowerCase()} ${digits}`, `${prefix}${digits}`, `Payment ${ref} thanks`, `  ${prefix}_${digits}.  `];
    const answers = [];
    for (const [n, w] of written.entries()) {
      const r = await transfer(w, `btr-a-${n}`);
      answers.push(`${w} → ${r.errors?.length ? codeOf(r) : r.data.recordPayment.payment.invoiceId === a.id ? 'A' : 'other'}`);
    }
    expect(answers).toEqual(written.map((w) => `${w} → A`));
    expect((await h.gql<any>(INVOICE, { id: b.id })).invoice.amountPaid.amount).toBe('0');
  });

  it('refuses a reference naming no invoice, or two, and applies nothing', async () => {
    const a = (await h.gql<any>(INVOICE, { id: (await closedSeptember(h, 'acc_btr_c', 'cus_btr_c')).id })).invoice;
    const b = (await h.gql<any>(INVOICE, { id: (await closedSeptember(h, 'acc_btr_d', 'cus_btr_d')).id })).invoice;
    expect(codeOf(await transfer(`${a.paymentReference}9`, 'btr-none'))).toMatch(/UNMATCHED/);
    expect(codeOf(await transfer(`${a.paymentReference} and ${b.paymentReference}`, 'btr-two'))).toMatch(/AMBIGUOUS/);
    for (const inv of [a, b]) expect((await h.gql<any>(INVOICE, { id: inv.id })).invoice.amountPaid.amount).toBe('0');
  });
});
