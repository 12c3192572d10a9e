import { PortableMigration, schemaSql, type Knex } from '@ledgerline/platform';

/**
 * A ChargeResult no longer updates its usage_record row (a wide row: every update was a new
 * ~1.3 KB version with an entry in each index, ~87 ms per 2,000 results): it inserts one narrow
 * `charge_outcome` row (insert-only on the hot path, primary key = the record id, so a redelivered
 * result inserts nothing) and deletes the record's `pending_charge` row.
 *
 * - charge_outcome: what wallets' ChargeResult settled (outcome APPLIED / PARTIAL / DENIED, the
 *   money and allowance units the ledger took, the units it granted, its reason). A re-rate (and
 *   the settlement of its adjustment) changes amount_charged / units_from_allowances here and on
 *   usage_record alike, so readers take `coalesce(charge_outcome.x, usage_record.x)`
 *   (persistence/sql.ts: CHARGE_STATUS, AMOUNT_CHARGED, UNITS_FROM_ALLOWANCES).
 * - usage_record.charge_status keeps what the record was stored with (PENDING, NONE, or APPLIED for
 *   an online session's record, charged in place); its outcome, when there is one, is charge_outcome's.
 * - pending_charge: the sweeper's work list, the records whose ChargeRequest no ChargeResult answered
 *   yet, with the re-send back-off (charge_sent_at, charge_attempts; usage_record's columns of those
 *   names are no longer written), and what settling one compares the result with (the record's line,
 *   account and rating-time estimate: a ChargeResult reads nothing of usage_record). It replaces the
 *   partial index usage_record_charge_pending_idx.
 *
 * Existing records: settled charges are copied into charge_outcome, pending ones into pending_charge.
 */
export class Migration20261215000000_charge_outcomes extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return [
      ...schemaSql(
        knex.schema.createTable('charge_outcome', (t) => {
          t.string('usage_record_id', 40).primary();
          t.string('outcome', 16).notNullable();
          t.decimal('amount_charged', 20, 6).nullable();
          t.decimal('units_from_allowances', 20, 6).nullable();
          t.string('reason', 64).nullable();
          t.decimal('granted_units', 20, 6).nullable();
        }),
      ),
      ...schemaSql(
        knex.schema.createTable('pending_charge', (t) => {
          t.string('usage_record_id', 40).primary();
          t.timestamp('rated_at', { useTz: true }).notNullable();
          // What the ChargeResult is compared with (the record's line and rating-time estimate), so
          // settling it reads nothing of usage_record.
          t.string('line_id', 40).nullable();
          t.string('billing_account_id', 40).nullable();
          t.decimal('spend', 20, 6).nullable();
          t.decimal('from_allowance', 20, 6).nullable();
          t.timestamp('charge_sent_at', { useTz: true }).nullable();
          t.integer('charge_attempts').notNullable().defaultTo(0);
          t.index(['rated_at'], 'pending_charge_rated_at_idx');
        }),
      ),
      `insert into charge_outcome (usage_record_id, outcome, amount_charged, units_from_allowances, reason, granted_units)
         select id, charge_status, amount_charged, units_from_allowances, charge_reason, granted_units from usage_record
          where charge_status in ('APPLIED', 'PARTIAL', 'DENIED')`,
      `insert into pending_charge (usage_record_id, rated_at, line_id, billing_account_id, spend, from_allowance, charge_sent_at, charge_attempts)
         select id, coalesce(rated_at, received_at), line_id, billing_account_id, spend, from_allowance, charge_sent_at, charge_attempts from usage_record where charge_status = 'PENDING'`,
      ...schemaSql(knex.schema.alterTable('usage_record', (t) => t.dropIndex([], 'usage_record_charge_pending_idx'))),
    ];
  }
}
