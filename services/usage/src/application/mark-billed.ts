/**
 * Invoicing issued an invoice for an account's period (customerBillCreated). The records it
 * billed move to BILLED, and the period is remembered as billed, so a late event in it is rated
 * (with the plan version in force at its time), stays RATED and its ChargeRequest carries
 * adjustsInvoiceId = this invoice. Idempotent: a redelivered event changes nothing.
 *
 * What an invoice bills is what invoicing had unbilled when it was issued (bill-accounts.ts): every
 * charge of the account that occurred before the period's end, whatever its period - an earlier
 * period's one (a late event, a re-rate's adjustment) becomes an adjustment line of this invoice.
 * So a record is BILLED by the first invoice issued after all of its money reached the ledger:
 * - RATED or RERATED (a BILLED record re-rated is RERATED again until its adjustment is billed),
 *   rated (or last re-rated) by the invoice's time, occurred before the period's end;
 * - not DENIED (invoicing keeps no denied charge), and no re-rate adjustment of it still PENDING
 *   (its credit or charge is not on this invoice; the next one bills it).
 * Records rated after the invoice was issued stay for the next invoice: their charges may have
 * reached the ledger after the bill run read the unbilled charges (the event does not list them).
 * Those rated before usage applied this event carry no adjusts_invoice_id either, and look like any
 * ordinary record; once a later period is billed they are below its floor, so this event marks them
 * (`missed_by_invoice_id`) and they join the partial index the next invoice reads (migration
 * …213000000_missed_by_invoice).
 *
 * A record rated before usage knew of the invoice (no adjusts_invoice_id) whose insert commits while
 * this transaction runs (after its statements took their snapshots) is seen by neither: it would wait
 * for no invoice. So a bill is applied again once no such record can still be on its way
 * (recordsStoredMeanwhile); see there why that is enough.
 */
import type { BillIssued } from '../domain/bill-issued';
import { ACCOUNT_LINES, CHARGE_STATUS_OF, inSqlTransaction, type Sql, type SqlClient } from '../persistence/sql';

export { parseBillIssued, type BillIssued } from '../domain/bill-issued';

// A record's charge status is its ChargeResult's outcome (charge_outcome) once wallets answered.
const NOT_DENIED = `${CHARGE_STATUS_OF('usage_record')} <> 'DENIED'`;

const BILLABLE = `billing_account_id = $1 and status in ('RATED', 'RERATED') and ${NOT_DENIED} and rated_at <= $2
  and not exists (select 1 from rerate_adjustment a where a.usage_record_id = usage_record.id and a.status = 'PENDING')`;

/** What applying bills needs of the ingest pipeline (UsagePipeline). */
export interface BilledPeriodsCache {
  /** Batches that stored records so far (counted after each commit). */
  readonly writesCommitted: number;
  /** Drops the account's billed periods; resolves once every batch rated before the drop is written. */
  forgetBilledPeriods(billingAccountId: string): Promise<void>;
}

/**
 * Called once `bills` are committed (markPeriodBilled), with `writesBefore` = the pipeline's
 * writesCommitted read before the first of them began: waits until no record rated without knowing
 * of them can still be stored, and says whether they must be applied again (markPeriodBilled, in the
 * same order) because a batch stored records meanwhile.
 *
 * Why that is enough: every usage record is inserted by the pipeline, and a record carries
 * adjusts_invoice_id when its batch was rated with the account's billed periods read after the bill
 * committed. The drop below runs in the pipeline's rating queue after the commit: a batch rated after
 * it reads the periods again (committed, so it sees this invoice) and its late records carry
 * adjusts_invoice_id; a batch rated before it may have read them before the commit, and its write is
 * then either committed already or in flight, and the drop resolves once those writes are settled.
 * After that, every record the bill statements could not see is committed, so applying the bills
 * again (idempotent: as a redelivery) gives it what the first pass would have: BILLED or
 * missed_by_invoice_id. If no batch stored anything since `writesBefore` (read before the bills'
 * first snapshot; counted after each commit, so a write committed after that snapshot moved it),
 * the first pass saw every record and nothing is done again. Bills of one account are applied again
 * in the order they were first applied, so a later bill sees the marks the earlier one left.
 *
 * Nothing on the ingest path: the cost is one wait per group of bills (the rating queue's turn and
 * the writes in flight then) and, while usage is ingesting, each bill's statements run twice.
 */
