import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCatalogDir } from '../catalog/load-catalog';
import type { RatingResult } from '../domain/rating-result';
import { randomUsage } from '../testing/random-usage';
import { createRater } from './cached-rater';
import { compilePlan, type CompiledPlan } from './compile-plan';
import { ratePlain } from './rate-plain';

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
});
