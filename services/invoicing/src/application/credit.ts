// Account credit (overpayments, OFFSET credit notes, refunds given back as credit) pays the
// account's next invoice by itself: a payment on channel ACCOUNT_CREDIT, one per invoice.
import { dec, minorUnits, newId } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { outstanding, settlementState } from '../domain/lifecycle';
import { stateChanged } from './invoice-lifecycle';
import { enqueueEvents, requestHash, rows, sql } from './sql';

/** Applies what credit the account has (up to what the invoice still owes); returns the amount applied. */
export async function applyAccountCredit(em: Em, invoiceId: string, now: Date): Promise<string> {
  const k = sql(em);
  const invoice = await k('invoice').where({ id: invoiceId }).forUpdate().first();
  if (!invoice || !['SENT', 'PARTIALLY_PAID'].includes(invoice.state)) return '0';
  const key = `account-credit:${invoice.id}`;
  if (await k('payment').where({ idempotency_key: key }).first()) return '0';
  // Serialise with other users of the same account's credit.
  await k.raw('select pg_advisory_xact_lock(hashtext(?))', [`credit:${invoice.billing_account_id}`]);
  const [balance] = await rows<{ total: string | null }>(em, 'select sum(amount) as total from account_credit_entry where billing_account_id = ? and currency = ?', [invoice.billing_account_id, invoice.currency]);
  const credit = dec(String(balance?.total ?? '0'));
  const owed = outstanding({ total: String(invoice.total), amountPaid: String(invoice.amount_paid), amountCredited: String(invoice.amount_credited) });
  if (credit.lte(0) || owed.lte(0)) return '0';
  const scale = minorUnits(invoice.currency);
  const applied = (credit.lt(owed) ? credit : owed).toDecimalPlaces(scale, 1).toFixed(scale);
  if (dec(applied).lte(0)) return '0';
  const id = newId('payment');
  await k('payment').insert({
    id, billing_account_id: invoice.billing_account_id, invoice_id: invoice.id, channel: 'ACCOUNT_CREDIT', amount: applied, currency: invoice.currency, applied_amount: applied, credit_amount: '0',
    reference: invoice.payment_reference, provider_ref: null, idempotency_key: key, request_hash: requestHash({ invoiceId: invoice.id, applied }), created_at: now,
  });
  await k('account_credit_entry').insert({ id: `crd_${id.slice(4)}`.slice(0, 40), billing_account_id: invoice.billing_account_id, amount: dec(applied).negated().toFixed(scale), currency: invoice.currency, source: 'INVOICE', source_id: invoice.id, created_at: now });
  const paid = dec(String(invoice.amount_paid)).plus(applied).toFixed(scale);
  await k('invoice').where({ id: invoice.id }).update({ amount_paid: paid, updated_at: now });
  const next = settlementState({ total: String(invoice.total), amountPaid: paid, amountCredited: String(invoice.amount_credited) });
  await stateChanged(em, invoice, invoice.state, next, now, 'account credit applied');
  await enqueueEvents(em, 'paymentCreated', now, [
    { subject: id, key: [id], data: { paymentId: id, billingAccountId: invoice.billing_account_id, invoiceId: invoice.id, channel: 'ACCOUNT_CREDIT', amount: applied, appliedAmount: applied, creditAmount: '0', currency: invoice.currency, invoiceState: next } },
  ]);
  return applied;
}
