import { schemaSql, PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * Collections holds: one row per holder (a dunning workflow) and line, so a line barred for
 * collections stays barred while any unpaid invoice's dunning still holds it (see
 * application/collections-holds.ts). Same SQL on PostgreSQL and SQLite.
 *
 * Bars placed before this migration (the dunning worker barred each ACTIVE line with
 * `barLine`, key `dunning-<invoiceId>:suspend:<lineId>`) become holds of that dunning, so a dunning
 * running at deploy time lifts them as before and an overlapping one can keep them: every such bar
 * that is still open, or that is the line's current bar (the line BARRED, no later bar, no
 * resumption ordered since).
 */
export class Migration20261128000000_collections_holds extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    const key = 'o.idempotency_key';
    return [
      ...schemaSql(
        knex.schema.createTable('collections_hold', (t) => {
          t.string('id', 40).primary();
          t.string('line_id', 40).notNullable().references('id').inTable('line');
          t.string('billing_account_id', 40).notNullable();
          t.string('holder', 160).notNullable();
          t.string('reason', 300).nullable();
          t.string('placed_key', 160).notNullable();
          t.string('bar_order_id', 40).nullable();
          t.timestamp('placed_at', { useTz: true }).notNullable();
          t.string('lifted_key', 160).nullable();
          t.timestamp('lifted_at', { useTz: true }).nullable();
          t.index(['billing_account_id', 'holder']);
          t.index(['line_id']);
          t.index(['bar_order_id']);
        }),
      ),
      `create unique index collections_hold_line_holder_unique on collections_hold (line_id, holder) where lifted_at is null`,
      `insert into collections_hold (id, line_id, billing_account_id, holder, reason, placed_key, bar_order_id, placed_at, lifted_key, lifted_at)
       select 'hld_' || substr(o.id, 5), o.line_id, o.billing_account_id,
              substr(${key}, 1, length(${key}) - length(o.line_id) - 9),
              'dunning (bar placed before collections holds)',
              substr(${key}, 1, length(${key}) - length(o.line_id) - 1),
              o.id, o.created_at, null, null
       from product_order o join line l on l.id = o.line_id
       where o.kind = 'BAR' and ${key} like 'dunning-%'
         and substr(${key}, length(${key}) - length(o.line_id) - 8) = ':suspend:' || o.line_id
         and (o.status in ('ACKNOWLEDGED', 'IN_PROGRESS')
              or (o.status = 'COMPLETED' and l.status = 'BARRED'
                  and not exists (select 1 from product_order b where b.line_id = o.line_id and b.kind = 'BAR' and b.status = 'COMPLETED' and b.created_at > o.created_at)
                  and not exists (select 1 from product_order r where r.line_id = o.line_id and r.kind = 'RESUME' and r.status <> 'FAILED' and r.created_at > o.created_at)))`,
    ];
  }
}
