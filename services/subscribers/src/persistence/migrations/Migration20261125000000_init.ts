import { createOutboxTable, schemaSql, PortableMigration, type Knex } from '@ledgerline/platform';

export class Migration20261125000000_init extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return [
      ...schemaSql(createOutboxTable(knex)),
      ...schemaSql(
        knex.schema.createTable('customer', (t) => {
          t.string('id', 40).primary();
          t.string('name', 200).notNullable();
          t.string('kind', 16).notNullable();
          t.string('email', 320).nullable();
          t.string('phone', 16).nullable();
          t.text('notification_preferences').notNullable();
          t.string('credit_class', 1).notNullable();
          t.string('locale', 16).notNullable();
          t.string('timezone', 64).notNullable();
          t.timestamp('created_at', { useTz: true }).notNullable();
          t.index(['created_at', 'id']);
        }),
      ),
      ...schemaSql(
        knex.schema.createTable('billing_account', (t) => {
          t.string('id', 40).primary();
          t.string('customer_id', 40).notNullable().references('id').inTable('customer');
          t.string('parent_account_id', 40).nullable().references('id').inTable('billing_account');
          t.string('name', 200).nullable();
          t.string('payment_mode', 16).notNullable();
          t.string('currency', 3).notNullable();
          t.integer('bill_cycle_day').notNullable();
          t.integer('payment_terms_days').notNullable();
          t.string('timezone', 64).notNullable();
          t.decimal('credit_limit', 18, 4).nullable();
          t.string('autopay_token', 200).nullable();
          t.timestamp('created_at', { useTz: true }).notNullable();
          t.index(['customer_id']);
          t.index(['parent_account_id']);
        }),
      ),
      ...schemaSql(
        knex.schema.createTable('line', (t) => {
          t.string('id', 40).primary();
          t.string('billing_account_id', 40).notNullable().references('id').inTable('billing_account');
          t.string('msisdn', 16).notNullable();
          t.string('iccid', 22).nullable();
          t.string('imsi', 15).nullable();
          t.string('status', 16).notNullable();
          t.string('plan_code', 80).nullable();
          t.timestamp('created_at', { useTz: true }).notNullable();
          t.timestamp('updated_at', { useTz: true }).notNullable();
          t.index(['billing_account_id']);
        }),
      ),
      // MSISDNs (and SIMs) are recycled: unique among lines that are not terminated.
      `create unique index line_msisdn_live_unique on line (msisdn) where status <> 'TERMINATED'`,
      `create unique index line_iccid_live_unique on line (iccid) where status <> 'TERMINATED' and iccid is not null`,
      ...schemaSql(
        knex.schema.createTable('subscription', (t) => {
          t.string('id', 40).primary();
          t.string('line_id', 40).notNullable().references('id').inTable('line');
          t.string('billing_account_id', 40).notNullable().references('id').inTable('billing_account');
          t.string('plan_code', 80).notNullable();
          t.string('plan_version_id', 40).notNullable();
          t.string('status', 16).notNullable();
          t.boolean('shared_allowances').notNullable();
          t.text('add_ons').notNullable();
          t.timestamp('starts_at', { useTz: true }).notNullable();
          t.timestamp('ends_at', { useTz: true }).nullable();
          t.timestamp('created_at', { useTz: true }).notNullable();
          t.index(['line_id']);
          t.index(['billing_account_id']);
        }),
      ),
      ...schemaSql(
        knex.schema.createTable('product_order', (t) => {
          t.string('id', 40).primary();
          t.string('kind', 16).notNullable();
          t.string('status', 16).notNullable();
          t.string('billing_account_id', 40).notNullable().references('id').inTable('billing_account');
          t.string('line_id', 40).notNullable().references('id').inTable('line');
          t.text('request').notNullable();
          t.string('idempotency_key', 200).nullable().unique();
          t.string('request_hash', 64).nullable();
          t.string('failure_code', 80).nullable();
          t.text('failure_message').nullable();
          t.timestamp('created_at', { useTz: true }).notNullable();
          t.timestamp('updated_at', { useTz: true }).notNullable();
          t.timestamp('completed_at', { useTz: true }).nullable();
          t.index(['billing_account_id']);
          t.index(['line_id']);
        }),
      ),
      ...schemaSql(
        knex.schema.createTable('one_off_charge', (t) => {
          t.string('id', 40).primary();
          t.string('billing_account_id', 40).notNullable().references('id').inTable('billing_account');
          t.string('line_id', 40).nullable();
          t.string('subscription_id', 40).nullable();
          t.string('order_id', 40).nullable();
          t.string('kind', 8).notNullable();
          t.string('reason', 40).notNullable();
          t.decimal('amount', 18, 4).notNullable();
          t.string('currency', 3).notNullable();
          t.string('description', 300).notNullable();
          t.string('period_start', 10).nullable();
          t.string('period_end', 10).nullable();
          t.timestamp('charged_at', { useTz: true }).notNullable();
          t.index(['billing_account_id']);
        }),
      ),
    ];
  }
}
