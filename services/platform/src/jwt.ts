import { SignJWT, jwtVerify, errors } from 'jose';
import { ANONYMOUS, ROLES, type Caller, type Role } from '@ledgerline/contracts';

/**
 * Bearer tokens (HS256 JWTs) of the public entries: the gateway and the events hub verify them
 * with this one implementation, and the CLI signs them. Moved here from `gateway/src/auth.ts`,
 * which re-exports it.
 */

/** Development only: production sets JWT_SECRET (or moves to an asymmetric key). */
export const DEV_JWT_SECRET = 'ledgerline-development-jwt-secret-change-me';
const ISSUER = 'ledgerline';

function key(secret: string): Uint8Array {
  return new TextEncoder().encode(secret);
}

export interface TokenClaims {
  role: Role;
  subject?: string;
  customerId?: string;
  partnerId?: string;
  scopes?: string[];
  expiresIn?: string;
}

export async function signToken(claims: TokenClaims, secret = DEV_JWT_SECRET): Promise<string> {
  if (!ROLES.includes(claims.role)) throw new Error(`Unknown role ${claims.role}; use one of ${ROLES.join(', ')}`);
  return new SignJWT({ role: claims.role, customerId: claims.customerId, partnerId: claims.partnerId, scope: (claims.scopes ?? []).join(' ') })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(claims.subject ?? claims.customerId ?? claims.partnerId ?? claims.role.toLowerCase())
    .setIssuer(ISSUER)
    .setIssuedAt()
    .setExpirationTime(claims.expiresIn ?? '12h')
    .sign(key(secret));
}

export class AuthenticationError extends Error {}

/**
 * Verifies `Authorization: Bearer <jwt>` (HS256). No header means an anonymous caller (public
 * catalog reads); a bad or expired token is refused outright rather than downgraded.
 */
export async function callerFromAuthorization(header: string | undefined, secret = DEV_JWT_SECRET): Promise<Caller> {
  if (!header) return ANONYMOUS;
  const match = /^Bearer\s+(.+)$/i.exec(header.trim());
  if (!match) throw new AuthenticationError('Authorization header must be "Bearer <token>"');
  try {
    const { payload } = await jwtVerify(match[1]!, key(secret), { algorithms: ['HS256'], issuer: ISSUER, requiredClaims: ['exp'] });
    const role = payload.role as Role;
    if (!ROLES.includes(role)) throw new AuthenticationError('Token has no valid role');
    return {
      role,
      subject: String(payload.sub),
      customerId: typeof payload.customerId === 'string' ? payload.customerId : undefined,
      partnerId: typeof payload.partnerId === 'string' ? payload.partnerId : undefined,
      scopes: typeof payload.scope === 'string' && payload.scope ? payload.scope.split(' ') : [],
    };
  } catch (error) {
    if (error instanceof AuthenticationError) throw error;
    if (error instanceof errors.JWTExpired) throw new AuthenticationError('Token has expired');
    throw new AuthenticationError('Token is not valid');
  }
}
