/**
 * Add-on offers have a lifecycle and an audit trail, as plans do. Before, `importOffer` replaced an
 * offer's terms with no record of who changed what, announced nothing, and an offer could not be
 * withdrawn from sale at all. Now every import that changes an offer is audited (CREATED / UPDATED
 * with the patch) and announced (billing.catalog.offer.published); `retireOffer` stops selling it
 * (RETIRED, audited, billing.catalog.offer.retired, once), `offers` lists only those on sale unless
 * asked, and a retired offer's terms are not changed (CONFLICT OFFER_RETIRED).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import type { ManualClock, TestService } from '@ledgerline/platform';
import { readJson, startCatalog } from './support';

const ADMIN: Caller = { role: 'ADMIN', subject: 'pm.alice@operator.example', scopes: [] };
const AGENT: Caller = { role: 'AGENT', subject: 'agent.bob@operator.example', scopes: [] };
const CUSTOMER: Caller = { role: 'CUSTOMER', subject: 'cus_1', customerId: 'cus_1', scopes: [] };
const IMPORT = 'mutation($i: ImportOfferInput!) { importOffer(input: $i) { offer { code status price { amount } } } }';
const RETIRE = 'mutation($i: RetireOfferInput!) { retireOffer(input: $i) { offer { code status retiredAt retiredReason } } }';
const OFFER = 'query($c: String!) { offer(code: $c) { code status retiredReason audit { action actor actorRole diff } } }';

let svc: TestService;
beforeAll(async () => {
  svc = await startCatalog('2026-03-01T09:00:00Z'); // imports catalog/offers (as SYSTEM)
});
afterAll(() => svc?.close());
/** A minute later on the service's clock: audit entries of one instant would have no order. */
const aMinuteLater = () => (svc.runtime.clock as ManualClock).advance(60_000);

const events = async (subject: string, code: string) =>
  ((await svc.runtime.orm.em.fork().getConnection().execute(`select payload from outbox where subject = '${subject}' order by seq`)) as { payload: string }[])
    .map((r) => JSON.parse(r.payload).data)
    .filter((d: { code: string }) => d.code === code);

describe('add-on offers: audited changes and retirement', () => {
  it('an import that changes an offer is audited and announced once; the same document again changes nothing', async () => {
    const doc = readJson('offers/roam-world-pass-7d.json');
    const dearer = { ...doc, price: '12.00' };
    aMinuteLater();
    const first = await svc.request(IMPORT, { i: { document: dearer } }, ADMIN);
    const again = await svc.request(IMPORT, { i: { document: dearer } }, ADMIN);
    const offer = (await svc.request(OFFER, { c: doc.code }, ADMIN)).data.offer;
    expect({ first: first.data?.importOffer.offer, again: again.data?.importOffer.offer.price }).toEqual({ first: { code: doc.code, status: 'ACTIVE', price: { amount: '12' } }, again: { amount: '12' } });
    expect(offer.audit.map((a: { action: string; actorRole: string }) => `${a.action}:${a.actorRole}`)).toEqual(['CREATED:SYSTEM', 'UPDATED:ADMIN']);
    expect(offer.audit[1]).toMatchObject({ actor: 'pm.alice@operator.example', diff: [{ op: 'replace', path: '/price', value: '12.00' }] });
    expect((await events('billing.catalog.offer.published', doc.code)).map((d) => `${d.action}:${d.price.amount}`)).toEqual([`CREATED:${doc.price}`, 'UPDATED:12.00']);
    // The audit trail is for editors: others get the offer without it.
    const asAgent = await svc.request(OFFER, { c: doc.code }, AGENT);
    expect(asAgent.data.offer).toMatchObject({ code: doc.code, audit: null });
    expect(asAgent.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN' });
  });

  it('retireOffer stops selling it: RETIRED once (audited, announced), off the list unless asked, its terms frozen; only editors retire', async () => {
    const code = 'DATA_BOOST_5GB';
    const refused = await svc.request(RETIRE, { i: { code, reason: 'Replaced by the 10 GB boost' } }, AGENT);
    const noReason = await svc.request(RETIRE, { i: { code, reason: ' ' } }, ADMIN);
    const unknown = await svc.request(RETIRE, { i: { code: 'NO_SUCH_OFFER', reason: 'x' } }, ADMIN);
    aMinuteLater();
    const retired = await svc.request(RETIRE, { i: { code, reason: 'Replaced by the 10 GB boost' } }, ADMIN);
    const again = await svc.request(RETIRE, { i: { code, reason: 'another reason' } }, ADMIN);
    const changed = await svc.request(IMPORT, { i: { document: { ...readJson('offers/data-boost-5gb.json'), price: '4.00' } } }, ADMIN);
    const same = await svc.request(IMPORT, { i: { document: readJson('offers/data-boost-5gb.json') } }, ADMIN);
    const listed = async (caller: Caller, includeRetired?: boolean) =>
      ((await svc.request('query($r: Boolean) { offers(includeRetired: $r) { code } }', { r: includeRetired }, caller)).data.offers as { code: string }[]).map((o) => o.code);
    expect({
      refused: refused.errors?.[0]?.extensions?.code,
      noReason: `${noReason.errors?.[0]?.extensions?.code}:${noReason.errors?.[0]?.extensions?.reason}:${noReason.errors?.[0]?.extensions?.field}`,
      unknown: unknown.errors?.[0]?.extensions?.code,
      retired: retired.data?.retireOffer.offer,
      again: again.data?.retireOffer.offer,
      changed: `${changed.errors?.[0]?.extensions?.code}:${changed.errors?.[0]?.extensions?.reason}`,
      same: same.data?.importOffer.offer.status,
      customerList: await listed(CUSTOMER),
      withRetired: (await listed(ADMIN, true)).includes(code),
      byCode: (await svc.request(OFFER, { c: code }, ADMIN)).data.offer.status,
    }).toEqual({
      refused: 'FORBIDDEN',
      noReason: 'BAD_USER_INPUT:REASON_REQUIRED:input.reason',
      unknown: 'NOT_FOUND',
      retired: { code, status: 'RETIRED', retiredAt: '2026-03-01T09:02:00.000Z', retiredReason: 'Replaced by the 10 GB boost' },
      again: { code, status: 'RETIRED', retiredAt: '2026-03-01T09:02:00.000Z', retiredReason: 'Replaced by the 10 GB boost' },
      changed: 'CONFLICT:OFFER_RETIRED',
      same: 'RETIRED',
      customerList: ['ROAM_WORLD_PASS_7D'],
      withRetired: true,
      byCode: 'RETIRED',
    });
    expect(await events('billing.catalog.offer.retired', code)).toEqual([{ code, reason: 'Replaced by the 10 GB boost', retiredAt: '2026-03-01T09:02:00.000Z' }]);
    const audit = (await svc.request(OFFER, { c: code }, ADMIN)).data.offer.audit as { action: string }[];
    expect(audit.map((a) => a.action)).toEqual(['CREATED', 'RETIRED']);
  });
});
