/**
 * Review (session 33): `Plan.name` was the name of the last version PUBLISHED, whatever its date. A
 * price rise published today for 1 April under a new name ("Smart 20 GB (April price)") renamed the
 * plan on sale at once, for customers too: the listing announced what the catalog otherwise keeps
 * for staff until its date (scheduled-plans-not-public.test.ts). Withdrawing the rise
 * (cancelScheduledPlanVersion) left the withdrawn name on the plan for good. The name is now the
 * one of the version in force (else of the latest version still published, for a plan whose
 * versions are all dated later; else the draft's), so it changes when the version takes effect.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { importOffers, readJson } from './support';

const CUSTOMER: Caller = { role: 'CUSTOMER', subject: 'cus_1', customerId: 'cus_1', scopes: [] };
const ADMIN: Caller = { role: 'ADMIN', subject: 'pm.alice@operator.example', scopes: [] };
const IMPORT = 'mutation($i: ImportPlanInput!) { importPlan(input: $i) { plan { id } version { id version } } }';
const CANCEL = 'mutation($i: CancelScheduledPlanVersionInput!) { cancelScheduledPlanVersion(input: $i) { version { status } } }';
const NAME = '{ plan(code: "POSTPAID_20GB") { name currentVersion { version } } listed: plans(first: 10) { edges { node { code name } } } }';
const NOW = '2026-03-01T09:00:00Z';
const APRIL = '2026-04-01T00:00:00Z';
const MAY = '2026-05-01T00:00:00Z';

describe("a plan's name is the one of its version in force", () => {
  let svc: TestService;
  const clock = new ManualClock(new Date(NOW));
  const doc = readJson('plans/postpaid-20gb.json');
  const renamed = (name: string) => ({ ...doc, name, recurringFee: { ...doc.recurringFee, amount: '34.99' } });
  const nameAs = async (caller: Caller) => {
    const r = await svc.request(NAME, {}, caller);
    expect(r.errors).toBeUndefined();
    const listed = r.data.listed.edges.find((e: { node: { code: string } }) => e.node.code === 'POSTPAID_20GB')?.node.name;
    return { name: r.data.plan.name, listed, version: r.data.plan.currentVersion.version };
  };

  beforeAll(async () => {
    const { catalogService } = await import('../src/service');
    svc = await startServiceForTest(catalogService, { clock });
    await importOffers(svc);
    expect((await svc.request(IMPORT, { i: { document: doc } })).errors).toBeUndefined();
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('a rename scheduled for a later date does not rename the plan on sale before its date, nor after it is withdrawn', async () => {
    const rise = await svc.request(IMPORT, { i: { document: renamed('Smart 20 GB (April price)'), effectiveFrom: APRIL } });
    expect(rise.errors).toBeUndefined();
    for (const caller of [CUSTOMER, ADMIN]) expect(await nameAs(caller), caller.role).toEqual({ name: doc.name, listed: doc.name, version: 1 });

    const cancelled = await svc.request(CANCEL, { i: { versionId: rise.data.importPlan.version.id, reason: 'price rise postponed' } }, ADMIN);
    expect(cancelled.errors).toBeUndefined();
    expect(await nameAs(CUSTOMER)).toEqual({ name: doc.name, listed: doc.name, version: 1 });
  });

  it('takes the new name once its version takes effect', async () => {
    const rise = await svc.request(IMPORT, { i: { document: renamed('Smart 20 GB (May price)'), effectiveFrom: MAY } });
    expect(rise.errors).toBeUndefined();
    expect(await nameAs(CUSTOMER)).toEqual({ name: doc.name, listed: doc.name, version: 1 });
    clock.set(MAY);
    expect(await nameAs(CUSTOMER)).toEqual({ name: 'Smart 20 GB (May price)', listed: 'Smart 20 GB (May price)', version: rise.data.importPlan.version.version });
  });
});
