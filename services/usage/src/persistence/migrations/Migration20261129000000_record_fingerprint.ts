import { PortableMigration, schemaSql, type Knex } from '@ledgerline/platform';

/**
 * Each usage record keeps a fingerprint of the record as it was sent (canonical JSON, hashed; see
 * fingerprintOf in usage-pipeline.ts), so a record sent again under a known (source, eventId) is
 * told apart: the same content is a duplicate, other content an EVENT_ID_CONFLICT. Records stored
 * before this have none and are taken as plain duplicates. Nullable, no default: adding it
 * rewrites nothing.
 */
export class Migration20261129000000_record_fingerprint extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return [
      ...schemaSql(
        knex.schema.alterTable('usage_record', (t) => {
          t.text('fingerprint');
        }),
      ),
    ];
  }
}
