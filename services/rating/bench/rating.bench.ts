/**
 * Rating throughput on one core for the sample catalog: the cached rater against plain
 * json-rules-engine evaluation per event, in the same run, on the same random events.
 *   npx tsx services/rating/bench/rating.bench.ts [events]
 * The cached rater is measured in steady state (after a warm-up pass on other random events),
 * which is what a long-running rating service sees; its cold misses are printed too.
 */
import { fileURLToPath } from 'node:url';
import { compilePlan, createRater, loadCatalogDir, ratePlain, type CompiledPlan } from '../src/index';
import { randomUsage } from '../src/testing/random-usage';

const EVENTS = Number(process.argv[2] ?? 200_000);
const NAIVE_EVENTS = Math.min(EVENTS, 12_000);
const catalogDir = fileURLToPath(new URL('../../../catalog', import.meta.url));

const catalog = await loadCatalogDir(catalogDir);
if (!catalog.valid) throw new Error(`catalog invalid: ${JSON.stringify(catalog.problems, null, 2)}`);
const knownOffers = catalog.offers.map((offer) => offer.document);
const plans: CompiledPlan[] = catalog.plans.map(({ document }) => compilePlan(document, { version: 'bench', knownOffers }));
const usage = randomUsage(42, EVENTS);
const planOf = (i: number) => plans[i % plans.length];

// Warm-up: other random events (different seed), so the measured run is not the one that learns.
const raters = new Map(plans.map((plan) => [plan, createRater(plan)]));
for (const [i, { event, ctx }] of randomUsage(7, 20_000).entries()) await raters.get(planOf(i))!.rate(event, ctx);

/**
 * CPU time of this process (user + system), not wall time: the target is events per second on
 * one core, and on a shared machine wall time mostly measures other processes. Cached and naive
 * runs alternate in rounds so background noise hits both alike.
 */
const cpuSeconds = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
};
const ROUNDS = 4;
let checksum = 0;
let misses = 0;
let cachedSeconds = 0;
let naiveSeconds = 0;
let naiveDone = 0;
for (let round = 0; round < ROUNDS; round++) {
  const from = Math.floor((usage.length * round) / ROUNDS);
  const to = Math.floor((usage.length * (round + 1)) / ROUNDS);
  let start = cpuSeconds();
  for (let i = from; i < to; i++) {
    const { event, ctx } = usage[i];
    const rater = raters.get(planOf(i))!;
    let result = rater.tryRateSync(event, ctx);
    if (result === undefined) {
      misses++;
      result = await rater.rate(event, ctx);
    }
    checksum += result.price.length;
  }
  cachedSeconds += cpuSeconds() - start;

  const naiveFrom = Math.floor((NAIVE_EVENTS * round) / ROUNDS);
  const naiveTo = Math.floor((NAIVE_EVENTS * (round + 1)) / ROUNDS);
  start = cpuSeconds();
  for (let i = naiveFrom; i < naiveTo; i++) {
    const { event, ctx } = usage[i];
    checksum += (await ratePlain(planOf(i), event, ctx)).price.length;
  }
  naiveSeconds += cpuSeconds() - start;
  naiveDone += naiveTo - naiveFrom;
}

const cachedRate = EVENTS / cachedSeconds;
const naiveRate = naiveDone / naiveSeconds;
console.log(`plans: ${plans.map((plan) => plan.code).join(', ')}`);
console.log(`cached: ${EVENTS} events in ${cachedSeconds.toFixed(2)} s CPU, ${misses} engine runs after warm-up (checksum ${checksum})`);
console.log(`naive: ${naiveDone} events in ${naiveSeconds.toFixed(2)} s CPU`);
console.log(`rating: ${Math.round(cachedRate)} events/s (naive ${Math.round(naiveRate)} events/s, ratio ${(cachedRate / naiveRate).toFixed(1)}x)`);
