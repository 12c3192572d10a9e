// Review 3: a draft put on hold by a dispute can be paid (and credited with an OFFSET credit note),
// and then voided or regenerated, which drops what was paid. allocatePayment and issueCreditNote
// refuse a draft only when its state is literally NEW; a disputed draft is ON_HOLD with held_from
// NEW, and voidInvoice allows voiding it because held_from is NEW. The regenerated draft asks the
// full amount again and the payment stays on the voided invoice.
// Correct (lifecycle.ts itself: "The invoice is a draft; issue it before paying it"; TMF678: a
// bill on hold is still the bill it was before): a held draft is still a draft: a payment or a
// credit note is refused with INVOICE_NOT_ISSUED and nothing changes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { account, invoicesOf, runBillRun, startHarness, subscribe, type Harness } from './support';

let h: Harness;
const drafts = new Map<string, any>();
beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false });
  for (const acc of ['acc_held_pay', 'acc_held_cn']) {
    await account(h, acc);
    await subscribe(h, acc, `sub_${acc}`, 'postpaid20', '2026-08-01T00:00:00Z');
  }
  await runBillRun(h, '2026-10-01', { autoIssue: false });
  for (const acc of ['acc_held_pay', 'acc_held_cn']) {
    const [draft] = await invoicesOf(h, acc);
    expect(draft).toMatchObject({ state: 'NEW', number: null });
    await h.gql('mutation($i: DisputeInvoiceInput!) { disputeInvoice(input: $i) { invoice { state } } }', { i: { invoiceId: draft.id, amount: '5.00', reason: 'Roaming fee looks wrong' } });
    drafts.set(acc, draft);
  }
});
afterAll(async () => h?.svc.close());

const reasonOf = (r: { errors?: readonly { extensions?: Record<string, unknown> }[] }) => (r.errors?.length ? String(r.errors[0]!.extensions?.reason) : 'ACCEPTED');
const creditOf = async (acc: string) => (await h.gql<any>(`query { _entities(representations: [{ __typename: "BillingAccount", id: "${acc}" }]) { ... on BillingAccount { accountCredit { amount } } } }`))._entities[0].accountCredit.amount;

describe('review3: payments and credit notes on a disputed draft', () => {
  it('refuses a payment on a draft that is on hold', async () => {
    const draft = drafts.get('acc_held_pay');
    const r = await h.svc.request<any>('mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { payment { id } } }', {
      i: { invoiceId: draft.id, channel: 'BANK_TRANSFER', amount: { amount: '20.00', currency: 'EUR' }, idempotencyKey: 'held-draft-pay' },
    });
    let lost = '';
    if (!r.errors?.length) {
      // What happens next to the accepted payment: the draft is regenerated and the 20.00 is gone.
      const regen = await h.gql<any>('mutation($i: InvoiceIdInput!) { regenerateInvoice(input: $i) { invoice { id total { amount } amountPaid { amount } } } }', { i: { invoiceId: draft.id } });
      const n = regen.regenerateInvoice.invoice;
      lost = `; a regenerate then voided the paid draft and the new draft asks ${n.total.amount} with amountPaid ${n.amountPaid.amount}`;
    }
    expect(reasonOf(r), `a disputed draft (ON_HOLD, held from NEW) was paid 20.00${lost}; expected INVOICE_NOT_ISSUED`).toBe('INVOICE_NOT_ISSUED');
  });

  it('refuses an OFFSET credit note on a draft that is on hold', async () => {
    const draft = drafts.get('acc_held_cn');
    const r = await h.svc.request<any>('mutation($i: IssueCreditNoteInput!) { issueCreditNote(input: $i) { creditNote { id } } }', {
      i: { invoiceId: draft.id, kind: 'OFFSET', reason: 'Goodwill', lines: [{ invoiceLineId: draft.lines[0].id, amount: '10.00' }], idempotencyKey: 'held-draft-cn' },
    });
    const credit = await creditOf('acc_held_cn');
    expect(reasonOf(r), `an OFFSET credit note on a disputed draft was accepted and the account got ${credit} credit for a draft whose regenerate bills the line again; expected INVOICE_NOT_ISSUED`).toBe(
      'INVOICE_NOT_ISSUED',
    );
  });
});
