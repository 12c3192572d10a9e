import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphqlRequest, type SubgraphServer } from '@ledgerline/platform';
import { startGateway } from '../../../gateway/src/server';
import { signToken } from '../../../gateway/src/auth';
import { startHarness, type Harness } from './support';

// Against the real catalog service: plans are imported from catalog/plans, subscribers reads them
// through GraphqlCatalogClient, and the project's gateway (checked-in supergraph, JWT auth) reads
// one family account back in one query with fields from both subgraphs.
let h: Harness;
let gateway: SubgraphServer;
let token: string;

beforeAll(async () => {
  h = await startHarness({ realCatalog: true });
  gateway = await startGateway({ env: { ...process.env, GATEWAY_PORT: '0', CATALOG_URL: h.catalog!.url, SUBSCRIBERS_URL: h.subscribers.url, LOG_LEVEL: 'warn' } });
  token = await signToken({ role: 'AGENT', subject: 'agent-7' });
});
afterAll(async () => {
  await gateway?.close();
  await h?.close();
});

async function viaGateway(query: string, variables: Record<string, unknown> = {}) {
  const { data, errors } = await graphqlRequest(gateway.url, query, variables, { headers: { authorization: `Bearer ${token}` } });
  if (errors) throw new Error(JSON.stringify(errors));
  return data as any;
}

describe('subscribers with the real catalog, through a gateway', () => {
  it('creates a family account with three lines on a shared plan and reads it back in one query across two subgraphs', async () => {
    const customer = await viaGateway(`mutation { createCustomer(input: { name: "Familie Jansen", kind: INDIVIDUAL, creditClass: A, timezone: "Europe/Berlin" }) { customer { id } } }`);
    const account = await viaGateway(`mutation($c: ID!) { openBillingAccount(input: { customerId: $c, paymentMode: POSTPAID, currency: "EUR", billCycleDay: 5 }) { billingAccount { id } } }`, { c: customer.createCustomer.customer.id });
    const accountId = account.openBillingAccount.billingAccount.id;
    for (const m of ['+4915123777001', '+4915123777002', '+4915123777003']) {
      const r = await viaGateway(`mutation($a: ID!, $m: String!) { addLine(input: { billingAccountId: $a, msisdn: $m, planCode: "FAMILY_SHARE_50GB" }) { order { status } } }`, { a: accountId, m });
      expect(r.addLine.order.status).toBe('COMPLETED');
    }
    const read = await viaGateway(
      `query($id: ID!) {
        billingAccount(id: $id) {
          currency
          customer { name }
          lines {
            msisdn status
            subscription { sharedAllowances planVersion { version plan { code name paymentMode } } }
          }
        }
      }`,
      { id: accountId },
    );
    expect(read.billingAccount.customer.name).toBe('Familie Jansen');
    expect(read.billingAccount.lines).toHaveLength(3);
    for (const line of read.billingAccount.lines) {
      expect(line).toMatchObject({
        status: 'ACTIVE',
        subscription: { sharedAllowances: true, planVersion: { version: 1, plan: { code: 'FAMILY_SHARE_50GB', name: 'Family Share 50 GB', paymentMode: 'POSTPAID' } } },
      });
    }
  });

  it('reads plan versions through GraphqlCatalogClient and refuses an unknown plan', async () => {
    const plan = await h.catalogClient.currentPlanVersion('POSTPAID_20GB');
    expect(plan).toMatchObject({ code: 'POSTPAID_20GB', currency: 'EUR', paymentMode: 'POSTPAID', version: 1 });
    expect(await h.catalogClient.planVersionDocument(plan!.versionId)).toMatchObject({ code: 'POSTPAID_20GB' });
    expect(await h.catalogClient.currentPlanVersion('NOPE_PLAN')).toBeNull();
  });
});
