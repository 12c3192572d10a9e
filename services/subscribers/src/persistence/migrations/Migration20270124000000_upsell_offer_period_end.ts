import { schemaSql, PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * `upsell_offer.period_end`: the end of the allowance period the offer was made for (usage's
 * `periodEnd`, passed on by the upsell workflow). The offer closes at it when it comes before the
 * offer's deadline, and accepting after it is refused. Nullable: offers stored before (and those
 * presented by a workflow run that did not pass the period's bounds) have none and keep their
 * deadline alone. Same SQL on PostgreSQL and SQLite.
 */
export class Migration20270124000000_upsell_offer_period_end extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return schemaSql(
      knex.schema.alterTable('upsell_offer', (t) => {
        t.timestamp('period_end', { useTz: true }).nullable();
      }),
    );
  }
}
