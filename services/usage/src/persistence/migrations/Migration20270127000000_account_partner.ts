import { PortableMigration, schemaSql, type Knex } from '@ledgerline/platform';

/**
 * The partner a billing account is assigned to (subscribers' billingaccount.created `partnerId`: an MVNO's own
 * customers), kept beside the account's owner by the `owners` consumer. A PARTNER's online charging sessions
 * charge only lines of accounts assigned to it (application/partner-lines.ts). Null: no partner (the operator's
 * own customers, and every account announced before the field existed). Nullable: adding it rewrites nothing.
 */
export class Migration20270127000000_account_partner extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return schemaSql(
      knex.schema.alterTable('account_owner', (t) => {
        t.string('partner_id', 100);
      }),
    );
  }
}
