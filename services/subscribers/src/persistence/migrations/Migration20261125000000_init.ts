import { Migration } from '@mikro-orm/migrations';
import { createOutboxTable, schemaSql } from '@ledgerline/platform';

export class Migration20261125000000_init extends Migration {
  override up(): void {
    const knex = this.getKnex();
    const statements = [
      ...schemaSql(createOutboxTable(knex)),
      ...schemaSql(
        knex.schema.createTable('customer', (t) => {
          t.string('id', 40).primary();
          t.string('name', 200).notNullable();
          t.string('kind', 16).notNullable();
          t.string('email', 320).nullable();
          t.string('locale', 16).notNullable();
          t.string('timezone', 64).notNullable();
          t.timestamp('created_at', { useTz: true }).notNullable();
        }),
      ),
      ...schemaSql(
        knex.schema.createTable('billing_account', (t) => {
          t.string('id', 40).primary();
          t.string('customer_id', 40).notNullable().references('id').inTable('customer');
          t.string('payment_mode', 16).notNullable();
          t.string('currency', 3).notNullable();
          t.integer('bill_cycle_day').notNullable();
          t.string('timezone', 64).notNullable();
          t.decimal('credit_limit', 18, 4).nullable();
          t.timestamp('created_at', { useTz: true }).notNullable();
          t.index(['customer_id']);
        }),
      ),
      ...schemaSql(
        knex.schema.createTable('line', (t) => {
          t.string('id', 40).primary();
          t.string('billing_account_id', 40).notNullable().references('id').inTable('billing_account');
          t.string('msisdn', 16).notNullable().unique();
          t.string('status', 16).notNullable();
          t.string('plan_code', 80).nullable();
          t.timestamp('created_at', { useTz: true }).notNullable();
          t.index(['billing_account_id']);
        }),
      ),
    ];
    for (const sql of statements) this.addSql(sql);
  }
}
