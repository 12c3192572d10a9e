import { createOutboxTable, schemaSql, PortableMigration, type Knex } from '@ledgerline/platform';

export class Migration20261125000000_init extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return [
      ...schemaSql(createOutboxTable(knex)),
      ...schemaSql(
        knex.schema.createTable('usage_record', (t) => {
          t.string('id', 40).primary();
          t.string('source', 64).notNullable();
          t.string('event_id', 128).notNullable();
          t.string('line_id', 40).nullable();
          t.string('msisdn', 32).nullable();
          t.string('billing_account_id', 40).nullable();
          t.string('subscription_id', 40).nullable();
          t.string('plan_version_id', 40).nullable();
          t.string('usage_type', 16).nullable();
          t.string('direction', 16).nullable();
          t.decimal('quantity', 20, 6).nullable();
          t.string('unit', 16).nullable();
          t.timestamp('occurred_at', { useTz: true }).nullable();
          t.string('called_number', 40).nullable();
          t.string('roaming_country', 2).nullable();
          t.string('visited_mcc', 3).nullable();
          t.string('status', 16).notNullable();
          t.string('rejection_code', 64).nullable();
          t.text('rejection_reason').nullable();
          t.string('decision', 16).nullable();
          t.string('allowance_id', 64).nullable();
          t.decimal('charged_units', 20, 6).nullable();
          t.decimal('price', 20, 6).nullable();
          // Live usage is summed from the records (exactly once by construction): units taken from
          // the allowance and money charged, as estimated at rating until wallets' result lands.
          t.decimal('from_allowance', 20, 6).nullable();
          t.decimal('spend', 20, 6).nullable();
          t.string('currency', 3).nullable();
          // text, not jsonb: written once per event on the hot path, read only per record (dispute evidence).
          t.text('rating').nullable();
          t.string('charge_status', 16).notNullable().defaultTo('NONE');
          t.decimal('amount_charged', 20, 6).nullable();
          t.decimal('units_from_allowances', 20, 6).nullable();
          t.string('charge_reason', 64).nullable();
          t.integer('rating_version').notNullable().defaultTo(0);
          t.text('raw').nullable();
          t.timestamp('received_at', { useTz: true }).notNullable();
          t.timestamp('rated_at', { useTz: true }).nullable();
          t.unique(['source', 'event_id']);
          t.index(['line_id', 'occurred_at']);
          t.index(['billing_account_id', 'occurred_at']);
        }),
      ),
      // Only rejected records are listed by status; rated ones (nearly all) stay out of this index.
      `create index usage_record_rejected_idx on usage_record (id) where status = 'REJECTED'`,
      ...schemaSql(
        knex.schema.createTable('line_state', (t) => {
          t.string('line_id', 40).primary();
          t.string('msisdn', 32).nullable().unique();
          t.string('billing_account_id', 40).notNullable();
          t.string('status', 16).notNullable();
          t.timestamp('changed_at', { useTz: true }).notNullable();
          t.index(['billing_account_id']);
        }),
      ),
      ...schemaSql(
        // One row per (subscription, plan version period): late events find the version in force.
        knex.schema.createTable('subscription_version', (t) => {
          t.string('subscription_id', 40).notNullable();
          t.timestamp('valid_from', { useTz: true }).notNullable();
          t.string('line_id', 40).notNullable();
          t.string('billing_account_id', 40).notNullable();
          t.string('payment_mode', 16).notNullable();
          t.string('currency', 3).notNullable();
          t.string('plan_code', 64).notNullable();
          t.string('plan_version_id', 40).notNullable();
          t.string('status', 16).notNullable();
          t.timestamp('ends_at', { useTz: true }).nullable();
          t.text('add_ons').notNullable();
          t.timestamp('changed_at', { useTz: true }).notNullable();
          t.primary(['subscription_id', 'valid_from']);
          t.index(['line_id']);
        }),
      ),
      ...schemaSql(
        knex.schema.createTable('charging_session', (t) => {
          t.string('id', 128).primary();
          t.string('line_id', 40).notNullable();
          t.string('billing_account_id', 40).notNullable();
          t.string('usage_type', 16).notNullable();
          t.string('state', 16).notNullable();
          t.decimal('granted', 20, 6).notNullable().defaultTo(0);
          t.decimal('used', 20, 6).notNullable().defaultTo(0);
          t.text('context').notNullable();
          t.timestamp('started_at', { useTz: true }).notNullable();
          t.timestamp('updated_at', { useTz: true }).notNullable();
        }),
      ),
    ];
  }
}
