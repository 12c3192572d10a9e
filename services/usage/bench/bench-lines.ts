import type { UsageRuntime } from '../src/usage-runtime';

const SINCE = new Date('2025-01-01T00:00:00Z');
const TYPES = ['DATA', 'VOICE', 'SMS'] as const;
const msisdnOf = (i: number) => `+4916${String(i).padStart(8, '0')}`;

/** The benchmarks' lines in usage's read model: `lines` active lines, even ones prepaid, odd ones postpaid. */
export async function seedBenchLines(usage: UsageRuntime, lines: number): Promise<void> {
  for (let i = 0; i < lines; i++) {
    const lineId = `lin_b${i}`;
    const prepaid = i % 2 === 0;
    await usage.directory.applyLineState({ lineId, msisdn: msisdnOf(i), billingAccountId: `acc_b${i}`, status: 'ACTIVE' }, SINCE);
    await usage.directory.applySubscription({ subscriptionId: `sub_b${i}`, lineId, msisdn: msisdnOf(i), billingAccountId: `acc_b${i}`, paymentMode: prepaid ? 'PREPAID' : 'POSTPAID', currency: 'EUR', planCode: 'X', planVersionId: prepaid ? 'plv_prepaid' : 'plv_postpaid', status: 'ACTIVE', startsAt: SINCE.toISOString(), endsAt: null, addOns: [] }, SINCE);
  }
}

/** Event `i` of a run over those lines (data, voice and SMS in turn), as the NATS ingest hands it to the pipeline. */
export function benchEvents(runId: string, lines: number, base: number) {
  return (i: number) => {
    const t = TYPES[i % 3]!;
    return { raw: { source: `bench-${runId}`, eventId: `e${i}`, msisdn: msisdnOf(i % lines), usageType: t, quantity: t === 'DATA' ? '1.5' : t === 'VOICE' ? '75' : '1', calledNumber: t === 'DATA' ? undefined : '+4930123456', occurredAt: new Date(base + i).toISOString() }, source: 'nats' };
  };
}
