import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * The time zone an invoice was composed in, kept on the invoice: its document (and any later line
 * naming its period) prints its dates in it. An issued invoice is a legal document and must read the
 * same whenever it is rendered; the account's zone may change after it, and the account keeps only
 * its last change (`prev_timezone` until `bill_cycle_changes_at`).
 *
 * Backfill: the zone of the account's cycle at the invoice's period start (`cycleAt`: `prev_timezone`
 * before `bill_cycle_changes_at`, else `timezone`), the zone its period was composed in and its
 * document printed until now, so no existing document changes. For an invoice billed before the
 * account's second-to-last change of zone that is a later zone than it was billed in: nothing kept
 * says which it was. Accounts unknown to invoicing (none expected) are given UTC, what the document
 * printed for them.
 */
export class Migration20270125000000_invoice_timezone extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [
      'alter table invoice add column timezone varchar(64) null',
      `update invoice i set timezone = case when a.bill_cycle_changes_at is not null and i.period_start < a.bill_cycle_changes_at
                                            then coalesce(a.prev_timezone, a.timezone) else a.timezone end
         from billing_account a where a.id = i.billing_account_id`,
      `update invoice set timezone = 'UTC' where timezone is null`,
      'alter table invoice alter column timezone set not null',
    ];
  }
}
