import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * The terms a prepaid period's fee was taken under, kept with its fee transaction
 * (`RENEWAL:<subscription>:<period start>`, kind RECURRING_FEE): `DAILY` (the period's unused whole
 * days come back when the subscription ends inside it) or `NONE` (they do not). The refund
 * (`refundUnusedPeriod`) and the plan-change preview (`AllowancePeriod.feeProration`) follow it,
 * not the plan's terms at the end. Null on every other transaction, and on a fee taken before this
 * column: the plan version's terms decide for those, as they did. Nullable without a default: no
 * rewrite of the ledger.
 */
export class Migration20270123000000_fee_proration extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [`alter table ledger_transaction add column fee_proration varchar(16) null`];
  }
}
