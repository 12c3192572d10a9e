import { badInput, notFound, type Caller } from '@ledgerline/contracts';
import { enqueueEvent, type Em } from '@ledgerline/platform';
import { PlanVersion } from '../persistence/entities';
import { assertNotRetired } from '../domain/plan-lifecycle';
import { invalidPlanError, validateDocument } from './plan-documents';
import { recordAudit } from './plan-audit';
import { lockPlan } from './plan-locks';

export interface PublishPlanCommand {
  draftId: string;
  effectiveFrom?: Date | null;
  actor: Caller;
  now: Date;
}

/**
 * Publishes a draft as the plan's next version. Publishing the same draft again returns the
 * version it became (idempotent), also when the calls overlap: the draft's status and the plan's
 * latest version are read under the plan's lock (plan-locks.ts), so a second publish waits for the
 * first and then answers the version it published. Existing subscriptions keep the version they pinned.
 */
export async function publishPlan(em: Em, c: PublishPlanCommand) {
  const found = await em.findOne(PlanVersion, { id: c.draftId });
  if (!found) throw notFound('PlanVersion', c.draftId, 'input.draftId');
  const plan = (await lockPlan(em, { id: found.planId }))!;
  // Read again under the lock: a publish that held it before us has changed the draft.
  const draft = (await em.findOne(PlanVersion, { id: c.draftId }, { refresh: true }))!;
  if (draft.status === 'PUBLISHED') return { plan, version: draft };
  assertNotRetired(plan.status, plan.code);
  const effectiveFrom = c.effectiveFrom ?? c.now;
  if (effectiveFrom.getTime() < c.now.getTime() - 60_000) {
    throw badInput('input.effectiveFrom', 'A version cannot take effect in the past: that would change what subscribers already paid', 'PLAN_EFFECTIVE_IN_PAST');
  }
  const document = JSON.parse(draft.document) as { name: string };
  const report = await validateDocument(em, document);
  if (!report.valid) throw invalidPlanError(plan.code, report);

  const previous = await em.findOne(PlanVersion, { planId: plan.id, status: 'PUBLISHED' }, { orderBy: { version: 'desc' } });
  plan.latestVersion += 1;
  plan.status = 'PUBLISHED';
  plan.name = document.name;
  draft.version = plan.latestVersion;
  draft.status = 'PUBLISHED';
  draft.effectiveFrom = effectiveFrom;
  draft.publishedAt = c.now;
  draft.updatedAt = c.now;
  recordAudit(em, { planId: plan.id, planVersionId: draft.id, action: 'PUBLISHED', actor: c.actor, at: c.now, before: previous ? JSON.parse(previous.document) : {}, after: document });
  enqueueEvent(em, 'planPublished', {
    source: 'ledgerline/catalog',
    subject: plan.id,
    key: [plan.id, String(draft.version)],
    time: c.now,
    data: { planId: plan.id, code: plan.code, version: draft.version, planVersionId: draft.id, paymentMode: plan.paymentMode, currency: plan.currency, effectiveFrom: effectiveFrom.toISOString() },
  });
  await em.flush();
  return { plan, version: draft };
}
