import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * Enterprise committed-spend budgets (a replenishment rule on the account's wallet, and one row
 * per replenishment = one invoice), the customer who owns each billing account (for ownership
 * checks), and the link from an auto top-up request to the recharge it started.
 */
export class Migration20261126200000_budgets_ownership extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [
      `create table budget (
        id varchar(40) primary key,
        wallet_id varchar(40) not null unique,
        billing_account_id varchar(40) not null,
        currency varchar(3) not null,
        committed numeric(20,6) not null,
        threshold numeric(20,6) not null,
        enabled boolean not null,
        replenishments integer not null default 0,
        updated_by text not null,
        updated_at timestamptz not null
      )`,
      `create table budget_replenishment (
        id varchar(64) primary key,
        budget_id varchar(40) not null,
        billing_account_id varchar(40) not null,
        sequence integer not null,
        amount numeric(20,6) not null,
        currency varchar(3) not null,
        remaining numeric(20,6) not null,
        transaction_id text not null,
        cause text not null,
        created_at timestamptz not null,
        unique (budget_id, sequence)
      )`,
      `create index budget_replenishment_account_idx on budget_replenishment (billing_account_id, created_at)`,
      `create table account_owner (
        billing_account_id varchar(40) primary key,
        customer_id varchar(40) not null,
        updated_at timestamptz not null
      )`,
      `create index account_owner_customer_idx on account_owner (customer_id)`,
      `alter table topup_request add column recharge_id varchar(40) null`,
      `alter table recharge add column updated_at timestamptz null`,
    ];
  }
}
