import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * The double-entry ledger and everything around it. PostgreSQL only: the hot charging path uses
 * `unnest`, row locks and partial indexes, and ledger entries are protected by a trigger.
 */
export class Migration20261125000100_ledger extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [
      `alter table wallet add column payment_mode varchar(10) not null default 'PREPAID'`,
      `alter table wallet add column credit_limit numeric(20,6) null`,
      `alter table wallet add column overdraft_limit numeric(20,6) not null default 0`,
      `alter table wallet add column low_balance_threshold numeric(20,6) null`,
      `alter table wallet drop column balance`,
      `create table ledger_account (
        id text primary key,
        billing_account_id varchar(40) null,
        kind varchar(40) not null,
        unit varchar(20) not null,
        balance numeric(30,6) not null default 0,
        created_at timestamptz not null
      )`,
      `create index ledger_account_owner_idx on ledger_account (billing_account_id, kind)`,
      `create table ledger_transaction (
        id text primary key,
        idempotency_key text not null unique,
        kind varchar(30) not null,
        billing_account_id varchar(40) null,
        request_hash text null,
        reference text null,
        outcome jsonb null,
        created_at timestamptz not null
      )`,
      `create index ledger_transaction_account_idx on ledger_transaction (billing_account_id, created_at)`,
      `create table ledger_entry (
        id bigserial primary key,
        transaction_id text not null references ledger_transaction(id),
        account_id text not null references ledger_account(id),
        unit varchar(20) not null,
        amount numeric(30,6) not null,
        created_at timestamptz not null
      )`,
      `create index ledger_entry_account_idx on ledger_entry (account_id, id)`,
      `create index ledger_entry_tx_idx on ledger_entry (transaction_id)`,
      // Entries are immutable: corrections are new transactions, never edits.
      `create or replace function ledger_entry_immutable() returns trigger language plpgsql as $$
        begin raise exception 'ledger entries are immutable (% refused)', tg_op; end $$`,
      `create trigger ledger_entry_no_update before update or delete on ledger_entry for each row execute function ledger_entry_immutable()`,
      `create table bucket (
        id varchar(40) primary key,
        billing_account_id varchar(40) not null,
        line_id varchar(40) null,
        allowance_id varchar(80) not null,
        name text null,
        unit varchar(20) not null,
        initial_quantity numeric(30,6) not null,
        priority integer not null default 100,
        valid_from timestamptz not null,
        valid_to timestamptz not null,
        rollover_percent numeric(7,3) null,
        status varchar(12) not null default 'ACTIVE',
        grant_key text not null unique,
        notified_percent integer not null default 0,
        expiry_warned boolean not null default false,
        created_at timestamptz not null
      )`,
      `create index bucket_account_idx on bucket (billing_account_id, status, allowance_id)`,
      `create index bucket_expiry_idx on bucket (status, valid_to)`,
      `create table reservation (
        id varchar(40) primary key,
        session_id text not null,
        request_key text not null unique,
        billing_account_id varchar(40) not null,
        wallet_id varchar(40) not null,
        line_id varchar(40) null,
        unit varchar(20) not null,
        price_per_unit numeric(30,6) not null,
        requested_units numeric(30,6) not null,
        granted_units numeric(30,6) not null,
        units_from_buckets numeric(30,6) not null,
        bucket_parts jsonb not null,
        money_reserved numeric(30,6) not null,
        used_units numeric(30,6) null,
        status varchar(12) not null,
        expires_at timestamptz not null,
        created_at timestamptz not null,
        closed_at timestamptz null
      )`,
      `create index reservation_open_idx on reservation (status, expires_at)`,
      `create index reservation_account_idx on reservation (billing_account_id, created_at)`,
      `create table voucher (
        id varchar(40) primary key,
        code_hash char(64) not null unique,
        amount numeric(20,6) not null,
        currency varchar(3) not null,
        expires_at timestamptz not null,
        status varchar(12) not null default 'ACTIVE',
        redeemed_wallet_id varchar(40) null,
        redeemed_at timestamptz null,
        transaction_id text null,
        created_at timestamptz not null
      )`,
      `create table voucher_attempt (
        id bigserial primary key,
        billing_account_id varchar(40) not null,
        succeeded boolean not null,
        at timestamptz not null
      )`,
      `create index voucher_attempt_idx on voucher_attempt (billing_account_id, at)`,
      `create table balance_adjustment (
        id varchar(40) primary key,
        wallet_id varchar(40) not null,
        amount numeric(20,6) not null,
        reason text not null,
        agent text not null,
        agent_role varchar(20) not null,
        transaction_id text not null,
        created_at timestamptz not null
      )`,
      `create table auto_topup_rule (
        wallet_id varchar(40) primary key,
        enabled boolean not null,
        threshold numeric(20,6) not null,
        topup_amount numeric(20,6) null,
        target_balance numeric(20,6) null,
        payment_method_token text not null,
        daily_limit numeric(20,6) null,
        monthly_limit numeric(20,6) null,
        updated_at timestamptz not null
      )`,
      `create table topup_request (
        id varchar(64) primary key,
        wallet_id varchar(40) not null,
        billing_account_id varchar(40) not null,
        amount numeric(20,6) not null,
        currency varchar(3) not null,
        payment_method_token text not null,
        status varchar(20) not null,
        reason text null,
        requested_at timestamptz not null
      )`,
      `create index topup_request_wallet_idx on topup_request (wallet_id, requested_at)`,
      `create table recharge (
        id varchar(40) primary key,
        idempotency_key text not null unique,
        request_hash text not null,
        billing_account_id varchar(40) not null,
        wallet_id varchar(40) not null,
        amount numeric(20,6) not null,
        currency varchar(3) not null,
        channel varchar(20) not null,
        method varchar(20) not null,
        payment_method_token text null,
        status varchar(20) not null,
        workflow_id text null,
        failure text null,
        created_at timestamptz not null
      )`,
      `create table notification (
        id varchar(64) primary key,
        billing_account_id varchar(40) not null,
        wallet_id varchar(40) null,
        bucket_id varchar(40) null,
        kind varchar(30) not null,
        message text not null,
        created_at timestamptz not null
      )`,
      `create index notification_account_idx on notification (billing_account_id, created_at)`,
    ];
  }
}
