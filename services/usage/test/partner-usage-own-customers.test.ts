/**
 * Which lines a partner's `recordUsage` may charge (2027-01-30).
 *
 * `recordUsage` is open to PARTNER callers (usage feeds, MVNOs' mediation). Online charging has been limited to a
 * partner's own customers since 2027-01-27 (`chargingSession`, partnerMayCharge), but a partner's offline records
 * were rated and charged to ANY customer's line: partner A posted a CDR naming partner B's customer, or one of the
 * operator's own, and that customer was charged (here 4.90 EUR of roaming data each).
 *
 * Now a partner's usage entitlement (`partner_usage_entitlement`, staff set it with `setPartnerUsageEntitlement`,
 * audited) is OWN_CUSTOMERS unless staff granted ANY_LINE (a roaming or mediation feed naming any home customer).
 * With OWN_CUSTOMERS, a record whose line's subscription at the record's time bills an account not assigned to the
 * partner is stored REJECTED `LINE_NOT_PARTNERS` (not a waiting code: never rated by itself), and the partner is
 * answered exactly as for a line that does not exist (LINE_UNKNOWN, the unknown-line message), also when it sends it
 * again. The sender is kept beside the record (`record_sender`), so both reprocess paths apply the same check at
 * reprocess time: a partner's record that waited for an unknown line which then turns up as someone else's becomes
 * LINE_NOT_PARTNERS, never RATED; staff's reprocessRejected applies it too. The platform (SYSTEM, ADMIN, the NATS
 * ingest) is not restricted.
 *
 * Real wallets (child process, own schema), NATS (private) and PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { createCloudEvent, dec, EVENTS, usageIngestSubject, usagePartitionOf, type Caller, type LineStateData, type SubscriptionData } from '@ledgerline/contracts';
import { SYSTEM_CALLER, startPrivateNats, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { usageRuntimeOf } from '../src/usage-runtime';
import { applyAccountOwnerEvent } from '../src/events/subscriber-events-consumer';
import { reprocessWaiting } from '../src/application/reprocess-rejected';
import { CHARGED_RECORDS, filePlanSource, setLine, sqlOf, startWalletsProcess, waitFor, type WalletsProcess } from './support';

let nats: Awaited<ReturnType<typeof startPrivateNats>>;
let wallets: WalletsProcess;
let svc: TestService;
let db: pg.Client;
const run = Math.random().toString(36).slice(2, 8);
const digits = String(Math.floor(Math.random() * 9000) + 1000);

const PARTNER_A: Caller = { role: 'PARTNER', subject: 'mvno-a', partnerId: `mvno-a-${run}`, scopes: [] };
const PARTNER_B: Caller = { role: 'PARTNER', subject: 'mvno-b', partnerId: `mvno-b-${run}`, scopes: [] };
const FEED: Caller = { role: 'PARTNER', subject: 'roaming-feed', partnerId: `roaming-${run}`, scopes: [] };
const NO_ID: Caller = { role: 'PARTNER', subject: 'no-partner-id', scopes: [] };
const ADMIN: Caller = { role: 'ADMIN', subject: 'ops-alice', scopes: [] };
const AGENT: Caller = { role: 'AGENT', subject: 'care', scopes: [] };

interface TestLine {
  lineId: string;
  account: string;
  msisdn: string;
  walletId: string;
}
const lines: Record<string, TestLine> = {};
const line = (key: string, n: number): TestLine => (lines[key] = { lineId: `lin_pu${key}${run}`, account: `acc_pu${key}${run}`, msisdn: `+4915109${digits}${String(n).padStart(2, '0')}`, walletId: '' });

/** A POSTPAID line on plv_postpaid known to usage, with its wallet, its account opened for `partnerId` (null: the operator's own). */
async function provision(l: TestLine, partnerId: string | null, known = true): Promise<void> {
  l.walletId = await wallets.postpaidWallet(l.account, l.lineId);
  if (known) await setLine(svc, { lineId: l.lineId, msisdn: l.msisdn, account: l.account, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID' });
  await openAccount(l.account, partnerId);
}

async function applyOwnerEvent(subject: string, event: ReturnType<typeof createCloudEvent>) {
  await applyAccountOwnerEvent(usageRuntimeOf(svc.runtime).sql, subject, JSON.stringify(event), (s, reason, details) => {
    throw new Error(`${s} refused: ${reason} ${JSON.stringify(details)}`);
  });
}

/** Subscribers' billingaccount.created for the account, assigned to `partnerId`, applied as the `owners` consumer does. */
function openAccount(account: string, partnerId: string | null) {
  return applyOwnerEvent(EVENTS.billingAccountCreated.subject, createCloudEvent({
    source: 'ledgerline/subscribers', type: EVENTS.billingAccountCreated.type, subject: account, time: new Date('2026-01-01T00:00:00Z'), key: [account],
    data: { billingAccountId: account, customerId: `cus_${account}`, parentAccountId: null, partnerId, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 1, paymentTermsDays: 14, timezone: 'Europe/Berlin', creditLimit: null, autopay: false },
  }));
}

/** Subscribers' billingaccount.changed giving the account to `partnerId` (staff's updateBillingAccount). */
function reassign(account: string, partnerId: string | null, partnerVersion: number) {
  const time = new Date().toISOString();
  return applyOwnerEvent(EVENTS.billingAccountChanged.subject, createCloudEvent({
    source: 'ledgerline/subscribers', type: EVENTS.billingAccountChanged.type, subject: account, time: new Date(time), key: [account, time, String(partnerVersion), 'partnerId'],
    data: { billingAccountId: account, customerId: `cus_${account}`, paymentMode: 'POSTPAID', currency: 'EUR', creditLimit: null, autopay: false, partnerId, partnerVersion, changed: ['partnerId'] },
  }));
}

/** The line's activation as subscribers announces it (the `subscribers` consumer applies it and rates the usage waiting for it). */
async function activate(l: TestLine, startsAt: string) {
  const publish = async (name: 'lineStateChanged' | 'subscriptionCreated', data: LineStateData | SubscriptionData, key: string) => {
    const e = createCloudEvent({ source: 'ledgerline/subscribers', type: EVENTS[name].type, subject: l.lineId, time: new Date(startsAt), data, key: [key] });
    await svc.runtime.messaging.js.publish(EVENTS[name].subject, JSON.stringify(e), { msgID: e.id });
  };
  await publish('lineStateChanged', { lineId: l.lineId, msisdn: l.msisdn, billingAccountId: l.account, status: 'ACTIVE' }, `${l.lineId}-l`);
  await publish('subscriptionCreated', { subscriptionId: `sub_${l.lineId}`, lineId: l.lineId, msisdn: l.msisdn, billingAccountId: l.account, paymentMode: 'POSTPAID', currency: 'EUR', planCode: 'POSTPAID_20GB', planVersionId: 'plv_postpaid', status: 'ACTIVE', startsAt, endsAt: null, addOns: [] }, `${l.lineId}-s`);
}

const occurredAt = new Date(Date.now() - 3_600_000).toISOString();
/** 10 MB of data roaming in the US: 4.90 EUR on plv_postpaid (beyond every allowance). */
const cdr = (eventId: string, who: { lineId?: string; msisdn?: string }, extra: Record<string, string> = {}) => ({ eventId, ...who, usageType: 'DATA', quantity: '10', roamingCountry: 'US', occurredAt, ...extra });
const SOURCE = `pu-${run}`;

const INGEST = `mutation($input: RecordUsageInput!) { recordUsage(input: $input) { rated rejected duplicates results { index id source eventId status duplicate rejectionCode rejectionReason record {
  id source eventId lineId msisdn billingAccountId subscriptionId planVersionId usageType direction quantity unit occurredAt calledNumber roamingCountry visitedMcc status rejectionCode rejectionReason
  decision allowanceId chargedUnits price { amount currency } chargeStatus amountCharged { amount currency } unitsFromAllowances chargeReason zone adjustsInvoiceId ratingTrace ratingVersion receivedAt ratedAt
  rejections { rejectionCode rejectionReason }
} } } }`;

async function ingest(caller: Caller, records: Record<string, unknown>[]) {
  const res = await svc.request<any>(INGEST, { input: { source: SOURCE, records } }, caller);
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  return res.data.recordUsage as { rated: number; rejected: number; duplicates: number; results: any[] };
}
const ingestOne = async (caller: Caller, record: Record<string, unknown>) => (await ingest(caller, [record])).results[0];

const REPROCESS = `mutation($i: ReprocessRejectedInput!) { reprocessRejected(input: $i) { rated stillRejected results { id status rejectionCode rejectionReason } } }`;
async function reprocess(input: Record<string, unknown>) {
  const res = await svc.request<any>(REPROCESS, { i: input }, ADMIN);
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  return res.data.reprocessRejected;
}

const SET = `mutation($i: SetPartnerUsageEntitlementInput!) { setPartnerUsageEntitlement(input: $i) { entitlement { partnerId kind grantedBy grantedAt } } }`;
const LIST = `query($p: ID) { partnerUsageEntitlements(partnerId: $p) { totalCount edges { cursor node { partnerId kind grantedBy grantedAt changes { kind previousKind changedBy changedByRole changedAt } } } } }`;

async function stored(id: string) {
  const { rows } = await db.query(`select u.status, u.rejection_code, u.charge, u.charge_status, (select partner_id from record_sender s where s.record_id = u.id) as sender,
      exists (select 1 from pending_charge p where p.usage_record_id = u.id) as pending from usage_record u where u.id = $1`, [id]);
  return rows[0];
}

const unbilled = async (l: TestLine) => dec(await wallets.unbilledOf(l.walletId)).toFixed(2);

/** What an answer says with the line it named and its ids taken out: two answers for two lines compare equal when they tell the same. */
function told(result: unknown, named: string, eventId: string): unknown {
  const { id, ...rest } = result as { id: string };
  const record = (rest as { record?: { id: string; receivedAt?: string } | null }).record;
  const text = JSON.stringify({ ...rest, record: record ? { ...record, id: '<id>', receivedAt: '<t>' } : record }).replaceAll(eventId, '<event>').replaceAll(named, '<line>');
  return { ...JSON.parse(text), id: id ? '<id>' : id };
}

async function rejectedCount(reason: string): Promise<number> {
  const { values } = await usageRuntimeOf(svc.runtime).metrics.rejected.get();
  return values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

beforeAll(async () => {
  nats = await startPrivateNats();
  wallets = await startWalletsProcess(nats.url);
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: ['charges', 'subscribers', 'ingest'], deliverNew: true }), { env: { NATS_URL: nats.url } });
  db = await sqlOf(svc);
  await provision(line('a', 1), PARTNER_A.partnerId!);
  await provision(line('b', 2), PARTNER_B.partnerId!);
  await provision(line('n', 3), null);
}, 120_000);

