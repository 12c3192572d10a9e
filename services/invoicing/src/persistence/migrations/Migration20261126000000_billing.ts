import { Migration } from '@mikro-orm/migrations';
import { schemaSql, type Knex } from '@ledgerline/platform';

/** Everything invoicing keeps: its read model of accounts, charges to bill, invoices and money received. */
export class Migration20261126000000_billing extends Migration {
  override up(): void {
    const knex = this.getKnex();
    const money = (t: Knex.CreateTableBuilder, name: string) => t.decimal(name, 18, 4).notNullable().defaultTo('0');
    const statements = [
      ...schemaSql(
        knex.schema
          .alterTable('invoice', (t) => {
            t.dropUnique(['billing_account_id', 'period_start']);
            t.string('kind', 16).notNullable().defaultTo('PERIOD');
            t.string('series', 16).notNullable().defaultTo('INV');
            t.string('payment_reference', 40).nullable();
            money(t, 'net_total');
            money(t, 'tax_total');
            money(t, 'amount_paid');
            money(t, 'amount_credited');
            money(t, 'amount_disputed');
            t.string('rounding_mode', 16).notNullable().defaultTo('HALF_EVEN');
            t.string('held_from', 16).nullable();
            t.string('bill_run_id', 60).nullable();
            t.timestamp('issued_at', { useTz: true }).nullable();
            t.timestamp('due_date', { useTz: true }).nullable();
            t.timestamp('voided_at', { useTz: true }).nullable();
            t.timestamp('updated_at', { useTz: true }).nullable();
            t.jsonb('tax_summary').nullable();
            t.index(['billing_account_id', 'state']);
          })
          .createTable('billing_account', (t) => {
            t.string('id', 40).primary();
            t.string('customer_id', 40).nullable();
            t.string('customer_name', 200).nullable();
            t.string('payment_mode', 16).notNullable();
            t.string('currency', 3).notNullable();
            t.integer('bill_cycle_day').notNullable();
            t.string('timezone', 64).notNullable();
            t.string('jurisdiction', 8).notNullable();
            t.string('rounding_mode', 16).notNullable().defaultTo('HALF_EVEN');
            t.string('series', 16).notNullable().defaultTo('INV');
            t.integer('payment_terms_days').notNullable().defaultTo(14);
            t.string('status', 16).notNullable().defaultTo('ACTIVE');
            t.timestamp('created_at', { useTz: true }).notNullable();
            t.index(['payment_mode', 'bill_cycle_day', 'id']);
          })
          .createTable('plan_version', (t) => {
            t.string('id', 60).primary();
            t.string('plan_code', 60).notNullable();
            t.jsonb('document').notNullable();
            t.timestamp('fetched_at', { useTz: true }).notNullable();
          })
          .createTable('subscription_segment', (t) => {
            t.increments('seq').primary();
            t.string('subscription_id', 40).notNullable();
            t.string('line_id', 40).notNullable();
            t.string('msisdn', 20).nullable();
            t.string('billing_account_id', 40).notNullable();
            t.string('plan_code', 60).notNullable();
            t.string('plan_version_id', 60).notNullable();
            t.timestamp('valid_from', { useTz: true }).notNullable();
            t.timestamp('valid_to', { useTz: true }).nullable();
            t.unique(['subscription_id', 'valid_from']);
            t.index(['billing_account_id']);
          })
          .createTable('unbilled_charge', (t) => {
            t.string('charge_id', 80).primary();
            t.string('billing_account_id', 40).notNullable();
            t.string('line_id', 40).nullable();
            t.string('usage_type', 32).notNullable();
            t.string('zone', 40).nullable();
            t.string('unit', 16).notNullable();
            t.decimal('units', 24, 6).notNullable();
            t.decimal('amount', 24, 8).notNullable();
            t.string('currency', 3).notNullable();
            t.timestamp('occurred_at', { useTz: true }).notNullable();
            t.string('invoice_id', 40).nullable();
            t.timestamp('received_at', { useTz: true }).notNullable();
            t.index(['billing_account_id', 'invoice_id', 'occurred_at']);
          })
          .createTable('one_off_charge', (t) => {
            t.string('id', 80).primary();
            t.string('billing_account_id', 40).notNullable();
            t.string('line_id', 40).nullable();
            t.string('code', 40).notNullable();
            t.string('description', 200).notNullable();
            t.decimal('amount', 18, 4).notNullable();
            t.string('currency', 3).notNullable();
            t.string('tax_category', 40).notNullable();
            t.timestamp('occurred_at', { useTz: true }).notNullable();
            t.string('invoice_id', 40).nullable();
            t.index(['billing_account_id', 'invoice_id']);
          })
          .createTable('discount', (t) => {
            t.string('id', 40).primary();
            t.string('billing_account_id', 40).notNullable();
            t.string('code', 40).notNullable();
            t.string('description', 200).notNullable();
            t.decimal('percent', 9, 4).nullable();
            t.decimal('amount', 18, 4).nullable();
            t.timestamp('valid_from', { useTz: true }).notNullable();
            t.timestamp('valid_to', { useTz: true }).nullable();
            t.unique(['billing_account_id', 'code']);
          })
          .createTable('tax_rule', (t) => {
            t.string('jurisdiction', 8).notNullable();
            t.string('category', 40).notNullable();
            t.decimal('rate', 9, 6).notNullable();
            t.boolean('inclusive').notNullable();
            t.string('name', 80).notNullable();
            t.primary(['jurisdiction', 'category']);
          })
          .createTable('invoice_line', (t) => {
            t.string('id', 40).primary();
            t.string('invoice_id', 40).notNullable().index();
            t.integer('position').notNullable();
            t.string('kind', 16).notNullable();
            t.string('description', 300).notNullable();
            t.string('line_id', 40).nullable();
            t.string('usage_type', 32).nullable();
            t.string('zone', 40).nullable();
            t.decimal('quantity', 24, 6).notNullable();
            t.string('unit', 16).notNullable();
            t.decimal('unit_price', 18, 6).nullable();
            t.string('tax_category', 40).notNullable();
            t.decimal('tax_rate', 9, 6).notNullable();
            t.boolean('tax_inclusive').notNullable();
            money(t, 'net_amount');
            money(t, 'tax_amount');
            money(t, 'gross_amount');
            money(t, 'credited_amount');
            t.string('source_ref', 80).nullable();
          })
          .createTable('invoice_series', (t) => {
            t.string('series', 16).primary();
            t.bigInteger('last_number').notNullable();
          })
          .createTable('payment', (t) => {
            t.string('id', 40).primary();
            t.string('billing_account_id', 40).notNullable().index();
            t.string('invoice_id', 40).nullable().index();
            t.string('channel', 16).notNullable();
            t.decimal('amount', 18, 4).notNullable();
            t.string('currency', 3).notNullable();
            money(t, 'applied_amount');
            money(t, 'credit_amount');
            money(t, 'refunded_amount');
            t.string('reference', 80).nullable();
            t.string('provider_ref', 80).nullable();
            t.string('idempotency_key', 200).notNullable().unique();
            t.string('request_hash', 64).notNullable();
            t.timestamp('created_at', { useTz: true }).notNullable();
          })
          .createTable('refund', (t) => {
            t.string('id', 40).primary();
            t.string('payment_id', 40).notNullable().index();
            t.decimal('amount', 18, 4).notNullable();
            t.string('currency', 3).notNullable();
            t.string('provider_ref', 80).nullable();
            t.string('idempotency_key', 200).notNullable().unique();
            t.string('request_hash', 64).notNullable();
            t.timestamp('created_at', { useTz: true }).notNullable();
          })
          .createTable('account_credit_entry', (t) => {
            t.string('id', 40).primary();
            t.string('billing_account_id', 40).notNullable().index();
            t.decimal('amount', 18, 4).notNullable();
            t.string('currency', 3).notNullable();
            t.string('source', 16).notNullable();
            t.string('source_id', 40).notNullable();
            t.timestamp('created_at', { useTz: true }).notNullable();
          })
          .createTable('credit_note', (t) => {
            t.string('id', 40).primary();
            t.string('number', 40).nullable().unique();
            t.string('invoice_id', 40).notNullable().index();
            t.string('billing_account_id', 40).notNullable();
            t.string('kind', 16).notNullable();
            t.string('reason', 300).notNullable();
            t.decimal('total', 18, 4).notNullable();
            t.decimal('tax_total', 18, 4).notNullable();
            t.string('currency', 3).notNullable();
            t.string('idempotency_key', 200).notNullable().unique();
            t.string('request_hash', 64).notNullable();
            t.timestamp('created_at', { useTz: true }).notNullable();
          })
          .createTable('credit_note_line', (t) => {
            t.string('id', 40).primary();
            t.string('credit_note_id', 40).notNullable().index();
            t.string('invoice_line_id', 40).notNullable().index();
            t.decimal('amount', 18, 4).notNullable();
            t.decimal('tax_amount', 18, 4).notNullable();
          })
          .createTable('bill_run', (t) => {
            t.string('id', 60).primary();
            t.string('cycle_date', 10).notNullable().unique();
            t.string('state', 16).notNullable();
            t.string('driver', 16).notNullable();
            t.boolean('auto_issue').notNullable().defaultTo(true);
            t.integer('batch_size').notNullable();
            t.integer('total_accounts').notNullable();
            t.integer('total_batches').notNullable();
            t.timestamp('created_at', { useTz: true }).notNullable();
            t.timestamp('completed_at', { useTz: true }).nullable();
          })
          .createTable('bill_run_batch', (t) => {
            t.string('bill_run_id', 60).notNullable();
            t.integer('batch_no').notNullable();
            t.string('first_account_id', 40).notNullable();
            t.string('last_account_id', 40).notNullable();
            t.integer('accounts').notNullable();
            t.string('state', 16).notNullable();
            t.integer('invoices_created').notNullable().defaultTo(0);
            t.timestamp('completed_at', { useTz: true }).nullable();
            t.primary(['bill_run_id', 'batch_no']);
          })
          .createTable('billing_period', (t) => {
            t.string('id', 60).primary();
            t.string('billing_account_id', 40).notNullable();
            t.timestamp('period_start', { useTz: true }).notNullable();
            t.timestamp('period_end', { useTz: true }).notNullable();
            t.string('invoice_id', 40).nullable();
            t.timestamp('closed_at', { useTz: true }).notNullable();
            t.unique(['billing_account_id', 'period_start']);
          })
          .createTable('receipt', (t) => {
            t.string('id', 40).primary();
            t.string('number', 40).notNullable().unique();
            t.string('billing_account_id', 40).notNullable().index();
            t.string('recharge_id', 80).notNullable();
            t.decimal('amount', 18, 4).notNullable();
            t.string('currency', 3).notNullable();
            t.string('payment_reference', 120).notNullable();
            t.string('channel', 32).notNullable();
            t.string('idempotency_key', 200).notNullable().unique();
            t.string('request_hash', 64).notNullable();
            t.timestamp('created_at', { useTz: true }).notNullable();
          }),
      ),
      // Exactly one live invoice per account and period; a voided draft leaves room for its regeneration.
      'create unique index invoice_account_period_live on invoice (billing_account_id, period_start) where voided_at is null',
      // Tax rules shipped with the product; operators add or change rules with `upsertTaxRule`.
      `insert into tax_rule (jurisdiction, category, rate, inclusive, name) values
        ('DE', 'TELECOM_STANDARD', 0.19, false, 'USt 19%'), ('DE', 'TELECOM_BUSINESS', 0.19, false, 'USt 19%'), ('DE', '*', 0.19, false, 'USt 19%'),
        ('US', '*', 0, false, 'No sales tax'), ('GB', 'TELECOM_STANDARD', 0.20, true, 'VAT 20% incl.'), ('GB', '*', 0.20, false, 'VAT 20%')`,
    ];
    for (const sql of statements) this.addSql(sql);
  }
}
