import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * A call billing a bill run's batch stops once its time budget is spent (bill-run.ts, `billRunBatchBudgetMs`):
 * what it decided commits and the batch stays PENDING. `resume_after` is the last account (in id order) of the
 * batch that call decided; the next call bills the accounts after it (and leaves those set aside meanwhile).
 * Null: the batch's next call bills all of its accounts, as before.
 */
export class Migration20270205000000_bill_run_batch_resume_after extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return ['alter table bill_run_batch add column resume_after text null'];
  }
}
