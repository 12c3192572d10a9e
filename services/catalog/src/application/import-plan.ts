import type { Caller } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { PlanVersion } from '../persistence/entities';
import { contentHash } from '../domain/plan-lifecycle';
import { planHeader } from './plan-documents';
import { lockOrCreatePlan } from './plan-locks';
import { createPlanDraft } from './create-plan-draft';
import { updatePlanDraft } from './update-plan-draft';
import { publishPlan } from './publish-plan';

/**
 * Catalog as code: draft + publish a document from catalog/plans. Publishing a document that is
 * already the plan's latest published version (the one in force, or the one scheduled to take
 * over: `versionInForce` takes the highest number whose date has come) changes nothing, so
 * `ledgerline catalog publish` can run on every merge. Only that version counts: a document an
 * OLDER version had (a change reverted in git, A → B → A, or a B published from Plan Studio over
 * the repository's A) is published again as a new version, so the repository's document is what
 * is in force (it used to answer "unchanged" when any version had the hash, and B stayed in force).
 * The plan is locked (or created) first, so two imports of the same document at once publish it
 * once: the second waits, then finds it as the latest version (`created: false`).
 */
export async function importPlan(em: Em, c: { document: unknown; effectiveFrom?: Date | null; actor: Caller; now: Date }) {
  const header = planHeader(c.document);
  const hash = contentHash(c.document);
  const { plan } = await lockOrCreatePlan(em, header, c.now);
  const latest = await em.findOne(PlanVersion, { planId: plan.id, status: 'PUBLISHED' }, { orderBy: { version: 'desc' } });
  if (latest?.contentHash === hash) return { plan, version: latest, created: false };
  const openDraft = await em.findOne(PlanVersion, { planId: plan.id, status: 'DRAFT' });
  const { draft } = openDraft
    ? await updatePlanDraft(em, { draftId: openDraft.id, document: c.document, actor: c.actor, now: c.now })
    : await createPlanDraft(em, { document: c.document, actor: c.actor, now: c.now });
  const published = await publishPlan(em, { draftId: draft.id, effectiveFrom: c.effectiveFrom, actor: c.actor, now: c.now });
  return { ...published, created: true };
}
