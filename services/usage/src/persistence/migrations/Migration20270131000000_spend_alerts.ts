import { PortableMigration, schemaSql, type Knex } from '@ledgerline/platform';

/**
 * Customer-chosen spend alerts ("tell me when this month's usage charges reach 50 EUR", setSpendAlert).
 * - `account_owner` learns the account's terms from subscribers' billingaccount.created (consumer `owners`):
 *   `currency` (an alert is in it), `bill_cycle_day` and `timezone` (the bill period an alert counts in). Null for
 *   accounts announced before this migration: their alerts count in calendar months (UTC) and their currency is the
 *   one their subscriptions are in (see application/spend-alerts.ts).
 * - `spend_alert`: one per account (line_id '': the whole account) and per line of it; the amount in the account's
 *   currency, who set it and when. Cleared alerts are deleted.
 * - `spend_alert_request`: the idempotency keys of setSpendAlert / clearSpendAlert per account (same key + same input:
 *   the same answer; other input: CONFLICT), with the request's fingerprint and the answer given (JSON).
 */
export class Migration20270131000000_spend_alerts extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return [
      ...schemaSql(
        knex.schema.alterTable('account_owner', (t) => {
          t.string('currency', 3);
          t.integer('bill_cycle_day');
          t.string('timezone', 64);
        }),
      ),
      ...schemaSql(
        knex.schema.createTable('spend_alert', (t) => {
          t.string('id', 40).primary();
          t.string('billing_account_id', 40).notNullable();
          t.string('line_id', 40).notNullable().defaultTo('');
          t.decimal('amount', 20, 6).notNullable();
          t.string('currency', 3).notNullable();
          t.string('set_by', 200).notNullable();
          t.timestamp('set_at', { useTz: true }).notNullable();
          t.unique(['billing_account_id', 'line_id']);
        }),
      ),
      ...schemaSql(
        knex.schema.createTable('spend_alert_request', (t) => {
          t.string('billing_account_id', 40).notNullable();
          t.string('idempotency_key', 200).notNullable();
          t.string('fingerprint', 64).notNullable();
          t.text('result').notNullable();
          t.timestamp('created_at', { useTz: true }).notNullable();
          t.primary(['billing_account_id', 'idempotency_key']);
        }),
      ),
    ];
  }
}
