import { PortableMigration, schemaSql, type Knex } from '@ledgerline/platform';

/**
 * The hot path writes one usage_record row per event and nothing else:
 * - idempotency is the primary key alone (id = hash of source and event id), so the wide unique
 *   index on (source, event_id) goes; the (billing_account_id, occurred_at) index goes too:
 *   account queries find the account's lines in the read model and use (line_id, occurred_at).
 *   Each index cost ~25 % of the insert time of a 2,000-row batch.
 * - the record is the outbox of its own charge: `charge` holds the ChargeRequest, published right
 *   after commit; the sweeper re-publishes PENDING charges no ChargeResult answered (small
 *   partial index) and counts its attempts.
 * - `zone` and `adjusts_invoice_id` keep what the ChargeRequest carried.
 * - billed_period: which invoice billed which account period (from invoicing's customerBillCreated).
 */
export class Migration20261126100000_lean_records extends PortableMigration {
  // Built with knex's schema builder so the same migration runs on PostgreSQL and SQLite.
  protected override statements(knex: Knex): string[] {
    return [
      ...schemaSql(
        knex.schema.alterTable('usage_record', (t) => {
          t.dropUnique(['source', 'event_id']);
          t.dropIndex(['billing_account_id', 'occurred_at']);
        }),
      ),
      ...schemaSql(
        knex.schema.alterTable('usage_record', (t) => {
          t.text('charge').nullable();
          t.timestamp('charge_sent_at', { useTz: true }).nullable();
          t.integer('charge_attempts').notNullable().defaultTo(0);
          t.string('zone', 32).nullable();
          t.string('adjusts_invoice_id', 64).nullable();
          t.index(['rated_at'], 'usage_record_charge_pending_idx', { predicate: knex.whereRaw("charge_status = 'PENDING'") });
        }),
      ),
      ...schemaSql(knex.schema.alterTable('subscription_version', (t) => t.index(['billing_account_id']))),
      ...schemaSql(
        knex.schema.createTable('billed_period', (t) => {
          t.string('billing_account_id', 40).notNullable();
          t.string('invoice_id', 64).notNullable();
          t.timestamp('period_start', { useTz: true }).notNullable();
          t.timestamp('period_end', { useTz: true }).notNullable();
          t.timestamp('billed_at', { useTz: true }).notNullable();
          t.primary(['billing_account_id', 'invoice_id']);
        }),
      ),
    ];
  }
}
