/**
 * Review (seventh round): `Line.usage(period)` of a line that moved from one customer's billing
 * account to another's. The reader is authorized by the account that holds the line now
 * (requireLine), but the usage summed is every record of the line in the period asked about
 * (lineUsage sums without the account), so the new holder reads the previous holder's calls:
 * how much they used, how many events and what they spent, for any period before the move.
 * (BillingAccount.usage was fixed for this in account-usage-moved-line.test.ts; Line.usage was not.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCloudEvent, EVENTS, type Caller } from '@ledgerline/contracts';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { RECORD_USAGE, filePlanSource, setLine, waitFor } from './support';

let svc: TestService;
const run = Math.random().toString(36).slice(2, 8);
const lineId = `lin_r7h${run}`;
const msisdn = '+4915100007731';
const accA = `acc_r7ha${run}`;
const accB = `acc_r7hb${run}`;
const NEW_HOLDER: Caller = { role: 'CUSTOMER', subject: 'new-holder', customerId: `cus_r7hb${run}`, scopes: [] };

const UPSERT = `mutation($input: LineContextInput!) { upsertLineContext(input: $input) { lineId } }`;
const LINE_USAGE = `query($id: ID!, $p: String) { _entities(representations: [{ __typename: "Line", id: $id }]) { ... on Line { usage(period: $p) { period events spend totals { usageType quantity } } } } }`;

function opened(account: string, customerId: string) {
  return createCloudEvent({
    source: 'ledgerline/subscribers',
    type: EVENTS.billingAccountCreated.type,
    subject: account,
    time: new Date('2026-01-01T00:00:00Z'),
    data: { billingAccountId: account, customerId, parentAccountId: null, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 1, paymentTermsDays: 14, timezone: 'Europe/Berlin', creditLimit: null, autopay: false },
    key: [account],
  });
}

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: ['owners'], deliverNew: true }), { clock: new ManualClock(new Date('2026-03-20T12:00:00Z')) });
  for (const [account, customer] of [[accA, `cus_r7ha${run}`], [accB, NEW_HOLDER.customerId!]] as const) {
    const e = opened(account, customer);
    await svc.runtime.messaging.js.publish(EVENTS.billingAccountCreated.subject, JSON.stringify(e), { msgID: e.id });
  }
  // Customer A's line from 1 January; on 10 March it moved to customer B's account.
  await setLine(svc, { lineId, msisdn, account: accA, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID', subscriptionId: `sub_a${run}` });
  const sub = { paymentMode: 'POSTPAID', currency: 'EUR', planCode: 'plv_postpaid', planVersionId: 'plv_postpaid' };
  let res = await svc.request(UPSERT, { input: { lineId, msisdn, billingAccountId: accA, status: 'ACTIVE', at: '2026-03-10T00:00:00Z', subscription: { ...sub, subscriptionId: `sub_a${run}`, startsAt: '2026-01-01T00:00:00Z', endsAt: '2026-03-10T00:00:00Z' } } });
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  res = await svc.request(UPSERT, { input: { lineId, msisdn, billingAccountId: accB, status: 'ACTIVE', at: '2026-03-10T00:00:01Z', subscription: { ...sub, subscriptionId: `sub_b${run}`, startsAt: '2026-03-10T00:00:00Z' } } });
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  // Customer A's calls in February, before the move.
  res = await svc.request(RECORD_USAGE, {
    input: {
      source: `r7h-${run}`,
      records: [
        { eventId: 'a-feb-1', lineId, usageType: 'DATA', quantity: '25', occurredAt: '2026-02-05T10:00:00Z', roamingCountry: 'US' },
        { eventId: 'a-feb-2', lineId, usageType: 'VOICE', quantity: '300', occurredAt: '2026-02-06T10:00:00Z', calledNumber: '+4930123456' },
      ],
    },
  });
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  expect(res.data.recordUsage.rated).toBe(2);
  // B may read the line now (it holds it) once the owners consumer has applied B's account event.
  await waitFor(async () => !(await svc.request(LINE_USAGE, { id: lineId, p: null }, NEW_HOLDER)).errors, 15_000, "customer B's ownership of the account");
});

afterAll(async () => {
  await svc?.close();
});

describe("Line.usage of a line that changed customers", () => {
  it("the new holder does not read the previous holder's usage of the line", async () => {
    const res = await svc.request(LINE_USAGE, { id: lineId, p: '2026-02-05' }, NEW_HOLDER);
    const code = res.errors?.[0]?.extensions?.code;
    const usage = res.data?._entities?.[0]?.usage as { events: number; spend: string; totals: unknown[] } | undefined;
    // Refused, or the line's usage as B's account had it: nothing in February.
    const seenByB = code === 'FORBIDDEN' ? { events: 0, totals: [] } : { events: usage?.events, totals: usage?.totals };
    expect(seenByB).toEqual({ events: 0, totals: [] });
  });
});
