import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * What a reservation was for (usage type, tariff zone), so a commit that charges it can publish a
 * ChargeResult like any charge: invoicing bills a POSTPAID account's online-charged usage from it.
 * Reservations made before this have neither (their ChargeResults say usage type UNKNOWN).
 */
export class Migration20261130100000_reservation_usage extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [
      `alter table reservation add column usage_type varchar(16) null`,
      `alter table reservation add column zone varchar(40) null`,
    ];
  }
}
