import { newId, type Caller } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { diffPlans } from '@ledgerline/rating';
import { PlanAudit } from '../persistence/entities';

/** Every change to a plan is audited: who, when, what (as an RFC 6902 patch). */
export function recordAudit(em: Em, entry: { planId: string; planVersionId?: string; action: string; actor: Caller; at: Date; before: object; after: object }): void {
  em.create(PlanAudit, {
    id: newId('event'),
    planId: entry.planId,
    planVersionId: entry.planVersionId ?? null,
    action: entry.action,
    actor: entry.actor.subject,
    actorRole: entry.actor.role,
    at: entry.at,
    diff: JSON.stringify(diffPlans(entry.before, entry.after)),
  });
}
