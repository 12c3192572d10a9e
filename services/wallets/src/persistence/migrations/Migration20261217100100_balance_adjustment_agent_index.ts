import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * The daily approval limit (LEDGERLINE_APPROVAL_DAILY_LIMITS) sums what one AGENT adjusted alone in
 * the last 24 h from balance_adjustment (agent, agent_role, created_at) on every adjustment an agent
 * makes, less the adjustments a supervisor approved (balance_adjustment_request.adjustment_id: made
 * as the requester, but not alone); without these indexes that sum reads both tables.
 */
export class Migration20261217100100_balance_adjustment_agent_index extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [
      `create index balance_adjustment_agent_recent on balance_adjustment (agent, created_at) where agent_role = 'AGENT'`,
      'create index balance_adjustment_request_adjustment on balance_adjustment_request (adjustment_id) where adjustment_id is not null',
    ];
  }
}
