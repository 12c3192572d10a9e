import { PortableMigration, schemaSql, type Knex } from '@ledgerline/platform';

/**
 * An invoice bills the account's unbilled charges of earlier periods too (late events, which carry
 * adjusts_invoice_id, and re-rated records' adjustments: application/mark-billed.ts). Finding those
 * among an account's whole history would read every record it ever had at each invoice; this
 * partial index holds only the records still waiting for such an invoice (late or re-rated, not
 * BILLED yet), so the hot path's inserts of ordinary records never touch it.
 */
export class Migration20261212000000_unbilled_adjustments extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return [
      ...schemaSql(
        knex.schema.alterTable('usage_record', (t) => {
          t.index(['line_id', 'occurred_at'], 'usage_record_unbilled_adjustment_idx', {
            predicate: knex.whereRaw("status in ('RATED', 'RERATED') and (status = 'RERATED' or adjusts_invoice_id is not null)"),
          });
        }),
      ),
    ];
  }
}
