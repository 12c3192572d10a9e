import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * A closed wallet's balance becomes final at `final_at` (its closed_at + the late-usage grace,
 * WALLETS_CLOSED_LATE_USAGE_GRACE_HOURS, fixed when it closes): usage from before the close that
 * arrives from then on is DENIED WALLET_BALANCE_FINAL. `settled_at`: when the periodic jobs emitted
 * billing.wallets.wallet.settled with the final balance (once). Wallets closed before this
 * migration get the default grace (72 h). The check keeps both on closed wallets only.
 */
export class Migration20261223100000_wallet_settled extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [
      `alter table wallet add column final_at timestamptz null`,
      `alter table wallet add column settled_at timestamptz null`,
      `update wallet set final_at = closed_at + interval '72 hours' where status = 'CLOSED'`,
      `alter table wallet add constraint wallet_final_check check ((status = 'OPEN' and final_at is null and settled_at is null) or (status = 'CLOSED' and final_at is not null))`,
      // The settling job's probe: closed wallets not settled yet, by when they become final.
      `create index wallet_unsettled_idx on wallet (final_at) where status = 'CLOSED' and settled_at is null`,
    ];
  }
}
