import { schemaSql, PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * `held_event.read_at`: when the hub read the event; the hubs registered by then are those it may go to. `held_at`
 * becomes when it began to wait for its account (the EVENTS_HUB_UNPLACED_HOLD_HOURS drop counts from it): an event
 * of a type the hub learnt late moves from `unknown_type_event` long after it was read, and kept its read time as
 * its hold time, so the next minute pass dropped it. Null (rows from before, or a previous version's replica during
 * the rollout): read when held, as they were.
 */
export class Migration20270202000000_held_event_read_at extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return schemaSql(
      knex.schema.alterTable('held_event', (t) => {
        t.timestamp('read_at', { useTz: true }).nullable();
      }),
    );
  }
}
