/**
 * A billing account's partner assigned or changed after it was opened (2027-01-29).
 *
 * Since 2027-01-27 a PARTNER charges online only lines of accounts assigned to it, learnt from
 * billingaccount.created `partnerId`. Accounts opened before had none, and nothing could give them one, so
 * after the deployment no partner could charge any of their lines; a customer moving from one MVNO to another
 * stayed the first one's. Subscribers' `updateBillingAccount` now takes `partnerId` (staff) and announces it on
 * billingaccount.changed with the account's customerId and `partnerVersion` (0 at open, one more per change);
 * the `owners` consumer keeps the partner of the highest version it has seen, so an old event (redelivered,
 * or overtaken) never takes a newer assignment back, even at the same time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCloudEvent, EVENTS, type Caller } from '@ledgerline/contracts';
import { applyAccountOwnerEvent } from '../src/events/subscriber-events-consumer';
import { usageRuntimeOf } from '../src/usage-runtime';
import { onlineCharging } from './session-support';

const oc = onlineCharging();
const run = Math.random().toString(36).slice(2, 8);

const PARTNER_A: Caller = { role: 'PARTNER', subject: 'mvno-a', partnerId: `mvno-a-${run}`, scopes: [] };
const PARTNER_B: Caller = { role: 'PARTNER', subject: 'mvno-b', partnerId: `mvno-b-${run}`, scopes: [] };

const line = `lin_prr${run}`;
const account = `acc_prr${run}`;
const SESSION = `mutation($i: ChargingSessionInput!) { chargingSession(input: $i) { resultCode grantedUnit } }`;
let n = 0;

/** A RESERVE then (when granted) a TERMINATE using nothing, as `caller`: the RESERVE's result code. */
async function reserve(caller: Caller): Promise<string> {
  n += 1;
  const sessionId = `gy-prr-${run}-${n}`;
  const res = await oc.svc.request<any>(SESSION, { i: { sessionId, operation: 'RESERVE', invocationSequenceNumber: 0, usageType: 'DATA', requestedUnits: '10', lineId: line } }, caller);
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  const code = res.data.chargingSession.resultCode as string;
  if (code === 'SUCCESS') await oc.svc.request<any>(SESSION, { i: { sessionId, operation: 'TERMINATE', invocationSequenceNumber: 1, usedUnits: '0' } }, caller);
  return code;
}

const refuse = (subject: string, reason: string, details: Record<string, unknown>) => {
  throw new Error(`${subject} refused: ${reason} ${JSON.stringify(details)}`);
};

async function apply(subject: string, event: ReturnType<typeof createCloudEvent>) {
  await applyAccountOwnerEvent(usageRuntimeOf(oc.svc.runtime).sql, subject, JSON.stringify(event), refuse);
}

/** billingaccount.created as subscribers sent it before partners existed: no partnerId at all. */
const created = createCloudEvent({
  source: 'ledgerline/subscribers', type: EVENTS.billingAccountCreated.type, subject: account, time: new Date('2026-01-01T00:00:00Z'), key: [account],
  data: { billingAccountId: account, customerId: `cus_${account}`, parentAccountId: null, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 1, paymentTermsDays: 14, timezone: 'Europe/Berlin', creditLimit: null, autopay: false },
});

/** billingaccount.changed as subscribers' updateBillingAccount sends it. */
function changed(partnerId: string | null, partnerVersion: number, time: string, what: string[] = ['partnerId']) {
  return createCloudEvent({
    source: 'ledgerline/subscribers', type: EVENTS.billingAccountChanged.type, subject: account, time: new Date(time), key: [account, time, String(partnerVersion), ...what],
    data: { billingAccountId: account, customerId: `cus_${account}`, paymentMode: 'POSTPAID', currency: 'EUR', creditLimit: null, autopay: false, partnerId, partnerVersion, changed: what },
  });
}

beforeAll(async () => {
  await oc.postpaidLine(line, account, '+4915100007661');
  await apply(EVENTS.billingAccountCreated.subject, created);
});

afterAll(async () => {});

