import { schemaSql, PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * Partners see only their own customers' events (partners are MVNOs: subscribers assigns a billing account to one).
 * - `account_partner`: each assignment of a billing account to a partner (null: the operator's own) the hub has read
 *   from billingaccount.created / .changed, by (account, partnerVersion), with the event's time it holds from. An
 *   event about an account goes to the partner the account had at the event's time (highest version since then).
 * - `partner_event_scope`: staff's grant per partner (PUT …/partnerEventScope/{partnerId}, ADMIN): OWN_CUSTOMERS or
 *   ALL (trusted integrations: the operator's CRM, data warehouse). A partner with no row is OWN_CUSTOMERS.
 * - `partner_event_scope_change`: the audit trail, one row per change (from what to what, who, as what role, when).
 * - `held_event`: an event about an account the hub has not placed yet (its billingaccount.created not read), kept for
 *   the partner hubs it may belong to until the account is placed (then delivered or dropped) or until
 *   EVENTS_HUB_UNPLACED_HOLD_HOURS passed (dropped). One row per (event, generation, hub of a replay or '' live).
 */
export class Migration20270131000000_partner_event_visibility extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return schemaSql(
      knex.schema
        .createTable('account_partner', (t) => {
          t.string('billing_account_id', 100).notNullable();
          t.integer('partner_version').notNullable();
          t.string('partner_id', 100).nullable();
          t.timestamp('since', { useTz: true }).notNullable();
          t.timestamp('recorded_at', { useTz: true }).notNullable();
          t.primary(['billing_account_id', 'partner_version']);
        })
        .createTable('partner_event_scope', (t) => {
          t.string('partner_id', 100).primary();
          t.string('scope', 16).notNullable();
          t.string('granted_by', 200).notNullable();
          t.timestamp('granted_at', { useTz: true }).notNullable();
        })
        .createTable('partner_event_scope_change', (t) => {
          t.increments('id');
          t.string('partner_id', 100).notNullable();
          t.string('scope', 16).notNullable();
          t.string('previous_scope', 16).nullable();
          t.string('changed_by', 200).notNullable();
          t.string('changed_by_role', 16).notNullable();
          t.timestamp('changed_at', { useTz: true }).notNullable();
          t.index(['partner_id']);
        })
        .createTable('held_event', (t) => {
          t.bigIncrements('id').primary();
          t.string('event_id', 200).notNullable();
          t.integer('generation').notNullable();
          // The hub a replay was for; '' for the live consumer (every hub it may belong to).
          t.string('only_hub', 40).notNullable().defaultTo('');
          t.string('subject', 200).notNullable();
          t.string('event_type', 120).notNullable();
          t.text('payload').notNullable();
          t.string('billing_account_id', 100).notNullable();
          t.timestamp('event_time', { useTz: true }).notNullable();
          t.timestamp('held_at', { useTz: true }).notNullable();
          t.unique(['event_id', 'generation', 'only_hub']);
          t.index(['billing_account_id']);
          t.index(['held_at']);
        }),
    );
  }
}
