import { hash } from 'node:crypto';
import type { WalletReserveRequest } from '@ledgerline/contracts';
import { canonicalDecimal } from './charge-fingerprint';

/** How long a reservation holds, in seconds, as reserve reads `validitySeconds` (default 300, 1 s to a day). */
export function reserveValiditySeconds(validitySeconds: unknown): number {
  return Math.min(Math.max(Number(validitySeconds ?? 300) || 300, 1), 86_400);
}

/**
 * A short fingerprint of what defines a reserve request, kept on its reservation (`request_hash`),
 * to tell a repeat (same requestId, same request: answered with the same reservation) from a
 * requestId reused for another request (refused, IDEMPOTENCY_KEY_REUSED), as charges do with
 * chargeFingerprint. Every field but the requestId, as reserve reads it: decimals in one spelling,
 * absent allowanceIds as none, absent allowOverdraft as false, the validity as held, usage type and
 * zone as stored. allowanceIds keep their order (it is the order buckets are drawn from). 96 bits of
 * SHA-256 (16 base64url characters). Computed once per new reservation (~1–2 µs) and on a repeat
 * only when its reservation has one. Changing the fields or their spelling makes every stored
 * reservation a conflict for its repeats: give a new definition its own prefix and accept the old one.
 */
export function reserveFingerprint(req: WalletReserveRequest): string {
  const canonical = JSON.stringify([
    req.sessionId,
    req.billingAccountId,
    req.lineId ?? null,
    req.currency,
    typeof req.usageType === 'string' ? req.usageType.slice(0, 16) : null,
    req.unit,
    canonicalDecimal(req.requestedUnits),
    canonicalDecimal(req.pricePerUnit),
    req.allowanceIds ?? [],
    !!req.allowOverdraft,
    reserveValiditySeconds(req.validitySeconds),
    typeof req.zone === 'string' ? req.zone.slice(0, 40) : null,
  ]);
  return hash('sha256', canonical, 'base64url').slice(0, 16);
}
