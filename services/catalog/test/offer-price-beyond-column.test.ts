/**
 * Review (session 33): an offer's price is stored as NUMERIC(18,6) (12 digits before the point), and
 * nothing before the insert bounded it: importOffer of a document with `"price": "1000000000000"`
 * (a trillion: a slipped key) passed validation and PostgreSQL refused the row, an
 * INTERNAL_SERVER_ERROR for the import. Now validation refuses it at the price's pointer
 * (OFFER_INVALID naming the problem AMOUNT_TOO_LARGE), nothing written; the largest storable price
 * is imported.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestService } from '@ledgerline/platform';
import { readJson, startCatalog } from './support';

const IMPORT = 'mutation($i: ImportOfferInput!) { importOffer(input: $i) { offer { code price { amount } } } }';

let svc: TestService;
beforeAll(async () => {
  svc = await startCatalog('2026-03-01T09:00:00Z');
});
afterAll(() => svc?.close());

describe('an offer price beyond what the catalog stores', () => {
  it('is refused at its pointer, not INTERNAL; the largest storable price is imported', async () => {
    const doc = readJson('offers/data-boost-5gb.json');
    const r = await svc.request(IMPORT, { i: { document: { ...doc, code: 'BOOST_TRILLION', price: '1000000000000' } } });
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'OFFER_INVALID', problems: [{ pointer: '/price', code: 'AMOUNT_TOO_LARGE' }] });
    expect((await svc.request('{ offer(code: "BOOST_TRILLION") { code } }')).data.offer).toBeNull();

    const largest = await svc.request(IMPORT, { i: { document: { ...doc, code: 'BOOST_LARGEST', price: '999999999999.99' } } });
    expect(largest.errors).toBeUndefined();
    expect(largest.data.importOffer.offer).toEqual({ code: 'BOOST_LARGEST', price: { amount: '999999999999.99' } });
  });
});
