// The invoice for an enterprise budget replenishment: wallets topped up a committed-spend budget
// and publishes `budgetReplenished`; the customer is invoiced that amount, with tax per the
// account's jurisdiction, once per replenishmentId however often the event is delivered.
import { DomainError, badInput, dec, isCurrencyCode, localDay, notFound, type BudgetReplenishmentData } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import type { AccountRow } from './bill-accounts';
import { invoiceOneCharge } from './one-charge-invoice';
import { sql } from './sql';

/** Tax category of a budget replenishment (business telecom services; the jurisdiction's `*` rule otherwise). */
export const REPLENISHMENT_TAX_CATEGORY = 'TELECOM_BUSINESS';

export async function invoiceBudgetReplenishment(em: Em, d: BudgetReplenishmentData, now: Date): Promise<{ invoiceId: string; created: boolean }> {
  if (!d?.replenishmentId) throw badInput('replenishmentId', 'A replenishment id is required', 'REPLENISHMENT_ID_MISSING');
  const k = sql(em);
  const existing = await k('invoice').where({ kind: 'REPLENISHMENT', source_ref: d.replenishmentId }).first();
  if (existing) return { invoiceId: existing.id, created: false };
  const account = (await k('billing_account').where({ id: d.billingAccountId }).first()) as AccountRow | undefined;
  if (!account) throw notFound('BillingAccount', d.billingAccountId, 'billingAccountId');
  if (!isCurrencyCode(d.currency) || d.currency !== account.currency) throw new DomainError('REPLENISHMENT_CURRENCY_MISMATCH', `The account bills in ${account.currency}, the replenishment is in ${d.currency}`, { field: 'currency' });
  const amount = dec(d.amount);
  if (!amount.isFinite() || amount.lte(0)) throw badInput('amount', 'A replenishment amount is above zero', 'REPLENISHMENT_AMOUNT_INVALID');
  const at = new Date(d.replenishedAt);
  if (Number.isNaN(at.getTime())) throw badInput('replenishedAt', 'replenishedAt is an ISO date-time', 'REPLENISHMENT_TIME_INVALID');

  return invoiceOneCharge(em, account, {
    kind: 'REPLENISHMENT',
    sourceRef: d.replenishmentId,
    at,
    charge: { id: d.replenishmentId, code: 'BUDGET_REPLENISHMENT', description: `Budget replenishment (budget ${d.budgetId}, ${localDay(at, account.timezone)})`, amount: amount.toFixed(), taxCategory: REPLENISHMENT_TAX_CATEGORY },
  }, now);
}
