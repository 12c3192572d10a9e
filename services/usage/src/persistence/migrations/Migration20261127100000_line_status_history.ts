import { PortableMigration, schemaSql, type Knex } from '@ledgerline/platform';

/**
 * Every status a line has had and since when, so a late event is judged by the line's status at
 * its own time (usage from before a suspension or a termination is still rated). Lines known
 * before this start with their current status.
 */
export class Migration20261127100000_line_status_history extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return [
      ...schemaSql(
        knex.schema.createTable('line_status_history', (t) => {
          t.string('line_id', 40).notNullable();
          t.timestamp('changed_at', { useTz: true }).notNullable();
          t.string('status', 16).notNullable();
          t.primary(['line_id', 'changed_at']);
        }),
      ),
      'insert into line_status_history (line_id, changed_at, status) select line_id, changed_at, status from line_state',
    ];
  }
}
