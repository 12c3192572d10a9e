/**
 * Bug: the catalog's read resolvers apply no authorization at all
 * (services/catalog/src/graphql/resolvers.ts: "anyone may read it"), and that includes what is
 * not the public catalog: `Plan.draft` (an unpublished draft's full document, i.e. upcoming
 * prices), `planVersion(id)` of a draft, and `Plan.audit` (who on the staff changed what, with
 * JSON diffs). Through the gateway an anonymous caller (no token) or any customer reads them.
 *
 * How a user meets it: a competitor or a curious customer runs
 * `{ plan(code: "POSTPAID_20GB") { draft { document } audit { actor diff } } }` against the public
 * graph and sees next quarter's tariff before it is published, plus staff identities.
 *
 * Fix: published versions stay public; drafts (Plan.draft, Plan.versions' drafts,
 * planVersion(id) of a DRAFT, plans filtered to DRAFT) and the audit trail are for editors
 * (ADMIN/SYSTEM, the roles that may change the catalog): an anonymous or CUSTOMER caller gets
 * null or FORBIDDEN/UNAUTHENTICATED, never the draft document or the audit entries.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import type { TestService } from '@ledgerline/platform';
import { readJson, startCatalog } from './support';


describe('unpublished drafts and the audit trail', () => {
  let svc: TestService;
  let draftId: string;

  beforeAll(async () => {
    svc = await startCatalog('2026-03-01T09:00:00Z');
    const doc = readJson('plans/postpaid-20gb.json');
    expect((await svc.request('mutation($i: ImportPlanInput!) { importPlan(input: $i) { created } }', { i: { document: doc } })).errors).toBeUndefined();
    const next = { ...structuredClone(doc), name: 'Smart 20 GB (Q3 price rise)', recurringFee: { ...doc.recurringFee, amount: '34.99' } };
    const admin: Caller = { role: 'ADMIN', subject: 'pm.alice@operator.example', scopes: [] };
    const d = await svc.request('mutation($i: CreatePlanDraftInput!) { createPlanDraft(input: $i) { draft { id } } }', { i: { document: next } }, admin);
    expect(d.errors).toBeUndefined();
    draftId = d.data.createPlanDraft.draft.id;
  });
  afterAll(() => svc?.close());

  it.each([
    ['an anonymous caller', { role: 'ANONYMOUS', subject: 'anonymous', scopes: [] } as Caller],
    ['a customer', { role: 'CUSTOMER', subject: 'cus_1', customerId: 'cus_1', scopes: [] } as Caller],
  ])('%s does not get the draft document, nor the audit trail', async (_who, caller) => {
    const r = await svc.request(
      'query($id: ID!) { plan(code: "POSTPAID_20GB") { draft { document } audit { actor } } planVersion(id: $id) { document } }',
      { id: draftId },
      caller,
    );
    const leaked = JSON.stringify(r.data ?? {});
    expect(leaked, 'unpublished price of the draft').not.toContain('34.99');
    expect(leaked, "the staff member's identity from the audit trail").not.toContain('pm.alice@operator.example');
  });
});
