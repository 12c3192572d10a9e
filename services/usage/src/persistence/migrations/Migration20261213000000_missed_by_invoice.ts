import { PortableMigration, schemaSql, type Knex } from '@ledgerline/platform';

/**
 * A record rated after its period's invoice was issued, but before usage applied that bill event,
 * carries no adjusts_invoice_id (usage did not know the period was billed yet) and was not on that
 * invoice; the next invoice bills it (application/mark-billed.ts). Nothing at insert time tells it
 * from an ordinary record, so the bill event itself writes it down: `missed_by_invoice_id` names the
 * invoice issued before the record was rated. The partial index of records still waiting for a
 * later invoice takes them in, so the hot path's inserts of ordinary records (null there) still
 * never touch it; only mark-billed writes the column.
 *
 * Records already left so (RATED for good below the last billed period) are marked here once.
 */
export class Migration20261213000000_missed_by_invoice extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return [
      ...schemaSql(
        knex.schema.alterTable('usage_record', (t) => {
          t.string('missed_by_invoice_id', 64).nullable();
          t.dropIndex([], 'usage_record_unbilled_adjustment_idx');
        }),
      ),
      `update usage_record set missed_by_invoice_id = (
          select b.invoice_id from billed_period b
           where b.billing_account_id = usage_record.billing_account_id and b.period_start <= usage_record.occurred_at
             and usage_record.occurred_at < b.period_end and b.billed_at < usage_record.rated_at
           order by b.billed_at limit 1)
        where status = 'RATED' and adjusts_invoice_id is null and charge_status <> 'DENIED'
          and exists (select 1 from billed_period b
           where b.billing_account_id = usage_record.billing_account_id and b.period_start <= usage_record.occurred_at
             and usage_record.occurred_at < b.period_end and b.billed_at < usage_record.rated_at)`,
      ...schemaSql(
        knex.schema.alterTable('usage_record', (t) => {
          t.index(['line_id', 'occurred_at'], 'usage_record_unbilled_late_idx', {
            predicate: knex.whereRaw(
              "status in ('RATED', 'RERATED') and (status = 'RERATED' or adjusts_invoice_id is not null or missed_by_invoice_id is not null)",
            ),
          });
        }),
      ),
    ];
  }
}
