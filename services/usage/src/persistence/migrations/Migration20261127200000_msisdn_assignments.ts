import { PortableMigration, schemaSql, type Knex } from '@ledgerline/platform';

/**
 * Which line held an MSISDN since when (numbers are given again after a line ends), so a late
 * event named by its number is the line's that held it then, not the new holder's. Numbers known
 * before this are their current holder's from its last change (and before it: the first claim
 * known stands for the time before it, see holderAt).
 */
export class Migration20261127200000_msisdn_assignments extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return [
      ...schemaSql(
        knex.schema.createTable('msisdn_assignment', (t) => {
          t.string('msisdn', 32).notNullable();
          t.timestamp('assigned_at', { useTz: true }).notNullable();
          t.string('line_id', 40).notNullable();
          t.primary(['msisdn', 'assigned_at']);
        }),
      ),
      'insert into msisdn_assignment (msisdn, assigned_at, line_id) select msisdn, changed_at, line_id from line_state where msisdn is not null',
    ];
  }
}
