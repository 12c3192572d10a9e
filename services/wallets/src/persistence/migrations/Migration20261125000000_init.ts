import { createOutboxTable, schemaSql, PortableMigration, type Knex } from '@ledgerline/platform';

export class Migration20261125000000_init extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return [
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
  }
}
