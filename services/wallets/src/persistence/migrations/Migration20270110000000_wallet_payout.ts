import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * Payouts of settled closed wallets (payOutWalletBalance): finance paid (part of) the final balance
 * back to the customer. One row per payout, naming its ledger transaction (− wallet, + payments
 * clearing) and the outgoing transfer's reference; the idempotency key lives on the transaction.
 */
export class Migration20270110000000_wallet_payout extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [
      `create table wallet_payout (
        id text primary key,
        wallet_id text not null references wallet (id),
        billing_account_id text not null,
        amount numeric(20, 6) not null check (amount > 0),
        currency text not null,
        payout_reference text not null,
        paid_out_by text not null,
        paid_out_by_role text not null,
        transaction_id text not null unique,
        created_at timestamptz not null
      )`,
      `create index wallet_payout_wallet_idx on wallet_payout (wallet_id, created_at)`,
    ];
  }
}
