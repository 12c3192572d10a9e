import { Migration } from '@mikro-orm/migrations';
import { createOutboxTable, schemaSql } from '@ledgerline/platform';

export class Migration20261125000000_init extends Migration {
  override up(): void {
    const knex = this.getKnex();
    const statements = [
      ...schemaSql(createOutboxTable(knex)),
      ...schemaSql(
        knex.schema.createTable('wallet', (t) => {
          t.string('id', 40).primary();
          t.string('billing_account_id', 40).notNullable();
          t.string('currency', 3).notNullable();
          t.decimal('balance', 20, 6).notNullable().defaultTo(0);
          t.timestamp('created_at', { useTz: true }).notNullable();
          t.unique(['billing_account_id', 'currency']);
        }),
      ),
    ];
    for (const sql of statements) this.addSql(sql);
  }
}
