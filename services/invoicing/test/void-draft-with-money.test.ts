// Voiding (or regenerating) a draft drops it and bills its period again in full: a draft that holds
// money — a payment not refunded in full, a credit note — is refused with a coded CONFLICT naming
// the invoice, and nothing changes. Payments and credit notes on drafts are refused today, so the
// money is put on the drafts here as data written before that (rows inserted directly).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { account, invoicesOf, runBillRun, startHarness, subscribe, type Harness } from './support';

let h: Harness;
const drafts = new Map<string, any>();
beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false });
  for (const acc of ['acc_void_paid', 'acc_void_credited', 'acc_void_refunded']) {
    await account(h, acc);
    await subscribe(h, acc, `sub_${acc}`, 'postpaid20', '2026-08-01T00:00:00Z');
  }
  await runBillRun(h, '2026-10-01', { autoIssue: false });
  for (const acc of ['acc_void_paid', 'acc_void_credited', 'acc_void_refunded']) drafts.set(acc, (await invoicesOf(h, acc))[0]);
  const payment = (acc: string, refunded: string) =>
    `insert into payment (id, billing_account_id, invoice_id, channel, amount, currency, applied_amount, credit_amount, refunded_amount, idempotency_key, request_hash, created_at)
     values ('pay_${acc}', '${acc}', '${drafts.get(acc).id}', 'BANK_TRANSFER', 20, 'EUR', 20, 0, ${refunded}, 'key_${acc}', 'h', now())`;
  const conn = h.svc.runtime.orm.em.fork().getConnection();
  await conn.execute(payment('acc_void_paid', '5'));
  await conn.execute(payment('acc_void_refunded', '20'));
  await conn.execute(
    `insert into credit_note (id, number, invoice_id, billing_account_id, kind, reason, total, tax_total, currency, idempotency_key, request_hash, created_at)
     values ('cn_void', 'CN-VOID-1', '${drafts.get('acc_void_credited').id}', 'acc_void_credited', 'OFFSET', 'Goodwill', 10, 0, 'EUR', 'key_cn_void', 'h', now())`,
  );
});
afterAll(async () => h?.svc.close());

const VOID = 'mutation($i: InvoiceIdInput!) { voidInvoice(input: $i) { invoice { state } } }';
const REGENERATE = 'mutation($i: InvoiceIdInput!) { regenerateInvoice(input: $i) { invoice { id state } } }';

describe('voiding a draft that holds money', () => {
  it('refuses a draft with a payment on it, void or regenerate, and leaves it as it was', async () => {
    const draft = drafts.get('acc_void_paid');
    for (const m of [VOID, REGENERATE]) expect(await h.gqlError(m, { i: { invoiceId: draft.id } })).toEqual({ code: 'CONFLICT', reason: 'INVOICE_HAS_PAYMENTS', field: 'input.invoiceId' });
    expect((await invoicesOf(h, 'acc_void_paid')).map((i) => [i.id, i.state])).toEqual([[draft.id, 'NEW']]);
  });

  it('refuses a draft with a credit note on it', async () => {
    const draft = drafts.get('acc_void_credited');
    expect(await h.gqlError(REGENERATE, { i: { invoiceId: draft.id } })).toEqual({ code: 'CONFLICT', reason: 'INVOICE_HAS_CREDIT_NOTES', field: 'input.invoiceId' });
    expect((await invoicesOf(h, 'acc_void_credited')).map((i) => [i.id, i.state])).toEqual([[draft.id, 'NEW']]);
  });

  it('voids a draft whose payment was refunded in full', async () => {
    const draft = drafts.get('acc_void_refunded');
    expect((await h.gql<any>(VOID, { i: { invoiceId: draft.id } })).voidInvoice.invoice.state).toBe('VOIDED');
  });
});
