import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * The charges held `account_unknown` for one account, found when invoicing learns the account (every
 * `billingaccount.created` applied, every registration): by account, held rows only.
 */
export class Migration20270123000000_wallet_charge_refused_held_account extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [`create index wallet_charge_refused_held_account on wallet_charge_refused (billing_account_id) where status = 'HELD'`];
  }
}
