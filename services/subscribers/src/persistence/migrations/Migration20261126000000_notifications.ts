import { schemaSql, PortableMigration, type Knex } from '@ledgerline/platform';

export class Migration20261126000000_notifications extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return schemaSql(
      knex.schema.createTable('communication_message', (t) => {
        t.string('id', 60).primary();
        t.string('customer_id', 40).notNullable().references('id').inTable('customer');
        t.string('billing_account_id', 40).notNullable();
        t.string('line_id', 40).nullable();
        t.string('channel', 16).notNullable();
        t.string('receiver', 400).notNullable();
        t.string('template', 80).notNullable();
        t.string('subject', 200).notNullable();
        t.text('content').notNullable();
        t.string('source_event_type', 80).notNullable();
        t.string('source_event_id', 120).notNullable();
        t.string('state', 16).notNullable();
        t.integer('attempts').notNullable();
        t.text('last_error').nullable();
        t.timestamp('next_attempt_at', { useTz: true }).notNullable();
        t.timestamp('created_at', { useTz: true }).notNullable();
        t.timestamp('sent_at', { useTz: true }).nullable();
        t.index(['customer_id', 'created_at']);
        t.index(['line_id', 'created_at']);
        t.index(['state', 'next_attempt_at']);
      }),
    );
  }
}
