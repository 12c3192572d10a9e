import { badInput, conflict, notFound, type Caller } from '@ledgerline/contracts';
import { enqueueEvent, type Em } from '@ledgerline/platform';
import { Plan, PlanVersion } from '../persistence/entities';
import { assertEditable, scheduledAtOrAfter } from '../domain/plan-lifecycle';
import { assertNextVersionFits } from './create-plan-draft';
import { invalidPlanError, planHeader, validateDocument } from './plan-documents';
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
 * first and then answers the version it published. A retry naming another `effectiveFrom` than the one the
 * version took is another request: CONFLICT PLAN_DRAFT_ALREADY_PUBLISHED. Existing subscriptions keep the version they pinned.
 */
export async function publishPlan(em: Em, c: PublishPlanCommand) {
  const found = await em.findOne(PlanVersion, { id: c.draftId });
  if (!found) throw notFound('PlanVersion', c.draftId, 'input.draftId');
  const plan = (await lockPlan(em, { id: found.planId }))!;
  // Read again under the lock: a publish that held it before us has changed the draft.
  const draft = (await em.findOne(PlanVersion, { id: c.draftId }, { refresh: true }))!;
  if (draft.status === 'PUBLISHED') {
    // The same publish again (no date, or the date it took) is answered; another date is another request (rule 5).
    if (c.effectiveFrom && draft.effectiveFrom && c.effectiveFrom.getTime() !== draft.effectiveFrom.getTime()) {
      const effectiveFrom = draft.effectiveFrom.toISOString();
      throw conflict('PLAN_DRAFT_ALREADY_PUBLISHED', `Draft ${draft.id} was published as version ${draft.version}, effective ${effectiveFrom}; it is not published again for ${c.effectiveFrom.toISOString()}. To move its date, cancel that version (while it is scheduled) and publish a new draft`, {
        field: 'input.effectiveFrom',
        version: draft.version,
        versionId: draft.id,
        effectiveFrom,
      });
    }
    return { plan, version: draft };
  }
  // A version withdrawn since (CANCELLED) is not a draft: published again, a retried publish would undo its withdrawal under a new number.
  assertEditable(draft, draft.id);
  return publishVersion(em, plan, { document: draft.document, row: () => draft }, c);
}

/**
 * Makes a draft (`source.row()`, taken once every check has passed: a row created there is not
 * flushed before it is published) the plan's next published version; the caller holds the plan's
 * lock. The timeline stays in order: version numbers and effective dates rise together, so the
 * version in force at any moment is the highest-numbered one whose date has come, and nothing
 * published is ever skipped or rewritten:
 * - `effectiveFrom` (default `now`) may not be before `now` (BAD_USER_INPUT PLAN_EFFECTIVE_IN_PAST):
 *   a past date would rewrite what the catalog says was in force, and sold, in that time;
 * - nor at or before the date of a version still scheduled (CONFLICT PLAN_VERSION_SCHEDULED, naming
 *   it): that version would never take effect. Publish after its date instead.
 */
export async function publishVersion(em: Em, plan: Plan, source: { document: string; row: () => PlanVersion }, c: { effectiveFrom?: Date | null; actor: Caller; now: Date }) {
  const document = JSON.parse(source.document) as { name: string };
  // Every way to publish passes here: a draft updated into another payment mode (or one stored before updatePlanDraft checked it) is refused as createPlanDraft and importPlan refuse it.
  assertNextVersionFits(plan, planHeader(document));
  const effectiveFrom = c.effectiveFrom ?? c.now;
  if (effectiveFrom.getTime() < c.now.getTime()) {
    throw badInput('input.effectiveFrom', `A version cannot take effect in the past (${effectiveFrom.toISOString()} is before now, ${c.now.toISOString()}): that would change what the catalog says was in force and sold then; give now or a later date`, 'PLAN_EFFECTIVE_IN_PAST');
  }
  const published = await em.find(PlanVersion, { planId: plan.id, status: 'PUBLISHED' }, { orderBy: { version: 'desc' } });
  const scheduled = scheduledAtOrAfter(published, effectiveFrom, c.now);
  if (scheduled) {
    throw conflict(
      'PLAN_VERSION_SCHEDULED',
      `Plan ${plan.code} has version ${scheduled.version} scheduled to take effect at ${scheduled.effectiveFrom!.toISOString()}; a version effective at ${effectiveFrom.toISOString()} would replace it before it ever takes effect. Publish with effectiveFrom after ${scheduled.effectiveFrom!.toISOString()}`,
      { field: 'input.effectiveFrom', scheduledVersion: scheduled.version, scheduledVersionId: scheduled.id, scheduledEffectiveFrom: scheduled.effectiveFrom!.toISOString() },
    );
  }
  // The offers read once the allowances the rules consume are locked: an importOffer changing who grants one is waited for (see lockAllowances).
  const report = await validateDocument(em, document, { publishing: true });
  if (!report.valid) throw invalidPlanError(plan.code, report);

  const previous = published[0] ?? null;
  const row = source.row();
  plan.latestVersion += 1;
  plan.status = 'PUBLISHED';
  plan.name = document.name;
  row.version = plan.latestVersion;
  row.status = 'PUBLISHED';
  row.effectiveFrom = effectiveFrom;
  row.publishedAt = c.now;
  row.updatedAt = c.now;
  recordAudit(em, { planId: plan.id, planVersionId: row.id, action: 'PUBLISHED', actor: c.actor, at: c.now, before: previous ? JSON.parse(previous.document) : {}, after: document });
  enqueueEvent(em, 'planPublished', {
    source: 'ledgerline/catalog',
    subject: plan.id,
    key: [plan.id, String(row.version)],
    time: c.now,
    data: { planId: plan.id, code: plan.code, version: row.version, planVersionId: row.id, paymentMode: plan.paymentMode, currency: plan.currency, effectiveFrom: effectiveFrom.toISOString() },
  });
  await em.flush();
  return { plan, version: row };
}
