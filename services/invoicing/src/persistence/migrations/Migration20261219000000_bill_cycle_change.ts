import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * A bill-cycle change (the account registered again with another bill-cycle day or time zone)
 * takes effect at the end of the account's current period: until `bill_cycle_changes_at` its
 * periods follow `prev_bill_cycle_day` / `prev_timezone` (the old day's bill runs still bill it),
 * from then on `bill_cycle_day` / `timezone`, the first period bridging from that instant to the new
 * day's next boundary. Null for accounts whose cycle never changed (rows from before included).
 * `closed_at`: the end of the account's final period (`closeBillingPeriod` with `final`, status
 * CLOSED): charges arriving later are billed on an adjustment invoice after it, nothing else is.
 */
export class Migration20261219000000_bill_cycle_change extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [
      'alter table billing_account add column prev_bill_cycle_day integer null',
      'alter table billing_account add column prev_timezone varchar(64) null',
      'alter table billing_account add column bill_cycle_changes_at timestamptz null',
      'alter table billing_account add column closed_at timestamptz null',
      'create index billing_account_prev_cycle_day on billing_account (prev_bill_cycle_day) where prev_bill_cycle_day is not null',
    ];
  }
}
