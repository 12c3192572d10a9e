import { PortableMigration, schemaSql, type Knex } from '@ledgerline/platform';

/**
 * Which lines a partner's `recordUsage` may charge, and who sent a record.
 * - `partner_usage_entitlement`: a partner's usage entitlement, set by staff (`setPartnerUsageEntitlement`, ADMIN):
 *   OWN_CUSTOMERS (lines of billing accounts assigned to it, as online charging) or ANY_LINE (a roaming or
 *   mediation feed naming any home customer), who set it and when. A partner with no row is OWN_CUSTOMERS.
 * - `partner_usage_entitlement_change`: the audit trail, one row per change (from what to what, who, as what role, when).
 * - `record_sender`: the partner whose `recordUsage` call stored a record, written in the record's transaction and
 *   only for PARTNER callers (the platform's records - SYSTEM, ADMIN, the NATS ingest, the CSV import - have none), so
 *   that `reprocessWaiting` and `reprocessRejected` apply the partner's check again. Kept when a reprocess replaces the
 *   record (same id). Records stored before this have no sender: as before, anyone's.
 */
export class Migration20270130000000_partner_usage_senders extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return [
      ...schemaSql(
        knex.schema.createTable('partner_usage_entitlement', (t) => {
          t.string('partner_id', 128).primary();
          t.string('kind', 16).notNullable();
          t.string('granted_by', 200).notNullable();
          t.timestamp('granted_at', { useTz: true }).notNullable();
        }),
      ),
      ...schemaSql(
        knex.schema.createTable('partner_usage_entitlement_change', (t) => {
          t.increments('id');
          t.string('partner_id', 128).notNullable();
          t.string('kind', 16).notNullable();
          t.string('previous_kind', 16).nullable();
          t.string('changed_by', 200).notNullable();
          t.string('changed_by_role', 16).notNullable();
          t.timestamp('changed_at', { useTz: true }).notNullable();
          t.index(['partner_id']);
        }),
      ),
      ...schemaSql(
        knex.schema.createTable('record_sender', (t) => {
          t.string('record_id', 40).primary();
          t.string('partner_id', 128).notNullable();
        }),
      ),
    ];
  }
}
