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
 * already the plan's published content changes nothing, so `ledgerline catalog publish` can run
 * on every merge. The plan is locked (or created) first, so two imports of the same document at
 * once publish it once: the second waits, then finds it published (`created: false`).
 */
export async function importPlan(em: Em, c: { document: unknown; effectiveFrom?: Date | null; actor: Caller; now: Date }) {
  const header = planHeader(c.document);
  const hash = contentHash(c.document);
  const { plan } = await lockOrCreatePlan(em, header, c.now);
  const same = await em.findOne(PlanVersion, { planId: plan.id, contentHash: hash, status: 'PUBLISHED' });
  if (same) return { plan, version: same, created: false };
  const openDraft = await em.findOne(PlanVersion, { planId: plan.id, status: 'DRAFT' });
  const { draft } = openDraft
    ? await updatePlanDraft(em, { draftId: openDraft.id, document: c.document, actor: c.actor, now: c.now })
    : await createPlanDraft(em, { document: c.document, actor: c.actor, now: c.now });
  const published = await publishPlan(em, { draftId: draft.id, effectiveFrom: c.effectiveFrom, actor: c.actor, now: c.now });
  return { ...published, created: true };
}
