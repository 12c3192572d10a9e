import { conflict } from '@ledgerline/contracts';
import { ConfigError, type Em } from '@ledgerline/platform';
import { nextLineStatus } from '../domain/lifecycle';
import { LINE_ACTION_OF, ORDER_KINDS } from '../domain/order';
import { BillingAccount, Line, ProductOrder } from '../persistence/entities';

const DAY_MS = 86_400_000;
export const DEFAULT_NUMBER_QUARANTINE_DAYS = 90;

/** The orders whose completion takes a line live (PENDING → ACTIVE in the lifecycle table): its activation. */
export const GOES_LIVE = ORDER_KINDS.filter((kind) => {
  const action = LINE_ACTION_OF[kind];
  return action !== null && nextLineStatus('PENDING', action) === 'ACTIVE';
});

/**
 * SUBSCRIBERS_NUMBER_QUARANTINE_DAYS (default 90; 0 turns the quarantine off), checked at start-up:
 * a whole number of days. A number given to someone else at once reaches its next holder with the
 * previous customer's calls, SMS and one-time codes still arriving; operators hold it back meanwhile.
 */
export function numberQuarantineDays(value = process.env.SUBSCRIBERS_NUMBER_QUARANTINE_DAYS): number {
  if (value === undefined || value.trim() === '') return DEFAULT_NUMBER_QUARANTINE_DAYS;
  const days = Number(value);
  if (!Number.isInteger(days) || days < 0) throw new ConfigError('SUBSCRIBERS_NUMBER_QUARANTINE_DAYS', `must be a whole number of days, 0 to turn the quarantine off (got "${value}")`);
  return days;
}

/**
 * Refuses `msisdn` to `customerId` while another customer's line released it less than `days` ago
 * (CONFLICT MSISDN_QUARANTINED, with when it is free). The customer who last had it may take it back:
 * the calls and messages still arriving are theirs. Every recent termination counts, not only the
 * latest, so a customer who held it before someone else waits for that holder's quarantine too.
 * Only a line that went live holds its number back, as its history (its completed orders) shows: a
 * line cancelled while PENDING (its activation failed or never came) never reached a phone or
 * anyone's contacts, so its number is free at once; a line suspended or barred before its
 * termination went live first. An activation that failed counts as live until the network
 * confirmed it undone (`networkUndoneAt`): it may have switched the number on before failing.
 */
export async function assertNumberNotQuarantined(em: Em, c: { msisdn: string; customerId: string; days: number; now: Date }): Promise<void> {
  if (c.days <= 0) return;
  const since = new Date(c.now.getTime() - c.days * DAY_MS);
  const terminated = await em.find(Line, { msisdn: c.msisdn, status: 'TERMINATED', terminatedAt: { $gt: since } });
  if (terminated.length === 0) return;
  // A FAILED activation may have switched the number on at the network before it failed: it holds
  // the number back like a completed one until the network confirmed it undone.
  const activations = await em.find(ProductOrder, {
    lineId: { $in: terminated.map((l) => l.id) },
    kind: { $in: GOES_LIVE },
    $or: [{ status: 'COMPLETED' }, { status: 'FAILED', networkUndoneAt: null }],
  });
  const wentLive = new Set(activations.map((o) => o.lineId));
  const released = terminated.filter((l) => wentLive.has(l.id));
  if (released.length === 0) return;
  const accounts = await em.find(BillingAccount, { id: { $in: [...new Set(released.map((l) => l.billingAccountId))] } });
  const others = new Set(accounts.filter((a) => a.customerId !== c.customerId).map((a) => a.id));
  const held = released.filter((l) => others.has(l.billingAccountId));
  if (held.length === 0) return;
  const freeAt = new Date(Math.max(...held.map((l) => l.terminatedAt!.getTime())) + c.days * DAY_MS);
  throw conflict('MSISDN_QUARANTINED', `MSISDN ${c.msisdn} was released by another customer's line and cannot be given to another customer before ${freeAt.toISOString()}`, {
    field: 'input.msisdn',
    availableAt: freeAt.toISOString(),
  });
}
