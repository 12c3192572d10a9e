import { describe, expect, it } from 'vitest';
import { graphqlRequest } from './adapters/graphql';
import { DomainError, isRetryableGraphqlCode } from './errors';

describe('GraphQL error codes: retryable or final', () => {
  it.each([
    ['UNAUTHENTICATED', true], // an expired token, a restarted gateway: nothing was decided
    ['INTERNAL_SERVER_ERROR', true],
    ['INTERNAL', true],
    ['DOWNSTREAM_SERVICE_ERROR', true],
    ['SUBSCRIBERS_UNAVAILABLE', true],
    ['SUBSCRIBERS_TIMEOUT', true],
    ['BAD_USER_INPUT', false],
    ['CONFLICT', false],
    ['NOT_FOUND', false],
    ['FORBIDDEN', false],
    ['GRAPHQL_VALIDATION_FAILED', false],
    ['WALLET_CURRENCY_MISMATCH', false], // a service's own coded decision
    ['UNAUTHENTICATED_X', false], // matched whole, not by prefix
  ])('%s → retryable %s', (code, retryable) => {
    expect(isRetryableGraphqlCode(code)).toBe(retryable);
  });
});

describe('graphqlRequest (the clients of invoicing, upsell, receipts…) follows the same table', () => {
  const answering = (code: string) =>
    (async () => new Response(JSON.stringify({ errors: [{ message: code, extensions: { code } }] }), { status: code === 'UNAUTHENTICATED' ? 401 : 200, headers: { 'content-type': 'application/json' } })) as typeof fetch;

  it('UNAUTHENTICATED is a plain (retried) error; FORBIDDEN and NOT_FOUND are final DomainErrors', async () => {
    const unauthenticated = await graphqlRequest({ url: 'http://x', fetch: answering('UNAUTHENTICATED') }, 'query { x }', {}).catch((e: unknown) => e);
    expect(unauthenticated).toBeInstanceOf(Error);
    expect(unauthenticated).not.toBeInstanceOf(DomainError);
    for (const code of ['FORBIDDEN', 'NOT_FOUND']) {
      const err = await graphqlRequest({ url: 'http://x', fetch: answering(code) }, 'query { x }', {}).catch((e: unknown) => e);
      expect(err).toMatchObject({ code, retryable: false });
    }
  });
});
