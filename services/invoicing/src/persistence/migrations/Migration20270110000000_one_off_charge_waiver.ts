import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * A one-off charge waived before it reached invoicing (waiveOneOffCharge on an id no charge has yet:
 * the dunning worker gave up on a late fee request that may still commit). The waiver is kept by the
 * charge's id, so the charge posted later under it is recorded waived and never billed.
 */
export class Migration20270110000000_one_off_charge_waiver extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [
      `create table one_off_charge_waiver (
        id varchar(80) primary key,
        reason varchar(300) not null,
        waived_at timestamptz not null
      )`,
    ];
  }
}
