import { schemaSql, PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * `unknown_type_event`: an event read on a subject the hub's registry does not know yet (its producer deployed before
 * the hub, the normal order for an additive contracts change). Its audience is unknown, so OWN_CUSTOMERS partner hubs
 * do not get it until a hub that knows the type decides it (then delivered, held for its account, or skipped), or
 * until EVENTS_HUB_UNKNOWN_TYPE_HOLD_HOURS passed (dropped). One row per (event, generation, hub of a replay or ''
 * live); `id` keeps stream order for the release.
 */
export class Migration20270201000000_unknown_type_events extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return schemaSql(
      knex.schema.createTable('unknown_type_event', (t) => {
        t.bigIncrements('id').primary();
        t.string('event_id', 200).notNullable();
        t.integer('generation').notNullable();
        t.string('only_hub', 40).notNullable().defaultTo('');
        t.string('subject', 200).notNullable();
        t.string('event_type', 120).notNullable();
        t.text('payload').notNullable();
        t.timestamp('held_at', { useTz: true }).notNullable();
        t.unique(['event_id', 'generation', 'only_hub']);
        t.index(['subject']);
        t.index(['held_at']);
      }),
    );
  }
}
