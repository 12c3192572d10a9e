import { PortableMigration, schemaSql, type Knex } from '@ledgerline/platform';

/**
 * The charge sweeper re-sends re-rate adjustments too (sweep-charges.ts). An adjustment's
 * ChargeRequest went only to the outbox, which the relay prunes after OUTBOX_RETENTION_HOURS, and
 * one whose ChargeResult never came kept its month's re-rates refused for ever. Each adjustment
 * now keeps the ChargeRequest it sent (`charge`, as usage_record.charge) and the sweeper's
 * re-sends (`charge_sent_at`, `charge_attempts`: the same back-off as a record's charge). Pending
 * adjustments are seeded from the outbox rows still there; one whose row was pruned has no
 * request to re-send (it was sent over OUTBOX_RETENTION_HOURS ago).
 *
 * emitted_event is pruned after USAGE_EMITTED_EVENT_RETENTION_DAYS by the same sweeper: an index
 * on created_at makes a pass with nothing to delete a probe, not a scan.
 */
export class Migration20261210000000_adjustment_resend extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return [
      ...schemaSql(
        knex.schema.alterTable('rerate_adjustment', (t) => {
          t.text('charge').nullable();
          t.timestamp('charge_sent_at', { useTz: true }).nullable();
          t.integer('charge_attempts').notNullable().defaultTo(0);
        }),
      ),
      // A correlated subquery, not UPDATE … FROM: the same statement runs on SQLite (usage's file database without DATABASE_URL).
      `update rerate_adjustment set charge = (select o.payload from outbox o where o.id = rerate_adjustment.charge_id) where status = 'PENDING' and charge is null`,
      ...schemaSql(
        knex.schema.alterTable('emitted_event', (t) => {
          t.index(['created_at'], 'emitted_event_created_at_idx');
        }),
      ),
    ];
  }
}
