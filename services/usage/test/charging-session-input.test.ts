/**
 * Online charging requests that are malformed or conflict (found in review; each test failed on
 * the old code), over NATS (ocs.usage.session) and GraphQL, against a stand-in for wallets' reserve/commit responders on a private nats-server
 * (it grants up to 100 units, commits at most what it granted, answers a repeated commit with the
 * first one's figures, as wallets does, and takes 30 ms to answer).
 *
 * - Units given as JSON numbers over NATS (`"usedUnits": 10`) pass the input check (the regex
 *   coerces), are committed in wallets, and then the request fails with a TypeError
 *   ("used.minus is not a function"): the network element gets RATING_FAILED with a JavaScript
 *   message after its units were taken, and the session can never move past that number.
 * - Two different requests with the same number at the same time: the one refused ("used by
 *   another request") still charges the units it reported past the reservation.
 * - RESERVE's own fields are not checked up front: over GraphQL a negative requestedUnits, an
 *   unknown usageType or no subscriber is answered `resultCode: RATING_FAILED` with no message
 *   (the GraphQL type has no message field), where UPDATE's are BAD_USER_INPUT naming the field.
 * - A sessionId with a NUL character is INTERNAL_SERVER_ERROR over GraphQL (PostgreSQL refuses the
 *   text when the session is looked up), and over NATS RATING_FAILED with PostgreSQL's message.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { RPC, WORK_SUBJECTS, dec, type ChargeRequest, type WalletCommitRequest, type WalletReserveRequest } from '@ledgerline/contracts';
import { scrapeMetrics, startPrivateNats, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { filePlanSource, setLine, sqlOf, waitFor } from './support';

let nats: Awaited<ReturnType<typeof startPrivateNats>>;
let nc: NatsConnection;
let svc: TestService;
/** Every ChargeRequest usage published to wallets. */
const requested: ChargeRequest[] = [];
const run = Math.random().toString(36).slice(2, 8);
const lineId = `lin_ssr${run}`;
const reserves: WalletReserveRequest[] = [];
const commits: WalletCommitRequest[] = [];

const SESSION = `mutation($i: ChargingSessionInput!) { chargingSession(input: $i) { sessionId resultCode grantedUnit finalUnitIndication usageRecordId } }`;

beforeAll(async () => {
  nats = await startPrivateNats();
  nc = await waitFor(() => connect({ servers: nats.url }).catch(() => undefined), 10_000, 'the private nats-server');
  nc.subscribe(WORK_SUBJECTS.chargeRequested, {
    callback: (_, msg) => {
      const body = msg.json<ChargeRequest | ChargeRequest[]>();
      requested.push(...(Array.isArray(body) ? body : [body]));
    },
  });
  const granted = new Map<string, string>();
  const firstCommit = new Map<string, string>();
  let n = 0;
  nc.subscribe(RPC.walletReserve, {
    callback: (_, msg) => {
      const req = msg.json<WalletReserveRequest>();
      reserves.push(req);
      const units = dec(req.requestedUnits).gt(100) ? '100' : dec(req.requestedUnits).toString();
      const reservationId = `rsv_${run}_${++n}`;
      granted.set(reservationId, units);
      setTimeout(() => msg.respond(JSON.stringify({ resultCode: 'SUCCESS', reservationId, grantedUnit: { unit: req.unit, units, unitsFromAllowances: units, amount: '0', currency: req.currency }, validityTime: 300 })), 30);
    },
  });
  nc.subscribe(RPC.walletCommit, {
    callback: (_, msg) => {
      const req = msg.json<WalletCommitRequest>();
      commits.push(req);
      let reply = firstCommit.get(req.reservationId);
      if (!reply) {
        const held = dec(granted.get(req.reservationId) ?? '0');
        const used = dec(String(req.usedUnits)).gt(held) ? held : dec(String(req.usedUnits));
        reply = JSON.stringify({ resultCode: 'SUCCESS', reservationId: req.reservationId, status: 'COMMITTED', usedUnits: used.toString(), unitsFromAllowances: used.toString(), amountCharged: '0' });
        firstCommit.set(req.reservationId, reply);
      }
      const answer = reply;
      setTimeout(() => msg.respond(answer), 30);
    },
  });
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: ['sessions'] }), { env: { NATS_URL: nats.url } });
  await setLine(svc, { lineId, msisdn: '+4915100008401', account: `acc_ssr${run}`, planVersionId: 'plv_prepaid', paymentMode: 'PREPAID' });
});

