/**
 * The plan cache follows the catalog's offers: a change compiles the versions it holds again in one
 * step with the new offers (the rating loop's synchronous peek never misses a version it had, and
 * sees the new allowance at once); a version naming an offer the cache does not know asks the
 * catalog once more before it is PLAN_INVALID; the same offers again change nothing.
 */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { OfferDocument } from '@ledgerline/rating';
import { fileOffers, PlanCache } from './plan-cache';

const prepaid = () => JSON.parse(fs.readFileSync(new URL('../../../../catalog/plans/prepaid-bundle-30d.json', import.meta.url), 'utf8'));
const boost = fileOffers().find((o) => o.code === 'DATA_BOOST_5GB')!;

/** A catalog whose offers the test changes; counts how often they were asked for. */
function catalogOf(document: unknown, others: Record<string, unknown> = {}) {
  const state = { offers: fileOffers(), asked: 0 };
  const cache = new PlanCache({
    load: async (id) => ({ id, version: '1', document: others[id] ?? document }),
    offers: async () => {
      state.asked++;
      return structuredClone(state.offers);
    },
  });
  return { state, cache };
}

describe('plan cache and the catalog offers', () => {
  it('a version naming an offer newer than the cache: asked once more, then it compiles', async () => {
    const doc = prepaid();
    doc.rules.find((r: { name: string }) => r.name === 'offer-data-boost-at-80').event.params.offerCode = 'NEW_BOOST';
    const { state, cache } = catalogOf(doc, { plv_other: prepaid() });
    expect((await cache.get('plv_other')).ok).toBe(true); // offers loaded (NEW_BOOST not yet in the catalog)
    state.offers.push({ ...boost, code: 'NEW_BOOST', allowances: [{ ...boost.allowances![0], id: 'new-boost-data' }] } as OfferDocument);
    const lookup = await cache.get('plv_new');
    expect({ ok: lookup.ok, asked: state.asked }).toEqual({ ok: true, asked: 2 });
  });

  it('a version the catalog offers do not explain stays PLAN_INVALID (asked once, then cached)', async () => {
    const doc = prepaid();
    doc.rules.find((r: { name: string }) => r.name === 'offer-data-boost-at-80').event.params.offerCode = 'NO_SUCH_OFFER';
    const { state, cache } = catalogOf(doc);
    expect(await cache.get('plv_1')).toMatchObject({ ok: false, code: 'PLAN_INVALID' });
    expect(cache.peek('plv_1')).toMatchObject({ ok: false, code: 'PLAN_INVALID' });
    expect(state.asked).toBe(2);
  });

  it('a changed offer recompiles the versions held, in one step; the same offers again change nothing', async () => {
    const { state, cache } = catalogOf(prepaid());
    let changes = 0;
    cache.onOffersChanged = () => changes++;
    const before = await cache.get('plv_1');
    expect(before.ok).toBe(true);
    await cache.refreshOffers();
    expect({ same: cache.peek('plv_1') === before, changes }).toEqual({ same: true, changes: 0 });

    state.offers = state.offers.map((o) => (o.code === 'DATA_BOOST_5GB' ? { ...o, allowances: [{ ...o.allowances![0], quantity: '10240' }] } : o));
    const refreshed = cache.refreshOffers();
    // Until the new offers arrive the version compiled against the old ones answers; never nothing.
    expect(cache.peek('plv_1')).toBe(before);
    await refreshed;
    const after = cache.peek('plv_1');
    expect({ recompiled: after !== undefined && after !== before, changes, size: cache.knownOffers().find((o) => o.code === 'DATA_BOOST_5GB')!.allowances![0].quantity }).toEqual({ recompiled: true, changes: 1, size: '10240' });
  });

  it('a compile that started against the old offers is not kept once they changed', async () => {
    const { state, cache } = catalogOf(prepaid());
    await cache.get('plv_1');
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow = new PlanCache({
      load: async (id) => {
        await gate;
        return { id, version: '1', document: prepaid() };
      },
      offers: async () => structuredClone(state.offers),
    });
    const pending = slow.get('plv_2');
    await new Promise((r) => setTimeout(r, 10));
    state.offers = state.offers.filter((o) => o.code !== 'ROAM_WORLD_PASS_7D');
    await slow.refreshOffers();
    release();
    expect((await pending).ok).toBe(true);
    expect(slow.peek('plv_2')).toBeUndefined(); // compiled against the old offers: the next get compiles again
    expect((await slow.get('plv_2')).ok).toBe(true);
    expect(slow.peek('plv_2')).toBeDefined();
  });
});
