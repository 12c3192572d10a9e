/**
 * 2026-11-29, session 31: a value the shared scalars refuse (Decimal, DateTime, CurrencyCode) was BAD_USER_INPUT
 * without `extensions.field`, which the domain's input errors carry (`input.amount.amount`): the field was only inside
 * graphql-js's message (`Variable "$t" got invalid value 12.5 at "t.amount.amount"; …`, named after the variable,
 * not the argument) or, for an inline literal, nowhere. A client placing errors next to its form fields got nothing.
 * Now the field is the argument's path, as the domain errors name it, through the subgraph and the gateway (whose own
 * refusals, of a built-in scalar such as Int, name it too).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphqlRequest, type SubgraphServer, type TestService } from '@ledgerline/platform';
import { startGateway } from '../../../gateway/src/server';
import { signToken } from '../../../gateway/src/auth';
import { startWallets } from './support';

let svc: TestService;
let gateway: SubgraphServer;
let token: string;

beforeAll(async () => {
  ({ svc } = await startWallets());
  gateway = await startGateway({ env: { ...process.env, GATEWAY_PORT: '0', WALLETS_URL: svc.url, LOG_LEVEL: 'warn' } });
  token = await signToken({ role: 'ADMIN', subject: 'admin-1' });
});
afterAll(async () => {
  await gateway?.close();
  await svc?.close();
});

/** The first error's code and field, through the gateway and straight from the subgraph. */
async function refusal(query: string, variables: Record<string, unknown> = {}) {
  const through = await graphqlRequest(gateway.url, query, variables, { headers: { authorization: `Bearer ${token}` } });
  const direct = await svc.request(query, variables);
  const first = (res: typeof through) => ({ code: res.errors?.[0]?.extensions?.code, field: res.errors?.[0]?.extensions?.field });
  return { gateway: first(through), subgraph: first(direct) };
}

const TOPUP = 'mutation($t: TopupBalanceInput!) { topupBalance(input: $t) { topupBalance { id } } }';
const topupInput = (amount: unknown, currency: unknown = 'EUR') => ({ t: { billingAccountId: 'acc_x', amount: { amount, currency }, idempotencyKey: 'k1', reference: 'r' } });
const grant = (validFrom: string) =>
  `mutation { grantBucket(input: { billingAccountId: "acc_x", allowanceId: "data", unit: "MB", quantity: "100", validFrom: ${validFrom}, validTo: "2026-12-31T00:00:00Z", grantKey: "g1" }) { bucket { id } } }`;

describe('a value a shared scalar refuses names the field, as a domain input error does', () => {
  it('a Decimal in a variable’s nested input field: input.amount.amount (the argument, not the variable $t)', async () => {
    expect(await refusal(TOPUP, topupInput(12.5))).toEqual({
      gateway: { code: 'BAD_USER_INPUT', field: 'input.amount.amount' },
      subgraph: { code: 'BAD_USER_INPUT', field: 'input.amount.amount' },
    });
  });

  it('a DateTime as an inline literal in the argument: input.validFrom', async () => {
    expect(await refusal(grant('"yesterday"'))).toEqual({
      gateway: { code: 'BAD_USER_INPUT', field: 'input.validFrom' },
      // The subgraph refuses a literal while validating (HTTP 400); the gateway answers it as the caller's input error.
      subgraph: { code: 'GRAPHQL_VALIDATION_FAILED', field: 'input.validFrom' },
    });
  });

  it('a CurrencyCode as a literal argument, in a variable, and nested in a variable: currency / input.amount.currency', async () => {
    expect({
      literal: await refusal('{ walletOf(billingAccountId: "acc_x", currency: "EURO") { id } }'),
      variable: await refusal('query($c: CurrencyCode!) { walletOf(billingAccountId: "acc_x", currency: $c) { id } }', { c: 'euro' }),
      nested: await refusal(TOPUP, topupInput('1.00', 'XXX1')),
    }).toEqual({
      literal: { gateway: { code: 'BAD_USER_INPUT', field: 'currency' }, subgraph: { code: 'GRAPHQL_VALIDATION_FAILED', field: 'currency' } },
      variable: { gateway: { code: 'BAD_USER_INPUT', field: 'currency' }, subgraph: { code: 'BAD_USER_INPUT', field: 'currency' } },
      nested: { gateway: { code: 'BAD_USER_INPUT', field: 'input.amount.currency' }, subgraph: { code: 'BAD_USER_INPUT', field: 'input.amount.currency' } },
    });
  });

  it('a built-in scalar the gateway refuses itself (Int) names its field too', async () => {
    const bucket = { billingAccountId: 'acc_x', allowanceId: 'data', unit: 'MB', quantity: '100', priority: 'high', validFrom: '2026-12-01T00:00:00Z', validTo: '2026-12-31T00:00:00Z', grantKey: 'g1' };
    const through = async (query: string, variables: Record<string, unknown> = {}) => {
      const e = (await graphqlRequest(gateway.url, query, variables, { headers: { authorization: `Bearer ${token}` } })).errors?.[0];
      return { code: e?.extensions?.code, field: e?.extensions?.field };
    };
    expect({
      variable: await through('mutation($g: GrantBucketInput!) { grantBucket(input: $g) { bucket { id } } }', { g: bucket }),
      literal: await through(grant('"2026-12-01T00:00:00Z", priority: "high"')),
    }).toEqual({
      variable: { code: 'BAD_USER_INPUT', field: 'input.priority' },
      literal: { code: 'GRAPHQL_VALIDATION_FAILED', field: 'input.priority' },
    });
  });
});
