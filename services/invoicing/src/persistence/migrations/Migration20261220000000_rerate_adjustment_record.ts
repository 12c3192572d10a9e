import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * A rerate ADJUSTMENT names the usage record it corrects (ChargeResult.usageRecordId, review 19), so
 * what it gives back of the record is weighed against the record's disputes:
 * - `usage_record_id`: that record (null for every other charge, and for adjustments sent before it);
 * - `given_back_before`: the part of the adjustment not billed because the record's accepted disputes'
 *   credit notes gave it back already (> 0 for a credit absorbed by them, < 0 for a dearer correction
 *   that takes back what an earlier one left to them); the invoice bills amount + given_back_before.
 *   Set when the charge is billed (again after a void);
 * - `dispute_taken`: how much of the record's open disputes the billed correction has closed or
 *   reduced (the dispute's currency, tax included), so billing it again after a void takes no more.
 */
export class Migration20261220000000_rerate_adjustment_record extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [
      'alter table unbilled_charge add column usage_record_id varchar(80) null',
      'alter table unbilled_charge add column given_back_before numeric(24,8) not null default 0',
      'alter table unbilled_charge add column dispute_taken numeric(18,4) not null default 0',
      'create index unbilled_charge_usage_record on unbilled_charge (usage_record_id) where usage_record_id is not null',
    ];
  }
}
