/**
 * A partner's record for its own new customer, sent before usage read the account's partner (2027-02-01).
 *
 * Subscribers' line events (consumer `subscribers`) and billing-account events (consumer `owners`) are two durables
 * and are applied in no fixed order. When a new customer's line events were applied before its account's
 * billingaccount.created, a partner's `recordUsage` for that line (entitlement OWN_CUSTOMERS) found the line billed
 * to an account no partner was given yet and stored the record REJECTED `LINE_NOT_PARTNERS` - not a waiting code, so
 * it stayed refused (and the customer unbilled) until staff ran reprocessRejected.
 *
 * Now the `owners` consumer, once an event assigning the account to a partner is recorded, runs that partner's
 * LINE_NOT_PARTNERS records of the account's lines through reprocessRejected again (the one rule: the record's line
 * billed that account at its time, and the account is the partner's now): A's record is rated and charged once; the
 * event redelivered changes nothing; partner B's record of the same line stays refused; moving the account away
 * later takes nothing back.
 *
 * Real wallets (child process, own schema), NATS (private, the real `subscribers` and `owners` consumers) and PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { createCloudEvent, dec, EVENTS, type Caller, type LineStateData, type SubscriptionData } from '@ledgerline/contracts';
import { startPrivateNats, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { filePlanSource, sqlOf, startWalletsProcess, waitFor, type WalletsProcess } from './support';

let nats: Awaited<ReturnType<typeof startPrivateNats>>;
let wallets: WalletsProcess;
let svc: TestService;
let db: pg.Client;
const run = Math.random().toString(36).slice(2, 8);
const digits = String(Math.floor(Math.random() * 9000) + 1000);

const PARTNER_A: Caller = { role: 'PARTNER', subject: 'mvno-a', partnerId: `mvno-a-${run}`, scopes: [] };
const PARTNER_B: Caller = { role: 'PARTNER', subject: 'mvno-b', partnerId: `mvno-b-${run}`, scopes: [] };
const SOURCE = `pal-${run}`;

interface TestLine {
  lineId: string;
  account: string;
  msisdn: string;
  walletId: string;
}
const newLine = (key: string, n: number): TestLine => ({ lineId: `lin_pal${key}${run}`, account: `acc_pal${key}${run}`, msisdn: `+4915119${digits}${String(n).padStart(2, '0')}`, walletId: '' });

async function publish(subject: string, event: ReturnType<typeof createCloudEvent>, msgID: string = event.id) {
  await svc.runtime.messaging.js.publish(subject, JSON.stringify(event), { msgID });
}

/** The line's activation as subscribers announces it, applied by the `subscribers` consumer; resolves once usage knows the line. */
async function activate(l: TestLine, startsAt: string) {
  const send = async (name: 'lineStateChanged' | 'subscriptionCreated', data: LineStateData | SubscriptionData, key: string) =>
    publish(EVENTS[name].subject, createCloudEvent({ source: 'ledgerline/subscribers', type: EVENTS[name].type, subject: l.lineId, time: new Date(startsAt), data, key: [key] }));
  await send('lineStateChanged', { lineId: l.lineId, msisdn: l.msisdn, billingAccountId: l.account, status: 'ACTIVE' }, `${l.lineId}-l`);
  await send('subscriptionCreated', { subscriptionId: `sub_${l.lineId}`, lineId: l.lineId, msisdn: l.msisdn, billingAccountId: l.account, paymentMode: 'POSTPAID', currency: 'EUR', planCode: 'POSTPAID_20GB', planVersionId: 'plv_postpaid', status: 'ACTIVE', startsAt, endsAt: null, addOns: [] }, `${l.lineId}-s`);
  await waitFor(async () => (await db.query('select 1 from subscription_version where line_id = $1', [l.lineId])).rowCount === 1, 15_000, `usage to know ${l.lineId}`);
}

/** Subscribers' billingaccount.created, assigning the account to `partnerId` (null: the operator's own). */
const created = (account: string, partnerId: string | null) =>
  createCloudEvent({
    source: 'ledgerline/subscribers', type: EVENTS.billingAccountCreated.type, subject: account, time: new Date('2026-01-01T00:00:00Z'), key: [account],
    data: { billingAccountId: account, customerId: `cus_${account}`, parentAccountId: null, partnerId, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 1, paymentTermsDays: 14, timezone: 'Europe/Berlin', creditLimit: '150', autopay: false },
  });

