/**
 * Rejections that say "not yet" rather than "wrong": the usage came before subscribers' events
 * that provision its line (an unknown line or MSISDN, no subscription at the event's time, a line
 * still PENDING). Such records are rated again by themselves when those events arrive.
 * (A migration names these codes in an index predicate: changing them needs a new migration.)
 */
export const WAITING_CODES = ['LINE_UNKNOWN', 'SUBSCRIPTION_NOT_FOUND', 'LINE_PENDING'] as const;
