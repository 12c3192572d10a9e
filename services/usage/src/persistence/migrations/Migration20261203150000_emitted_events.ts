import { PortableMigration, schemaSql, type Knex } from '@ledgerline/platform';

/**
 * The events usage emits at most once ever (threshold crossings, notify-rule notifications and
 * offer-rule offers: once per line or pool, period and threshold / template / offer), by their
 * deterministic CloudEvent id. The outbox's unique id only dropped a repeat while the first row was
 * still there, and the relay deletes published rows after OUTBOX_RETENTION_HOURS (72 h): a line in
 * its 80 % band was sent the notice and the upsell offer again every three days. A row here is
 * written in the same transaction as the record that asked for the event (outbox-rows.ts
 * insertOutbox). Seeded with such events still in the outbox, so nothing is emitted twice across
 * the upgrade.
 */
export class Migration20261203150000_emitted_events extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return [
      ...schemaSql(
        knex.schema.createTable('emitted_event', (t) => {
          t.string('id', 64).primary();
          t.timestamp('created_at', { useTz: true }).notNullable();
        }),
      ),
      `insert into emitted_event (id, created_at) select id, created_at from outbox
         where subject in ('billing.usage.allowance.threshold', 'billing.usage.notification.requested', 'billing.usage.offer.triggered')
         on conflict (id) do nothing`,
    ];
  }
}