afterAll(async () => {
  await svc?.close();
  await nc?.close();
  await nats?.stop();
});

const overNats = async (body: Record<string, unknown>) => (await nc.request(RPC.chargingSession, JSON.stringify(body), { timeout: 5000 })).json<{ resultCode: string; message?: string; grantedUnit?: string | null }>();
const overGraphql = (i: Record<string, unknown>) => svc.request(SESSION, { i });
const reservationOf = (sessionId: string, n: number) => {
  const i = reserves.findIndex((r) => r.requestId === `${sessionId}#${n}`);
  return `rsv_${run}_${i + 1}`;
};

describe('online charging requests that are malformed or conflict', () => {
  it('an UPDATE over NATS with usedUnits as a JSON number is answered SUCCESS, or refused naming usedUnits before anything is committed', async () => {
    const sessionId = `num-${run}`;
    expect(await overNats({ operation: 'RESERVE', sessionId, lineId, usageType: 'DATA', requestedUnits: '40' })).toMatchObject({ resultCode: 'SUCCESS' });
    const reply = await overNats({ operation: 'UPDATE', sessionId, invocationSequenceNumber: 1, usedUnits: 10, requestedUnits: '0' });
    const committed = commits.filter((c) => c.reservationId === reservationOf(sessionId, 0));
    if (reply.resultCode === 'SUCCESS') {
      // Taken exactly, as the decimal string "10" (wallets' contract).
      expect(committed).toEqual([{ reservationId: reservationOf(sessionId, 0), usedUnits: '10' }]);
      // The session moved on: number 2 is the next one.
      expect(await overNats({ operation: 'TERMINATE', sessionId, invocationSequenceNumber: 2, usedUnits: '0' })).toMatchObject({ resultCode: 'SUCCESS' });
    } else {
      expect({ resultCode: reply.resultCode, message: reply.message, committed: committed.length }).toEqual({ resultCode: 'RATING_FAILED', message: expect.stringContaining('usedUnits'), committed: 0 });
    }
  });

  it('units as a fractional JSON number (or not a decimal) are refused naming the field, and nothing is reserved or committed', async () => {
    const sessionId = `frac-${run}`;
    const reserve = await overNats({ operation: 'RESERVE', sessionId, lineId, usageType: 'DATA', requestedUnits: 40.5 });
    expect(reserve).toMatchObject({ resultCode: 'RATING_FAILED', message: expect.stringContaining('requestedUnits') });
    expect(reserves.filter((r) => r.sessionId === sessionId)).toHaveLength(0);
    expect(await overNats({ operation: 'RESERVE', sessionId, lineId, usageType: 'DATA', requestedUnits: 40 })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '40' });
    for (const usedUnits of [10.5, ['10'], '1e3', -1]) {
      const reply = await overNats({ operation: 'UPDATE', sessionId, invocationSequenceNumber: 1, usedUnits, requestedUnits: '0' });
      expect(reply, JSON.stringify(usedUnits)).toMatchObject({ resultCode: 'RATING_FAILED', message: expect.stringContaining('usedUnits') });
    }
    expect(commits.filter((c) => c.reservationId === reservationOf(sessionId, 0))).toHaveLength(0);
    // Number 1 is still free: the session goes on.
    expect(await overNats({ operation: 'UPDATE', sessionId, invocationSequenceNumber: 1, usedUnits: '10', requestedUnits: '0' })).toMatchObject({ resultCode: 'SUCCESS' });
  });

  it('of two different UPDATEs sent with the same number at once, the one refused charges nothing', async () => {
    const sessionId = `twin-${run}`;
    expect(await overNats({ operation: 'RESERVE', sessionId, lineId, usageType: 'DATA', requestedUnits: '40' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '40' });
    const first = overNats({ operation: 'UPDATE', sessionId, invocationSequenceNumber: 1, usedUnits: '40', requestedUnits: '0' });
    await new Promise((r) => setTimeout(r, 5));
    const second = overNats({ operation: 'UPDATE', sessionId, invocationSequenceNumber: 1, usedUnits: '60', requestedUnits: '0' });
    const [a, b] = await Promise.all([first, second]);
    expect([a.resultCode, b.resultCode].sort()).toEqual(['RATING_FAILED', 'SUCCESS']);
    const refused = a.resultCode === 'SUCCESS' ? '60' : '40';
    // Only the accepted report was committed on the reservation (wallets answers a second commit of it with the first one's figures, whatever it reports).
    expect(commits.filter((c) => c.reservationId === reservationOf(sessionId, 0)).map((c) => c.usedUnits)).toEqual([refused === '60' ? '40' : '60']);
    // What was charged is what the accepted request reported: 40 MB on the reservation, and 20
    // more only if the accepted one was the 60 MB report.
    const listed = await svc.request(`{ usageRecords(first: 100, filter: { source: "ocs", status: RATED }) { edges { node { eventId quantity } } } }`);
    const records = (listed.data.usageRecords.edges as { node: { eventId: string; quantity: string } }[])
      .map((e) => e.node)
      .filter((r) => r.eventId.startsWith(`${sessionId}#`))
      .sort((x, y) => (x.eventId < y.eventId ? -1 : 1))
      .map((r) => [r.eventId.slice(sessionId.length), dec(r.quantity).toString()]);
    expect(records).toEqual(refused === '60' ? [['#1', '40']] : [['#1', '40'], ['#1:unreserved', '20']]);
    await new Promise((r) => setTimeout(r, 300)); // a ChargeRequest is published right after its record is stored
    expect(requested.filter((c) => c.lineId === lineId && c.usageType === 'DATA')).toHaveLength(refused === '60' ? 0 : 1);
  });

  it('RESERVE input errors over GraphQL are BAD_USER_INPUT naming the field, as UPDATE input errors are', async () => {
    const negative = await overGraphql({ operation: 'RESERVE', sessionId: `neg-${run}`, lineId, usageType: 'DATA', requestedUnits: '-5' });
    expect(negative.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.requestedUnits' });
    const type = await overGraphql({ operation: 'RESERVE', sessionId: `fax-${run}`, lineId, usageType: 'FAX', requestedUnits: '5' });
    expect(type.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.usageType' });
    const cases: [Record<string, unknown>, string][] = [
      [{ usageType: 'DATA', requestedUnits: '5' }, 'input.lineId'],
      [{ msisdn: '12', usageType: 'DATA', requestedUnits: '5' }, 'input.msisdn'],
      [{ lineId, usageType: 'DATA' }, 'input.requestedUnits'],
      [{ lineId, usageType: 'DATA', requestedUnits: '2000000000' }, 'input.requestedUnits'],
      [{ lineId, usageType: 'VOICE', requestedUnits: '60', calledNumber: 'somebody' }, 'input.calledNumber'],
      [{ lineId, usageType: 'DATA', requestedUnits: '5', roamingCountry: 'Germany' }, 'input.roamingCountry'],
    ];
    for (const [i, field] of cases) {
      const res = await overGraphql({ operation: 'RESERVE', sessionId: `bad-${run}-${field}`, ...i });
      expect(res.errors?.[0]?.extensions, JSON.stringify(i)).toMatchObject({ code: 'BAD_USER_INPUT', field });
      expect(res.errors?.[0]?.message).toContain(field.slice('input.'.length));
    }
    // Over NATS: RATING_FAILED with a message naming the field, as an UPDATE's input errors are.
    expect(await overNats({ operation: 'RESERVE', sessionId: `neg-nats-${run}`, lineId, usageType: 'DATA', requestedUnits: '-5' })).toMatchObject({ resultCode: 'RATING_FAILED', message: expect.stringContaining('requestedUnits') });
    expect(await overNats({ operation: 'RESERVE', sessionId: `fax-nats-${run}`, lineId, usageType: 'FAX', requestedUnits: '5' })).toMatchObject({ resultCode: 'RATING_FAILED', message: expect.stringContaining('usageType') });
    expect(reserves.filter((r) => r.sessionId.includes(run) && /^(neg|fax|bad)-/.test(r.sessionId))).toHaveLength(0);
  });

  it('a sessionId with a NUL character is BAD_USER_INPUT naming it, and nothing is reserved', async () => {
    const sessionId = `nul\u0000${run}`;
    const res = await overGraphql({ operation: 'RESERVE', sessionId, lineId, usageType: 'DATA', requestedUnits: '5' });
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.sessionId' });
    expect(reserves.filter((r) => r.sessionId === sessionId)).toHaveLength(0);
    // Any text field, and over NATS too (there: RATING_FAILED naming the field).
    const msisdn = await overGraphql({ operation: 'RESERVE', sessionId: `nul-msisdn-${run}`, msisdn: '+49151\u00000008401', usageType: 'DATA', requestedUnits: '5' });
    expect(msisdn.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.msisdn' });
    expect(await overNats({ operation: 'RESERVE', sessionId, lineId, usageType: 'DATA', requestedUnits: '5' })).toMatchObject({ resultCode: 'RATING_FAILED', message: expect.stringContaining('sessionId') });
    expect(await overNats({ operation: 'UPDATE', sessionId: `num-${run}`, invocationSequenceNumber: 3, usedUnits: '1', calledNumber: '\u0000' })).toMatchObject({ resultCode: 'RATING_FAILED', message: expect.stringContaining('calledNumber') });
    expect(reserves.filter((r) => r.sessionId.includes('\u0000'))).toHaveLength(0);
  });

  // A RESERVE asking for 0 units passed the input check (units only had to be a non-negative decimal): wallets refuses
  // to hold nothing (AMOUNT_NOT_POSITIVE), so it was answered RATING_FAILED, not BAD_USER_INPUT, and an OPEN session row
  // was stored anyway, left for the sweeper to close 15 minutes later. A RESERVE without requestedUnits is refused as
  // required (no "let the charging function choose" quota here), so 0 is refused alike, naming the field; nothing is
  // asked of wallets and no session is stored.
  it('a RESERVE for 0 units is BAD_USER_INPUT naming requestedUnits (RATING_FAILED naming it over NATS), nothing reserved or stored', async () => {
    const ids: string[] = [];
    const got: Record<string, unknown> = {};
    for (const requestedUnits of ['0', '0.000', '000']) {
      const sessionId = `zero-${run}-${requestedUnits}`;
      ids.push(sessionId);
      const res = await overGraphql({ operation: 'RESERVE', sessionId, lineId, usageType: 'DATA', requestedUnits });
      got[`graphql ${requestedUnits}`] = res.errors?.length ? { code: res.errors[0].extensions?.code, field: res.errors[0].extensions?.field, named: String(res.errors[0].message).includes('requestedUnits') } : res.data;
    }
    for (const requestedUnits of ['0', 0]) {
      const sessionId = `zero-nats-${run}-${typeof requestedUnits}`;
      ids.push(sessionId);
      const reply = await overNats({ operation: 'RESERVE', sessionId, lineId, usageType: 'DATA', requestedUnits });
      got[`nats ${JSON.stringify(requestedUnits)}`] = { resultCode: reply.resultCode, named: String(reply.message).includes('requestedUnits') };
    }
    got.reserved = reserves.filter((r) => ids.some((id) => r.sessionId.endsWith(id))).length;
    const db = await sqlOf(svc);
    try {
      got.stored = (await db.query(`select id, state from charging_session where id = any($1) order by id`, [ids])).rows;
    } finally {
      await db.end();
    }
    const refused = { code: 'BAD_USER_INPUT', field: 'input.requestedUnits', named: true };
    expect(got, 'refused naming requestedUnits, nothing asked of wallets, no session row left for the sweeper').toEqual({
      'graphql 0': refused, 'graphql 0.000': refused, 'graphql 000': refused,
      'nats "0"': { resultCode: 'RATING_FAILED', named: true }, 'nats 0': { resultCode: 'RATING_FAILED', named: true },
      reserved: 0, stored: [],
    });
    // A RESERVE for some units still opens the session.
    expect(await overNats({ operation: 'RESERVE', sessionId: `zero-then-${run}`, lineId, usageType: 'DATA', requestedUnits: '5' })).toMatchObject({ resultCode: 'SUCCESS' });
  });

  // Units with leading zeros ("05") passed the units check, but rating's decimal format has none (the record's rating
  // refused it: RESERVE failed, an UPDATE's report was committed in wallets and its record not rated). Usage reads "05"
  // as 5, the one rule of usage-input's `quantityText`, as a CDR's quantity is read.
  it('units with leading zeros are read as the number they write, over GraphQL and NATS', async () => {
    const sessionId = `lead-${run}`;
    const reserve = await overGraphql({ operation: 'RESERVE', sessionId, lineId, usageType: 'DATA', requestedUnits: '05' });
    expect(reserve.errors).toBeUndefined();
    expect(reserve.data.chargingSession).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '5' });
    expect(reserves.filter((r) => r.sessionId === sessionId).map((r) => r.requestedUnits)).toEqual(['5']);
    const update = await overNats({ operation: 'UPDATE', sessionId, invocationSequenceNumber: 1, usedUnits: '004', requestedUnits: '007.50' });
    expect(update).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '7.5' });
    expect(await overNats({ operation: 'TERMINATE', sessionId, invocationSequenceNumber: 2, usedUnits: '00.5' })).toMatchObject({ resultCode: 'SUCCESS' });
    const db = await sqlOf(svc);
    try {
      const { rows } = await db.query(`select event_id, status, quantity::text from usage_record where source = 'ocs' and event_id like $1 order by event_id`, [`${sessionId}%`]);
      expect(rows.map((r) => [r.event_id.slice(sessionId.length), r.status, dec(r.quantity).toString()])).toEqual([['', 'RATED', '0.5'], ['#1', 'RATED', '4']]);
    } finally {
      await db.end();
    }
  });

  // A retransmission (the same request again: the network element timed out waiting) is answered from the session's stored
  // reply, nothing done twice; it was counted in ledgerline_usage_charging_session_requests_total as one more request, so a
  // network element retrying under load looked like more traffic (and more successes) than there was.
  it('a retransmission answered from its stored reply is counted as replayed="true", not as a new request', async () => {
    const sessionId = `retx-${run}`;
    const series = (m: Record<string, number>) => {
      const out: Record<string, number> = {};
      for (const [key, value] of Object.entries(m)) {
        if (!key.startsWith('ledgerline_usage_charging_session_requests_total{') || !key.includes('result_code="SUCCESS"')) continue;
        const op = /operation="(\w+)"/.exec(key)![1];
        const replayed = /replayed="(\w+)"/.exec(key)?.[1] ?? 'unlabelled';
        out[`${op} ${replayed}`] = value;
      }
      return out;
    };
    const before = series(await scrapeMetrics(svc));
    const requests: Record<string, unknown>[] = [
      { operation: 'RESERVE', sessionId, lineId, usageType: 'DATA', requestedUnits: '40' },
      { operation: 'UPDATE', sessionId, invocationSequenceNumber: 1, usedUnits: '10', requestedUnits: '20' },
      { operation: 'TERMINATE', sessionId, invocationSequenceNumber: 2, usedUnits: '5' },
    ];
    for (const body of requests) {
      const first = await overNats(body);
      expect(first).toMatchObject({ resultCode: 'SUCCESS' });
      expect(await overNats(body)).toEqual(first);
    }
    const after = series(await scrapeMetrics(svc));
    const delta = Object.fromEntries(Object.keys(after).map((k) => [k, after[k]! - (before[k] ?? 0)]).filter(([, d]) => d !== 0));
    expect(delta).toEqual({ 'RESERVE false': 1, 'RESERVE true': 1, 'UPDATE false': 1, 'UPDATE true': 1, 'TERMINATE false': 1, 'TERMINATE true': 1 });
  });
});
