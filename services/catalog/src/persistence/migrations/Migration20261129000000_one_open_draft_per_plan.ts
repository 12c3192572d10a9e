import { newId } from '@ledgerline/contracts';
import { PortableMigration } from '@ledgerline/platform';

/**
 * One open draft per plan: createPlanDraft checks it under the plan's lock, and this partial
 * unique index backs the check (rule 5), so a draft that slips past it anyway is refused with
 * CONFLICT PLAN_DRAFT_ALREADY_OPEN instead of two drafts racing to the same version number.
 * Same SQL on PostgreSQL and SQLite.
 *
 * A database written before the check held under concurrency may already hold several open drafts
 * of a plan, on which the index cannot be created; they are resolved first (on a database without
 * them this changes nothing): per plan the oldest open draft (created_at, then id) stays, the others
 * are removed, each with a DRAFT_DISCARDED audit entry whose diff replaces the whole document by
 * the discarded one, so its content stays on record and can be opened again as a draft. Plain SQL
 * rather than the entities, which will change after this migration.
 */
export class Migration20261129000000_one_open_draft_per_plan extends PortableMigration {
  override async up(): Promise<void> {
    await this.resolveDuplicates();
    super.up();
  }

  protected override statements(): string[] {
    return [`create unique index plan_version_open_draft_unique on plan_version (plan_id) where status = 'DRAFT'`];
  }

  private async resolveDuplicates(): Promise<void> {
    // A migration has no clock but the wall's.
    const now = new Date();
    const older = `select 1 from plan_version k where k.plan_id = d.plan_id and k.status = 'DRAFT' and (k.created_at < d.created_at or (k.created_at = d.created_at and k.id < d.id))`;
    const extra = (await this.execute(`select d.id, d.plan_id, d.document from plan_version d where d.status = 'DRAFT' and exists (${older}) order by d.plan_id, d.created_at, d.id`)) as {
      id: string;
      plan_id: string;
      document: string;
    }[];
    for (const d of extra) {
      const diff = JSON.stringify([{ op: 'replace', path: '', value: JSON.parse(d.document) }]);
      await this.execute(`insert into plan_audit (id, plan_id, plan_version_id, action, actor, actor_role, at, diff) values (?, ?, ?, 'DRAFT_DISCARDED', 'one-open-draft-per-plan migration', 'SYSTEM', ?, ?)`, [
        newId('event'),
        d.plan_id,
        d.id,
        now,
        diff,
      ]);
      await this.execute(`delete from plan_version where id = ?`, [d.id]);
    }
  }
}
