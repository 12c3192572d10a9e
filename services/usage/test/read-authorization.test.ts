/**
 * Who may read usage: `usageRecords`, `usageRecord`, `rejectedUsage` (top-level queries of the
 * supergraph: the gateway forwards them with the caller it verified) and the entity fields
 * `Line.usage` / `BillingAccount.usage`.
 *
 * They used to answer whoever asked: an anonymous caller (no token at all) or any customer listed
 * every customer's calls - called numbers, MSISDNs, roaming countries, prices - and the rejected
 * records of every partner feed, and read any line's or account's live usage through `_entities`.
 * Now (as in wallets and subscribers): no caller → UNAUTHENTICATED; a CUSTOMER sees only records
 * rated to the billing accounts they own and the usage of those accounts and their lines (who
 * owns an account: subscribers' billingaccount.created event, consumer `owners`), anything else
 * → FORBIDDEN or nothing (another customer's record by id: null, as an unknown id); staff (AGENT, ADMIN, SYSTEM) see everything; rejected records (raw feed
 * payloads) are staff only; a PARTNER (a feed) reads no records.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCloudEvent, EVENTS, type Caller } from '@ledgerline/contracts';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { GRANT_ANY_LINE, RECORD_USAGE, filePlanSource, setLine, waitFor } from './support';

let svc: TestService;
const run = Math.random().toString(36).slice(2, 8);
const lineId = `lin_az${run}`;
const account = `acc_az${run}`;
const owner = `cus_az${run}`;
let ratedId = '';

const ANONYMOUS: Caller = { role: 'ANONYMOUS', subject: 'anonymous', scopes: [] };
const STRANGER: Caller = { role: 'CUSTOMER', subject: 'someone-else', customerId: `cus_other${run}`, scopes: [] };
const OWNER: Caller = { role: 'CUSTOMER', subject: 'the-owner', customerId: owner, scopes: [] };
const PARTNER: Caller = { role: 'PARTNER', subject: 'a-feed', partnerId: 'feed', scopes: [] };
const AGENT: Caller = { role: 'AGENT', subject: 'care', scopes: [] };

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: ['owners'], deliverNew: true }), { clock: new ManualClock(new Date('2026-03-20T12:00:00Z')) });
  await setLine(svc, { lineId, msisdn: '+4915100009301', account, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID' });
  // The feed sends CDRs of any customer (a partner is limited to its own customers' lines unless staff grant ANY_LINE).
  const granted = await svc.request(GRANT_ANY_LINE, { i: { partnerId: PARTNER.partnerId, kind: 'ANY_LINE' } }, { role: 'ADMIN', subject: 'ops', scopes: [] });
  expect(granted.errors, JSON.stringify(granted.errors)).toBeUndefined();
  // Subscribers says who owns the account (as when it was opened).
  const opened = createCloudEvent({
    source: 'ledgerline/subscribers',
    type: EVENTS.billingAccountCreated.type,
    subject: account,
    time: new Date('2026-01-01T00:00:00Z'),
    data: { billingAccountId: account, customerId: owner, parentAccountId: null, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 1, paymentTermsDays: 14, timezone: 'Europe/Berlin', creditLimit: null, autopay: false },
    key: [account],
  });
  await svc.runtime.messaging.js.publish(EVENTS.billingAccountCreated.subject, JSON.stringify(opened), { msgID: opened.id });
  const res = await svc.request(RECORD_USAGE, {
    input: {
      source: `az-${run}`,
      records: [
        { eventId: 'call-1', lineId, usageType: 'VOICE', quantity: '120', calledNumber: '+4930123456', occurredAt: '2026-03-10T10:00:00Z' },
        { eventId: 'broken-1', lineId, usageType: 'TELEPORT', quantity: '1', occurredAt: '2026-03-10T10:00:00Z' },
      ],
    },
  });
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  expect([res.data.recordUsage.rated, res.data.recordUsage.rejected]).toEqual([1, 1]);
  ratedId = res.data.recordUsage.results[0].id;
  // The owner is known once the `owners` consumer has applied the event.
  await waitFor(async () => (await svc.request(ONE, { id: ratedId }, OWNER)).data?.usageRecord, 15_000, 'the account owner from the billingaccount.created event');
});

afterAll(async () => {
  await svc?.close();
});

const LIST = `query($f: UsageRecordFilter) { usageRecords(filter: $f, first: 50) { edges { node { id lineId msisdn calledNumber } } } }`;
const ONE = `query($id: ID!) { usageRecord(id: $id) { id lineId calledNumber } }`;
const REJECTED = `{ rejectedUsage(first: 50) { edges { node { id lineId rejectionCode } } } }`;
const LINE_USAGE = `query($id: ID!) { _entities(representations: [{ __typename: "Line", id: $id }]) { ... on Line { usage(period: "2026-03-10") { events } } } }`;
const ACCOUNT_USAGE = `query($id: ID!) { _entities(representations: [{ __typename: "BillingAccount", id: $id }]) { ... on BillingAccount { usage(period: "2026-03-10") { events } } } }`;

/** The records of the line the caller got back (none when refused). */
function seen(res: { data?: any }, field: 'usageRecords' | 'rejectedUsage'): string[] {
  return (res.data?.[field]?.edges ?? []).map((e: { node: { lineId: string } }) => e.node.lineId).filter((l: string) => l === lineId);
}

/** The events counted in the line's / account's usage, or the error code when refused. */
async function usageAs(caller: Caller) {
  const outcome = (res: { data?: any; errors?: { extensions?: Record<string, unknown> }[] }) => res.errors?.[0]?.extensions?.code ?? res.data?._entities?.[0]?.usage?.events;
  return { line: outcome(await svc.request(LINE_USAGE, { id: lineId }, caller)), account: outcome(await svc.request(ACCOUNT_USAGE, { id: account }, caller)) };
}

