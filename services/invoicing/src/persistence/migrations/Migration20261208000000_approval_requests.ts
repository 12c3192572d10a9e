import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * Four eyes (contracts' approval-policy.ts): an AGENT's credit note, refund or dispute ACCEPT above
 * the approval limit of its currency waits here, PENDING, with the exact input to replay, until a
 * supervisor who is not the requester APPROVES it (the operation runs once; `result_id` what it
 * made) or REJECTS it. `request_key` is the operation's own key (the credit note's or refund's
 * idempotency key, `dispute:<id>` for an ACCEPT): at most one pending or approved request per key.
 */
export class Migration20261208000000_approval_requests extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [
      `create table approval_request (
         id varchar(40) primary key,
         kind varchar(20) not null check (kind in ('CREDIT_NOTE', 'REFUND', 'DISPUTE_ACCEPT')),
         subject_id varchar(80) not null,
         billing_account_id varchar(40) not null,
         amount numeric(18,4) not null,
         currency varchar(3) not null,
         requested_by varchar(200) not null,
         requested_role varchar(16) not null,
         reason varchar(2000) not null,
         input jsonb not null,
         request_key varchar(240) not null,
         request_hash varchar(64) not null,
         status varchar(10) not null check (status in ('PENDING', 'APPROVED', 'REJECTED')),
         decided_by varchar(200) null,
         decision_note varchar(2000) null,
         result_id varchar(80) null,
         created_at timestamptz not null,
         decided_at timestamptz null
       )`,
      `create unique index approval_request_live_key on approval_request (kind, request_key) where status in ('PENDING', 'APPROVED')`,
      'create index approval_request_key on approval_request (kind, request_key, created_at)',
      'create index approval_request_list on approval_request (status, created_at desc, id desc)',
      `create index approval_request_pending_subject on approval_request (subject_id) where status = 'PENDING'`,
    ];
  }
}
