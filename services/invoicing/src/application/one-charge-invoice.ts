// An ad-hoc invoice of one charge, issued at once (numbered and sent): a budget replenishment
// (replenishment.ts, kind REPLENISHMENT) or a charge a closed prepaid wallet refused
// (wallet-charge-refused.ts, kind WALLET_CHARGE). One per (kind, sourceRef): composed with the
// account's tax rules, rounding and time zone, its period the instant the charge happened.
import { dec, minorUnits, newId, type RoundingMode } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { composeInvoice, type OneOffItem, type TaxRule } from '../domain/compose';
import { issueInvoices, type AccountRow } from './bill-accounts';
import { rows, sql } from './sql';

export interface OneChargeInvoice {
  kind: 'REPLENISHMENT' | 'WALLET_CHARGE';
  /** What the invoice bills (the replenishment's or the charge's id): one invoice per kind and sourceRef. */
  sourceRef: string;
  /** When the charge happened: the invoice's period starts and ends there. */
  at: Date;
  charge: OneOffItem;
  /** The charge is the account's one_off_charge `charge.id`: it is marked billed by this invoice. */
  billsOneOff?: boolean;
}

/**
 * Writes and issues the invoice of `c` for `account` in the caller's transaction; `created: false`
 * with the invoice already written under the same kind and sourceRef (nothing is written then).
 */
export async function invoiceOneCharge(em: Em, account: AccountRow, c: OneChargeInvoice, now: Date): Promise<{ invoiceId: string; created: boolean }> {
  const k = sql(em);
  const rules: TaxRule[] = (await rows<{ jurisdiction: string; category: string; rate: string; inclusive: boolean; name: string }>(em, 'select * from tax_rule where jurisdiction = ?', [account.jurisdiction])).map((r) => ({
    ...r,
    rate: dec(String(r.rate)).toFixed(),
  }));
  const scale = minorUnits(account.currency);
  const composed = composeInvoice({
    currency: account.currency,
    jurisdiction: account.jurisdiction,
    roundingMode: account.rounding_mode as RoundingMode,
    period: { start: c.at, end: c.at },
    timeZone: account.timezone,
    recurring: [],
    usage: [],
    oneOffs: [c.charge],
    discounts: [],
    taxRules: rules,
  });
  const id = newId('invoice');
  const inserted = await k('invoice')
    .insert({
      id, billing_account_id: account.id, kind: c.kind, source_ref: c.sourceRef, number: null, series: account.series, state: 'NEW', period_start: c.at, period_end: c.at, currency: account.currency,
      net_total: composed.netTotal, tax_total: composed.taxTotal, total: composed.grossTotal, rounding_mode: account.rounding_mode, timezone: account.timezone, tax_summary: JSON.stringify(composed.taxSummary), created_at: now, updated_at: now,
    })
    .onConflict(k.raw('(kind, source_ref) where source_ref is not null'))
    .ignore()
    .returning('id');
  if ((inserted as unknown[]).length === 0) {
    const again = await k('invoice').where({ kind: c.kind, source_ref: c.sourceRef }).first();
    return { invoiceId: again.id, created: false };
  }
  await k('invoice_line').insert(
    composed.lines.map((l) => ({
      id: newId('invoiceLine'), invoice_id: id, position: l.position, kind: l.kind, description: l.description.slice(0, 300), line_id: l.lineId ?? null, usage_type: null, zone: null,
      quantity: l.quantity, unit: l.unit, unit_price: dec(l.unitPrice ?? '0').toFixed(Math.max(scale, 2)), tax_category: l.taxCategory, tax_rate: l.taxRate, tax_inclusive: l.taxInclusive,
      net_amount: l.netAmount, tax_amount: l.taxAmount, gross_amount: l.grossAmount, source_ref: l.sourceRef,
    })),
  );
  if (c.billsOneOff) await k('one_off_charge').where({ id: c.charge.id }).whereNull('invoice_id').update({ invoice_id: id });
  await issueInvoices(em, [id], now);
  return { invoiceId: id, created: true };
}
