import { defineEntity, type InferEntity } from '@mikro-orm/core';
import type { Knex } from '@mikro-orm/knex';

/**
 * One row per event, written in the same transaction as the state change it describes; the relay
 * publishes it to JetStream afterwards (at least once, de-duplicated by `Nats-Msg-Id` = `id`).
 */
export const OutboxMessage = defineEntity({
  name: 'OutboxMessage',
  tableName: 'outbox',
  properties: (p) => ({
    seq: p.integer().primary().autoincrement(),
    id: p.string().length(64).unique(),
    subject: p.string().length(200),
    payload: p.text(),
    createdAt: p.datetime(),
    publishedAt: p.datetime().nullable(),
    attempts: p.integer().default(0),
    /** The last publish error (a transient one while the row waits, or why it was set aside). */
    lastError: p.text().nullable(),
    /** Set when NATS refused the row for good (too large, invalid): set aside, the relay passes it by. */
    failedAt: p.datetime().nullable(),
  }),
});
export type OutboxMessage = InferEntity<typeof OutboxMessage>;

/** Every service's first migration creates its outbox table with this. */
export function createOutboxTable(knex: Knex): Knex.SchemaBuilder {
  return knex.schema.createTable('outbox', (t) => {
    t.increments('seq').primary();
    t.string('id', 64).notNullable().unique();
    t.string('subject', 200).notNullable();
    t.text('payload').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('published_at', { useTz: true }).nullable();
    t.integer('attempts').notNullable().defaultTo(0);
    t.index(['published_at', 'seq'], 'outbox_unpublished_idx');
  });
}

/**
 * The columns with which the relay sets aside a row NATS refuses for good (too large, invalid)
 * instead of retrying it for ever; each service adds them in its own migration after
 * createOutboxTable's.
 */
export function addOutboxFailureColumns(knex: Knex): Knex.SchemaBuilder {
  return knex.schema.alterTable('outbox', (t) => {
    t.text('last_error').nullable();
    t.timestamp('failed_at', { useTz: true }).nullable();
  });
}
