/**
 * Two editors (or two `catalog publish` runs) importing the same NEW offer at once. There was no row
 * to lock yet, so both saw no offer and both inserted it: the second commit hit the offer's primary
 * key and its caller got an internal error. Now the first insert wins (`on conflict do nothing`),
 * the others wait for it, then lock and read its row: one offer, one CREATED audit entry, one
 * billing.catalog.offer.published, and every caller answered with the offer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import type { TestService } from '@ledgerline/platform';
import { readJson, startCatalog } from './support';

const ADMIN: Caller = { role: 'ADMIN', subject: 'pm.alice@operator.example', scopes: [] };
const IMPORT = 'mutation($i: ImportOfferInput!) { importOffer(input: $i) { offer { code status price { amount } } } }';
const AUDIT = 'query($c: String!) { offer(code: $c) { audit { action } } }';

let svc: TestService;
beforeAll(async () => {
  svc = await startCatalog('2026-03-01T09:00:00Z');
});
afterAll(() => svc?.close());

const published = async (code: string) =>
  ((await svc.runtime.orm.em.fork().getConnection().execute(`select payload from outbox where subject = 'billing.catalog.offer.published'`)) as { payload: string }[])
    .map((r) => JSON.parse(r.payload).data)
    .filter((d: { code: string }) => d.code === code).length;

describe('the first import of a new offer, concurrently', () => {
  it('creates it once and answers every caller', async () => {
    for (let round = 0; round < 3; round++) {
      const code = `RACE_PASS_${round}_${Date.now().toString(36).toUpperCase()}`;
      const doc = { ...readJson('offers/roam-world-pass-7d.json'), code, name: `Race pass ${round}` };
      const answers = await Promise.all([1, 2, 3, 4].map(() => svc.request(IMPORT, { i: { document: doc } }, ADMIN)));
      const seen = {
        answers: answers.map((a) => (a.errors ? `${a.errors[0]?.extensions?.code}: ${a.errors[0]?.message}` : a.data.importOffer.offer.code)),
        audit: (await svc.request(AUDIT, { c: code }, ADMIN)).data.offer.audit.map((a: { action: string }) => a.action),
        events: await published(code),
      };
      expect(seen, `round ${round}`).toEqual({ answers: [code, code, code, code], audit: ['CREATED'], events: 1 });
    }
  });
});
