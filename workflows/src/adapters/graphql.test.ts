import { describe, expect, it } from 'vitest';
import { DomainError } from '../errors';
import { GraphqlBillingPeriodsClient, GraphqlWalletsClient } from './graphql';

/** A fetch that records the request and answers with a fixed status and body. */
function fakeFetch(status: number, body: unknown) {
  const requests: Array<{ url: string; init: RequestInit }> = [];
  const impl = (async (url: string | URL | Request, init?: RequestInit) => {
    requests.push({ url: String(url), init: init ?? {} });
    return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  }) as typeof fetch;
  return { impl, requests };
}

const credit = { billingAccountId: 'ba-1', amount: '10.00', currency: 'EUR', idempotencyKey: 'recharge-r1:creditWallet', reference: 'r1' };

describe('GraphqlWalletsClient', () => {
  it('posts the topupBalance mutation with one input, money as a decimal string', async () => {
    const { impl, requests } = fakeFetch(200, { data: { topupBalance: { topupBalance: { id: 'tb-9' } } } });
    const client = new GraphqlWalletsClient({ url: 'http://wallets/graphql', headers: { authorization: 'Bearer t' }, fetch: impl });

    await expect(client.creditWallet(credit)).resolves.toEqual({ transactionId: 'tb-9' });
    expect(requests).toHaveLength(1);
    expect(requests[0].url).toBe('http://wallets/graphql');
    expect(requests[0].init.method).toBe('POST');
    expect((requests[0].init.headers as Record<string, string>).authorization).toBe('Bearer t');
    const body = JSON.parse(String(requests[0].init.body));
    expect(body.query).toMatch(/mutation TopupBalance\(\$input: TopupBalanceInput!\)\s*{\s*topupBalance\(input: \$input\)/);
    expect(body.variables.input).toEqual({ billingAccountId: 'ba-1', amount: { amount: '10.00', currency: 'EUR' }, idempotencyKey: 'recharge-r1:creditWallet', reference: 'r1' });
  });

  it("beginRechargeStep: only wallets' RECHARGE_CANCELLED stops the step for good; any other answer without the go-ahead is retried, the card untouched", async () => {
    const ok = fakeFetch(200, { data: { beginRechargeStep: { recharge: { id: 'r1' } } } });
    await expect(new GraphqlWalletsClient({ url: 'http://w', fetch: ok.impl }).beginRechargeStep({ rechargeId: 'r1', step: 'CAPTURE' })).resolves.toBeUndefined();
    expect(JSON.parse(String(ok.requests[0].init.body)).variables.input).toEqual({ rechargeId: 'r1', step: 'CAPTURE' });
    const cancelled = fakeFetch(200, { errors: [{ message: 'cancelled', extensions: { code: 'CONFLICT', reason: 'RECHARGE_CANCELLED' } }] });
    expect(await new GraphqlWalletsClient({ url: 'http://w', fetch: cancelled.impl }).beginRechargeStep({ rechargeId: 'r1', step: 'CAPTURE' }).catch((e: unknown) => e)).toMatchObject({ code: 'RECHARGE_CANCELLED', retryable: false });
    // A wallets without the mutation yet (deployed after the worker), a recharge it does not know, the worker's token refused.
    for (const extensions of [{ code: 'GRAPHQL_VALIDATION_FAILED' }, { code: 'NOT_FOUND', reason: 'RECHARGE_NOT_FOUND' }, { code: 'FORBIDDEN' }]) {
      const { impl } = fakeFetch(200, { errors: [{ message: 'no', extensions }] });
      const err = await new GraphqlWalletsClient({ url: 'http://w', fetch: impl }).beginRechargeStep({ rechargeId: 'r1', step: 'AUTHORIZE' }).catch((e: unknown) => e);
      expect(err instanceof DomainError ? err.retryable : err instanceof Error, JSON.stringify(extensions)).toBe(true);
    }
  });

  it('turns a service decision (extensions.code) into a non-retryable DomainError with that code', async () => {
    const { impl } = fakeFetch(200, { errors: [{ message: 'key reused', extensions: { code: 'CONFLICT' } }] });
    const err = await new GraphqlWalletsClient({ url: 'http://w', fetch: impl }).creditWallet(credit).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DomainError);
    expect(err).toMatchObject({ code: 'CONFLICT', retryable: false });
  });

  it('leaves internal errors and HTTP failures as plain (retryable) errors', async () => {
    const internal = fakeFetch(200, { errors: [{ message: 'boom', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
    // A service's own internal DomainError has the category INTERNAL.
    const internalDomain = fakeFetch(200, { errors: [{ message: 'ledger out of balance', extensions: { code: 'INTERNAL', reason: 'INTERNAL' } }] });
    // The gateway's answer when the subgraph could not be reached or answered 502.
    const gateway = fakeFetch(200, { errors: [{ message: '502: Bad Gateway', extensions: { code: 'DOWNSTREAM_SERVICE_ERROR', serviceName: 'wallets' } }] });
    const down = fakeFetch(503, { message: 'unavailable' });
    const badGateway = fakeFetch(502, '<html>bad gateway</html>');
    for (const { impl } of [internal, internalDomain, gateway, down, badGateway]) {
      const err = await new GraphqlWalletsClient({ url: 'http://w', fetch: impl }).creditWallet(credit).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Error);
      expect(err).not.toBeInstanceOf(DomainError);
    }
  });

  it("the worker's own credentials refused (UNAUTHENTICATED, FORBIDDEN) are retried for the wallet: they are no refusal of the credit", async () => {
    for (const code of ['UNAUTHENTICATED', 'FORBIDDEN']) {
      const { impl } = fakeFetch(200, { errors: [{ message: 'who are you', extensions: { code } }] });
      const err = await new GraphqlWalletsClient({ url: 'http://w', fetch: impl }).creditWallet(credit).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Error);
      expect(err).not.toBeInstanceOf(DomainError);
    }
  });

  it('closes a credit key with closeTopupKey: the credit made under it, or null', async () => {
    const made = fakeFetch(200, { data: { closeTopupKey: { topupBalance: { id: 'ltx_1' } } } });
    const client = new GraphqlWalletsClient({ url: 'http://w', fetch: made.impl });
    await expect(client.closeCreditKey({ billingAccountId: 'ba-1', idempotencyKey: 'recharge-r1:creditWallet' })).resolves.toEqual({ transactionId: 'ltx_1' });
    const body = JSON.parse(String(made.requests[0].init.body));
    expect(body.query).toMatch(/mutation CloseTopupKey\(\$input: CloseTopupKeyInput!\)\s*{\s*closeTopupKey\(input: \$input\)/);
    expect(body.variables.input).toEqual({ billingAccountId: 'ba-1', idempotencyKey: 'recharge-r1:creditWallet' });

    const none = fakeFetch(200, { data: { closeTopupKey: { topupBalance: null } } });
    await expect(new GraphqlWalletsClient({ url: 'http://w', fetch: none.impl }).closeCreditKey({ billingAccountId: 'ba-1', idempotencyKey: 'recharge-r1:creditWallet' })).resolves.toEqual({
      transactionId: null,
    });
  });
});

describe('GraphqlBillingPeriodsClient: closeBillingPeriod refusals are never final for the bill cycle', () => {
  const req = { billingAccountId: 'ba-1', periodStart: '2026-10-31T23:00:00.000Z', periodEnd: '2026-11-30T23:00:00.000Z', idempotencyKey: 'bill-cycle-ba-1:closePeriod:2026-10-31T23:00:00.000Z' };
  const refusal = async (extensions: Record<string, unknown>) => {
    const { impl } = fakeFetch(200, { errors: [{ message: 'refused', extensions }] });
    return new GraphqlBillingPeriodsClient({ url: 'http://invoicing', fetch: impl }).closePeriod(req).catch((e: unknown) => e);
  };

  it.each([
    [{ code: 'BAD_USER_INPUT', reason: 'BILLING_PERIOD_NOT_ENDED', field: 'input.periodEnd' }, 'BILLING_PERIOD_NOT_ENDED', 'WAIT'],
    [{ code: 'NOT_FOUND', reason: 'BILLINGACCOUNT_NOT_FOUND', field: 'input.billingAccountId' }, 'BILLINGACCOUNT_NOT_FOUND', 'WAIT'],
    [{ code: 'BAD_USER_INPUT', reason: 'PLAN_VERSION_UNKNOWN', field: 'planVersionId' }, 'PLAN_VERSION_UNKNOWN', 'WAIT'],
    [{ code: 'BAD_USER_INPUT', reason: 'BILLING_PERIOD_INVALID', field: 'input.periodEnd' }, 'BILLING_PERIOD_INVALID', 'BUG'],
    [{ code: 'FORBIDDEN', reason: 'FORBIDDEN' }, 'FORBIDDEN', 'BUG'],
    [{ code: 'GRAPHQL_VALIDATION_FAILED' }, 'GRAPHQL_VALIDATION_FAILED', 'BUG'],
    [{ code: 'BAD_USER_INPUT' }, 'BAD_USER_INPUT', 'BUG'],
    [{ code: 'CONFLICT', reason: 'SOMETHING_NEW' }, 'SOMETHING_NEW', 'BUG'],
  ])('%j → retryable %s (%s)', async (extensions, code, kind) => {
    const err = await refusal(extensions);
    expect(err).toBeInstanceOf(DomainError);
    expect(err).toMatchObject({ code, retryable: true, details: { refusal: kind, code: extensions.code } });
  });

  it('leaves outages as plain errors, and passes on nextPeriodEnd, null after the final period, and the account\'s closed instant (null from an invoicing that does not say)', async () => {
    const down = await refusal({ code: 'DOWNSTREAM_SERVICE_ERROR' });
    expect(down).not.toBeInstanceOf(DomainError);
    const next = fakeFetch(200, { data: { closeBillingPeriod: { billingPeriod: { id: 'bp_1', nextPeriodEnd: null }, accountClosedAt: '2026-03-14T09:30:00.000Z' } } });
    await expect(new GraphqlBillingPeriodsClient({ url: 'http://invoicing', fetch: next.impl }).closePeriod(req)).resolves.toEqual({ periodId: 'bp_1', nextPeriodEnd: null, accountClosedAt: '2026-03-14T09:30:00.000Z' });
    const older = fakeFetch(200, { data: { closeBillingPeriod: { billingPeriod: { id: 'bp_1', nextPeriodEnd: null } } } });
    await expect(new GraphqlBillingPeriodsClient({ url: 'http://invoicing', fetch: older.impl }).closePeriod(req)).resolves.toEqual({ periodId: 'bp_1', nextPeriodEnd: null, accountClosedAt: null });
  });
});
