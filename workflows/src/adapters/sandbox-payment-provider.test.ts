import { describe, expect, it } from 'vitest';
import { DomainError } from '../errors';
import { SandboxPaymentProvider } from './sandbox-payment-provider';

const auth = { paymentMethodToken: 'sandbox_approve', amount: '20.00', currency: 'EUR', reference: 'r1', idempotencyKey: 'k:authorize' };

describe('SandboxPaymentProvider', () => {
  it('replays an operation by idempotency key instead of repeating it', async () => {
    const p = new SandboxPaymentProvider();
    const a1 = await p.authorize(auth);
    const a2 = await p.authorize(auth);
    expect(a2).toEqual(a1);
    const c1 = await p.capture({ authorizationId: a1.authorizationId, amount: '20.00', currency: 'EUR', idempotencyKey: 'k:capture' });
    const c2 = await p.capture({ authorizationId: a1.authorizationId, amount: '20.00', currency: 'EUR', idempotencyKey: 'k:capture' });
    expect(c2).toEqual(c1);
    expect(p.effective('capture')).toHaveLength(1);
    expect(p.netCaptured()).toEqual({ EUR: '20' });
  });

  it('refuses a reused key with a different request (CONFLICT)', async () => {
    const p = new SandboxPaymentProvider();
    await p.authorize(auth);
    await expect(p.authorize({ ...auth, amount: '30.00' })).rejects.toMatchObject({ code: 'CONFLICT' });
  });

  it('will not capture more than authorized, nor a voided authorization, nor void a captured one', async () => {
    const p = new SandboxPaymentProvider();
    const { authorizationId } = await p.authorize(auth);
    await expect(p.capture({ authorizationId, amount: '20.01', currency: 'EUR', idempotencyKey: 'k:c1' })).rejects.toMatchObject({ code: 'PAYMENT_CAPTURE_REJECTED' });
    await p.void({ authorizationId, idempotencyKey: 'k:void' });
    await expect(p.capture({ authorizationId, amount: '1.00', currency: 'EUR', idempotencyKey: 'k:c2' })).rejects.toBeInstanceOf(DomainError);

    const second = await p.authorize({ ...auth, idempotencyKey: 'k2:authorize' });
    const { captureId } = await p.capture({ authorizationId: second.authorizationId, amount: '20.00', currency: 'EUR', idempotencyKey: 'k2:capture' });
    // A captured authorization is not voided: the refusal names the capture (the recharge goes on with it).
    await expect(p.void({ authorizationId: second.authorizationId, idempotencyKey: 'k2:void' })).rejects.toMatchObject({ code: 'AUTHORIZATION_CAPTURED', details: { captureId } });
  });

  it('plays scripted outcomes per attempt: decline, and fail-after (effect done, answer lost)', async () => {
    const p = new SandboxPaymentProvider({ scripts: { tok: { capture: ['fail-after', 'ok'] } } });
    await expect(p.authorize({ ...auth, paymentMethodToken: 'sandbox_decline' })).rejects.toMatchObject({ code: 'PAYMENT_DECLINED', retryable: false });

    const { authorizationId } = await p.authorize({ ...auth, paymentMethodToken: 'tok', idempotencyKey: 't:authorize' });
    const req = { authorizationId, amount: '20.00', currency: 'EUR', idempotencyKey: 't:capture' };
    await expect(p.capture(req)).rejects.toMatchObject({ code: 'PAYMENT_PROVIDER_UNAVAILABLE', retryable: true });
    await expect(p.capture(req)).resolves.toMatchObject({ amount: '20.00' });
    expect(p.calls.capture).toBe(2);
    expect(p.effective('capture')).toHaveLength(1);
  });

  it('voids by the authorize key: the authorization made under it once, nothing when none was (and the key is closed)', async () => {
    const p = new SandboxPaymentProvider();
    const { authorizationId } = await p.authorize(auth);
    expect(await p.voidByAuthorizeKey({ authorizeKey: auth.idempotencyKey, idempotencyKey: 'k:voidAuthorizeKey' })).toEqual({ authorizationId });
    expect(await p.voidByAuthorizeKey({ authorizeKey: auth.idempotencyKey, idempotencyKey: 'k:voidAuthorizeKey' })).toEqual({ authorizationId });
    expect(p.effective('void')).toEqual([expect.objectContaining({ authorizationId })]);
    // Already voided under another key (the capture's compensation): nothing more.
    const other = await p.authorize({ ...auth, idempotencyKey: 'k2:authorize' });
    await p.void({ authorizationId: other.authorizationId, idempotencyKey: 'k2:void' });
    await p.voidByAuthorizeKey({ authorizeKey: 'k2:authorize', idempotencyKey: 'k2:voidAuthorizeKey' });
    expect(p.effective('void')).toHaveLength(2);

    expect(await p.voidByAuthorizeKey({ authorizeKey: 'k3:authorize', idempotencyKey: 'k3:voidAuthorizeKey' })).toEqual({ authorizationId: null });
    await expect(p.authorize({ ...auth, idempotencyKey: 'k3:authorize' })).rejects.toMatchObject({ code: 'AUTHORIZATION_KEY_CLOSED', retryable: false });
    expect(p.effective('authorize')).toHaveLength(2);
    expect(p.effective('void')).toHaveLength(2);
  });

  it('a hang ends only when the caller aborts', async () => {
    const p = new SandboxPaymentProvider();
    const { authorizationId } = await p.authorize({ ...auth, paymentMethodToken: 'sandbox_timeout' });
    const ac = new AbortController();
    const pending = p.capture({ authorizationId, amount: '20.00', currency: 'EUR', idempotencyKey: 'k:capture' }, { signal: ac.signal });
    ac.abort(new Error('gave up'));
    await expect(pending).rejects.toThrow('gave up');
    expect(p.effective('capture')).toHaveLength(0);
  });
});
