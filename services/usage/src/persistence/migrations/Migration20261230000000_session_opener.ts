import { PortableMigration, schemaSql, type Knex } from '@ledgerline/platform';

/**
 * An online charging session belongs to whoever opened it (ADR 14): `partner_id` is the opener's
 * partner (a PARTNER over GraphQL), null when the platform opened it (SYSTEM, ADMIN, or a network
 * element over NATS); `opener_recorded` says the row was written with it. Another partner's UPDATE,
 * TERMINATE or repeated request is answered as for an unknown session; the platform acts on any.
 * Rows stored before this have no opener recorded (false): they stay usable by anyone, as they were.
 * Nullable / constant default: adding them rewrites nothing.
 */
export class Migration20261230000000_session_opener extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return [
      ...schemaSql(
        knex.schema.alterTable('charging_session', (t) => {
          t.text('partner_id');
          t.boolean('opener_recorded').notNullable().defaultTo(false);
        }),
      ),
    ];
  }
}