describe("a partner assigned to an account after it was opened, or changed", () => {
  it('an old account assigned to A: A charges its line, B does not; changed to B: A is refused; a redelivered older event never reverts it', async () => {
    // Opened before partners: nobody's.
    expect(await reserve(PARTNER_A)).toBe('USER_UNKNOWN');

    const toA = changed(PARTNER_A.partnerId!, 1, '2027-01-29T10:00:00Z');
    await apply(EVENTS.billingAccountChanged.subject, toA);
    expect(await reserve(PARTNER_A)).toBe('SUCCESS');
    expect(await reserve(PARTNER_B)).toBe('USER_UNKNOWN');

    // Moved to B at the same instant (a fixed clock): the version tells them apart.
    const toB = changed(PARTNER_B.partnerId!, 2, '2027-01-29T10:00:00Z');
    await apply(EVENTS.billingAccountChanged.subject, toB);
    expect(await reserve(PARTNER_B)).toBe('SUCCESS');
    expect(await reserve(PARTNER_A)).toBe('USER_UNKNOWN');

    // Redelivered: the assignment to A, and the account's creation. B stays.
    await apply(EVENTS.billingAccountChanged.subject, toA);
    await apply(EVENTS.billingAccountCreated.subject, created);
    expect(await reserve(PARTNER_B)).toBe('SUCCESS');
    expect(await reserve(PARTNER_A)).toBe('USER_UNKNOWN');

    // Another change of the account (its credit limit) carries the partner as it is: it changes nothing.
    await apply(EVENTS.billingAccountChanged.subject, changed(PARTNER_B.partnerId!, 2, '2027-01-29T11:00:00Z', ['creditLimit']));
    expect(await reserve(PARTNER_B)).toBe('SUCCESS');

    // Cleared (back to the operator), later redelivered older events included: no partner charges it.
    await apply(EVENTS.billingAccountChanged.subject, changed(null, 3, '2027-01-29T10:00:00Z'));
    await apply(EVENTS.billingAccountChanged.subject, toB);
    expect(await reserve(PARTNER_B)).toBe('USER_UNKNOWN');
    expect(await reserve(PARTNER_A)).toBe('USER_UNKNOWN');
  });

  it('a change read before the account\'s creation is kept when the creation comes', async () => {
    const other = `acc_prx${run}`;
    const early = createCloudEvent({
      source: 'ledgerline/subscribers', type: EVENTS.billingAccountChanged.type, subject: other, time: new Date('2027-01-29T10:00:00Z'), key: [other, '1'],
      data: { billingAccountId: other, customerId: `cus_${other}`, paymentMode: 'POSTPAID', currency: 'EUR', creditLimit: null, autopay: false, partnerId: PARTNER_A.partnerId, partnerVersion: 1, changed: ['partnerId'] },
    });
    await apply(EVENTS.billingAccountChanged.subject, early);
    const late = createCloudEvent({
      source: 'ledgerline/subscribers', type: EVENTS.billingAccountCreated.type, subject: other, time: new Date('2026-01-01T00:00:00Z'), key: [other],
      data: { billingAccountId: other, customerId: `cus_${other}`, parentAccountId: null, partnerId: null, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 1, paymentTermsDays: 14, timezone: 'Europe/Berlin', creditLimit: null, autopay: false },
    });
    await apply(EVENTS.billingAccountCreated.subject, late);
    const { rows } = await oc.db.query(`select customer_id, partner_id, partner_version from account_owner where billing_account_id = $1`, [other]);
    expect(rows).toEqual([{ customer_id: `cus_${other}`, partner_id: PARTNER_A.partnerId, partner_version: 1 }]);
  });

  it('a partner change without a usable partnerVersion is refused as invalid, changing nothing', async () => {
    for (const partnerVersion of [undefined, -1, 1.5, '2']) {
      const event = createCloudEvent({
        source: 'ledgerline/subscribers', type: EVENTS.billingAccountChanged.type, subject: account, time: new Date('2027-01-30T10:00:00Z'), key: [account, String(partnerVersion)],
        data: { billingAccountId: account, customerId: `cus_${account}`, partnerId: PARTNER_A.partnerId, ...(partnerVersion === undefined ? {} : { partnerVersion }), changed: ['partnerId'] },
      });
      const dropped: string[] = [];
      await applyAccountOwnerEvent(usageRuntimeOf(oc.svc.runtime).sql, EVENTS.billingAccountChanged.subject, JSON.stringify(event), (_s, reason, d) => void dropped.push(`${reason} ${String(d.field)}`));
      expect(dropped, String(partnerVersion)).toEqual(['invalid partnerVersion']);
    }
    expect(await reserve(PARTNER_A)).toBe('USER_UNKNOWN');
  });
});
