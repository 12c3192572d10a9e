import { PortableMigration, schemaSql, type Knex } from '@ledgerline/platform';

/**
 * `account_owner.partner_version`: which of the account's partner assignments `partner_id` is (subscribers'
 * billing_account.partner_version: 0 as opened, one more per `updateBillingAccount` change of its partner, carried
 * on billingaccount.created as 0 and on billingaccount.changed as `partnerVersion`). The `owners` consumer keeps the
 * partner of the highest version it has read, so an older event, redelivered or overtaken, never takes a newer
 * assignment back (event times cannot: two changes may share an instant). Rows before are version 0: what
 * billingaccount.created said.
 */
export class Migration20270129000000_account_partner_version extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return schemaSql(
      knex.schema.alterTable('account_owner', (t) => {
        t.integer('partner_version').notNullable().defaultTo(0);
      }),
    );
  }
}
