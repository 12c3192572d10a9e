import { createOutboxTable, schemaSql, PortableMigration, type Knex } from '@ledgerline/platform';

export class Migration20261125000000_init extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return [
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
          t.timestamp('retired_at', { useTz: true }).nullable();
          t.timestamp('created_at', { useTz: true }).notNullable();
        }),
      ),
      ...schemaSql(
        knex.schema.createTable('plan_version', (t) => {
          t.string('id', 40).primary();
          t.string('plan_id', 40).notNullable().references('id').inTable('plan');
          t.integer('version').nullable();
          t.string('status', 16).notNullable();
          t.string('content_hash', 64).notNullable();
          t.text('document').notNullable();
          t.timestamp('effective_from', { useTz: true }).nullable();
          t.timestamp('published_at', { useTz: true }).nullable();
          t.timestamp('created_at', { useTz: true }).notNullable();
          t.timestamp('updated_at', { useTz: true }).notNullable();
          // Version numbers are unique per plan; drafts (null) are not counted.
          t.unique(['plan_id', 'version']);
          t.index(['plan_id', 'status']);
        }),
      ),
      ...schemaSql(
        knex.schema.createTable('plan_audit', (t) => {
          t.string('id', 40).primary();
          t.string('plan_id', 40).notNullable();
          t.string('plan_version_id', 40).nullable();
          t.string('action', 32).notNullable();
          t.string('actor', 200).notNullable();
          t.string('actor_role', 16).notNullable();
          t.timestamp('at', { useTz: true }).notNullable();
          t.text('diff').notNullable();
          t.index(['plan_id', 'at']);
        }),
      ),
      ...schemaSql(
        knex.schema.createTable('offer', (t) => {
          t.string('code', 80).primary();
          t.string('name', 200).notNullable();
          t.string('currency', 3).notNullable();
          t.decimal('price', 18, 6).notNullable();
          t.text('document').notNullable();
          t.timestamp('updated_at', { useTz: true }).notNullable();
        }),
      ),
    ];
  }
}