export async function recordsStoredMeanwhile(pipeline: BilledPeriodsCache, bills: readonly BillIssued[], writesBefore: number): Promise<boolean> {
  if (bills.length === 0) return false;
  await Promise.all([...new Set(bills.map((b) => b.billingAccountId))].map((a) => pipeline.forgetBilledPeriods(a)));
  return pipeline.writesCommitted !== writesBefore;
}

/**
 * Applying a bill and writing a re-rate's adjustments, of one account, one at a time (a transaction advisory lock, taken
 * first in both transactions): a re-rate reads the billed periods under it, in the transaction that writes its
 * adjustments (rerate-period.ts), so an adjustment written after a bill of its period was applied names that invoice
 * (adjustsInvoiceId), and a bill applied after the adjustments were written sees them PENDING.
 */
export async function lockBilledPeriods(db: SqlClient, billingAccountId: string): Promise<void> {
  await db.query(`select pg_advisory_xact_lock(hashtext(current_schema() || '.billed_period:' || $1))`, [billingAccountId]);
}

/** Returns how many records moved to BILLED. */
export async function markPeriodBilled(sql: Sql, bill: BillIssued): Promise<number> {
  return inSqlTransaction(sql, async (db) => {
    await lockBilledPeriods(db, bill.billingAccountId);
    await db.query(
      'insert into billed_period (billing_account_id, invoice_id, period_start, period_end, billed_at) values ($1, $2, $3, $4, $5) on conflict do nothing',
      [bill.billingAccountId, bill.invoiceId, bill.periodStart, bill.periodEnd, bill.issuedAt],
    );
    // Since the end of the last period billed before this one (all history for a first invoice),
    // any unbilled record counts; before it, only late, re-rated and missed ones can be left (the
    // earlier invoices billed the rest): those are found through their own partial index.
    const { rows } = await db.query<{ floor: Date | string | null }>(
      'select max(period_end) as floor from billed_period where billing_account_id = $1 and invoice_id <> $2 and period_end <= $3',
      [bill.billingAccountId, bill.invoiceId, bill.periodStart],
    );
    const floor = rows[0]?.floor ? new Date(rows[0].floor) : null;
    let billed = 0;
    const recent = await db.query(
      `update usage_record set status = 'BILLED'
        where line_id in ${ACCOUNT_LINES} and ${BILLABLE} and occurred_at < $3${floor ? ' and occurred_at >= $4' : ''}`,
      floor ? [bill.billingAccountId, bill.issuedAt, bill.periodEnd, floor] : [bill.billingAccountId, bill.issuedAt, bill.periodEnd],
    );
    billed += recent.rowCount ?? 0;
    // Rated after this invoice was issued, before this event was applied: not on it, and nothing
    // else sets them apart from the records it billed once the next period is billed (below).
    await db.query(
      `update usage_record set missed_by_invoice_id = $4
        where line_id in ${ACCOUNT_LINES} and billing_account_id = $1 and status = 'RATED' and adjusts_invoice_id is null
          and missed_by_invoice_id is null and ${NOT_DENIED} and rated_at > $2 and occurred_at < $3${floor ? ' and occurred_at >= $5' : ''}`,
      floor ? [bill.billingAccountId, bill.issuedAt, bill.periodEnd, bill.invoiceId, floor] : [bill.billingAccountId, bill.issuedAt, bill.periodEnd, bill.invoiceId],
    );
    if (floor) {
      // The predicate of usage_record_unbilled_late_idx, so the planner reads that index only.
      const earlier = await db.query(
        `update usage_record set status = 'BILLED'
          where line_id in ${ACCOUNT_LINES} and ${BILLABLE} and occurred_at < $3
            and status in ('RATED', 'RERATED') and (status = 'RERATED' or adjusts_invoice_id is not null or missed_by_invoice_id is not null)`,
        [bill.billingAccountId, bill.issuedAt, floor],
      );
      billed += earlier.rowCount ?? 0;
    }
    return billed;
  });
}
