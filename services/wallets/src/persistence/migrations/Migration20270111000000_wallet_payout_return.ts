import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * Payouts the bank sent back (returnPayout): the payout row records the return and names its own
 * ledger transaction (+ wallet, − payments clearing), so a payout is returned at most once and the
 * money can be paid out again to a corrected account.
 */
export class Migration20270111000000_wallet_payout_return extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [
      `alter table wallet_payout add column returned_at timestamptz null`,
      `alter table wallet_payout add column return_reason text null`,
      `alter table wallet_payout add column returned_by text null`,
      `alter table wallet_payout add column returned_by_role text null`,
      `alter table wallet_payout add column return_transaction_id text null unique`,
    ];
  }
}
