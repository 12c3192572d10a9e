/**
 * A customer cannot tell another customer's usage record (or line, or account) from one that does
 * not exist by reading it: `usageRecord(id)` and the UsageRecord entity (`_entities`) answer another
 * customer's record exactly as a made-up id (null, no error), as subscribers', wallets' and
 * invoicing's reads of one object do. `Line.usage` / `BillingAccount.usage` (non-null) and a list
 * naming an account answer another customer's line or account exactly as an unknown one (FORBIDDEN
 * for both: the same code and message); a list by line shows nothing of another customer's line,
 * as for an unknown line. Staff read everything; a partner is refused by role, whatever the id.
 *
 * Found: `usageRecord(id)` and the entity answered FORBIDDEN for another customer's record and null
 * for an unknown id: an oracle of which record ids exist.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCloudEvent, EVENTS, type Caller } from '@ledgerline/contracts';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { RECORD_USAGE, filePlanSource, setLine, waitFor } from './support';

let svc: TestService;
const run = Math.random().toString(36).slice(2, 8);
/** The other customer's line, account and rated record; the caller's own line and account. */
const theirs = { lineId: `lin_pr${run}`, account: `acc_pr${run}`, customerId: `cus_pr${run}`, recordId: '' };
const mine = { lineId: `lin_me${run}`, account: `acc_me${run}`, customerId: `cus_me${run}` };
let unknown: { lineId: string; account: string; recordId: string };

const ME: Caller = { role: 'CUSTOMER', subject: 'me', customerId: mine.customerId, scopes: [] };
const OWNER: Caller = { role: 'CUSTOMER', subject: 'the-owner', customerId: theirs.customerId, scopes: [] };
const PARTNER: Caller = { role: 'PARTNER', subject: 'a-feed', partnerId: 'feed', scopes: [] };
const AGENT: Caller = { role: 'AGENT', subject: 'care', scopes: [] };

/** An id of the same shape as `id` (prefix, 32 hex digits) that names nothing. */
const madeUp = (id: string) => id.replace(/[0-9a-f]{32}$/, randomBytes(16).toString('hex'));

