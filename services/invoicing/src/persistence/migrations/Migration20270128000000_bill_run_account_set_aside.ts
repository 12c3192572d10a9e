import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * Accounts a bill run set aside: its batch could not bill them for a reason their data gives (a coded
 * refusal such as PLAN_VERSION_UNKNOWN, or a value the invoice tables cannot hold), which a retry alone
 * does not change. The rest of the batch is billed and the run completes; the row keeps the reason for
 * staff (`BillRun.setAsideAccounts`, the gauge `ledgerline_invoicing_bill_run_accounts_set_aside`) until
 * the account is billed (`billSetAsideAccounts`, the cycle date started again): `resolved_at`, `invoice_id`.
 */
export class Migration20270128000000_bill_run_account_set_aside extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [
      `create table bill_run_account_set_aside (
         bill_run_id varchar(60) not null,
         billing_account_id varchar(40) not null,
         batch_no integer not null,
         code varchar(80) not null,
         message text not null,
         field varchar(200) null,
         attempts integer not null default 1,
         set_aside_at timestamptz not null,
         last_attempt_at timestamptz not null,
         resolved_at timestamptz null,
         invoice_id varchar(40) null,
         primary key (bill_run_id, billing_account_id)
       )`,
      'create index bill_run_account_set_aside_open on bill_run_account_set_aside (bill_run_id, batch_no) where resolved_at is null',
    ];
  }
}
