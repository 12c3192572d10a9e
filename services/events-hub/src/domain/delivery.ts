import { createHmac } from 'node:crypto';

/**
 * `x-ledgerline-signature: sha256=<hex>`: HMAC-SHA256 with the hub's secret over
 * `<x-ledgerline-timestamp>.<body>` (unix seconds, a dot, the exact bytes of the body), so a
 * receiver can refuse both forged bodies and old ones replayed by someone else.
 */
export function signDelivery(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * The `x-ledgerline-signature` value: one `sha256=<hex>` per secret in force, comma-separated, the
 * current secret's first (`sha256=<new>, sha256=<old>` during a rotation's overlap; one value otherwise).
 * A receiver accepts the request when any one of them is the HMAC it computes with its secret.
 */
export function signatureHeader(secrets: readonly string[], timestamp: number, body: string): string {
  return secrets.map((secret) => signDelivery(secret, timestamp, body)).join(', ');
}

/** CANCELLED: the hub was deleted before it was sent (final, like DELIVERED and DEAD; never sent, not a dead letter). */
export type DeliveryStatus = 'PENDING' | 'DELIVERED' | 'DEAD' | 'CANCELLED';
export const DELIVERY_STATUSES: readonly DeliveryStatus[] = ['PENDING', 'DELIVERED', 'DEAD', 'CANCELLED'];

export interface RetryPolicy {
  /** Attempts in all before a delivery is DEAD (default 8). */
  maxAttempts: number;
  /** Wait after the first failed attempt (ms); doubles after each further one. */
  baseDelayMs: number;
  /** Longest wait between attempts (ms). */
  maxDelayMs: number;
}

/**
 * What follows a failed attempt (`attempts` counts it): DEAD once the attempts are used up,
 * else PENDING again after base·2^(attempts−1) with ±20 % jitter (`random` in [0, 1)), never past the cap,
 * so receivers that come back are not hit by every retry at once.
 */
export function afterFailure(
  attempts: number,
  now: Date,
  policy: RetryPolicy,
  random: number,
): { status: 'DEAD' } | { status: 'PENDING'; nextAttemptAt: Date } {
  if (attempts >= policy.maxAttempts) return { status: 'DEAD' };
  const delay = Math.min(policy.baseDelayMs * 2 ** (attempts - 1), policy.maxDelayMs);
  // The cap holds after the jitter too: at the cap the wait spreads below it, never past it.
  const jittered = Math.min(Math.round(delay * (0.8 + 0.4 * random)), policy.maxDelayMs);
  return { status: 'PENDING', nextAttemptAt: new Date(now.getTime() + jittered) };
}
