import { conflict, notFound, type Caller } from '@ledgerline/contracts';
import { enqueueEvent, type Em } from '@ledgerline/platform';
import { recordAudit } from './plan-audit';
import { lockPlan } from './plan-locks';

/** Stops selling a plan. Idempotent; pinned subscriptions are untouched. */
export async function retirePlan(em: Em, c: { code: string; actor: Caller; now: Date }) {
  const plan = await lockPlan(em, { code: c.code });
  if (!plan) throw notFound('Plan', c.code, 'input.code');
  if (plan.status === 'RETIRED') return { plan };
  if (plan.status !== 'PUBLISHED') throw conflict('PLAN_NOT_PUBLISHED', `Plan ${plan.code} was never published; discard its draft instead`, { field: 'input.code' });
  plan.status = 'RETIRED';
  plan.retiredAt = c.now;
  recordAudit(em, { planId: plan.id, action: 'RETIRED', actor: c.actor, at: c.now, before: { status: 'PUBLISHED' }, after: { status: 'RETIRED' } });
  enqueueEvent(em, 'planRetired', { source: 'ledgerline/catalog', subject: plan.id, key: [plan.id, 'RETIRED'], time: c.now, data: { planId: plan.id, code: plan.code, retiredAt: c.now.toISOString() } });
  await em.flush();
  return { plan };
}
