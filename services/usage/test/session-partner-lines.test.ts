/**
 * Which lines a partner may charge online (2027-01-27).
 *
 * GraphQL `chargingSession` is open to a PARTNER (role PARTNER with a partnerId: an MVNO running its own
 * network elements). Since 3b061f5 / f1d8f31 a session is the partner's own, but the line it names was
 * anyone's: partner A's RESERVE on a line of partner B's customer, or of the operator's own customers,
 * was granted, and its UPDATE / TERMINATE charged that customer's balance.
 *
 * Now a billing account may be assigned to a partner (subscribers' `openBillingAccount` input
 * `partnerId`, staff only, carried on billingaccount.created and kept by usage's `owners` consumer in
 * `account_owner.partner_id`). A PARTNER's own requests charge only lines whose billing account (of the
 * subscription in force at the request's time) is assigned to it. Any other line is answered exactly
 * as a line usage does not know (USER_UNKNOWN, "no line with an active subscription"): nothing is
 * reserved, no session stored, no record written, counted as the unknown line's answer is. The
 * platform (SYSTEM, ADMIN, network elements over NATS - also when they name a partner's session by
 * its partnerId) charges any line, as before.
 *
 * Real wallets (child process, own schema), NATS and PostgreSQL; partners over GraphQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import type { Caller } from '@ledgerline/contracts';
import { SYSTEM_CALLER, TEST_DATABASE_URL } from '@ledgerline/platform';
import { handleChargingSession, sessionRef, type ChargingSessionRequest } from '../src/application/charging-session';
import { sessionCallerOf } from '../src/graphql/authorization';
import { usageRuntimeOf } from '../src/usage-runtime';
import { onlineCharging } from './session-support';
import { setLine } from './support';

const oc = onlineCharging();
const run = Math.random().toString(36).slice(2, 8);

const PARTNER_A: Caller = { role: 'PARTNER', subject: 'mvno-a', partnerId: `mvno-a-${run}`, scopes: [] };
const PARTNER_B: Caller = { role: 'PARTNER', subject: 'mvno-b', partnerId: `mvno-b-${run}`, scopes: [] };
const ADMIN: Caller = { role: 'ADMIN', subject: 'ops', scopes: [] };

/** A's customer, B's customer, and a customer of the operator's own (an account assigned to no partner). */
const lineA = `lin_pla${run}`;
const lineB = `lin_plb${run}`;
const lineN = `lin_pln${run}`;
const accA = `acc_pla${run}`;
const accB = `acc_plb${run}`;
const accN = `acc_pln${run}`;
const msisdnOf = { [lineA]: '+4915100007631', [lineB]: '+4915100007632', [lineN]: '+4915100007633' } as Record<string, string>;

const SESSION = `mutation($i: ChargingSessionInput!) { chargingSession(input: $i) { sessionId resultCode grantedUnit validityTime finalUnitIndication usageRecordId } }`;
type Req = Omit<ChargingSessionRequest, 'sessionId'>;

async function ask(caller: Caller, sessionId: string, i: Req) {
  const res = await oc.svc.request<any>(SESSION, { i: { sessionId, ...i } }, caller);
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  return res.data.chargingSession;
}

/** The whole reply (message included) as handleChargingSession gives it to a partner calling over GraphQL. */
function direct(caller: Caller, sessionId: string, i: Req) {
  return handleChargingSession(usageRuntimeOf(oc.svc.runtime), oc.nc, { sessionId, ...i }, new Date(), sessionCallerOf(caller));
}

const reserveOn = (line: { lineId?: string; msisdn?: string }): Req => ({ operation: 'RESERVE', invocationSequenceNumber: 0, usageType: 'DATA', requestedUnits: '60', ...line });

/** How often a RESERVE was answered USER_UNKNOWN (ledgerline_usage_charging_session_requests_total). */
async function userUnknownCount(): Promise<number> {
  const { values } = await usageRuntimeOf(oc.svc.runtime).metrics.sessionRequests.get();
  return values.find((v) => v.labels.operation === 'RESERVE' && v.labels.result_code === 'USER_UNKNOWN')?.value ?? 0;
}

let walletsDb: pg.Client;

