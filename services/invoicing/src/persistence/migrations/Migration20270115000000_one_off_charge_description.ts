import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * A one-off charge's description holds what subscribers sends (ONE_OFF_DESCRIPTION_MAX in
 * contracts, 300 characters; the invoice line it becomes already held 300): at 200 the subscribers
 * consumer dropped a longer one's event, and its charge was never billed. Widening a varchar is a
 * catalogue change in PostgreSQL (no table rewrite). Written out, not the constant: a migration
 * stays what it was when it ran.
 */
export class Migration20270115000000_one_off_charge_description extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return ['alter table one_off_charge alter column description type varchar(300)'];
  }
}
