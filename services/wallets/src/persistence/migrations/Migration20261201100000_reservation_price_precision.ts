import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * A reservation keeps its price per unit with 10 decimal places: a tiered or bundled price is an
 * average (price / units) that rarely ends after 6 places, and usage sends it with 10. With 6 the
 * price was refused (RATING_FAILED) and the session got no units. Amounts stay at 6 places.
 */
export class Migration20261201100000_reservation_price_precision extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [`alter table reservation alter column price_per_unit type numeric(30,10)`];
  }
}
