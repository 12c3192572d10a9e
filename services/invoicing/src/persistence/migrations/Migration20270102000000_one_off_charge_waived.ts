import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * A one-off charge can be waived (waiveOneOffCharge; dunning waives a late fee that landed although
 * the customer paid first): unbilled, it is never billed (`waived_at`, the bill run skips it, and the
 * same id added again stays waived); billed, a credit note gives it back (`waived_credit_note_id`).
 */
export class Migration20270102000000_one_off_charge_waived extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [
      'alter table one_off_charge add column waived_at timestamptz null',
      'alter table one_off_charge add column waived_reason varchar(300) null',
      'alter table one_off_charge add column waived_credit_note_id varchar(40) null',
    ];
  }
}
