import { schemaSql, PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * `billing_account.partner_id`: the partner (an MVNO) whose customer the account is, given by staff when it is
 * opened and carried on billingaccount.created; usage lets that partner (a PARTNER token with this partnerId)
 * charge the account's lines online, and no other partner. Nullable: the operator's own customers, and every
 * account opened before, are no partner's. Same SQL on PostgreSQL and SQLite.
 */
export class Migration20270127000000_billing_account_partner extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return schemaSql(
      knex.schema.alterTable('billing_account', (t) => {
        t.string('partner_id', 100).nullable();
      }),
    );
  }
}
