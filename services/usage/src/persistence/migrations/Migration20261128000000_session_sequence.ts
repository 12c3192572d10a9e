import { PortableMigration, schemaSql, type Knex } from '@ledgerline/platform';

/**
 * Online charging sessions answer a repeated request (a network element's retry after a lost
 * reply) with the reply they gave, instead of applying it again: each session keeps the
 * invocation sequence number it handled last, that request's fingerprint and its reply. Sessions
 * opened before this start at number 0.
 */
export class Migration20261128000000_session_sequence extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return [
      ...schemaSql(
        knex.schema.alterTable('charging_session', (t) => {
          t.integer('sequence_number').notNullable().defaultTo(0);
          t.text('last_request');
          t.text('last_reply');
        }),
      ),
    ];
  }
}
