import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * Subscriptions as wallets sees them (from subscribers' events), with the allowance period each
 * is in: the renewal job grants the next period's buckets when one ends (prepaid: after taking the
 * recurring fee from the balance; `retry_at` paces the retries of a fee the balance did not cover)
 * and stops at the subscription's end.
 */
export class Migration20261127100000_allowance_periods extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [
      `create table subscription_term (
        subscription_id text primary key,
        billing_account_id varchar(40) not null,
        line_id text not null,
        plan_version_id text not null,
        payment_mode varchar(16) not null,
        currency varchar(3) not null,
        status varchar(16) not null,
        starts_at timestamptz not null,
        ends_at timestamptz null,
        period_start timestamptz not null,
        period_end timestamptz not null,
        anchor_at timestamptz not null,
        fee_state varchar(16) null,
        retry_at timestamptz null,
        renewals integer not null default 0,
        updated_at timestamptz not null
      )`,
      `create index subscription_term_due_idx on subscription_term (period_end)`,
      `create index subscription_term_account_idx on subscription_term (billing_account_id)`,
    ];
  }
}
