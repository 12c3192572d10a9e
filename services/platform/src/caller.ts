import { createHmac, timingSafeEqual } from 'node:crypto';
import { ANONYMOUS, CALLER_HEADER, CALLER_ISSUED_AT_HEADER, CALLER_SIGNATURE_HEADER, decodeCaller, encodeCaller, type Caller } from '@ledgerline/contracts';
import { DomainError } from '@ledgerline/contracts';

/** How long a signed caller is good for when LEDGERLINE_CALLER_MAX_AGE_SECONDS is not set. */
export const DEFAULT_CALLER_MAX_AGE_SECONDS = 300;
/** How far in the future an issued-at may be (the signer's clock ahead of the verifier's). */
export const CALLER_CLOCK_SKEW_SECONDS = 30;

/**
 * Headers that carry a verified caller from the gateway (or a trusted internal client) to a
 * subgraph, signed together with the instant they were issued. They go stale after
 * LEDGERLINE_CALLER_MAX_AGE_SECONDS (300 s by default), so build them for each request — never
 * once at construction. `issuedAt` defaults to the wall clock: signing happens at the edge.
 */
export function callerHeaders(caller: Caller, secret: string, issuedAt: Date = new Date()): Record<string, string> {
  const encoded = encodeCaller(caller);
  const at = String(issuedAt.getTime());
  return { [CALLER_HEADER]: encoded, [CALLER_ISSUED_AT_HEADER]: at, [CALLER_SIGNATURE_HEADER]: sign(at, encoded, secret) };
}

function sign(issuedAt: string, encoded: string, secret: string): string {
  return createHmac('sha256', secret).update(`${issuedAt}.${encoded}`).digest('base64url');
}

export interface CallerVerificationOptions {
  /** Oldest signature accepted, in seconds (default DEFAULT_CALLER_MAX_AGE_SECONDS). */
  maxAgeSeconds?: number;
  /** How far in the future an issued-at may lie, in seconds (default CALLER_CLOCK_SKEW_SECONDS). */
  clockSkewSeconds?: number;
}

const unauthenticated = (message: string) => new DomainError('UNAUTHENTICATED', message, {}, 'UNAUTHENTICATED');

/**
 * Rebuilds the caller from forwarded headers at `now` (the verifier's wall clock: the age of a
 * transport credential, not billing time). Unsigned or badly signed claims are refused, so a
 * client that reaches a subgraph directly cannot claim to be an agent; so are claims without an
 * issued-at, signed longer than `maxAgeSeconds` ago or more than `clockSkewSeconds` in the future,
 * so a captured header set cannot be replayed for long.
 */
export function callerFromHeaders(get: (name: string) => string | undefined, secret: string, now: Date, options: CallerVerificationOptions = {}): Caller {
  const encoded = get(CALLER_HEADER);
  if (!encoded) return ANONYMOUS;
  const issuedAt = get(CALLER_ISSUED_AT_HEADER) ?? '';
  if (!/^\d{1,15}$/.test(issuedAt)) {
    throw unauthenticated(
      `The forwarded caller has no issued-at time (${CALLER_ISSUED_AT_HEADER}, milliseconds since the epoch): sign each request with callerHeaders`,
    );
  }
  const signature = get(CALLER_SIGNATURE_HEADER) ?? '';
  const expected = sign(issuedAt, encoded, secret);
  const ok = signature.length === expected.length && timingSafeEqual(Buffer.from(signature), Buffer.from(expected));
  if (!ok) throw unauthenticated('The forwarded caller is not signed by the gateway');
  const maxAgeSeconds = options.maxAgeSeconds ?? DEFAULT_CALLER_MAX_AGE_SECONDS;
  const skewSeconds = options.clockSkewSeconds ?? CALLER_CLOCK_SKEW_SECONDS;
  const ageMs = now.getTime() - Number(issuedAt);
  const issued = new Date(Number(issuedAt)).toISOString();
  if (ageMs > maxAgeSeconds * 1000) {
    throw unauthenticated(`The forwarded caller's signature is older than ${maxAgeSeconds} s (issued ${issued}): sign each request afresh`);
  }
  if (-ageMs > skewSeconds * 1000) {
    throw unauthenticated(
      `The forwarded caller was issued in the future (${issued}, more than ${skewSeconds} s ahead of this service's clock): check the clocks`,
    );
  }
  return decodeCaller(encoded);
}

export const SYSTEM_CALLER: Caller = { role: 'SYSTEM', subject: 'ledgerline-system', scopes: ['*'] };

/** Refuses a caller whose role may not do this; the full authorization policy builds on it. */
export function requireRole(caller: Caller, roles: readonly Caller['role'][], action: string): void {
  if (caller.role === 'ANONYMOUS') throw new DomainError('UNAUTHENTICATED', `Sign in to ${action}`, {}, 'UNAUTHENTICATED');
  if (!roles.includes(caller.role)) throw new DomainError('FORBIDDEN', `A ${caller.role} may not ${action}`, {}, 'FORBIDDEN');
}