/** What a request could have left behind for a line and a session id: session rows, wallets' reservations of the account, records of the line. */
async function footprint(lineId: string, account: string, sessionId: string) {
  const { rows: sessions } = await oc.db.query(`select partner_key, state from charging_session where id = $1 or line_id = $2 order by partner_key, state`, [sessionId, lineId]);
  const { rows: records } = await oc.db.query(`select id from usage_record where line_id = $1 order by id`, [lineId]);
  const { rows: reservations } = await walletsDb.query(`select request_key, status from "${oc.wallets.schema}".reservation where billing_account_id = $1 order by request_key`, [account]);
  return { sessions, records, reservations };
}

beforeAll(async () => {
  walletsDb = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await walletsDb.connect();
  await oc.postpaidLine(lineA, accA, msisdnOf[lineA]!, PARTNER_A.partnerId!);
  await oc.postpaidLine(lineB, accB, msisdnOf[lineB]!, PARTNER_B.partnerId!);
  await oc.postpaidLine(lineN, accN, msisdnOf[lineN]!, null);
});

afterAll(async () => {
  await walletsDb?.end();
});

describe('a partner charges online only the lines of its own customers', () => {
  it("partner A reserves, updates and ends a session on its own customer's line (by line id and by MSISDN)", async () => {
    const sessionId = `gy-pl-1-${run}`;
    expect(await ask(PARTNER_A, sessionId, reserveOn({ lineId: lineA }))).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '60', finalUnitIndication: false });
    expect(await ask(PARTNER_A, sessionId, { operation: 'UPDATE', invocationSequenceNumber: 1, usedUnits: '40', requestedUnits: '20' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '20' });
    expect(await ask(PARTNER_A, sessionId, { operation: 'TERMINATE', invocationSequenceNumber: 2, usedUnits: '15' })).toMatchObject({ resultCode: 'SUCCESS', finalUnitIndication: true });
    const ref = sessionRef(PARTNER_A.partnerId!, sessionId);
    expect(await oc.reservations(ref)).toEqual({ [`${ref}#0`]: 'COMMITTED 40', [`${ref}#1`]: 'COMMITTED 15' });

    const byNumber = `gy-pl-2-${run}`;
    expect(await ask(PARTNER_A, byNumber, reserveOn({ msisdn: msisdnOf[lineA] }))).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '60' });
    expect(await ask(PARTNER_A, byNumber, { operation: 'TERMINATE', invocationSequenceNumber: 1, usedUnits: '0' })).toMatchObject({ resultCode: 'SUCCESS' });
  });

  it("another partner's customer, or the operator's own, is answered exactly as an unknown line: nothing reserved, stored or recorded, counted alike", async () => {
    const cases: [string, string, string, { lineId?: string; msisdn?: string }][] = [
      ["B's customer's line by id", lineB, accB, { lineId: lineB }],
      ["B's customer's line by MSISDN", lineB, accB, { msisdn: msisdnOf[lineB] }],
      ["the operator's own customer's line by id", lineN, accN, { lineId: lineN }],
      ["the operator's own customer's line by MSISDN", lineN, accN, { msisdn: msisdnOf[lineN] }],
    ];
    for (const [what, lineId, account, line] of cases) {
      const sessionId = `gy-pl-x-${run}-${Object.keys(line)[0]}-${lineId}`;
      const unknownId = `gy-pl-u-${run}-${Object.keys(line)[0]}-${lineId}`;
      const unknownLine = 'lineId' in line ? { lineId: `lin_none${run}` } : { msisdn: '+4915100007639' };
      const before = await footprint(lineId, account, sessionId);
      const countBefore = await userUnknownCount();

      // Over GraphQL: the same result as for a line nobody has, no error.
      const foreign = await ask(PARTNER_A, sessionId, reserveOn(line));
      const unknown = await ask(PARTNER_A, unknownId, reserveOn(unknownLine));
      expect(unknown.resultCode, 'an unknown line').toBe('USER_UNKNOWN');
      expect({ ...foreign, sessionId: '<id>' }, what).toEqual({ ...unknown, sessionId: '<id>' });
      // The whole reply, message included, and its repetition (no session was stored, so it is refused again alike).
      for (let i = 0; i < 2; i += 1) {
        const f = await direct(PARTNER_A, sessionId, reserveOn(line));
        const u = await direct(PARTNER_A, unknownId, reserveOn(unknownLine));
        expect({ ...f, sessionId: '<id>' }, `${what} (attempt ${i + 1})`).toEqual({ ...u, sessionId: '<id>' });
      }
      // Counted as the unknown line's answers are: 3 each.
      expect(await userUnknownCount(), what).toBe(countBefore + 6);
      // Nothing held, stored or recorded for the line, its account or the session.
      expect(await footprint(lineId, account, sessionId), what).toEqual(before);
      const { rows } = await oc.db.query(`select 1 from charging_session where id = $1`, [sessionId]);
      expect(rows, what).toEqual([]);
    }
    // An UPDATE or TERMINATE of the refused session is answered as for a session that does not exist.
    const sessionId = `gy-pl-x-${run}-lineId-${lineB}`;
    expect(await ask(PARTNER_A, sessionId, { operation: 'TERMINATE', invocationSequenceNumber: 1, usedUnits: '40' })).toMatchObject({ resultCode: 'UNKNOWN_SESSION', grantedUnit: null });
  });

  it('B charges its own customer; neither partner charges the other\'s', async () => {
    expect(await ask(PARTNER_B, `gy-pl-3-${run}`, reserveOn({ lineId: lineB }))).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '60' });
    expect(await ask(PARTNER_B, `gy-pl-4-${run}`, reserveOn({ lineId: lineA }))).toMatchObject({ resultCode: 'USER_UNKNOWN', grantedUnit: null });
  });

  it('the platform (SYSTEM, ADMIN, network elements over NATS) charges any line, a partner\'s session named by partnerId included', async () => {
    expect(await ask(SYSTEM_CALLER, `gy-pl-5-${run}`, reserveOn({ lineId: lineB }))).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '60' });
    expect(await ask(ADMIN, `gy-pl-6-${run}`, reserveOn({ lineId: lineN }))).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '60' });
    expect(await oc.ask(`gy-pl-7-${run}`, reserveOn({ lineId: lineN }))).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '60' });
    // Operations acting for partner A (its session space) on a line of B's customer: the platform's decision.
    expect(await ask(ADMIN, `gy-pl-8-${run}`, { ...reserveOn({ lineId: lineB }), partnerId: PARTNER_A.partnerId })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '60' });
    expect(await oc.ask(`gy-pl-9-${run}`, { ...reserveOn({ lineId: lineN }), partnerId: PARTNER_A.partnerId })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '60' });
  });

  it("a line whose account leaves the partner's customers during a session: what was used is charged, nothing more granted", async () => {
    // A line of A's customer moves to an account of the operator's own (a new subscription, from now).
    const moving = `lin_plm${run}`;
    const accM = `acc_plm${run}`;
    await oc.postpaidLine(moving, accM, '+4915100007634', PARTNER_A.partnerId!);
    const accTo = `acc_plt${run}`;
    await oc.wallets.postpaidWallet(accTo, moving);
    await oc.openAccount(accTo, null);
    const sessionId = `gy-pl-10-${run}`;
    expect(await ask(PARTNER_A, sessionId, reserveOn({ lineId: moving }))).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '60' });
    await setLine(oc.svc, { lineId: moving, msisdn: '+4915100007634', account: accTo, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID', subscriptionId: `sub_${moving}_2`, at: new Date().toISOString(), startsAt: new Date(Date.now() - 1000).toISOString() });
    const update = await ask(PARTNER_A, sessionId, { operation: 'UPDATE', invocationSequenceNumber: 1, usedUnits: '30', requestedUnits: '30' });
    expect(update).toMatchObject({ resultCode: 'USER_UNKNOWN', grantedUnit: null, finalUnitIndication: true });
    const ref = sessionRef(PARTNER_A.partnerId!, sessionId);
    expect(await oc.reservations(ref)).toEqual({ [`${ref}#0`]: 'COMMITTED 30' });
    expect(await ask(PARTNER_A, sessionId, { operation: 'TERMINATE', invocationSequenceNumber: 2, usedUnits: '0' })).toMatchObject({ resultCode: 'SUCCESS' });
  });
});
