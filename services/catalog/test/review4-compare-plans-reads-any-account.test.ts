/**
 * Bug: `comparePlans(input: { billingAccountId })` reads the account's usage from the usage
 * service as the SYSTEM caller (services/catalog/src/adapters/usage-history.ts sends
 * `callerHeaders(SYSTEM_CALLER, …)`), and the resolver (services/catalog/src/graphql/resolvers.ts,
 * Query.comparePlans) checks nothing about who asks. So anyone, even an anonymous caller through
 * the gateway, can name any billing account and get that customer's usage priced under each
 * plan: the usage service's own per-account check (`mayReadAccount`) is bypassed.
 *
 * How a user meets it: an unauthenticated client (or customer A) sends
 * `comparePlans(input: { planCodes: ["POSTPAID_20GB"], billingAccountId: "<B's account>" })`
 * and reads B's monthly spend and how much B uses.
 *
 * Fix: the catalog must not read usage with its own SYSTEM identity on behalf of a caller. Either
 * refuse an anonymous caller (UNAUTHENTICATED) / a caller who may not read the account, or
 * forward the caller's own (signed) identity to the usage service so its authorization applies.
 * Then the usage service is never asked as SYSTEM for an anonymous caller and no costs come back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeCaller, CALLER_HEADER, type Caller } from '@ledgerline/contracts';
import type { TestService } from '@ledgerline/platform';
import { readJson, startCatalogWithUsage, usagePage, usageRecord } from './support';


describe('comparePlans for a billing account', () => {
  let svc: TestService;
  let close: () => Promise<void>;
  /** The callers the usage service was asked as. */
  const askedAs: Caller[] = [];

  beforeAll(async () => {
    // A stand-in for the usage subgraph: one page with one DATA record of the victim's account.
    ({ svc, close } = await startCatalogWithUsage((headers) => {
      askedAs.push(decodeCaller(headers[CALLER_HEADER] as string | undefined));
      return usagePage([usageRecord('victim-1', '2048', '2026-03-10T10:00:00Z')]);
    }, '2026-03-15T09:00:00Z'));
    const r = await svc.request('mutation($i: ImportPlanInput!) { importPlan(input: $i) { created } }', { i: { document: readJson('plans/postpaid-20gb.json') } });
    expect(r.errors).toBeUndefined();
  });
  afterAll(async () => close?.());

  it('does not price another account\'s usage for an anonymous caller by reading it as SYSTEM', async () => {
    const anonymous: Caller = { role: 'ANONYMOUS', subject: 'anonymous', scopes: [] };
    const r = await svc.request(
      'query($i: ComparePlansInput!) { comparePlans(input: $i) { planCode usageCharge total } }',
      { i: { planCodes: ['POSTPAID_20GB'], billingAccountId: 'acc_of_someone_else', period: '2026-03' } },
      anonymous,
    );
    expect(askedAs.map((c) => c.role), 'roles the usage service was asked as').not.toContain('SYSTEM');
    expect(r.data?.comparePlans ?? null, `the victim's costs came back: ${JSON.stringify(r.data)}`).toBeNull();
  });
});
