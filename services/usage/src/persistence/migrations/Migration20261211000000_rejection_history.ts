import { PortableMigration, schemaSql, type Knex } from '@ledgerline/platform';

/**
 * What a record was before `reprocessRejected` rated it again (or rejected it once more): the
 * rejection's code and reason, the payload as the source sent it, when the record was received and
 * rejected, and when it was reprocessed. The reprocess replaces the REJECTED row (same id), so
 * without this nothing showed the record had ever been held back. Written only by the reprocess
 * path, in the transaction that replaces the row; never read by rating.
 */
export class Migration20261211000000_rejection_history extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return [
      ...schemaSql(
        knex.schema.createTable('usage_rejection_history', (t) => {
          t.increments('id');
          t.string('record_id', 40).notNullable();
          t.string('rejection_code', 64).nullable();
          t.text('rejection_reason').nullable();
          t.text('raw').nullable();
          t.timestamp('received_at', { useTz: true }).notNullable();
          t.timestamp('rejected_at', { useTz: true }).notNullable();
          t.timestamp('reprocessed_at', { useTz: true }).notNullable();
          t.index(['record_id']);
        }),
      ),
    ];
  }
}
