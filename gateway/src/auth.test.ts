import { describe, expect, it } from 'vitest';
import { callerFromAuthorization, DEV_JWT_SECRET, signToken } from './auth';

describe('gateway authentication', () => {
  it('turns a valid token into a caller', async () => {
    const token = await signToken({ role: 'CUSTOMER', customerId: 'cus_1' });
    await expect(callerFromAuthorization(`Bearer ${token}`)).resolves.toMatchObject({ role: 'CUSTOMER', customerId: 'cus_1', subject: 'cus_1' });
  });
  it('treats no header as anonymous', async () => {
    await expect(callerFromAuthorization(undefined)).resolves.toMatchObject({ role: 'ANONYMOUS' });
  });
  it('refuses a token signed with another secret', async () => {
    const token = await signToken({ role: 'ADMIN' }, 'another-secret-another-secret-xx');
    await expect(callerFromAuthorization(`Bearer ${token}`)).rejects.toThrow(/not valid/);
  });
  it('refuses an expired token', async () => {
    const token = await signToken({ role: 'AGENT', expiresIn: '-1s' });
    await expect(callerFromAuthorization(`Bearer ${token}`)).rejects.toThrow(/expired/);
  });
  it('refuses a token that never expires (every token Ledgerline signs carries exp)', async () => {
    const { SignJWT } = await import('jose');
    const token = await new SignJWT({ role: 'ADMIN' }).setProtectedHeader({ alg: 'HS256' }).setIssuer('ledgerline').setIssuedAt().sign(new TextEncoder().encode(DEV_JWT_SECRET));
    await expect(callerFromAuthorization(`Bearer ${token}`)).rejects.toThrow();
    const withExp = await new SignJWT({ role: 'ADMIN' }).setProtectedHeader({ alg: 'HS256' }).setIssuer('ledgerline').setIssuedAt().setExpirationTime('1h').sign(new TextEncoder().encode(DEV_JWT_SECRET));
    await expect(callerFromAuthorization(`Bearer ${withExp}`)).resolves.toMatchObject({ role: 'ADMIN' });
  });
  it('refuses a malformed header', async () => {
    await expect(callerFromAuthorization('Token abc')).rejects.toThrow(/Bearer/);
  });
});
