import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * How many workflow runs a dispute has had, and when the due-date pass last asked whether the newest
 * still runs. A run that ended with the dispute still open (failed, terminated, timed out, canceled)
 * is followed by the next, `dispute-<id>-<n>` (see ports/disputes.ts); pokes signal the newest.
 * Disputes whose workflow was started before have had one. The index serves the pass's bounded
 * look at open disputes with a started workflow, least recently checked first.
 */
export class Migration20261207000000_dispute_workflow_runs extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [
      'alter table dispute add column workflow_runs integer not null default 0',
      'alter table dispute add column workflow_checked_at timestamptz null',
      'update dispute set workflow_runs = 1 where workflow_started_at is not null',
      `create index dispute_workflow_watch on dispute ((coalesce(workflow_checked_at, workflow_started_at))) where workflow_started_at is not null and status in ('OPEN', 'IN_REVIEW')`,
    ];
  }
}
