/**
 * Seeded random usage events and subscriber contexts, shared by the differential test and the
 * benchmark so both exercise the same mix: every usage type, zone, roaming case, time band,
 * holiday, and numeric facts landing exactly on and around the rules' thresholds.
 */
import type { SubscriberContext, UsageEvent } from '../domain/usage';

/** mulberry32: tiny, fast, good enough for test data; same seed → same sequence. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(random: () => number, items: readonly T[]): T => items[Math.floor(random() * items.length)];

const CALLED_NUMBERS = [
  '+4915112345678', '+4930123456', '030 1234567', '0151 2345678', '+49900123456', '+49137555', '004989123456',
  '+33612345678', '+34912345678', '+12125550123', '+19005550100', '+5215512345678', '+447700900123', '+81312345678', '+61212345678',
];
const ROAMING = [
  {}, {}, {}, {}, { roamingCountry: 'FR' }, { roamingCountry: 'DE' }, { roamingCountry: 'US' }, { roamingCountry: 'TH' },
  { visitedMcc: '208' }, { visitedMcc: '262' }, { visitedMcc: '310' }, { visitedMcc: '234' }, { visitedMcc: '440' }, { visitedMcc: '999' },
  { roamingCountry: 'CA' }, { roamingCountry: 'MX' },
] as const;
const RATIOS = ['0', '0.1', '0.49', '0.5', '0.5000', '0.65', '0.8', '0.79999', '0.95', '1', '1.00', '1.2'];
const SPEND = ['0', '5.50', '19.99', '20.00', '20.01', '999.99', '1000.00', '1500', '19999.99', '20000.00', '25000'];
const ADD_ONS = [[], [], ['ROAM_WORLD_PASS_7D'], ['DATA_BOOST_5GB'], ['DATA_BOOST_5GB', 'ROAM_WORLD_PASS_7D']];
const QUANTITIES: Record<UsageEvent['usageType'], () => (random: () => number) => string> = {
  VOICE: () => (random) => String(Math.floor(random() * 3600)),
  SMS: () => (random) => String(1 + Math.floor(random() * 3)),
  MMS: () => () => '1',
  DATA: () => (random) => `${Math.floor(random() * 2000)}.${Math.floor(random() * 1000)}`,
  CONTENT: () => () => '1',
};
// 2025-01-01T00:00Z .. 2026-12-31, so holidays, weekends and DST changes all occur.
const START_MS = Date.UTC(2025, 0, 1);
const SPAN_MS = 2 * 365 * 24 * 3600 * 1000;

export function randomEvent(random: () => number, index: number): UsageEvent {
  const usageType = pick(random, ['VOICE', 'VOICE', 'SMS', 'MMS', 'DATA', 'DATA', 'CONTENT'] as const);
  const event: UsageEvent = {
    id: `evt-${index}`,
    lineId: `line-${Math.floor(random() * 100)}`,
    usageType,
    direction: pick(random, ['OUTGOING', 'OUTGOING', 'INCOMING', 'MO', 'MT'] as const),
    quantity: QUANTITIES[usageType]()(random),
    // The ISO string is test data; rating itself never reads the system clock.
    occurredAt: new Date(START_MS + Math.floor(random() * SPAN_MS)).toISOString(),
    ...pick(random, ROAMING),
  };
  if (usageType === 'VOICE' || usageType === 'SMS' || usageType === 'MMS') event.calledNumber = pick(random, CALLED_NUMBERS);
  return event;
}

export function randomContext(random: () => number): SubscriberContext {
  const ratio = () => pick(random, RATIOS);
  return {
    accountType: pick(random, ['PREPAID', 'POSTPAID'] as const),
    customerType: pick(random, ['INDIVIDUAL', 'BUSINESS'] as const),
    lineCount: 1 + Math.floor(random() * 7),
    lineStatus: random() < 0.05 ? pick(random, ['SUSPENDED', 'BARRED'] as const) : 'ACTIVE',
    allowanceUsedRatios: {
      data: ratio(), voice: ratio(), sms: ratio(), 'family-data': ratio(), 'pool-data': ratio(), 'pool-voice': ratio(),
    },
    spendInPeriod: pick(random, SPEND),
    activeAddOns: [...pick(random, ADD_ONS)],
    periodUsage: { DATA: String(Math.floor(random() * 700000)), VOICE: String(Math.floor(random() * 800000)) },
  };
}

export function randomUsage(seed: number, count: number): Array<{ event: UsageEvent; ctx: SubscriberContext }> {
  const random = seededRandom(seed);
  return Array.from({ length: count }, (_, i) => ({ event: randomEvent(random, i), ctx: randomContext(random) }));
}
