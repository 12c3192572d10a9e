/**
 * Authorization audit (with invoicing's): what a PARTNER (a usage feed) gets back from
 * `recordUsage`. A partner reads no records (`usageRecords`, `usageRecord`: FORBIDDEN,
 * read-authorization.test.ts), yet the ingest answer handed it the whole rated record of any number
 * it sent: which line and billing account hold an MSISDN, the subscription and plan version, the
 * price, what the customer's allowances covered and the rating trace. A feed that sends one
 * zero-quantity record per number could map every subscriber to their account and plan.
 *
 * Now a partner gets back what it sent (and the number it named), the record's id, status,
 * rejection and charge status; the fields that come from the subscriber's line, account, plan and
 * charges are null for it. Staff still get the whole record. (The feed is granted ANY_LINE: since
 * 2027-01-30 a partner's records are rated only for its own customers' lines otherwise,
 * partner-usage-own-customers.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import { ManualClock, SYSTEM_CALLER, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { GRANT_ANY_LINE, filePlanSource, setLine } from './support';

let svc: TestService;
const run = Math.random().toString(36).slice(2, 8);
const lineId = `lin_aa${run}`;
const account = `acc_aa${run}`;
const msisdn = `+49151000${String(Math.floor(Math.random() * 90000) + 10000)}`;

const PARTNER: Caller = { role: 'PARTNER', subject: 'roaming-feed', partnerId: 'roaming', scopes: [] };
const ADMIN: Caller = { role: 'ADMIN', subject: 'ops', scopes: [] };

const SUBSCRIBER_FIELDS = ['lineId', 'billingAccountId', 'subscriptionId', 'planVersionId', 'decision', 'allowanceId', 'chargedUnits', 'price', 'amountCharged', 'unitsFromAllowances', 'chargeReason', 'zone', 'ratingTrace'] as const;
const INGEST = `mutation($input: RecordUsageInput!) { recordUsage(input: $input) { results { status duplicate rejectionCode record {
  eventId msisdn usageType quantity calledNumber occurredAt status
  lineId billingAccountId subscriptionId planVersionId decision allowanceId chargedUnits price { amount currency } amountCharged { amount currency } unitsFromAllowances chargeReason zone ratingTrace
} } } }`;

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: [] }), { clock: new ManualClock(new Date('2026-03-20T12:00:00Z')) });
  await setLine(svc, { lineId, msisdn, account, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID' });
  // A roaming feed's CDRs name any home customer: staff grant it ANY_LINE (a partner is limited to its own customers by default).
  const granted = await svc.request(GRANT_ANY_LINE, { i: { partnerId: PARTNER.partnerId, kind: 'ANY_LINE' } }, ADMIN);
  expect(granted.errors, JSON.stringify(granted.errors)).toBeUndefined();
});

afterAll(async () => {
  await svc?.close();
});

async function ingest(caller: Caller, eventId: string) {
  const res = await svc.request<any>(INGEST, { input: { source: `aa-${run}`, records: [{ eventId, msisdn, usageType: 'VOICE', quantity: '60', calledNumber: '+4930123456', occurredAt: '2026-03-10T10:00:00Z' }] } }, caller);
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  return res.data.recordUsage.results[0];
}

const subscriberFields = (record: Record<string, unknown>) => Object.fromEntries(SUBSCRIBER_FIELDS.map((f) => [f, record[f] ?? null]));

describe('authorization audit: usage', () => {
  it("a partner's ingest answer does not name the line, account, plan or charges behind the MSISDN it sent", async () => {
    const result = await ingest(PARTNER, 'partner-call-1');
    expect(result).toMatchObject({ status: 'RATED', duplicate: false, rejectionCode: null });
    expect(result.record).toMatchObject({ eventId: 'partner-call-1', msisdn, usageType: 'VOICE', quantity: '60.000000', calledNumber: '+4930123456', status: 'RATED' });
    expect(subscriberFields(result.record)).toEqual(Object.fromEntries(SUBSCRIBER_FIELDS.map((f) => [f, null])));
  });

  it('staff still get the whole rated record back', async () => {
    for (const [caller, eventId] of [[SYSTEM_CALLER, 'system-call-1'], [ADMIN, 'admin-call-1']] as const) {
      const { record } = await ingest(caller, eventId);
      expect(record).toMatchObject({ eventId, msisdn, lineId, billingAccountId: account, subscriptionId: `sub_${lineId}`, planVersionId: 'plv_postpaid', status: 'RATED' });
      expect(record.price).not.toBeNull();
      expect(record.ratingTrace).not.toBeNull();
    }
  });
});