async function ownedAccount(account: string, customerId: string) {
  const opened = createCloudEvent({
    source: 'ledgerline/subscribers',
    type: EVENTS.billingAccountCreated.type,
    subject: account,
    time: new Date('2026-01-01T00:00:00Z'),
    data: { billingAccountId: account, customerId, parentAccountId: null, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 1, paymentTermsDays: 14, timezone: 'Europe/Berlin', creditLimit: null, autopay: false },
    key: [account],
  });
  await svc.runtime.messaging.js.publish(EVENTS.billingAccountCreated.subject, JSON.stringify(opened), { msgID: opened.id });
}

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: ['owners'], deliverNew: true }), { clock: new ManualClock(new Date('2026-03-20T12:00:00Z')) });
  await setLine(svc, { lineId: theirs.lineId, msisdn: '+4915100009401', account: theirs.account, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID' });
  await setLine(svc, { lineId: mine.lineId, msisdn: '+4915100009402', account: mine.account, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID' });
  await ownedAccount(theirs.account, theirs.customerId);
  await ownedAccount(mine.account, mine.customerId);
  const res = await svc.request(RECORD_USAGE, {
    input: { source: `pr-${run}`, records: [{ eventId: 'call-1', lineId: theirs.lineId, usageType: 'VOICE', quantity: '120', calledNumber: '+4930123456', occurredAt: '2026-03-10T10:00:00Z' }] },
  });
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  expect(res.data.recordUsage.rated).toBe(1);
  theirs.recordId = res.data.recordUsage.results[0].id;
  unknown = { lineId: `lin_nobody${run}`, account: `acc_nobody${run}`, recordId: madeUp(theirs.recordId) };
  expect(unknown.recordId).not.toBe(theirs.recordId);
  // Both owners are known once the `owners` consumer has applied the events.
  await waitFor(async () => (await svc.request(ONE, { id: theirs.recordId }, OWNER)).data?.usageRecord, 15_000, 'the owner from the billingaccount.created event');
  await waitFor(async () => !(await svc.request(ACCOUNT_USAGE, { id: mine.account }, ME)).errors, 15_000, "the caller's own account");
});
afterAll(async () => {
  await svc?.close();
});

const ONE = `query($id: ID!) { usageRecord(id: $id) { id lineId calledNumber } }`;
const RECORD_ENTITY = `query($id: ID!) { _entities(representations: [{ __typename: "UsageRecord", id: $id }]) { ... on UsageRecord { id calledNumber } } }`;
const LINE_USAGE = `query($id: ID!) { _entities(representations: [{ __typename: "Line", id: $id }]) { ... on Line { usage(period: "2026-03-10") { events } } } }`;
const ACCOUNT_USAGE = `query($id: ID!) { _entities(representations: [{ __typename: "BillingAccount", id: $id }]) { ... on BillingAccount { usage(period: "2026-03-10") { events } } } }`;
const BY_LINE = `query($id: ID) { usageRecords(lineId: $id, first: 50) { totalCount edges { node { id } } } }`;
const BY_ACCOUNT = `query($id: ID) { usageRecords(filter: { billingAccountId: $id }, first: 50) { totalCount edges { node { id } } } }`;

type Res = { data?: unknown; errors?: readonly { message: string; extensions?: Record<string, unknown> }[] };
/** The whole response as a client sees it (data, and each error's message, code, reason, field), the id it named replaced by <id>. */
const response = (r: Res, id: string) =>
  JSON.stringify({ data: r.data ?? null, errors: r.errors?.map((e) => ({ message: e.message, code: e.extensions?.code, reason: e.extensions?.reason, field: e.extensions?.field })) }).split(id).join('<id>');

type Ids = { lineId: string; account: string; recordId: string };
/** [name, query by $id, the id named, what a customer gets for another's and an unknown id alike]. */
const READS: [string, string, (x: Ids) => string, 'null' | 'FORBIDDEN' | 'empty'][] = [
  ['usageRecord(id)', ONE, (x) => x.recordId, 'null'],
  ['UsageRecord (entity)', RECORD_ENTITY, (x) => x.recordId, 'null'],
  ['Line.usage', LINE_USAGE, (x) => x.lineId, 'FORBIDDEN'],
  ['BillingAccount.usage', ACCOUNT_USAGE, (x) => x.account, 'FORBIDDEN'],
  ['usageRecords(lineId)', BY_LINE, (x) => x.lineId, 'empty'],
  ['usageRecords(filter: { billingAccountId })', BY_ACCOUNT, (x) => x.account, 'FORBIDDEN'],
];

describe("a customer cannot probe which ids exist by reading: another customer's object reads as a made-up one", () => {
  it.each(READS)('%s', async (_name, query, named, hidden) => {
    const other = await svc.request(query, { id: named(theirs) }, ME);
    const none = await svc.request(query, { id: named(unknown) }, ME);
    expect(response(other, named(theirs))).toBe(response(none, named(unknown)));
    const what = other.errors?.[0]?.extensions?.code ?? (JSON.stringify(other.data).includes('"totalCount":0,"edges":[]') ? 'empty' : JSON.stringify(other.data).match(/^\{"(usageRecord":null|_entities":\[null\])\}$/) ? 'null' : JSON.stringify(other.data));
    expect(what).toBe(hidden);
    expect(JSON.stringify(other.data ?? null)).not.toContain('+4930123456');

    // The owner and staff read it; a partner is refused by role, whatever the id.
    for (const reader of [OWNER, AGENT]) {
      const r = await svc.request(query, { id: named(theirs) }, reader);
      expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
      expect(JSON.stringify(r.data)).toMatch(/"events":1|\+4930123456|"totalCount":1/);
    }
    const partner = [await svc.request(query, { id: named(theirs) }, PARTNER), await svc.request(query, { id: named(unknown) }, PARTNER)].map((r) => r.errors?.[0]?.extensions?.code);
    expect(partner).toEqual(['FORBIDDEN', 'FORBIDDEN']);
  });
});