/** Subscribers' billingaccount.changed giving the account to `partnerId` (staff's updateBillingAccount). */
const changed = (account: string, partnerId: string | null, partnerVersion: number) => {
  const time = new Date();
  return createCloudEvent({
    source: 'ledgerline/subscribers', type: EVENTS.billingAccountChanged.type, subject: account, time, key: [account, time.toISOString(), String(partnerVersion), 'partnerId'],
    data: { billingAccountId: account, customerId: `cus_${account}`, paymentMode: 'POSTPAID', currency: 'EUR', creditLimit: '150', autopay: false, partnerId, partnerVersion, changed: ['partnerId'] },
  });
};

/** Publishes an account event nobody else looks at and waits until the `owners` consumer recorded it: every event published before it was read. */
let marks = 0;
async function ownersCaughtUp() {
  const account = `acc_palmark${run}${marks++}`;
  await publish(EVENTS.billingAccountCreated.subject, created(account, null));
  await waitFor(async () => (await db.query('select 1 from account_owner where billing_account_id = $1', [account])).rowCount === 1, 15_000, 'the owners consumer to catch up');
}

const occurredAt = new Date(Date.now() - 3_600_000).toISOString();
/** 10 MB of data roaming in the US: 4.90 EUR on plv_postpaid (beyond every allowance). */
const cdr = (eventId: string, lineId: string) => ({ eventId, lineId, usageType: 'DATA', quantity: '10', roamingCountry: 'US', occurredAt });

const INGEST = `mutation($input: RecordUsageInput!) { recordUsage(input: $input) { results { id status rejectionCode } } }`;
async function ingestOne(caller: Caller, record: Record<string, unknown>): Promise<{ id: string; status: string; rejectionCode: string | null }> {
  const res = await svc.request<any>(INGEST, { input: { source: SOURCE, records: [record] } }, caller);
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  return res.data.recordUsage.results[0];
}

async function stored(id: string) {
  const { rows } = await db.query(
    `select u.status, u.rejection_code, coalesce(o.outcome, u.charge_status) as charge_status, coalesce(o.amount_charged, u.amount_charged)::text as amount_charged,
       (select partner_id from record_sender s where s.record_id = u.id) as sender, (select count(*)::int from usage_rejection_history h where h.record_id = u.id) as history
       from usage_record u left join charge_outcome o on o.usage_record_id = u.id where u.id = $1`,
    [id],
  );
  return rows[0];
}
const unbilled = async (l: TestLine) => dec(await wallets.unbilledOf(l.walletId)).toFixed(2);
const chargeRequests = async (id: string) => Number((await db.query(`select count(*)::int as n from usage_record where id = $1 and charge is not null`, [id])).rows[0].n);

beforeAll(async () => {
  nats = await startPrivateNats();
  wallets = await startWalletsProcess(nats.url);
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: ['charges', 'subscribers', 'owners', 'ingest'], deliverNew: true }), { env: { NATS_URL: nats.url } });
  db = await sqlOf(svc);
}, 120_000);

afterAll(async () => {
  await db?.end();
  await svc?.close();
  await wallets?.stop();
  await nats?.stop();
});

