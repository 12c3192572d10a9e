/**
 * A bill event the service's own `bills` consumer cannot apply is counted on its /metrics
 * (`ledgerline_usage_bill_events_dropped_total{reason}`, what alert LedgerlineUsageBillEventsDropped
 * watches): the consumer's drops reach the counter through service.ts, not only a test's callback.
 * A private nats-server: these bills must not reach other runs' consumers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCloudEvent, EVENTS } from '@ledgerline/contracts';
import { ManualClock, startPrivateNats, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { filePlanSource, sqlOf, waitFor } from './support';

let nats: Awaited<ReturnType<typeof startPrivateNats>>;
let svc: TestService;
const run = Math.random().toString(36).slice(2, 8);

beforeAll(async () => {
  nats = await startPrivateNats();
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: ['bills'], deliverNew: true }), { env: { NATS_URL: nats.url }, clock: new ManualClock(new Date('2026-03-02T12:00:00Z')) });
}, 60_000);
afterAll(async () => {
  await svc?.close();
  await nats?.stop();
});

async function droppedOnMetrics(): Promise<Record<string, number>> {
  const text = await (await fetch(svc.url.replace(/\/graphql$/, '/metrics'))).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^ledgerline_usage_bill_events_dropped_total\{([^}]*)\} (\d+)/gm)) {
    const reason = /reason="([^"]+)"/.exec(m[1]!)?.[1];
    if (reason) out[reason] = Number(m[2]);
  }
  return out;
}

describe('bill events usage cannot apply, on /metrics', () => {
  it('counts an invalid bill and a message that is no CloudEvent, by reason', async () => {
    expect(await droppedOnMetrics()).toEqual({});
    const data = { invoiceId: `inv_nul\u0000${run}`, number: 'INV-1', billingAccountId: `acc_${run}`, state: 'SENT', periodStart: '2026-02-01T00:00:00.000Z', periodEnd: '2026-03-01T00:00:00.000Z', currency: 'EUR', netTotal: '1', taxTotal: '0', total: '1', usageAmount: '0', usageRecords: 0 };
    const e = createCloudEvent({ source: 'ledgerline/invoicing', type: EVENTS.customerBillCreated.type, subject: `inv_${run}`, time: new Date('2026-03-02T00:00:00Z'), data, key: [`bad-${run}`] });
    await svc.runtime.messaging.js.publish(EVENTS.customerBillCreated.subject, JSON.stringify(e), { msgID: e.id });
    await svc.runtime.messaging.js.publish(EVENTS.customerBillCreated.subject, 'not json', { msgID: `raw-${run}` });
    await waitFor(async () => Object.keys(await droppedOnMetrics()).length === 2, 15_000, 'both drops to be counted');
    expect(await droppedOnMetrics()).toEqual({ invalid: 1, not_a_cloud_event: 1 });
  }, 40_000);
});

describe('a bill of an instant (a business budget replenishment invoice)', () => {
  it('is acknowledged without marking records and is not counted as dropped; the bills after it apply', async () => {
    const before = await droppedOnMetrics();
    const bill = (invoiceId: string, periodStart: string, periodEnd: string) => {
      const data = { invoiceId, number: `INV-${invoiceId}`, billingAccountId: `acc_r_${run}`, state: 'SENT', periodStart, periodEnd, currency: 'EUR', netTotal: '50', taxTotal: '0', total: '50', usageAmount: '0', usageRecords: 0 };
      return createCloudEvent({ source: 'ledgerline/invoicing', type: EVENTS.customerBillCreated.type, subject: invoiceId, time: new Date('2026-03-02T00:00:00Z'), data, key: [invoiceId, 'issued'] });
    };
    // As invoicing issues a replenishment: its period is the instant it was raised (replenishment.ts).
    const replenishment = bill(`inv_rep_${run}`, '2026-03-01T10:00:00.000Z', '2026-03-01T10:00:00.000Z');
    const period = bill(`inv_per_${run}`, '2026-02-01T00:00:00.000Z', '2026-03-01T00:00:00.000Z');
    for (const e of [replenishment, period]) await svc.runtime.messaging.js.publish(EVENTS.customerBillCreated.subject, JSON.stringify(e), { msgID: e.id });
    const db = await sqlOf(svc);
    try {
      const billed = await waitFor(async () => {
        const { rows } = await db.query<{ invoice_id: string }>('select invoice_id from billed_period where billing_account_id = $1', [`acc_r_${run}`]);
        return rows.length > 0 && rows;
      }, 15_000, 'the period bill after the replenishment to be applied');
      expect(billed.map((r) => r.invoice_id)).toEqual([`inv_per_${run}`]);
    } finally {
      await db.end();
    }
    expect(await droppedOnMetrics()).toEqual(before);
  }, 40_000);
});
