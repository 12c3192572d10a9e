import { schemaSql, PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * `saga_charge_at`: the instant the in-process saga dates an ADD_ON's settlement in wallets (its
 * charge's `occurredAt`, its buckets' start), fixed in its own commit before the charge is first
 * sent (application/order-saga.ts). Wallets keys the charge by its id and refuses the id again with
 * other data, so every retry of the completion and the compensation's settlement send the same
 * charge; and wallets may take the money although the completion's transaction then rolls back
 * (wallets unreachable after the charge, the process dying): a FAILED order with it settles the
 * charge and refunds it once. Same SQL on PostgreSQL and SQLite; existing rows stay null (an order
 * failed before this migration is not refunded).
 */
export class Migration20261217000000_order_saga_charge_at extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return schemaSql(
      knex.schema.alterTable('product_order', (t) => {
        t.timestamp('saga_charge_at', { useTz: true }).nullable();
      }),
    );
  }
}
