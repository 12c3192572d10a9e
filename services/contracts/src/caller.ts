/**
 * Who is calling. The gateway verifies the JWT and forwards these claims as headers; every
 * subgraph rebuilds the caller from them and passes it to use cases.
 */
export type Role = 'CUSTOMER' | 'AGENT' | 'ADMIN' | 'PARTNER' | 'SYSTEM' | 'ANONYMOUS';
export const ROLES: readonly Role[] = ['CUSTOMER', 'AGENT', 'ADMIN', 'PARTNER', 'SYSTEM', 'ANONYMOUS'];

export interface Caller {
  role: Role;
  subject: string;
  customerId?: string;
  partnerId?: string;
  scopes: string[];
}

export const ANONYMOUS: Caller = { role: 'ANONYMOUS', subject: 'anonymous', scopes: [] };

export const CALLER_HEADER = 'x-ledgerline-caller';
/** Shared between gateway and subgraphs so a subgraph can tell forwarded claims from forged ones. */
export const CALLER_SIGNATURE_HEADER = 'x-ledgerline-caller-signature';
/**
 * When the caller header was signed (milliseconds since the epoch, decimal). The signature covers
 * it, and a subgraph refuses a signature older than LEDGERLINE_CALLER_MAX_AGE_SECONDS: a captured
 * header set stops working within minutes, so clients sign every request afresh.
 */
export const CALLER_ISSUED_AT_HEADER = 'x-ledgerline-caller-issued-at';

export function encodeCaller(caller: Caller): string {
  return Buffer.from(JSON.stringify(caller), 'utf8').toString('base64url');
}

export function decodeCaller(header: string | undefined | null): Caller {
  if (!header) return ANONYMOUS;
  const parsed = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as Partial<Caller>;
  if (!parsed.role || !ROLES.includes(parsed.role)) throw new Error('Caller header has no valid role');
  return { role: parsed.role, subject: String(parsed.subject ?? 'unknown'), customerId: parsed.customerId, partnerId: parsed.partnerId, scopes: parsed.scopes ?? [] };
}
