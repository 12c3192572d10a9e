// The invoice for an enterprise budget replenishment: wallets topped up a committed-spend budget
// and publishes `budgetReplenished`; the customer is invoiced that amount, with tax per the
// account's jurisdiction, once per replenishmentId however often the event is delivered.
import { DomainError, badInput, dec, isCurrencyCode, localDay, minorUnits, newId, notFound, type BudgetReplenishmentData, type RoundingMode } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { composeInvoice, type TaxRule } from '../domain/compose';
import { issueInvoices, type AccountRow } from './bill-accounts';
import { rows, sql } from './sql';

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

  const rules: TaxRule[] = (await rows<{ jurisdiction: string; category: string; rate: string; inclusive: boolean; name: string }>(em, 'select * from tax_rule where jurisdiction = ?', [account.jurisdiction])).map((r) => ({
    ...r,
    rate: dec(String(r.rate)).toFixed(),
  }));
  const scale = minorUnits(account.currency);
  const composed = composeInvoice({
    currency: account.currency,
    jurisdiction: account.jurisdiction,
    roundingMode: account.rounding_mode as RoundingMode,
    period: { start: at, end: at },
    timeZone: account.timezone,
    recurring: [],
    usage: [],
    oneOffs: [{ id: d.replenishmentId, code: 'BUDGET_REPLENISHMENT', description: `Budget replenishment (budget ${d.budgetId}, ${localDay(at, account.timezone)})`, amount: amount.toFixed(), taxCategory: REPLENISHMENT_TAX_CATEGORY }],
    discounts: [],
    taxRules: rules,
  });
  const id = newId('invoice');
  const inserted = await k('invoice')
    .insert({
      id, billing_account_id: account.id, kind: 'REPLENISHMENT', source_ref: d.replenishmentId, number: null, series: account.series, state: 'NEW', period_start: at, period_end: at, currency: account.currency,
      net_total: composed.netTotal, tax_total: composed.taxTotal, total: composed.grossTotal, rounding_mode: account.rounding_mode, tax_summary: JSON.stringify(composed.taxSummary), created_at: now, updated_at: now,
    })
    .onConflict(k.raw('(kind, source_ref) where source_ref is not null'))
    .ignore()
    .returning('id');
  if ((inserted as unknown[]).length === 0) {
    const again = await k('invoice').where({ kind: 'REPLENISHMENT', source_ref: d.replenishmentId }).first();
    return { invoiceId: again.id, created: false };
  }
  await k('invoice_line').insert(
    composed.lines.map((l) => ({
      id: newId('invoiceLine'), invoice_id: id, position: l.position, kind: l.kind, description: l.description.slice(0, 300), line_id: null, usage_type: null, zone: null,
      quantity: l.quantity, unit: l.unit, unit_price: dec(l.unitPrice ?? '0').toFixed(Math.max(scale, 2)), tax_category: l.taxCategory, tax_rate: l.taxRate, tax_inclusive: l.taxInclusive,
      net_amount: l.netAmount, tax_amount: l.taxAmount, gross_amount: l.grossAmount, source_ref: l.sourceRef,
    })),
  );
  await issueInvoices(em, [id], now);
  return { invoiceId: id, created: true };
}
