/**
 * Who reads what in the catalog (src/graphql/authorization.ts), beyond the reviewer's two cases:
 *
 * - comparePlans on a billing account reads usage as the caller (signed, as the gateway forwards
 *   it), never as SYSTEM: usage's own check decides whose account it is, and its refusal comes back
 *   coded, naming input.billingAccountId. Partners are refused before usage is asked.
 * - Drafts, never-published plans and the audit trail are the editors' (ADMIN, SYSTEM); published
 *   versions stay public (wallets and invoicing read `planVersion(id)` without a caller).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import { callerFromHeaders, DEV_INTERNAL_SECRET, graphqlRequest, type TestService } from '@ledgerline/platform';
import { readJson, startCatalogWithUsage, usagePage, usageRecord } from './support';


const ANONYMOUS: Caller = { role: 'ANONYMOUS', subject: 'anonymous', scopes: [] };
const CUSTOMER: Caller = { role: 'CUSTOMER', subject: 'cus_1', customerId: 'cus_1', scopes: [] };
const AGENT: Caller = { role: 'AGENT', subject: 'agent.bob@operator.example', scopes: [] };
const PARTNER: Caller = { role: 'PARTNER', subject: 'mvno-1', partnerId: 'mvno-1', scopes: [] };
const ADMIN: Caller = { role: 'ADMIN', subject: 'pm.alice@operator.example', scopes: [] };
const COMPARE = 'query($i: ComparePlansInput!) { comparePlans(input: $i) { planCode usageCharge total } }';

describe('catalog authorization', () => {
  let svc: TestService;
  let close: () => Promise<void>;
  /** The callers the usage service was asked as (verified signatures). */
  const askedAs: Caller[] = [];
  let draftId: string;
  let publishedId: string;

  beforeAll(async () => {
    // A stand-in for usage: cus_1 owns acc_1 only; staff read every account (as usage's mayReadAccount).
    ({ svc, close } = await startCatalogWithUsage((headers, body) => {
      const caller = callerFromHeaders((name) => headers[name] as string | undefined, DEV_INTERNAL_SECRET, new Date());
      askedAs.push(caller);
      const account = body.variables.f.billingAccountId;
      if (caller.role === 'CUSTOMER' && !(caller.customerId === 'cus_1' && account === 'acc_1')) {
        return { data: null, errors: [{ message: 'You may not read the usage of this billing account', extensions: { code: 'FORBIDDEN', reason: 'FORBIDDEN' } }] };
      }
      return usagePage([usageRecord(`${account}-1`, '2048', '2026-03-10T10:00:00Z')]);
    }, '2026-03-15T09:00:00Z'));
    const doc = readJson('plans/postpaid-20gb.json');
    const imported = await svc.request('mutation($i: ImportPlanInput!) { importPlan(input: $i) { version { id } } }', { i: { document: doc } });
    publishedId = imported.data.importPlan.version.id;
    const next = { ...structuredClone(doc), name: 'Smart 20 GB (Q3 price rise)', recurringFee: { ...doc.recurringFee, amount: '34.99' } };
    draftId = (await svc.request('mutation($i: CreatePlanDraftInput!) { createPlanDraft(input: $i) { draft { id } } }', { i: { document: next } }, ADMIN)).data.createPlanDraft.draft.id;
    // A plan that was never published: its code and name are not public yet.
    expect((await svc.request('mutation($i: CreatePlanDraftInput!) { createPlanDraft(input: $i) { draft { id } } }', { i: { document: { ...doc, code: 'SECRET_LAUNCH' } } }, ADMIN)).errors).toBeUndefined();
  });
  afterAll(async () => close?.());

  const compare = (caller: Caller, account: string) => svc.request(COMPARE, { i: { planCodes: ['POSTPAID_20GB'], billingAccountId: account, period: '2026-03' } }, caller);

  it("prices a customer's own account, asking usage as that customer", async () => {
    askedAs.length = 0;
    const r = await compare(CUSTOMER, 'acc_1');
    expect(r.errors).toBeUndefined();
    expect(r.data.comparePlans).toHaveLength(1);
    expect(askedAs).toEqual([CUSTOMER]);
  });

  it("refuses another customer's account with usage's FORBIDDEN, naming input.billingAccountId", async () => {
    const r = await compare(CUSTOMER, 'acc_2');
    expect(r.data?.comparePlans ?? null).toBeNull();
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', field: 'input.billingAccountId' });
  });

  it('refuses an anonymous caller and a partner without asking usage', async () => {
    askedAs.length = 0;
    expect((await compare(ANONYMOUS, 'acc_1')).errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', field: 'input.billingAccountId' });
    expect((await compare(PARTNER, 'acc_1')).errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', field: 'input.billingAccountId' });
    expect(askedAs).toEqual([]);
  });

  it('lets staff compare any account, asking usage as themselves', async () => {
    askedAs.length = 0;
    expect((await compare(AGENT, 'acc_2')).errors).toBeUndefined();
    expect(askedAs.map((c) => c.role)).toEqual(['AGENT']);
  });

  it('still compares given records for anyone', async () => {
    const r = await svc.request(COMPARE, { i: { planCodes: ['POSTPAID_20GB'], records: [{ id: 'r1', usageType: 'DATA', quantity: '10', occurredAt: '2026-03-10T10:00:00Z' }] } }, ANONYMOUS);
    expect(r.errors).toBeUndefined();
  });

  it('shows editors the draft, the versions with the draft, the audit and never-published plans', async () => {
    const r = await svc.request('{ plan(code: "POSTPAID_20GB") { draft { id } versions { status } audit { actor } } plans(first: 10) { totalCount } secret: plan(code: "SECRET_LAUNCH") { code } }', {}, ADMIN);
    expect(r.errors).toBeUndefined();
    expect(r.data.plan.draft.id).toBe(draftId);
    expect(r.data.plan.versions.map((v: { status: string }) => v.status).sort()).toEqual(['DRAFT', 'PUBLISHED']);
    expect(r.data.plan.audit.map((a: { actor: string }) => a.actor)).toContain('pm.alice@operator.example');
    expect(r.data.plans.totalCount).toBe(2);
    expect(r.data.secret).toEqual({ code: 'SECRET_LAUNCH' });
  });

  it('keeps the published catalog public and everything unpublished out of reach', async () => {
    const pub = await svc.request('query($id: ID!) { planVersion(id: $id) { version document } plan(code: "POSTPAID_20GB") { versions { status } currentVersion { id } } plans(first: 10) { totalCount edges { node { code } } } secret: plan(code: "SECRET_LAUNCH") { code } }', { id: publishedId }, ANONYMOUS);
    expect(pub.errors).toBeUndefined();
    expect(pub.data.planVersion.version).toBe(1);
    expect(pub.data.plan).toEqual({ versions: [{ status: 'PUBLISHED' }], currentVersion: { id: publishedId } });
    expect(pub.data.plans).toEqual({ totalCount: 1, edges: [{ node: { code: 'POSTPAID_20GB' } }] });
    expect(pub.data.secret).toBeNull();
    // As wallets and invoicing read a pinned version: no caller headers at all.
    const bare = await graphqlRequest(svc.url, 'query($id: ID!) { planVersion(id: $id) { version } }', { id: publishedId });
    expect(bare).toEqual({ data: { planVersion: { version: 1 } } });

    for (const [query, variables, field] of [
      ['query($id: ID!) { planVersion(id: $id) { id } }', { id: draftId }, 'id'],
      ['query($a: ID!, $b: ID!) { diffPlanVersions(fromId: $a, toId: $b) }', { a: publishedId, b: draftId }, 'toId'],
      ['query($i: SimulateRatingInput!) { simulateRating(input: $i) { total } }', { i: { planVersionId: draftId, records: [] } }, 'input.planVersionId'],
      ['mutation($i: ValidatePlanInput!) { validatePlan(input: $i) { valid } }', { i: { draftId } }, 'input.draftId'],
      ['{ plans(first: 5, filter: { status: DRAFT }) { totalCount } }', {}, 'filter.status'],
    ] as const) {
      for (const [caller, code] of [
        [ANONYMOUS, 'UNAUTHENTICATED'],
        [CUSTOMER, 'FORBIDDEN'],
        [AGENT, 'FORBIDDEN'],
      ] as const) {
        const r = await svc.request(query, variables, caller);
        expect(r.errors?.[0]?.extensions, `${query} as ${caller.role}`).toMatchObject({ code, field });
      }
    }
    const fields = await svc.request('{ plan(code: "POSTPAID_20GB") { draft { id } } }', {}, CUSTOMER);
    expect(fields.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(fields.data?.plan?.draft ?? null).toBeNull();
  });
  it("does not tell a non-editor that a never-published plan code exists (comparePlans answers it as an unknown code)", async () => {
    const byCode = async (caller: Caller, code: string) => {
      const r = await svc.request(COMPARE, { i: { planCodes: [code], records: [] } }, caller);
      const e = r.errors?.[0];
      return { code: e?.extensions?.code, field: e?.extensions?.field, message: e?.message.replace(code, '<code>') };
    };
    for (const caller of [ANONYMOUS, CUSTOMER, AGENT]) {
      expect(await byCode(caller, 'SECRET_LAUNCH'), caller.role).toEqual(await byCode(caller, 'NO_SUCH_PLAN'));
      expect((await byCode(caller, 'NO_SUCH_PLAN')).code).toBe('NOT_FOUND');
    }
    // Editors are told why.
    expect((await byCode(ADMIN, 'SECRET_LAUNCH')).code).toBe('BAD_USER_INPUT');
  });
});
