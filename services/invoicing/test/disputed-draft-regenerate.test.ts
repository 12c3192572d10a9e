// A disputed draft that is regenerated kept its dispute only on the voided draft: the new draft was
// NEW with nothing disputed, so it could be issued (and then paid and dunned) as if the customer had
// never disputed it. Now the dispute and its hold carry over: the regenerated draft is ON_HOLD with
// the disputed amount (at most its own total), cannot be issued or paid, and is released by
// resolveDispute like any held draft.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { account, runBillRun, startHarness, subscribe, type Harness } from './support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false });
  await account(h, 'acc_regen_dispute');
  await subscribe(h, 'acc_regen_dispute', 'sub_regen_dispute', 'postpaid20', '2026-08-01T00:00:00Z');
  await runBillRun(h, '2026-10-01', { autoIssue: false });
});
afterAll(async () => h?.svc.close());

const FIELDS = 'id state number total { amount } amountDisputed { amount }';
const live = async () => {
  const d = await h.gql<any>(`query { invoices(billingAccountId: "acc_regen_dispute") { edges { node { ${FIELDS} } } } }`);
  return d.invoices.edges.map((e: any) => e.node).filter((i: any) => i.state !== 'VOIDED');
};

describe('regenerating a disputed draft', () => {
  it('keeps the dispute and its hold on the regenerated draft until the dispute is resolved', async () => {
    const [draft] = await live();
    await h.gql('mutation($i: DisputeInvoiceInput!) { disputeInvoice(input: $i) { invoice { state } } }', { i: { invoiceId: draft.id, amount: '5.00', reason: 'Roaming fee looks wrong' } });

    const regen = (await h.gql<any>(`mutation($i: InvoiceIdInput!) { regenerateInvoice(input: $i) { invoice { ${FIELDS} } } }`, { i: { invoiceId: draft.id } })).regenerateInvoice.invoice;
    expect(regen.id).not.toBe(draft.id);
    expect({ state: regen.state, amountDisputed: regen.amountDisputed.amount }, 'the regenerated draft lost the dispute of the draft it replaces').toEqual({ state: 'ON_HOLD', amountDisputed: '5' });

    // Held: not issued, not paid.
    const issue = await h.svc.request<any>('mutation($i: InvoiceIdInput!) { issueInvoice(input: $i) { invoice { state number } } }', { i: { invoiceId: regen.id } });
    expect(issue.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'INVOICE_ON_HOLD', field: 'input.invoiceId' });
    const pay = await h.gqlError('mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { payment { id } } }', {
      i: { invoiceId: regen.id, channel: 'BANK_TRANSFER', amount: { amount: '1.00', currency: 'EUR' }, idempotencyKey: 'regen-dispute-pay' },
    });
    expect(pay.reason).toBe('INVOICE_NOT_ISSUED');
    expect((await live()).map((i: any) => [i.id, i.state, i.number])).toEqual([[regen.id, 'ON_HOLD', null]]);

    // The dispute resolved, the draft is a plain draft again and can be issued.
    await h.gql('mutation($i: InvoiceIdInput!) { resolveDispute(input: $i) { invoice { state } } }', { i: { invoiceId: regen.id } });
    const issued = (await h.gql<any>('mutation($i: InvoiceIdInput!) { issueInvoice(input: $i) { invoice { state number amountDisputed { amount } } } }', { i: { invoiceId: regen.id } })).issueInvoice.invoice;
    expect(issued).toMatchObject({ state: 'SENT', amountDisputed: { amount: '0' } });
    expect(issued.number).toMatch(/^INV-/);
  });
});
