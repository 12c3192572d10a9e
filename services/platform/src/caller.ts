import { createHmac, timingSafeEqual } from 'node:crypto';
import { ANONYMOUS, CALLER_HEADER, CALLER_SIGNATURE_HEADER, decodeCaller, encodeCaller, type Caller } from '@ledgerline/contracts';
import { DomainError } from '@ledgerline/contracts';

/** Headers that carry a verified caller from the gateway (or a trusted internal client) to a subgraph. */
export function callerHeaders(caller: Caller, secret: string): Record<string, string> {
  const encoded = encodeCaller(caller);
  return { [CALLER_HEADER]: encoded, [CALLER_SIGNATURE_HEADER]: sign(encoded, secret) };
}

function sign(encoded: string, secret: string): string {
  return createHmac('sha256', secret).update(encoded).digest('base64url');
}

/**
 * Rebuilds the caller from forwarded headers. Unsigned or badly signed claims are refused, so a
 * client that reaches a subgraph directly cannot claim to be an agent.
 */
export function callerFromHeaders(get: (name: string) => string | undefined, secret: string): Caller {
  const encoded = get(CALLER_HEADER);
  if (!encoded) return ANONYMOUS;
  const signature = get(CALLER_SIGNATURE_HEADER) ?? '';
  const expected = sign(encoded, secret);
  const ok = signature.length === expected.length && timingSafeEqual(Buffer.from(signature), Buffer.from(expected));
  if (!ok) throw new DomainError('UNAUTHENTICATED', 'The forwarded caller is not signed by the gateway', {}, 'UNAUTHENTICATED');
  return decodeCaller(encoded);
}

export const SYSTEM_CALLER: Caller = { role: 'SYSTEM', subject: 'ledgerline-system', scopes: ['*'] };

/** Refuses a caller whose role may not do this; the full authorization policy builds on it. */
export function requireRole(caller: Caller, roles: readonly Caller['role'][], action: string): void {
  if (caller.role === 'ANONYMOUS') throw new DomainError('UNAUTHENTICATED', `Sign in to ${action}`, {}, 'UNAUTHENTICATED');
  if (!roles.includes(caller.role)) throw new DomainError('FORBIDDEN', `A ${caller.role} may not ${action}`, {}, 'FORBIDDEN');
}
