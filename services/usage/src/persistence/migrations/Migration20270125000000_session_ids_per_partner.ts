import { PortableMigration, schemaSql, type Knex } from '@ledgerline/platform';

/**
 * Online charging session ids are per partner (ADR 14, 2027-01-25): a session is named by
 * (`partner_key`, `id`), so two partners whose network elements make the same session id (Diameter
 * Session-Ids are unique per origin host only) each have a session of their own, and a partner's
 * RESERVE of an id another partner uses opens its own session instead of being refused (which told it
 * that the other partner had a session with that id).
 *
 * - `partner_key`: the id space of the session, the opener's partner (= `partner_id`) for a partner's
 *   session, '' for the platform's (SYSTEM, ADMIN, network elements over NATS) and for a session stored
 *   before openers were recorded. Rows from before are given their `partner_id`. The primary key is
 *   (partner_key, id), no longer id.
 * - `ref`: what the ids the session derives are named by (wallets' sessionId and reservation request
 *   ids `<ref>#<n>`, its records' event ids `<ref>#<n>`, `<ref>`, `<ref>#<n>:unreserved`, with
 *   sessionRecordKey for long ones): the session id for the platform's sessions, the session id under
 *   the partner's name for a partner's (charging-session.ts sessionRef). Null for rows stored before
 *   this: theirs are named by the session id, as they were, and keep those names to their end.
 *
 * Rows are not rewritten (a constant default, a backfill of the partner's sessions only); PostgreSQL
 * only beyond the new columns (usage rates on PostgreSQL only, persistence/sql.ts).
 */
export class Migration20270125000000_session_ids_per_partner extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    const columns = schemaSql(
      knex.schema.alterTable('charging_session', (t) => {
        t.text('partner_key').notNullable().defaultTo('');
        t.text('ref');
      }),
    );
    if ((knex.client as { dialect?: string }).dialect !== 'postgresql') return columns;
    return [
      ...columns,
      `update charging_session set partner_key = partner_id where partner_id is not null`,
      `alter table charging_session drop constraint charging_session_pkey`,
      `alter table charging_session add constraint charging_session_pkey primary key (partner_key, id)`,
      // The platform reaches a session stored before this (ref null) by its id alone, as it did: one lookup by id.
      `create index charging_session_id_idx on charging_session (id)`,
    ];
  }
}
