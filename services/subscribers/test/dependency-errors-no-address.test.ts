import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DomainError } from '@ledgerline/contracts';
import { DEV_INTERNAL_SECRET, refusedPort } from '@ledgerline/platform';
import { GraphqlCatalogClient } from '../src/ports/catalog-client';
import { GraphqlWalletsClient } from '../src/ports/wallets-client';

/**
 * CATALOG_UNAVAILABLE and WALLETS_UNAVAILABLE reach subscribers' callers as they are (the platform's error formatter
 * answers a DomainError's message as it is). They named the service's internal
 * address ("The plan catalog at http://<host>:<port>/graphql cannot be reached: …") and, for a body that was not JSON,
 * what a proxy answered. Now the message names the service only; the address and what was said are the error's
 * cause, which the formatter logs.
 */
const LEAKY_BODY = 'upstream connect error: postgres://ledgerline:pW-9f3Kq7Zr2Lx8s@db-primary.billing.internal:5432/ledgerline';

let closedUrl: string;
let leakyUrl: string;
let leaky: http.Server;
beforeAll(async () => {
  // A port no listen(0) can be given (a closed server's port can be handed out again while the test runs).
  closedUrl = `http://127.0.0.1:${await refusedPort()}/graphql`;
  leaky = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(502, { 'content-type': 'text/plain' }).end(LEAKY_BODY));
  });
  await new Promise<void>((resolve) => leaky.listen(0, '127.0.0.1', resolve));
  leakyUrl = `http://127.0.0.1:${(leaky.address() as AddressInfo).port}/graphql`;
});
afterAll(async () => new Promise<void>((resolve) => leaky.close(() => resolve())));

async function failureOf(call: Promise<unknown>): Promise<DomainError> {
  const e = await call.then(() => null, (err: unknown) => err);
  expect(e).toBeInstanceOf(DomainError);
  return e as DomainError;
}

/** The error's message and details (what a client is answered) leave out `secrets`; its cause names each. */
function expectAnsweredWithout(e: DomainError, secrets: string[]): void {
  const answered = JSON.stringify({ message: e.message, details: e.details });
  for (const secret of secrets) expect(answered, `the answer names ${secret}`).not.toContain(secret);
  const cause = String((e.cause as Error | undefined)?.message);
  for (const secret of secrets) expect(cause, 'the cause (logged) names it').toContain(secret);
}

describe('subscribers answers that another service cannot be reached, without its address', () => {
  it('the plan catalog refusing connections: CATALOG_UNAVAILABLE names the catalog, not its address', async () => {
    const e = await failureOf(new GraphqlCatalogClient(closedUrl, DEV_INTERNAL_SECRET).currentPlanVersion('POSTPAID_20GB'));
    expect(e).toMatchObject({ code: 'CATALOG_UNAVAILABLE', category: 'INTERNAL', message: 'The plan catalog cannot be reached; try again later' });
    expectAnsweredWithout(e, [closedUrl]);
  });

  it('the plan catalog behind a proxy answering 502 with a leaky body: neither the body nor the address is answered', async () => {
    const e = await failureOf(new GraphqlCatalogClient(leakyUrl, DEV_INTERNAL_SECRET).currentPlanVersion('POSTPAID_20GB'));
    expect(e).toMatchObject({ code: 'CATALOG_UNAVAILABLE', category: 'INTERNAL' });
    expectAnsweredWithout(e, [leakyUrl, 'pW-9f3Kq7Zr2Lx8s']);
  });

  it('wallets refusing connections: WALLETS_UNAVAILABLE (retryable) names wallets, not its address', async () => {
    const e = await failureOf(new GraphqlWalletsClient(closedUrl, DEV_INTERNAL_SECRET).closeCharge('chg_1', 'acc_1'));
    expect(e).toMatchObject({ code: 'WALLETS_UNAVAILABLE', category: 'INTERNAL', message: 'The wallets service cannot be reached; try again later', details: { retryable: true } });
    expectAnsweredWithout(e, [closedUrl]);
  });

  it('wallets behind a proxy answering 502 with a leaky body: neither the body nor the address is answered', async () => {
    const e = await failureOf(new GraphqlWalletsClient(leakyUrl, DEV_INTERNAL_SECRET).closeCharge('chg_1', 'acc_1'));
    expect(e).toMatchObject({ code: 'WALLETS_UNAVAILABLE', category: 'INTERNAL', message: 'The wallets service answered 502 with non-JSON; try again later', details: { retryable: true } });
    expectAnsweredWithout(e, [leakyUrl, 'pW-9f3Kq7Zr2Lx8s']);
  });
});