afterAll(async () => {
  await db?.end();
  await svc?.close();
  await wallets?.stop();
  await nats?.stop();
});

describe("a partner's recordUsage charges only its own customers' lines (unless staff granted ANY_LINE)", () => {
  it("partner A's CDRs for its own customer (by line id and by MSISDN) are rated and charged; the sender is kept beside the record", async () => {
    const a = lines.a!;
    const res = await ingest(PARTNER_A, [cdr('own-1', { lineId: a.lineId }), cdr('own-2', { msisdn: a.msisdn })]);
    expect(res.results.map((r) => [r.status, r.rejectionCode])).toEqual([['RATED', null], ['RATED', null]]);
    await waitFor(async () => (await unbilled(a)) === '9.80', 30_000, "the own customer's two charges applied in wallets");
    for (const r of res.results) expect(await stored(r.id)).toMatchObject({ status: 'RATED', sender: PARTNER_A.partnerId });
  });

  it("another partner's customer, or the operator's own: REJECTED LINE_NOT_PARTNERS, answered to the partner exactly as an unknown line, nothing charged", async () => {
    const cases: [string, TestLine, 'lineId' | 'msisdn'][] = [
      ["B's customer by line id", lines.b!, 'lineId'],
      ["B's customer by MSISDN", lines.b!, 'msisdn'],
      ["the operator's own customer by line id", lines.n!, 'lineId'],
      ["the operator's own customer by MSISDN", lines.n!, 'msisdn'],
    ];
    const before = await rejectedCount('LINE_NOT_PARTNERS');
    for (const [i, [what, l, by]] of cases.entries()) {
      const named = by === 'lineId' ? l.lineId : l.msisdn;
      const madeUp = by === 'lineId' ? `lin_none${run}${i}` : `+4915109${digits}9${i}`;
      const [foreignEvent, unknownEvent] = [`foreign-${by}-${l.lineId}`, `unknown-${by}-${l.lineId}`];
      const foreign = await ingestOne(PARTNER_A, cdr(foreignEvent, { [by]: named }));
      const unknown = await ingestOne(PARTNER_A, cdr(unknownEvent, { [by]: madeUp }));
      expect(foreign, what).toMatchObject({ status: 'REJECTED', duplicate: false, rejectionCode: 'LINE_UNKNOWN', rejectionReason: `no line with ${by === 'lineId' ? 'id' : 'MSISDN'} ${named} is known to usage` });
      expect(foreign.record, what).toMatchObject({ status: 'REJECTED', rejectionCode: 'LINE_UNKNOWN', rejectionReason: foreign.rejectionReason, rejections: [] });
      // Byte for byte what a made-up line gets, the ids aside.
      expect(told(foreign, named, foreignEvent), what).toEqual(told(unknown, madeUp, unknownEvent));
      // Sent again: a duplicate, told the same as the unknown line's duplicate.
      const [again, unknownAgain] = [await ingestOne(PARTNER_A, cdr(foreignEvent, { [by]: named })), await ingestOne(PARTNER_A, cdr(unknownEvent, { [by]: madeUp }))];
      expect(again, what).toMatchObject({ duplicate: true, rejectionCode: 'LINE_UNKNOWN' });
      expect(told(again, named, foreignEvent), what).toEqual(told(unknownAgain, madeUp, unknownEvent));
      // Sent again with other content: refused, and the refusal says the same too.
      const [conflict, unknownConflict] = [await ingestOne(PARTNER_A, cdr(foreignEvent, { [by]: named }, { quantity: '11' })), await ingestOne(PARTNER_A, cdr(unknownEvent, { [by]: madeUp }, { quantity: '11' }))];
      expect(conflict.rejectionCode, what).toBe('EVENT_ID_CONFLICT');
      expect(told(conflict, named, foreignEvent), what).toEqual(told(unknownConflict, madeUp, unknownEvent));

      // Stored as what it is, never charged; staff read the real code.
      expect(await stored(foreign.id), what).toEqual({ status: 'REJECTED', rejection_code: 'LINE_NOT_PARTNERS', charge: null, charge_status: 'NONE', sender: PARTNER_A.partnerId, pending: false });
      expect(await stored(unknown.id), what).toMatchObject({ status: 'REJECTED', rejection_code: 'LINE_UNKNOWN', sender: PARTNER_A.partnerId });
      const staff = await svc.request<any>(`query($id: ID!) { usageRecord(id: $id) { rejectionCode rejectionReason lineId } }`, { id: foreign.id }, AGENT);
      expect(staff.data.usageRecord, what).toMatchObject({ rejectionCode: 'LINE_NOT_PARTNERS', lineId: l.lineId });
      expect(staff.data.usageRecord.rejectionReason, what).toContain(PARTNER_A.partnerId);
    }
    // Counted with the other rejections, under its own code (staff's metrics).
    expect((await rejectedCount('LINE_NOT_PARTNERS')) - before).toBe(4);
  });

  it('the platform is not restricted: SYSTEM and the NATS ingest charge any line, and keep no sender', async () => {
    const b = lines.b!;
    const system = await ingestOne(SYSTEM_CALLER, cdr('platform-1', { lineId: b.lineId }));
    expect(system).toMatchObject({ status: 'RATED', rejectionCode: null });
    expect(await stored(system.id)).toMatchObject({ status: 'RATED', sender: null });
    await svc.runtime.messaging.js.publish(usageIngestSubject(usagePartitionOf(lines.n!.msisdn)), JSON.stringify(cdr('platform-2', { msisdn: lines.n!.msisdn }, { source: SOURCE })));
    const viaNats = await waitFor(async () => (await db.query(`select id, status from usage_record where source = $1 and event_id = 'platform-2'`, [SOURCE])).rows[0], 15_000, 'the NATS record');
    expect(viaNats.status).toBe('RATED');
    expect(await stored(viaNats.id)).toMatchObject({ sender: null });
    // The two charges, and none of partner A's records of the previous test.
    await waitFor(async () => (await unbilled(b)) === '4.90' && (await unbilled(lines.n!)) === '4.90', 30_000, "the platform's charges applied");
  });

  it('a PARTNER token without a partnerId may not send usage (its records could not be told from another partner\'s)', async () => {
    const res = await svc.request<any>(INGEST, { input: { source: SOURCE, records: [cdr('no-id-1', { lineId: lines.a!.lineId })] } }, NO_ID);
    expect(res.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await db.query(`select 1 from usage_record where source = $1 and event_id = 'no-id-1'`, [SOURCE])).rowCount).toBe(0);
  });

  it("a record of A's that waited for an unknown line which turns up as B's customer becomes LINE_NOT_PARTNERS, never rated or charged; one that turns up as A's own is rated", async () => {
    const theirs = line('l', 4);
    const mine = line('m', 5);
    const waitingTheirs = await ingestOne(PARTNER_A, cdr('wait-theirs', { msisdn: theirs.msisdn }));
    const waitingMine = await ingestOne(PARTNER_A, cdr('wait-mine', { lineId: mine.lineId }));
    const control = await ingestOne(SYSTEM_CALLER, cdr('wait-control', { msisdn: theirs.msisdn }));
    for (const r of [waitingTheirs, waitingMine, control]) expect(r).toMatchObject({ status: 'REJECTED', rejectionCode: 'LINE_UNKNOWN' });

    // The accounts are opened (owners), then the lines provisioned (subscribers: the waiting usage is looked at again).
    await provision(theirs, PARTNER_B.partnerId!, false);
    await provision(mine, PARTNER_A.partnerId!, false);
    const startsAt = new Date(Date.now() - 48 * 3_600_000).toISOString();
    await activate(theirs, startsAt);
    await activate(mine, startsAt);
    await waitFor(async () => (await stored(control.id))?.status === 'RATED' && (await stored(waitingMine.id))?.status === 'RATED', 20_000, 'the waiting usage rated again');
    expect(await stored(waitingTheirs.id)).toEqual({ status: 'REJECTED', rejection_code: 'LINE_NOT_PARTNERS', charge: null, charge_status: 'NONE', sender: PARTNER_A.partnerId, pending: false });
    const history = await svc.request<any>(`query($id: ID!) { usageRecord(id: $id) { rejectionCode rejections { rejectionCode } } }`, { id: waitingTheirs.id }, ADMIN);
    // First unknown; then (the line event before the subscription's) no subscription yet; then not A's customer.
    expect(history.data.usageRecord.rejectionCode).toBe('LINE_NOT_PARTNERS');
    expect(history.data.usageRecord.rejections[0]).toEqual({ rejectionCode: 'LINE_UNKNOWN' });
    // B's customer pays the platform's record only; A's own customer pays A's.
    await waitFor(async () => (await unbilled(theirs)) === '4.90' && (await unbilled(mine)) === '4.90', 30_000, 'the rated records charged');
    // The next look for waiting usage of the line does not take it: LINE_NOT_PARTNERS is not a waiting code.
    const usage = usageRuntimeOf(svc.runtime);
    expect(await reprocessWaiting(usage.sql, usage.pipeline, { lineIds: [theirs.lineId], msisdns: [theirs.msisdn] }, svc.runtime.logger)).toEqual([]);
    expect((await stored(waitingTheirs.id)).rejection_code).toBe('LINE_NOT_PARTNERS');
    expect(await unbilled(theirs)).toBe('4.90');
  });

  it('a roaming feed that staff granted ANY_LINE charges any home customer; the grant is staff-only, audited and can be taken back', async () => {
    const r1 = line('r', 6);
    const r2 = line('s', 7);
    await provision(r1, PARTNER_B.partnerId!);
    await provision(r2, null);
    // Before any grant: its own customers only (it has none).
    expect(await ingestOne(FEED, cdr('feed-0', { msisdn: r1.msisdn }))).toMatchObject({ status: 'REJECTED', rejectionCode: 'LINE_UNKNOWN' });

    for (const caller of [FEED, PARTNER_A, AGENT]) {
      const refused = await svc.request<any>(SET, { i: { partnerId: FEED.partnerId, kind: 'ANY_LINE' } }, caller);
      expect(refused.errors?.[0]?.extensions?.code, caller.role).toBe('FORBIDDEN');
    }
    const bad = await svc.request<any>(SET, { i: { partnerId: ' ', kind: 'ANY_LINE' } }, ADMIN);
    expect(bad.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.partnerId' });

    const granted = await svc.request<any>(SET, { i: { partnerId: FEED.partnerId, kind: 'ANY_LINE' } }, ADMIN);
    expect(granted.errors, JSON.stringify(granted.errors)).toBeUndefined();
    expect(granted.data.setPartnerUsageEntitlement.entitlement).toMatchObject({ partnerId: FEED.partnerId, kind: 'ANY_LINE', grantedBy: 'ops-alice' });
    // The same grant again changes nothing (no second audit row).
    expect((await svc.request<any>(SET, { i: { partnerId: FEED.partnerId, kind: 'ANY_LINE' } }, ADMIN)).data.setPartnerUsageEntitlement.entitlement).toEqual(granted.data.setPartnerUsageEntitlement.entitlement);

    const res = await ingest(FEED, [cdr('feed-1', { msisdn: r1.msisdn }), cdr('feed-2', { lineId: r2.lineId })]);
    expect(res.results.map((r) => [r.status, r.rejectionCode])).toEqual([['RATED', null], ['RATED', null]]);
    await waitFor(async () => (await unbilled(r1)) === '4.90' && (await unbilled(r2)) === '4.90', 30_000, "the feed's charges applied");
    expect(await stored(res.results[0].id)).toMatchObject({ sender: FEED.partnerId });

    // Taken back: its records are checked again.
    await svc.request<any>(SET, { i: { partnerId: FEED.partnerId, kind: 'OWN_CUSTOMERS' } }, ADMIN);
    expect(await ingestOne(FEED, cdr('feed-3', { msisdn: r1.msisdn }))).toMatchObject({ status: 'REJECTED', rejectionCode: 'LINE_UNKNOWN' });

    // Staff read the entitlements and who changed them, newest first; partners may not.
    const list = await svc.request<any>(LIST, { p: FEED.partnerId }, AGENT);
    expect(list.errors, JSON.stringify(list.errors)).toBeUndefined();
    const node = list.data.partnerUsageEntitlements.edges[0].node;
    expect(list.data.partnerUsageEntitlements.totalCount).toBe(1);
    expect(node).toMatchObject({ partnerId: FEED.partnerId, kind: 'OWN_CUSTOMERS', grantedBy: 'ops-alice' });
    expect(node.changes.map((c: any) => [c.kind, c.previousKind, c.changedBy, c.changedByRole])).toEqual([
      ['OWN_CUSTOMERS', 'ANY_LINE', 'ops-alice', 'ADMIN'],
      ['ANY_LINE', null, 'ops-alice', 'ADMIN'],
    ]);
    expect((await svc.request<any>(LIST, { p: FEED.partnerId }, FEED)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it("staff's reprocessRejected applies the check at reprocess time: still LINE_NOT_PARTNERS while the line is not A's, rated once its account is A's", async () => {
    const b = lines.b!;
    const { rows } = await db.query<{ id: string; msisdn: string | null }>(`select id, msisdn from usage_record where source = $1 and rejection_code = 'LINE_NOT_PARTNERS' and line_id = $2 order by event_id`, [SOURCE, b.lineId]);
    expect(rows).toHaveLength(2);
    const byId = rows.find((r) => r.msisdn === null)!.id;

    const again = await reprocess({ rejectionCode: 'LINE_NOT_PARTNERS', lineId: b.lineId });
    expect(again).toMatchObject({ rated: 0, stillRejected: 2 });
    expect(again.results.map((r: any) => r.rejectionCode)).toEqual(['LINE_NOT_PARTNERS', 'LINE_NOT_PARTNERS']);

    // A partner's LINE_UNKNOWN record whose line is then set up (no event: staff reprocess it) as the operator's own.
    const q = line('q', 8);
    const waiting = await ingestOne(PARTNER_A, cdr('later-known', { lineId: q.lineId }));
    await provision(q, null);
    expect((await reprocess({ ids: [waiting.id] })).results[0]).toMatchObject({ status: 'REJECTED', rejectionCode: 'LINE_NOT_PARTNERS' });

    // B's customer moves to A: the record sent by id is A's to charge now.
    await reassign(b.account, PARTNER_A.partnerId!, 1);
    expect((await reprocess({ ids: [byId] })).results[0]).toMatchObject({ id: byId, status: 'RATED', rejectionCode: null });
    // 4.90 of the platform's record before, 4.90 of this one: A's other record of the line stays REJECTED and uncharged.
    await waitFor(async () => (await unbilled(b)) === '9.80', 30_000, 'the reprocessed record charged');
    const { rows: charged } = await db.query(`select status, charge_status from ${CHARGED_RECORDS} where line_id = $1 order by status`, [b.lineId]);
    expect(charged.map((r) => r.status)).toEqual(['RATED', 'RATED', 'REJECTED']);
    expect(await unbilled(lines.n!)).toBe('4.90');
    expect(await unbilled(q)).toBe('0.00');
  });
});
