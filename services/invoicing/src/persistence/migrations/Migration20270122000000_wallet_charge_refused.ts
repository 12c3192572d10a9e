import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * One row per charge a closed prepaid wallet refused (wallets' `billing.wallets.charge.refused`),
 * as invoicing took it: BILLED (a one-off of the account, `invoice_id` its WALLET_CHARGE invoice when
 * billed at once), WAIVED (waived in advance: nothing billed) or HELD (it cannot be billed as it is:
 * `held_reason`, `held_because`). `key` is `charge:<chargeId>` (once per charge, however often the
 * event comes), or for an event without a usable chargeId `event:<id>` / `message:<stream seq>`.
 * `message` keeps what came (NUL removed) so a held one can be put right by hand.
 */
export class Migration20270122000000_wallet_charge_refused extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [
      `create table wallet_charge_refused (
         key text primary key,
         charge_id text null,
         billing_account_id text null,
         event_id text null,
         status varchar(8) not null check (status in ('BILLED', 'WAIVED', 'HELD')),
         held_reason varchar(32) null,
         held_because text null,
         invoice_id varchar(40) null,
         message text not null,
         received_at timestamptz not null,
         updated_at timestamptz not null
       )`,
      `create index wallet_charge_refused_held on wallet_charge_refused (received_at) where status = 'HELD'`,
    ];
  }
}
