import { Migration } from '@mikro-orm/migrations';
import { createOutboxTable, schemaSql } from '@ledgerline/platform';

export class Migration20261125000000_init extends Migration {
  override up(): void {
    const knex = this.getKnex();
    const statements = [
      ...schemaSql(createOutboxTable(knex)),
      ...schemaSql(
        knex.schema.createTable('plan', (t) => {
          t.string('id', 40).primary();
          t.string('code', 80).notNullable().unique();
          t.string('name', 200).notNullable();
          t.string('status', 16).notNullable();
          t.string('payment_mode', 16).notNullable();
          t.string('currency', 3).notNullable();
          t.integer('latest_version').notNullable().defaultTo(0);
          t.timestamp('created_at', { useTz: true }).notNullable();
        }),
      ),
      ...schemaSql(
        knex.schema.createTable('plan_version', (t) => {
          t.string('id', 40).primary();
          t.string('plan_id', 40).notNullable().references('id').inTable('plan');
          t.integer('version').notNullable();
          t.string('status', 16).notNullable();
          t.string('content_hash', 64).notNullable();
          t.text('document').notNullable();
          t.timestamp('effective_from', { useTz: true }).nullable();
          t.timestamp('published_at', { useTz: true }).nullable();
          t.timestamp('created_at', { useTz: true }).notNullable();
          t.unique(['plan_id', 'version']);
          t.index(['plan_id']);
        }),
      ),
    ];
    for (const sql of statements) this.addSql(sql);
  }
}