describe('reading usage needs a caller who may see it', () => {
  it('an anonymous caller is refused (UNAUTHENTICATED) and gets no record and no usage', async () => {
    const list = await svc.request(LIST, { f: { lineId } }, ANONYMOUS);
    const one = await svc.request(ONE, { id: ratedId }, ANONYMOUS);
    const rejected = await svc.request(REJECTED, {}, ANONYMOUS);
    expect({
      usageRecords: { code: list.errors?.[0]?.extensions?.code, records: seen(list, 'usageRecords') },
      usageRecord: { code: one.errors?.[0]?.extensions?.code, record: one.data?.usageRecord?.calledNumber ?? null },
      rejectedUsage: { code: rejected.errors?.[0]?.extensions?.code, records: seen(rejected, 'rejectedUsage') },
      usage: await usageAs(ANONYMOUS),
    }).toEqual({
      usageRecords: { code: 'UNAUTHENTICATED', records: [] },
      usageRecord: { code: 'UNAUTHENTICATED', record: null },
      rejectedUsage: { code: 'UNAUTHENTICATED', records: [] },
      usage: { line: 'UNAUTHENTICATED', account: 'UNAUTHENTICATED' },
    });
  });

  it("a customer does not see another customer's calls or usage, and rejected feed records are staff only", async () => {
    const byLine = await svc.request(LIST, { f: { lineId } }, STRANGER);
    const byAccount = await svc.request(LIST, { f: { billingAccountId: account } }, STRANGER);
    const everything = await svc.request(LIST, {}, STRANGER);
    const one = await svc.request(ONE, { id: ratedId }, STRANGER);
    const rejected = await svc.request(REJECTED, {}, STRANGER);
    expect({
      byLine: seen(byLine, 'usageRecords'),
      byAccount: { code: byAccount.errors?.[0]?.extensions?.code, records: seen(byAccount, 'usageRecords') },
      everything: seen(everything, 'usageRecords'),
      one: { code: one.errors?.[0]?.extensions?.code, record: one.data?.usageRecord?.calledNumber ?? null },
      rejected: { code: rejected.errors?.[0]?.extensions?.code, records: seen(rejected, 'rejectedUsage') },
      usage: await usageAs(STRANGER),
    }).toEqual({
      byLine: [],
      byAccount: { code: 'FORBIDDEN', records: [] },
      everything: [],
      // Another customer's record reads as an id that does not exist: null, no error (customer-ids-not-probed.test.ts).
      one: { code: undefined, record: null },
      rejected: { code: 'FORBIDDEN', records: [] },
      usage: { line: 'FORBIDDEN', account: 'FORBIDDEN' },
    });
  });

  it("the account's owner sees its calls and usage (rejected feed records stay staff only); an agent sees everything; a partner reads no records", async () => {
    const rejectedAsOwner = await svc.request(REJECTED, {}, OWNER);
    const partner = await svc.request(LIST, { f: { lineId } }, PARTNER);
    expect({
      byLine: seen(await svc.request(LIST, { f: { lineId } }, OWNER), 'usageRecords'),
      byAccount: seen(await svc.request(LIST, { f: { billingAccountId: account } }, OWNER), 'usageRecords'),
      everything: seen(await svc.request(LIST, {}, OWNER), 'usageRecords'),
      one: (await svc.request(ONE, { id: ratedId }, OWNER)).data?.usageRecord?.calledNumber ?? null,
      usage: await usageAs(OWNER),
      rejected: { code: rejectedAsOwner.errors?.[0]?.extensions?.code, records: seen(rejectedAsOwner, 'rejectedUsage') },
      agent: { records: seen(await svc.request(LIST, { f: { lineId } }, AGENT), 'usageRecords'), rejected: seen(await svc.request(REJECTED, {}, AGENT), 'rejectedUsage'), usage: await usageAs(AGENT) },
      partner: { code: partner.errors?.[0]?.extensions?.code, records: seen(partner, 'usageRecords') },
    }).toEqual({
      // The rejected record was never rated to an account: only staff see it.
      byLine: [lineId],
      byAccount: [lineId],
      everything: [lineId],
      one: '+4930123456',
      usage: { line: 1, account: 1 },
      rejected: { code: 'FORBIDDEN', records: [] },
      agent: { records: [lineId, lineId], rejected: [lineId], usage: { line: 1, account: 1 } },
      partner: { code: 'FORBIDDEN', records: [] },
    });
  });

  it('a partner resending a known event id does not get the stored record back (only records its call stored)', async () => {
    const RESULTS = `mutation($input: RecordUsageInput!) { recordUsage(input: $input) { results { duplicate rejectionCode record { calledNumber } } } }`;
    const input = (calledNumber: string, eventId: string) => ({ input: { source: `az-${run}`, records: [{ eventId, lineId, usageType: 'VOICE', quantity: '120', calledNumber, occurredAt: '2026-03-10T10:00:00Z' }] } });
    const same = await svc.request(RESULTS, input('+4930123456', 'call-1'), PARTNER);
    const other = await svc.request(RESULTS, input('+4930999999', 'call-1'), PARTNER);
    const fresh = await svc.request(RESULTS, input('+4930777777', 'call-2'), PARTNER);
    expect([same.data?.recordUsage.results[0], other.data?.recordUsage.results[0], fresh.data?.recordUsage.results[0]]).toEqual([
      { duplicate: true, rejectionCode: null, record: null },
      { duplicate: false, rejectionCode: 'EVENT_ID_CONFLICT', record: null },
      { duplicate: false, rejectionCode: null, record: { calledNumber: '+4930777777' } },
    ]);
  });
});
