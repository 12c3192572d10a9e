import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * A card recharge's capture claim and its cancellation, one excluding the other (beginRechargeStep,
 * auto-topup-settings.ts): `capture_started_at`, set by the workflow's capture activity before the card
 * is captured (a recharge with it is never cancelled), and `cancelled_at`, set when turning auto top-up
 * off cancels the recharge of one of its requests (its capture is then refused, the authorization
 * voided, and the recharge ends CANCELLED). Both null on every recharge before this: nothing to rewrite.
 */
export class Migration20270124000000_recharge_capture_cancel extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [
      `alter table recharge add column capture_started_at timestamptz null`,
      `alter table recharge add column cancelled_at timestamptz null`,
    ];
  }
}
