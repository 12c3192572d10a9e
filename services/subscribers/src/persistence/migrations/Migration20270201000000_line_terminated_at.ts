import { schemaSql, PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * `line.terminated_at`: when a line was terminated (its TERMINATE order completed), the start of its
 * number's quarantine (`addLine` gives the number to another customer only after
 * SUBSCRIBERS_NUMBER_QUARANTINE_DAYS). Lines terminated before take the completion of their
 * TERMINATE order, else their last change (nothing changes a terminated line). An index finds a
 * number's past lines. Same SQL on PostgreSQL and SQLite.
 */
export class Migration20270201000000_line_terminated_at extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return [
      ...schemaSql(
        knex.schema.alterTable('line', (t) => {
          t.timestamp('terminated_at', { useTz: true }).nullable();
        }),
      ),
      `update line set terminated_at = coalesce(
         (select max(o.updated_at) from product_order o where o.line_id = line.id and o.kind = 'TERMINATE' and o.status = 'COMPLETED'),
         updated_at
       ) where status = 'TERMINATED'`,
      `create index line_msisdn_released on line (msisdn, terminated_at) where status = 'TERMINATED'`,
    ];
  }
}
