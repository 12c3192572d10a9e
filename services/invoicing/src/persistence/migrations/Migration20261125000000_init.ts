import { createOutboxTable, schemaSql, PortableMigration, type Knex } from '@ledgerline/platform';

export class Migration20261125000000_init extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return [
      ...schemaSql(createOutboxTable(knex)),
      ...schemaSql(
        knex.schema.createTable('invoice', (t) => {
          t.string('id', 40).primary();
          t.string('billing_account_id', 40).notNullable();
          t.string('number', 40).nullable().unique();
          t.string('state', 16).notNullable();
          t.timestamp('period_start', { useTz: true }).notNullable();
          t.timestamp('period_end', { useTz: true }).notNullable();
          t.string('currency', 3).notNullable();
          t.decimal('total', 18, 4).notNullable();
          t.timestamp('created_at', { useTz: true }).notNullable();
          // Exactly one invoice per account and period, whatever retries happen.
          t.unique(['billing_account_id', 'period_start']);
        }),
      ),
    ];
  }
}
