import { schemaSql, PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * An order's idempotency key is scoped to its billing account: unique (billing_account_id,
 * idempotency_key) instead of unique idempotency_key. Callers choose keys (a simple frontend sends
 * `change-plan-1`); as one global space, a key one customer had used refused another customer's
 * order (CONFLICT IDEMPOTENCY_KEY_REUSED) and told them it existed. Use cases look a key up by
 * (account, key) (application/place-order.ts). Existing rows are unique globally, so unique per
 * account too: nothing to resolve. Same statements on PostgreSQL (a constraint) and SQLite (an index)
 * through knex; the new name still says `idempotency`, which the resolver maps to the coded CONFLICT.
 */
export class Migration20261221000000_order_idempotency_key_per_account extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return schemaSql(
      knex.schema.alterTable('product_order', (t) => {
        t.dropUnique(['idempotency_key']);
        t.unique(['billing_account_id', 'idempotency_key']);
      }),
    );
  }
}
