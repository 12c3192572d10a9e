import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * A wallet closes with its billing account (subscribers' billingaccount.closed): `status` OPEN →
 * CLOSED, with the account's `closed_at` and the reason given. A closed wallet takes no top-up,
 * recharge, voucher, reservation or charge of usage after `closed_at`; its balance stays on the
 * ledger. The check keeps status and closed_at together. Existing wallets are OPEN.
 */
export class Migration20261222100000_wallet_closed extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [
      `alter table wallet add column status varchar(10) not null default 'OPEN'`,
      `alter table wallet add column closed_at timestamptz null`,
      `alter table wallet add column closed_reason text null`,
      `alter table wallet add constraint wallet_status_check check ((status = 'OPEN' and closed_at is null) or (status = 'CLOSED' and closed_at is not null))`,
    ];
  }
}
