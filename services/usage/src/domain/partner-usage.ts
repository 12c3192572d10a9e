import type { Rejection } from './usage-input';

/**
 * A partner's usage entitlement (`partner_usage_entitlement`, set by staff): which lines the records it sends with
 * `recordUsage` may be rated and charged to. OWN_CUSTOMERS (the default, a partner with no row): lines whose
 * subscription at the record's time bills an account assigned to the partner (`account_owner.partner_id`, as for
 * online charging: partner-lines.ts). ANY_LINE: any line, for feeds whose records name any home customer (a roaming
 * partner's TAP/CDR feed, a mediation system).
 */
export const USAGE_ENTITLEMENT_KINDS = ['OWN_CUSTOMERS', 'ANY_LINE'] as const;
export type UsageEntitlementKind = (typeof USAGE_ENTITLEMENT_KINDS)[number];
export const DEFAULT_USAGE_ENTITLEMENT: UsageEntitlementKind = 'OWN_CUSTOMERS';

/**
 * A record an OWN_CUSTOMERS partner sent for a line that is not its customer's: stored REJECTED with this code (staff see
 * it), not rated by a later line event (not a WAITING_CODE), only once the line's account is learnt to be the sender's
 * (consumer `owners`: reprocessPartnersRecords) or by staff's reprocess, and told to the partner as an unknown line
 * (toSender).
 */
export const LINE_NOT_PARTNERS = 'LINE_NOT_PARTNERS';

/** The rejection of a record whose line usage does not know: the same text wherever it is given (rating, and toSender). */
export function unknownLine(u: { lineId?: string | null; msisdn?: string | null }): Rejection {
  return { code: 'LINE_UNKNOWN', reason: `no line ${u.lineId ? `with id ${u.lineId}` : `with MSISDN ${u.msisdn}`} is known to usage` };
}

/**
 * The rejections an OWN_CUSTOMERS partner is told as an unknown line (toSender), because they would say that the line
 * it named exists: LINE_NOT_PARTNERS, and SUBSCRIPTION_NOT_FOUND, which such a partner's records get only for a line
 * with no subscription at the record's time (no account, so not established as the partner's: see
 * UsagePipeline.partnerRejections). A partner's own customers' other rejections (LINE_PENDING, LINE_TERMINATED,
 * SUBSCRIBER_MISMATCH, a denied event…) are told as they are.
 */
export const TOLD_AS_UNKNOWN_LINE: ReadonlySet<string> = new Set([LINE_NOT_PARTNERS, 'SUBSCRIPTION_NOT_FOUND']);
