import { PortableMigration, schemaSql, type Knex } from '@ledgerline/platform';

/**
 * What a prepaid online session's units past its grant left unpaid: the balance paid what it could, down to its
 * floor, and the record of those units keeps the rest (charging-session.ts, chargePastGrant), so revenue the
 * network's overshoot lost is on the record, not only in the difference between its price and what was charged.
 * Null for every other record. Nullable, no default: adding it rewrites nothing.
 */
export class Migration20270202000000_session_overage_unpaid extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return [
      ...schemaSql(
        knex.schema.alterTable('usage_record', (t) => {
          t.decimal('unpaid_amount', 20, 6);
        }),
      ),
    ];
  }
}
