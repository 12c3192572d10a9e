import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * `upsell_offer.period` is usage's allowance period name, which is its first day ("2026-11-20") or,
 * for a period cut short on the day it began, its start instant ("2026-11-20T08:00:00.000Z", 24
 * characters): 16 refused the latter, and such an offer was never presented. PostgreSQL only:
 * SQLite does not hold a string to its declared length.
 */
export class Migration20261223100000_upsell_offer_period_instant extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return (knex.client as { dialect?: string }).dialect === 'postgresql' ? ['alter table "upsell_offer" alter column "period" type varchar(40)'] : [];
  }
}
