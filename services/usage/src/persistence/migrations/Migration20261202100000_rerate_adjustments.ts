import { PortableMigration, schemaSql, type Knex } from '@ledgerline/platform';

/**
 * Rerate adjustments and what the ledger made of them. Each delta ChargeRequest a re-rate sends
 * gets a row (its chargeId, the record it adjusts, what the ledger held for that record before it,
 * the delta), PENDING until wallets' ChargeResult settles it (APPLIED / PARTIAL / DENIED and the
 * amount taken); the record's amount_charged then becomes what the ledger holds: before + taken.
 * A re-rate is refused while an adjustment of its month is PENDING, as it is while a charge is.
 *
 * usage_record.granted_units keeps ChargeResult.units (what the ledger granted of the charged
 * units; less on a PARTIAL charge), so a re-rate prices what was granted, not what was refused.
 * Nullable, no default: adding it rewrites nothing. Records settled before this have none (a
 * re-rate then takes the charged units, as it did).
 */
export class Migration20261202100000_rerate_adjustments extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return [
      ...schemaSql(
        knex.schema.createTable('rerate_adjustment', (t) => {
          t.string('charge_id', 200).primary();
          t.string('usage_record_id', 40).notNullable();
          t.string('billing_account_id', 40).notNullable();
          t.timestamp('occurred_at', { useTz: true }).notNullable();
          t.integer('rating_version').notNullable();
          t.decimal('previous_charged', 20, 6).notNullable();
          t.decimal('amount', 20, 6).notNullable();
          t.string('currency', 3).notNullable();
          t.string('status', 16).notNullable().defaultTo('PENDING');
          t.decimal('amount_charged', 20, 6).nullable();
          t.string('reason', 64).nullable();
          t.timestamp('created_at', { useTz: true }).notNullable();
          t.index(['usage_record_id']);
          t.index(['billing_account_id', 'occurred_at'], 'rerate_adjustment_pending_idx', { predicate: knex.whereRaw("status = 'PENDING'") });
        }),
      ),
      ...schemaSql(
        knex.schema.alterTable('usage_record', (t) => {
          t.decimal('granted_units', 20, 6);
        }),
      ),
    ];
  }
}
