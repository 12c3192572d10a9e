import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DomainError } from '@ledgerline/contracts';
import { DEV_INTERNAL_SECRET } from '@ledgerline/platform';
import { GraphqlWalletsClient } from '../src/ports/wallets-client';

/**
 * How the wallets client reads wallets' answers: an outage (no answer, HTTP 5xx, INTERNAL, no
 * code, a body that is not JSON) is WALLETS_UNAVAILABLE and retryable; a coded refusal (bad
 * input, a conflict, not found) is final: a non-retryable DomainError with wallets' code (its
 * `reason`), category and message. Before, every error was WALLETS_UNAVAILABLE, so a refusal was
 * retried until the order gave up as an outage. A stand-in HTTP server plays wallets.
 */
let answer: { status: number; body: string } = { status: 200, body: '{}' };
let server: http.Server;
let url: string;
beforeAll(async () => {
  server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}/graphql`;
});
afterAll(async () => new Promise<void>((r) => server.close(() => r())));

const error = (code: string | null, reason?: string, message = 'wallets says no') =>
  JSON.stringify({ data: null, errors: [{ message, extensions: { ...(code ? { code } : {}), ...(reason ? { reason } : {}), field: 'input.grantKey' } }] });

async function failureOf(status: number, body: string): Promise<DomainError> {
  answer = { status, body };
  const client = new GraphqlWalletsClient(url, DEV_INTERNAL_SECRET);
  const e = await client.revokeGrant('addon:ord_1:x', 'acc_1').then(() => null, (err: unknown) => err);
  expect(e).toBeInstanceOf(DomainError);
  return e as DomainError;
}

describe('GraphqlWalletsClient: wallets answers to errors', () => {
  it.each([
    ['BAD_USER_INPUT', 'GRANT_KEY_INVALID'],
    ['CONFLICT', 'IDEMPOTENCY_KEY_REUSED'],
    ['CONFLICT', 'GRANT_REVOKED'],
    ['NOT_FOUND', 'WALLET_NOT_FOUND'],
  ])('%s %s: final, not retryable, with wallets code and message', async (code, reason) => {
    const e = await failureOf(200, error(code, reason, `refused: ${reason}`));
    expect(e).toMatchObject({ code: reason, category: code, message: `refused: ${reason}`, details: { retryable: false } });
    // Wallets' field names its own input, not the caller's.
    expect(e.details.field).toBeUndefined();
  });

  it('a coded refusal without a reason carries the category as its code', async () => {
    expect(await failureOf(400, error('BAD_USER_INPUT'))).toMatchObject({ code: 'BAD_USER_INPUT', category: 'BAD_USER_INPUT', details: { retryable: false } });
  });

  it.each([
    ['INTERNAL (a DomainError of that category)', 200, error('INTERNAL', 'INTERNAL')],
    ['INTERNAL_SERVER_ERROR (unexpected)', 200, error('INTERNAL_SERVER_ERROR')],
    ['an error without a code', 200, error(null)],
    ['UNAUTHENTICATED (a caller signature gone stale)', 200, error('UNAUTHENTICATED')],
    ['HTTP 503 with a coded body', 503, error('CONFLICT', 'IDEMPOTENCY_KEY_REUSED')],
    ['HTTP 502 with a non-JSON body', 502, '<html>bad gateway</html>'],
    ['no data and no errors', 200, JSON.stringify({ data: null })],
  ])('%s: WALLETS_UNAVAILABLE, retryable', async (_, status, body) => {
    expect(await failureOf(status, body)).toMatchObject({ code: 'WALLETS_UNAVAILABLE', category: 'INTERNAL', details: { retryable: true } });
  });

  it('no answer at all (connection refused): WALLETS_UNAVAILABLE, retryable', async () => {
    const client = new GraphqlWalletsClient('http://127.0.0.1:1/graphql', DEV_INTERNAL_SECRET);
    await expect(client.closeCharge('chg_1', 'acc_1')).rejects.toMatchObject({ code: 'WALLETS_UNAVAILABLE', details: { retryable: true } });
  });

  it('data: answered as it is', async () => {
    answer = { status: 200, body: JSON.stringify({ data: { closeCharge: { taken: true, outcome: 'APPLIED' } } }) };
    expect(await new GraphqlWalletsClient(url, DEV_INTERNAL_SECRET).closeCharge('chg_1', 'acc_1')).toEqual({ taken: true, outcome: 'APPLIED' });
  });
});
