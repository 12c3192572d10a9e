import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCatalogDir } from '../catalog/load-catalog';
import type { RatingResult } from '../domain/rating-result';
import { randomContext, randomUsage, seededRandom } from '../testing/random-usage';
import { createRater } from './cached-rater';
import { compilePlan, type CompiledPlan } from './compile-plan';
import { noticesAfterPlain, ratePlain } from './rate-plain';

const CATALOG_DIR = fileURLToPath(new URL('../../../../catalog', import.meta.url));
const EVENTS = 10_000;

describe('cached rater vs plain json-rules-engine', () => {
  let plans: CompiledPlan[];
  beforeAll(async () => {
    const catalog = await loadCatalogDir(CATALOG_DIR);
    const knownOffers = catalog.offers.map((offer) => offer.document);
    plans = catalog.plans.map(({ document }) => compilePlan(document, { version: '1', knownOffers }));
  });

  it(`gives deep-equal results on ${EVENTS} random events under every sample plan`, async () => {
    expect(plans.length).toBeGreaterThanOrEqual(6);
    const usage = randomUsage(20250314, EVENTS);
    const seen = { decisions: new Set<string>(), denyReasons: new Set<string>(), withAllowance: 0, notifications: 0, offers: 0, adjustments: 0 };
    let compared = 0;
    for (const compiled of plans) {
      const rater = createRater(compiled);
      for (const { event, ctx } of usage) {
        const plain = await ratePlain(compiled, event, ctx);
        const cached: RatingResult = rater.tryRateSync(event, ctx) ?? (await rater.rate(event, ctx));
        if (JSON.stringify(cached) !== JSON.stringify(plain)) expect({ event, ctx, cached }).toEqual({ event, ctx, cached: plain });
        compared++;
        seen.decisions.add(plain.decision);
        if (plain.denyReason) seen.denyReasons.add(plain.denyReason);
        if (plain.allowanceId) seen.withAllowance++;
        seen.notifications += plain.notifications.length;
        seen.offers += plain.offers.length;
        seen.adjustments += plain.adjustments.length;
      }
      const stats = rater.stats();
      // The cache must actually be used: far fewer engine runs than events.
      expect(stats.misses).toBeLessThan(EVENTS / 10);
      expect(stats.hits + stats.misses).toBeGreaterThan(EVENTS * 0.9);
    }
    expect(compared).toBe(EVENTS * plans.length);
    // The random mix reaches every kind of outcome, so equality above is not vacuous.
    expect([...seen.decisions].sort()).toEqual(['DENIED', 'RATED']);
    expect([...seen.denyReasons]).toEqual(expect.arrayContaining(['PREMIUM_BARRED', 'LINE_SUSPENDED', 'LINE_BARRED', 'NO_TARIFF', 'DATA_ROAMING_BARRED']));
    expect(seen.withAllowance).toBeGreaterThan(1000);
    expect(seen.notifications).toBeGreaterThan(100);
    expect(seen.offers).toBeGreaterThan(100);
    expect(seen.adjustments).toBeGreaterThan(100);
  }, 120_000);

  it('gives deep-equal notices after the event (notify and offer rules on the state that includes it)', async () => {
    const usage = randomUsage(20261203, 3000);
    const random = seededRandom(7);
    const seen = { changed: 0, unchanged: 0, notifications: 0, offers: 0 };
    for (const compiled of plans) {
      const rater = createRater(compiled);
      for (const { event, ctx } of usage) {
        // The state after the event: another draw of ratios and spend (half the time the same state).
        const drawn = randomContext(random);
        const after = random() < 0.5 ? ctx : { ...ctx, allowanceUsedRatios: drawn.allowanceUsedRatios, spendInPeriod: drawn.spendInPeriod };
        const plainRated = await ratePlain(compiled, event, ctx);
        const plain = await noticesAfterPlain(compiled, plainRated, event, after);
        const rated = rater.tryRateSync(event, ctx) ?? (await rater.rate(event, ctx));
        const cached = rater.tryNoticesAfterSync(rated, event, after) ?? (await rater.noticesAfter(rated, event, after));
        if (JSON.stringify(cached) !== JSON.stringify(plain)) expect({ event, ctx, after, cached }).toEqual({ event, ctx, after, cached: plain });
        if (JSON.stringify(plain.notifications) === JSON.stringify(plainRated.notifications) && JSON.stringify(plain.offers) === JSON.stringify(plainRated.offers)) seen.unchanged++;
        else seen.changed++;
        seen.notifications += plain.notifications.length;
        seen.offers += plain.offers.length;
      }
    }
    // Both kinds occur: notices that the state after the event changes, and ones it leaves alone.
    expect(seen.changed).toBeGreaterThan(100);
    expect(seen.unchanged).toBeGreaterThan(100);
    expect(seen.notifications).toBeGreaterThan(100);
    expect(seen.offers).toBeGreaterThan(100);
  }, 120_000);
});
