import { schemaSql, PortableMigration, type Knex } from '@ledgerline/platform';

export class Migration20261204000000_init extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return schemaSql(
      knex.schema
        .createTable('hub', (t) => {
          t.string('id', 40).primary();
          // The partner that registered it (the token's partnerId); null: registered by an ADMIN for the operator.
          t.string('partner_id', 100).nullable();
          t.text('callback').notNullable();
          t.text('query').notNullable();
          // The parsed query ({ eventTypes, subjects }), kept as registered.
          t.jsonb('filter').notNullable();
          t.string('secret', 100).notNullable();
          t.string('status', 16).notNullable();
          // The last replay's delivery generation (0: live deliveries only).
          t.integer('replay_generation').notNullable().defaultTo(0);
          t.timestamp('created_at', { useTz: true }).notNullable();
          t.timestamp('deleted_at', { useTz: true }).nullable();
          t.index(['partner_id', 'created_at']);
          t.index(['status']);
        })
        .createTable('webhook_delivery', (t) => {
          t.bigIncrements('id').primary();
          t.string('subscription_id', 40).notNullable().references('id').inTable('hub');
          t.string('event_id', 200).notNullable();
          t.integer('generation').notNullable();
          t.string('subject', 200).notNullable();
          t.string('event_type', 120).notNullable();
          // The CloudEvent exactly as it was on the stream (structured JSON): the body of every attempt.
          t.text('payload').notNullable();
          t.string('status', 16).notNullable();
          t.integer('attempts').notNullable().defaultTo(0);
          t.timestamp('next_attempt_at', { useTz: true }).notNullable();
          t.integer('last_status_code').nullable();
          t.text('last_error').nullable();
          t.timestamp('created_at', { useTz: true }).notNullable();
          t.timestamp('delivered_at', { useTz: true }).nullable();
          // A NATS message delivered twice, or read again by a replay of the same generation, adds nothing.
          t.unique(['subscription_id', 'event_id', 'generation']);
          t.index(['status', 'next_attempt_at']);
          t.index(['subscription_id', 'status', 'id']);
        }),
    );
  }
}
