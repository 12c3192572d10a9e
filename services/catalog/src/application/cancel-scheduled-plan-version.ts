import { badInput, notFound, type Caller } from '@ledgerline/contracts';
import { enqueueEvent, type Em } from '@ledgerline/platform';
import { PlanVersion } from '../persistence/entities';
import { assertCancellable } from '../domain/plan-lifecycle';
import { recordAudit } from './plan-audit';
import { lockPlan } from './plan-locks';

export interface CancelScheduledPlanVersionCommand {
  versionId: string;
  reason: string;
  actor: Caller;
  now: Date;
}

const MAX_REASON = 500;

/**
 * Withdraws a published version whose date has not come (the pair of publish's CONFLICT
 * PLAN_VERSION_SCHEDULED: cancel it, then publish the earlier-dated one). Under the plan's lock, so
 * a publish at the same moment sees it either scheduled or cancelled. The row stays, CANCELLED with
 * its number (never reused), for the audit trail (VERSION_CANCELLED: who, when, the reason) and the
 * event `planVersionCancelled`; it no longer counts for `versionInForce`, the scheduled check, or
 * import's "latest published". A plan left with no published version (its only one was scheduled)
 * is a plan never published again: DRAFT, out of the listings but the editors'. Idempotent: a
 * version already CANCELLED is answered as it is. A version in force is refused (PLAN_VERSION_IN_FORCE).
 */
export async function cancelScheduledPlanVersion(em: Em, c: CancelScheduledPlanVersionCommand) {
  const reason = c.reason.trim();
  if (!reason) throw badInput('input.reason', 'Say why the version is withdrawn (it is kept in the audit trail and the event)', 'PLAN_CANCEL_REASON_REQUIRED');
  if (reason.length > MAX_REASON) throw badInput('input.reason', `The reason is at most ${MAX_REASON} characters (got ${reason.length})`, 'PLAN_CANCEL_REASON_TOO_LONG');
  const found = await em.findOne(PlanVersion, { id: c.versionId });
  if (!found) throw notFound('PlanVersion', c.versionId, 'input.versionId');
  const plan = (await lockPlan(em, { id: found.planId }))!;
  // Read again under the lock: a cancel or publish that held it before us may have changed it.
  const version = (await em.findOne(PlanVersion, { id: c.versionId }, { refresh: true }))!;
  if (version.status === 'CANCELLED') return { plan, version };
  assertCancellable(version, c.now);

  version.status = 'CANCELLED';
  version.updatedAt = c.now;
  const remaining = await em.count(PlanVersion, { planId: plan.id, status: 'PUBLISHED', id: { $ne: version.id } });
  if (remaining === 0 && plan.status === 'PUBLISHED') plan.status = 'DRAFT';
  const effectiveFrom = version.effectiveFrom!.toISOString();
  recordAudit(em, {
    planId: plan.id,
    planVersionId: version.id,
    action: 'VERSION_CANCELLED',
    actor: c.actor,
    at: c.now,
    before: { status: 'PUBLISHED', version: version.version, effectiveFrom },
    after: { status: 'CANCELLED', version: version.version, effectiveFrom, reason },
  });
  enqueueEvent(em, 'planVersionCancelled', {
    source: 'ledgerline/catalog',
    subject: plan.id,
    key: [plan.id, String(version.version), 'CANCELLED'],
    time: c.now,
    data: { planId: plan.id, code: plan.code, version: version.version, planVersionId: version.id, effectiveFrom, reason, cancelledAt: c.now.toISOString() },
  });
  await em.flush();
  return { plan, version };
}
