import { newId, type Caller } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { diffPlans } from '@ledgerline/rating';
import { OfferAudit } from '../persistence/entities';

/** Every change to an offer is audited as plans are: who, when, what (an RFC 6902 patch). */
export function recordOfferAudit(em: Em, entry: { offerCode: string; action: 'CREATED' | 'UPDATED' | 'RETIRED'; actor: Caller; at: Date; before: object; after: object }): void {
  em.create(OfferAudit, {
    id: newId('event'),
    offerCode: entry.offerCode,
    action: entry.action,
    actor: entry.actor.subject,
    actorRole: entry.actor.role,
    at: entry.at,
    diff: JSON.stringify(diffPlans(entry.before, entry.after)),
  });
}
