import { Migration } from '@mikro-orm/migrations';
import { createOutboxTable, schemaSql } from '@ledgerline/platform';

export class Migration20261125000000_init extends Migration {
  override up(): void {
    const knex = this.getKnex();
    const statements = [
      ...schemaSql(createOutboxTable(knex)),
      ...schemaSql(
        knex.schema.createTable('usage_record', (t) => {
          t.string('id', 40).primary();
          t.string('source', 64).notNullable();
          t.string('event_id', 128).notNullable();
          t.string('line_id', 40).notNullable();
          t.string('usage_type', 16).notNullable();
          t.decimal('quantity', 20, 6).notNullable();
          t.string('unit', 16).notNullable();
          t.timestamp('occurred_at', { useTz: true }).notNullable();
          t.string('status', 16).notNullable();
          t.text('rejection_reason').nullable();
          t.timestamp('received_at', { useTz: true }).notNullable();
          t.unique(['source', 'event_id']);
          t.index(['line_id', 'occurred_at']);
        }),
      ),
    ];
    for (const sql of statements) this.addSql(sql);
  }
}
