import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * Four eyes on goodwill (contracts' approval-policy.ts): an AGENT's adjustBalance above the approval
 * limit of the wallet's currency waits here, PENDING, with the exact input to replay, until a
 * supervisor who is not the requester APPROVES it (the adjustment is made once under its own key;
 * `adjustment_id` the adjustment) or REJECTS it. At most one pending or approved request per key.
 */
export class Migration20261208100000_balance_adjustment_requests extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [
      `create table balance_adjustment_request (
         id varchar(40) primary key,
         wallet_id varchar(64) not null,
         billing_account_id varchar(64) not null,
         amount numeric(20,6) not null,
         currency varchar(3) not null,
         requested_by varchar(200) not null,
         requested_role varchar(16) not null,
         reason varchar(2000) not null,
         input jsonb not null,
         idempotency_key varchar(240) not null,
         request_hash varchar(64) not null,
         status varchar(10) not null check (status in ('PENDING', 'APPROVED', 'REJECTED')),
         decided_by varchar(200) null,
         decision_note varchar(2000) null,
         adjustment_id varchar(64) null,
         created_at timestamptz not null,
         decided_at timestamptz null
       )`,
      `create unique index balance_adjustment_request_live_key on balance_adjustment_request (idempotency_key) where status in ('PENDING', 'APPROVED')`,
      'create index balance_adjustment_request_key on balance_adjustment_request (idempotency_key, created_at)',
      'create index balance_adjustment_request_list on balance_adjustment_request (status, created_at desc, id desc)',
    ];
  }
}
