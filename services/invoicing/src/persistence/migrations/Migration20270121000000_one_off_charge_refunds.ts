import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * A credit can name the one-off charge it gives back (`addOneOffCharge(input: { refundsChargeId })`).
 * When both are on the same invoice, what is refunded of the charge is out of every discount's base
 * (compose.ts): no discount on money the customer no longer pays. Rows from before name none.
 */
export class Migration20270121000000_one_off_charge_refunds extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [
      'alter table one_off_charge add column refunds_charge_id varchar(80) null',
      'create index one_off_charge_refunds_idx on one_off_charge (refunds_charge_id) where refunds_charge_id is not null',
    ];
  }
}
