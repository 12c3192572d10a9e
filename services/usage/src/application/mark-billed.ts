/**
 * Invoicing issued an invoice for an account's period (customerBillCreated): the account's rated
 * records of [periodStart, periodEnd) that were rated by then move RATED → BILLED, and the period
 * is remembered as billed, so a late event in it is rated (with the plan version in force at its
 * time), stays RATED and its ChargeRequest carries adjustsInvoiceId = this invoice: invoicing
 * puts it on the next invoice as an adjustment. Idempotent: a redelivered event changes nothing.
 *
 * Records rated after the invoice was issued are left RATED: their charges may have reached the
 * ledger after the bill run read the unbilled charges (the event does not list what it billed).
 */
import { ACCOUNT_LINES, inSqlTransaction, type Sql } from '../persistence/sql';

export interface BillIssued {
  invoiceId: string;
  billingAccountId: string;
  periodStart: Date;
  periodEnd: Date;
  /** When the invoice was issued (the event's time). */
  issuedAt: Date;
}

export function parseBillIssued(data: unknown, time: string): BillIssued | undefined {
  const d = data as Record<string, unknown> | null;
  if (!d || typeof d.invoiceId !== 'string' || typeof d.billingAccountId !== 'string' || typeof d.periodStart !== 'string' || typeof d.periodEnd !== 'string') return undefined;
  const periodStart = new Date(d.periodStart);
  const periodEnd = new Date(d.periodEnd);
  const issuedAt = new Date(time);
  if ([periodStart, periodEnd, issuedAt].some((x) => Number.isNaN(x.getTime())) || !(periodEnd > periodStart)) return undefined;
  return { invoiceId: d.invoiceId, billingAccountId: d.billingAccountId, periodStart, periodEnd, issuedAt };
}

/** Returns how many records moved to BILLED. */
export async function markPeriodBilled(sql: Sql, bill: BillIssued): Promise<number> {
  return inSqlTransaction(sql, async (db) => {
    await db.query(
      'insert into billed_period (billing_account_id, invoice_id, period_start, period_end, billed_at) values ($1, $2, $3, $4, $5) on conflict do nothing',
      [bill.billingAccountId, bill.invoiceId, bill.periodStart, bill.periodEnd, bill.issuedAt],
    );
    const { rowCount } = await db.query(
      `update usage_record set status = 'BILLED'
        where line_id in ${ACCOUNT_LINES} and billing_account_id = $1 and occurred_at >= $2 and occurred_at < $3
          and status = 'RATED' and adjusts_invoice_id is null and rated_at <= $4`,
      [bill.billingAccountId, bill.periodStart, bill.periodEnd, bill.issuedAt],
    );
    return rowCount ?? 0;
  });
}
