import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * The hot path writes one usage_record row per event and nothing else:
 * - idempotency is the primary key alone (id = hash of source and event id), so the wide unique
 *   index on (source, event_id) goes; the (billing_account_id, occurred_at) index goes too:
 *   account queries find the account's lines in the read model and use (line_id, occurred_at).
 *   Each index cost ~25 % of the insert time of a 2,000-row batch.
 * - the record is the outbox of its own charge: `charge` holds the ChargeRequest, published right
 *   after commit; the sweeper re-publishes PENDING charges no ChargeResult answered (small
 *   partial index) and counts its attempts.
 * - `zone` and `adjusts_invoice_id` keep what the ChargeRequest carried.
 * - billed_period: which invoice billed which account period (from invoicing's customerBillCreated).
 */
export class Migration20261126100000_lean_records extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [
      'alter table usage_record drop constraint if exists usage_record_source_event_id_unique',
      'drop index if exists usage_record_billing_account_id_occurred_at_index',
      'alter table usage_record add column charge text null, add column charge_sent_at timestamptz null, add column charge_attempts integer not null default 0, add column zone varchar(32) null, add column adjusts_invoice_id varchar(64) null',
      `create index usage_record_charge_pending_idx on usage_record (rated_at) where charge_status = 'PENDING'`,
      'create index subscription_version_billing_account_id_index on subscription_version (billing_account_id)',
      `create table billed_period (
         billing_account_id varchar(40) not null,
         invoice_id varchar(64) not null,
         period_start timestamptz not null,
         period_end timestamptz not null,
         billed_at timestamptz not null,
         primary key (billing_account_id, invoice_id))`,
    ];
  }
}