describe("a partner's record for its own new customer, sent before usage read the account's partner", () => {
  it('is rated and charged once when billingaccount.created assigns the account to the partner; redelivery changes nothing; another partner\'s record stays refused; moving the account away takes nothing back; a later move to another partner rates none of its earlier records', async () => {
    const mine = newLine('m', 1);
    const other = newLine('o', 2);
    mine.walletId = await wallets.postpaidWallet(mine.account, mine.lineId);
    other.walletId = await wallets.postpaidWallet(other.account, other.lineId);
    const startsAt = new Date(Date.now() - 48 * 3_600_000).toISOString();

    // The lines' events are applied first: usage knows the lines, not yet whose customers their accounts are.
    await activate(mine, startsAt);
    await activate(other, startsAt);
    const fromA = await ingestOne(PARTNER_A, cdr('a-own-new', mine.lineId));
    const fromB = await ingestOne(PARTNER_B, cdr('b-not-own', mine.lineId));
    const elsewhere = await ingestOne(PARTNER_A, cdr('a-other-account', other.lineId));
    for (const r of [fromA, fromB, elsewhere]) expect(r).toMatchObject({ status: 'REJECTED', rejectionCode: 'LINE_UNKNOWN' });
    for (const [r, sender] of [[fromA, PARTNER_A], [fromB, PARTNER_B], [elsewhere, PARTNER_A]] as const) {
      expect(await stored(r.id)).toMatchObject({ status: 'REJECTED', rejection_code: 'LINE_NOT_PARTNERS', charge_status: 'NONE', sender: sender.partnerId, history: 0 });
    }

    // The account's billingaccount.created reaches usage (the `owners` consumer): A's own customer's record is rated.
    const opened = created(mine.account, PARTNER_A.partnerId!);
    await publish(EVENTS.billingAccountCreated.subject, opened);
    await waitFor(async () => (await stored(fromA.id))?.status === 'RATED', 20_000, "A's record rated once the account is A's");
    await waitFor(async () => (await unbilled(mine)) === '4.90', 30_000, "A's record charged in wallets");
    // Wallets' answer read back (the charges consumer): the record as it stays.
    const rated = await waitFor(async () => { const r = await stored(fromA.id); return r?.charge_status === 'APPLIED' && r; }, 20_000, "wallets' answer to A's charge");
    expect(rated).toMatchObject({ status: 'RATED', rejection_code: null, charge_status: 'APPLIED', amount_charged: '4.900000', sender: PARTNER_A.partnerId, history: 1 });
    expect(await chargeRequests(fromA.id)).toBe(1);
    // B's record of the same line: checked as B's, it is not B's customer; never looked at (no history row added).
    expect(await stored(fromB.id)).toMatchObject({ status: 'REJECTED', rejection_code: 'LINE_NOT_PARTNERS', charge_status: 'NONE', sender: PARTNER_B.partnerId, history: 0 });
    // A's record of another account's line is not this account's: not looked at.
    expect(await stored(elsewhere.id)).toMatchObject({ status: 'REJECTED', rejection_code: 'LINE_NOT_PARTNERS', history: 0 });

    // The same event delivered again (JetStream redelivery, a replay): nothing changes, nothing is charged twice.
    await publish(EVENTS.billingAccountCreated.subject, opened, `${opened.id}-again`);
    await ownersCaughtUp();
    await new Promise((r) => setTimeout(r, 500));
    expect(await stored(fromA.id)).toEqual(rated);
    expect(await chargeRequests(fromA.id)).toBe(1);
    expect(await stored(fromB.id)).toMatchObject({ status: 'REJECTED', rejection_code: 'LINE_NOT_PARTNERS', history: 0 });
    expect(await unbilled(mine)).toBe('4.90');

    // The account moves away from A (the operator's own now): what was rated stays rated, nothing is refunded or refused.
    await publish(EVENTS.billingAccountChanged.subject, changed(mine.account, null, 1));
    await ownersCaughtUp();
    await waitFor(async () => (await db.query('select partner_id from account_owner where billing_account_id = $1', [mine.account])).rows[0]?.partner_id === null, 10_000, 'the account to be no partner\'s');
    expect(await stored(fromA.id)).toEqual(rated);
    expect(await stored(fromB.id)).toMatchObject({ status: 'REJECTED', rejection_code: 'LINE_NOT_PARTNERS', history: 0 });
    expect(await unbilled(mine)).toBe('4.90');
    expect(await unbilled(other)).toBe('0.00');

    // Then moved to B: B's record from before the move was not sent for B's customer; it stays refused (staff decide).
    await publish(EVENTS.billingAccountChanged.subject, changed(mine.account, PARTNER_B.partnerId!, 2));
    await ownersCaughtUp();
    await waitFor(async () => (await db.query('select partner_id from account_owner where billing_account_id = $1', [mine.account])).rows[0]?.partner_id === PARTNER_B.partnerId, 10_000, "the account to be B's");
    await new Promise((r) => setTimeout(r, 500));
    expect(await stored(fromB.id)).toMatchObject({ status: 'REJECTED', rejection_code: 'LINE_NOT_PARTNERS', charge_status: 'NONE', history: 0 });
    expect(await unbilled(mine)).toBe('4.90');
  });
});
