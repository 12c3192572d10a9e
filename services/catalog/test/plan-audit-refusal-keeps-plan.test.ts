/**
 * Bug: `Plan.audit` was `[PlanAuditEntry!]!`. A caller who may not read the audit trail (anyone
 * but ADMIN and SYSTEM) got FORBIDDEN / UNAUTHENTICATED on it, and because the field was non-null
 * the error nulled its parent: `plan` came back null. A plan page that asks for the audit trail
 * (shown to editors only) lost the whole plan for every customer, agent and anonymous visitor.
 *
 * Fix: `audit` is nullable; the refusal stays on it (null, its error naming the field `audit`)
 * and the rest of the plan is returned.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import type { TestService } from '@ledgerline/platform';
import { readJson, startCatalog } from './support';

const QUERY = '{ plan(code: "POSTPAID_20GB") { code name currentVersion { version } audit { action actor } } }';

describe('Plan.audit refused: the plan stays', () => {
  let svc: TestService;

  beforeAll(async () => {
    svc = await startCatalog('2026-03-01T09:00:00Z');
    const imported = await svc.request('mutation($i: ImportPlanInput!) { importPlan(input: $i) { created } }', { i: { document: readJson('plans/postpaid-20gb.json') } });
    expect(imported.errors).toBeUndefined();
  });
  afterAll(() => svc?.close());

  it.each([
    ['an anonymous caller', { role: 'ANONYMOUS', subject: 'anonymous', scopes: [] } as Caller, 'UNAUTHENTICATED'],
    ['a customer', { role: 'CUSTOMER', subject: 'cus_1', customerId: 'cus_1', scopes: [] } as Caller, 'FORBIDDEN'],
    ['an agent', { role: 'AGENT', subject: 'agent.bob@operator.example', scopes: [] } as Caller, 'FORBIDDEN'],
  ])('%s gets the plan, with audit null and refused on that field alone', async (_who, caller, code) => {
    const r = await svc.request(QUERY, {}, caller);
    expect(r.data?.plan).toEqual({ code: 'POSTPAID_20GB', name: 'Smart 20 GB', currentVersion: { version: 1 }, audit: null });
    expect(r.errors).toHaveLength(1);
    expect(r.errors![0]).toMatchObject({ path: ['plan', 'audit'], extensions: { code, field: 'audit' } });
  });

  it('still gives editors the audit trail', async () => {
    const r = await svc.request(QUERY, {}, { role: 'ADMIN', subject: 'pm.alice@operator.example', scopes: [] });
    expect(r.errors).toBeUndefined();
    expect(r.data.plan.audit.map((a: { action: string }) => a.action)).toContain('PUBLISHED');
  });
});
