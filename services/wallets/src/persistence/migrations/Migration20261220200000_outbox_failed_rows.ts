import { addOutboxFailureColumns, schemaSql, PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * The outbox relay sets aside a row NATS refuses for good (too large, invalid subject) instead of
 * retrying it on every pass, which stopped every later event of the service: `failed_at` (set
 * aside; the relay passes it by) and `last_error` (why, or the last transient error while it waits).
 */
export class Migration20261220200000_outbox_failed_rows extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return schemaSql(addOutboxFailureColumns(knex));
  }
}
