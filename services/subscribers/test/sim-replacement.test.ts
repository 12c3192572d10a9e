import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { luhnValid } from '../src/domain/validation';
import { ORDER_FIELDS, startHarness, type Harness } from './support';
import { completeWithLostCommit, gqlOn, openAccount } from './plan-fees-support';

/**
 * SIM replacement (a lost or broken SIM): a SIM_REPLACEMENT ProductOrder, placed with `replaceSim`
 * and fulfilled like every line order (in-process saga here: provisioning moves the line onto the
 * new SIM, then the completion sets the line's ICCID and charges the plan's SIM_REPLACEMENT fees,
 * read from the line's plan when the order is placed). POSTPAID_20GB declares SIM_SWAP 14.99.
 */

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const gql = <T = any>(query: string, variables: Record<string, unknown> = {}, caller?: Caller) => gqlOn<T>(h, query, variables, caller);

const ADD_LINE = `mutation($i: AddLineInput!) { addLine(input: $i) { line { id iccid status } order { ${ORDER_FIELDS} } } }`;
const REPLACE = `mutation($i: ReplaceSimInput!) { replaceSim(input: $i) { line { id msisdn iccid status planCode } order { ${ORDER_FIELDS} } } }`;
const SUSPEND = `mutation($i: LineChangeInput!) { suspendLine(input: $i) { line { status } order { status } } }`;
const TERMINATE = `mutation($i: LineChangeInput!) { terminateLine(input: $i) { line { status } order { status } } }`;
const STEP = (name: string) => `mutation($i: OrderStepInput!) { ${name}(input: $i) { order { status failureCode } } }`;

let n = 0;
const msisdn = () => `+4915128${String(300000 + n++).padStart(6, '0')}`;
/** A valid ICCID: 89 49 01 + serial, Luhn check digit appended (19 digits, or 20 with `long`). */
let serial = 0;
const RUN = String(Date.now() % 1_000_000).padStart(6, '0');
function iccid(long = false): string {
  const body = `894901${RUN}${String(serial++).padStart(long ? 7 : 6, '0')}`;
  for (let d = 0; d <= 9; d++) if (luhnValid(`${body}${d}`)) return `${body}${d}`;
  throw new Error('unreachable');
}

async function customerAndAccount(paymentMode: 'POSTPAID' | 'PREPAID' = 'POSTPAID') {
  return openAccount(h, paymentMode, 'Sim Customer', 'sim@example.org');
}

async function activeLine(accountId: string, planCode: string | null = 'POSTPAID_20GB') {
  const number = msisdn();
  const sim = iccid();
  const added = (await gql(ADD_LINE, { i: { billingAccountId: accountId, msisdn: number, iccid: sim, ...(planCode ? { planCode } : {}) } })).addLine;
  expect(added.order.status).toBe('COMPLETED');
  return { lineId: added.line.id as string, msisdn: number, iccid: sim };
}

const simCharges = (lineId: string) =>
  h.rows<{ id: string; order_id: string; reason: string; amount: string; currency: string; description: string }>(
    `select id, order_id, reason, amount::text as amount, currency, description from one_off_charge where line_id = $1 and reason = 'SIM_REPLACEMENT_FEE' order by charged_at, id`,
    [lineId],
  );

async function events(subject: string, contains: string) {
  const rows = await h.rows<{ payload: string }>(`select payload from outbox where subject = $1 and payload like $2 order by seq`, [subject, `%${contains}%`]);
  return rows.map((r) => JSON.parse(r.payload) as { id: string; subject: string; data: Record<string, unknown> });
}

describe('replaceSim', () => {
  it('moves an ACTIVE line onto the new SIM on the network, sets its ICCID and charges the plan\'s SIM_REPLACEMENT fee once', async () => {
    h.clock.set('2026-11-16T10:00:00Z');
    const { accountId } = await customerAndAccount();
    const line = await activeLine(accountId);
    const newSim = iccid(true);
    h.clock.set('2026-11-20T09:00:00Z');
    const key = `sim-${line.lineId}`;
    // Spaces and dashes as printed on the card are accepted, as addLine accepts them.
    const spelled = `${newSim.slice(0, 4)} ${newSim.slice(4, 10)}-${newSim.slice(10)}`;
    const replaced = (await gql(REPLACE, { i: { lineId: line.lineId, iccid: spelled, idempotencyKey: key, reason: 'SIM lost' } })).replaceSim;
    expect(replaced.order).toMatchObject({ kind: 'SIM_REPLACEMENT', status: 'COMPLETED', failureCode: null });
    expect(replaced.line).toMatchObject({ id: line.lineId, iccid: newSim, status: 'ACTIVE', planCode: 'POSTPAID_20GB' });
    expect(h.sandbox.network.get(line.msisdn)).toMatchObject({ status: 'ACTIVE', iccid: newSim });
    expect(h.sandbox.calls.filter((c) => c.msisdn === line.msisdn && c.kind === 'SIM_REPLACEMENT').map((c) => c.op)).toEqual(['execute']);

    const charged = await simCharges(line.lineId);
    expect(charged.map((c) => [c.order_id, c.amount, c.currency, c.description])).toEqual([[replaced.order.id, '14.9900', 'EUR', `Replacement SIM for ${line.msisdn}`]]);
    const chargeEvents = await events('billing.subscribers.oneoffcharge.created', charged[0]!.id);
    expect(chargeEvents.map((e) => e.data)).toEqual([expect.objectContaining({ chargeId: charged[0]!.id, reason: 'SIM_REPLACEMENT_FEE', amount: '14.99', currency: 'EUR', orderId: replaced.order.id, lineId: line.lineId })]);

    // Partners hear of it on the line's event (status unchanged, the new SIM named), once.
    const lineEvents = (await events('billing.subscribers.line.statechanged', line.lineId)).filter((e) => e.data.iccid === newSim);
    expect(lineEvents.map((e) => e.data)).toEqual([{ lineId: line.lineId, msisdn: line.msisdn, billingAccountId: accountId, status: 'ACTIVE', iccid: newSim }]);

    // A client retry is the same order and charges nothing more; the key with another SIM is refused.
    const replay = (await gql(REPLACE, { i: { lineId: line.lineId, iccid: spelled, idempotencyKey: key, reason: 'SIM lost' } })).replaceSim;
    expect(replay.order.id).toBe(replaced.order.id);
    expect(await simCharges(line.lineId)).toEqual(charged);
    const reused = await h.subscribers.request(REPLACE, { i: { lineId: line.lineId, iccid: iccid(), idempotencyKey: key } });
    expect(reused.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'IDEMPOTENCY_KEY_REUSED', field: 'input.idempotencyKey' });
    // The old SIM is out of service: nothing holds it any more.
    expect((await h.rows(`select id from line where iccid = $1`, [line.iccid])).length).toBe(0);
  });

  it('replaces the SIM of a SUSPENDED line (lost phone) and leaves it suspended; a line without a plan owes no fee', async () => {
    h.clock.set('2026-11-16T10:00:00Z');
    const { accountId } = await customerAndAccount();
    const line = await activeLine(accountId);
    expect((await gql(SUSPEND, { i: { lineId: line.lineId, reason: 'phone lost' } })).suspendLine.line.status).toBe('SUSPENDED');
    const newSim = iccid();
    const replaced = (await gql(REPLACE, { i: { lineId: line.lineId, iccid: newSim, idempotencyKey: `sim-s-${line.lineId}` } })).replaceSim;
    expect(replaced).toMatchObject({ line: { status: 'SUSPENDED', iccid: newSim }, order: { status: 'COMPLETED' } });
    expect(h.sandbox.network.get(line.msisdn)).toMatchObject({ status: 'SUSPENDED', iccid: newSim });
    expect((await simCharges(line.lineId)).map((c) => c.amount)).toEqual(['14.9900']);

    const bare = await activeLine(accountId, null);
    const bareSim = iccid();
    expect((await gql(REPLACE, { i: { lineId: bare.lineId, iccid: bareSim, idempotencyKey: `sim-b-${bare.lineId}` } })).replaceSim).toMatchObject({ line: { iccid: bareSim }, order: { status: 'COMPLETED' } });
    expect(await h.rows(`select id from one_off_charge where line_id = $1`, [bare.lineId])).toEqual([]);
  });

  it('a completion retried (lost commit, overlapping, repeated) sets the SIM and charges once, with the same charge id', async () => {
    h.clock.set('2026-11-16T10:00:00Z');
    const { accountId } = await customerAndAccount();
    const line = await activeLine(accountId);
    const newSim = iccid();
    const { replaceSim } = await import('../src/application/replace-sim');
    // Placed without dispatching, as the Temporal dispatcher leaves it; then its steps are driven by hand.
    const placed = await h.subscribers.runtime.orm.em.fork().transactional((em) => replaceSim(em as Em, h.catalogClient, { lineId: line.lineId, iccid: newSim, idempotencyKey: `sim-r-${line.lineId}`, now: h.clock.now() }));
    expect(placed.order.status).toBe('ACKNOWLEDGED');
    expect((await gql(STEP('startOrder'), { i: { orderId: placed.order.id } })).startOrder.order.status).toBe('IN_PROGRESS');
    const lostAttempt = await completeWithLostCommit(h, placed.order.id);
    expect(lostAttempt).toHaveLength(1);
    expect((await h.rows<{ iccid: string }>(`select iccid from line where id = $1`, [line.lineId]))[0]!.iccid).toBe(line.iccid);
    const both = await Promise.all([gql(STEP('completeOrder'), { i: { orderId: placed.order.id } }), gql(STEP('completeOrder'), { i: { orderId: placed.order.id } })]);
    expect(both.map((r) => r.completeOrder.order.status)).toEqual(['COMPLETED', 'COMPLETED']);
    expect((await gql(STEP('completeOrder'), { i: { orderId: placed.order.id } })).completeOrder.order.status).toBe('COMPLETED');
    expect((await simCharges(line.lineId)).map((c) => c.id)).toEqual(lostAttempt);
    expect((await h.rows<{ iccid: string }>(`select iccid from line where id = $1`, [line.lineId]))[0]!.iccid).toBe(newSim);
    expect((await events('billing.subscribers.line.statechanged', line.lineId)).filter((e) => e.data.iccid === newSim)).toHaveLength(1);
  });

  it('a failed provisioning fails the order and changes nothing: same SIM on the line and the network, no charge, no line event', async () => {
    h.clock.set('2026-11-16T10:00:00Z');
    const { accountId } = await customerAndAccount();
    const line = await activeLine(accountId);
    const lineEventsBefore = (await events('billing.subscribers.line.statechanged', line.lineId)).length;

    h.sandbox.behave('SIM_REPLACEMENT', line.msisdn, { mode: 'reject', code: 'PROVISIONING_SIM_UNKNOWN' });
    const refused = (await gql(REPLACE, { i: { lineId: line.lineId, iccid: iccid(), idempotencyKey: `sim-f1-${line.lineId}` } })).replaceSim;
    expect(refused).toMatchObject({ line: { iccid: line.iccid, status: 'ACTIVE' }, order: { kind: 'SIM_REPLACEMENT', status: 'FAILED', failureCode: 'PROVISIONING_SIM_UNKNOWN' } });
    expect(h.sandbox.network.get(line.msisdn)).toMatchObject({ status: 'ACTIVE', iccid: line.iccid });

    // Applied on the network, then an error: the saga fails the order and moves the network back.
    h.sandbox.behave('SIM_REPLACEMENT', line.msisdn, { mode: 'fail-after-apply' });
    const halfDone = (await gql(REPLACE, { i: { lineId: line.lineId, iccid: iccid(), idempotencyKey: `sim-f2-${line.lineId}` } })).replaceSim;
    expect(halfDone).toMatchObject({ line: { iccid: line.iccid }, order: { status: 'FAILED' } });
    expect(h.sandbox.network.get(line.msisdn)).toMatchObject({ iccid: line.iccid });
    expect(h.sandbox.calls.filter((c) => c.msisdn === line.msisdn && c.kind === 'SIM_REPLACEMENT').map((c) => c.op)).toEqual(['execute', 'compensate', 'execute', 'execute', 'compensate']);
    h.sandbox.behave('SIM_REPLACEMENT', line.msisdn, null);

    expect(await simCharges(line.lineId)).toEqual([]);
    expect(await events('billing.subscribers.oneoffcharge.created', `"orderId":"${halfDone.order.id}"`)).toEqual([]);
    expect((await events('billing.subscribers.line.statechanged', line.lineId)).length).toBe(lineEventsBefore);
    // The line takes a new order afterwards (nothing left open).
    const later = iccid();
    expect((await gql(REPLACE, { i: { lineId: line.lineId, iccid: later, idempotencyKey: `sim-f3-${line.lineId}` } })).replaceSim.line.iccid).toBe(later);
  });

  it('a SIM another line took while the order was open fails the completion (ICCID_DUPLICATE), nothing charged, network undone', async () => {
    h.clock.set('2026-11-16T10:00:00Z');
    const { accountId } = await customerAndAccount();
    const line = await activeLine(accountId);
    const contested = iccid();
    const { replaceSim } = await import('../src/application/replace-sim');
    const { runOrderSaga } = await import('../src/application/order-saga');
    const placed = await h.subscribers.runtime.orm.em.fork().transactional((em) => replaceSim(em as Em, h.catalogClient, { lineId: line.lineId, iccid: contested, idempotencyKey: `sim-c-${line.lineId}`, now: h.clock.now() }));
    // Another line is ordered on that SIM before the replacement is fulfilled.
    const other = (await gql(ADD_LINE, { i: { billingAccountId: accountId, msisdn: msisdn(), iccid: contested } })).addLine;
    expect(other.line.iccid).toBe(contested);
    const done = await runOrderSaga({ orm: h.subscribers.runtime.orm, clock: h.clock, provisioning: h.sandbox }, placed.order.id, { attempts: 1, callTimeoutMs: 300 });
    expect(done).toMatchObject({ status: 'FAILED', failureCode: 'ICCID_DUPLICATE' });
    expect((await h.rows<{ iccid: string }>(`select iccid from line where id = $1`, [line.lineId]))[0]!.iccid).toBe(line.iccid);
    expect(h.sandbox.network.get(line.msisdn)).toMatchObject({ iccid: line.iccid });
    expect(await simCharges(line.lineId)).toEqual([]);
  });

  it('only staff replace a SIM: the customer who owns the line, another customer and a partner may not (SIM-swap fraud)', async () => {
    h.clock.set('2026-11-16T10:00:00Z');
    const { customerId, accountId } = await customerAndAccount();
    const line = await activeLine(accountId);
    const stranger = await customerAndAccount();
    const before = await h.counts();
    for (const caller of [
      { role: 'CUSTOMER', subject: 'owner', customerId, scopes: [] },
      { role: 'CUSTOMER', subject: 'mallory', customerId: stranger.customerId, scopes: [] },
      { role: 'PARTNER', subject: 'partner', scopes: [] },
    ] as Caller[]) {
      const r = await h.subscribers.request(REPLACE, { i: { lineId: line.lineId, iccid: iccid(), idempotencyKey: `sim-x-${caller.subject}` } }, caller);
      expect(r.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    }
    expect(await h.counts()).toEqual(before);
    const own = iccid();
    const done = (await gql(REPLACE, { i: { lineId: line.lineId, iccid: own, idempotencyKey: `sim-agent-${line.lineId}` } }, { role: 'AGENT', subject: 'agent', scopes: [] })).replaceSim;
    expect(done).toMatchObject({ line: { iccid: own }, order: { status: 'COMPLETED' } });
  });
});

describe('replaceSim refusals name the field, carry a code and change nothing', () => {
  let lineId: string;
  let lineSim: string;
  let otherSim: string;
  let terminatedId: string;
  let pendingId: string;
  beforeAll(async () => {
    h.clock.set('2026-11-16T10:00:00Z');
    // POSTPAID_20GB takes one line per account.
    const { accountId } = await customerAndAccount();
    ({ lineId, iccid: lineSim } = await activeLine(accountId));
    ({ iccid: otherSim } = await activeLine((await customerAndAccount()).accountId));
    terminatedId = (await activeLine((await customerAndAccount()).accountId)).lineId;
    expect((await gql(TERMINATE, { i: { lineId: terminatedId } })).terminateLine.line.status).toBe('TERMINATED');
    const pendingNumber = msisdn();
    h.sandbox.behave('NEW_LINE', pendingNumber, { mode: 'reject' });
    pendingId = (await gql(ADD_LINE, { i: { billingAccountId: accountId, msisdn: pendingNumber } })).addLine.line.id;
    h.sandbox.behave('NEW_LINE', pendingNumber, null);
  });

  const good = () => iccid();
  const BAD = { code: 'BAD_USER_INPUT', reason: 'ICCID_INVALID', field: 'input.iccid' };
  const cases: [string, () => Record<string, unknown>, Record<string, unknown>][] = [
    ['a bad Luhn check digit', () => ({ lineId, iccid: `${good().slice(0, -1)}${(Number(good().slice(-1)) + 1) % 10}` }), BAD],
    ['18 digits (too short)', () => ({ lineId, iccid: '894901000000000004' }), BAD],
    ['21 digits (too long)', () => ({ lineId, iccid: '894901000000000000008' }), BAD],
    ['letters', () => ({ lineId, iccid: '89490100000000000AB' }), BAD],
    ['an empty ICCID', () => ({ lineId, iccid: '' }), BAD],
    ['an ICCID in use by another line', () => ({ lineId, iccid: otherSim }), { code: 'CONFLICT', reason: 'ICCID_DUPLICATE', field: 'input.iccid' }],
    ["the line's own SIM", () => ({ lineId, iccid: lineSim }), { code: 'CONFLICT', reason: 'ICCID_DUPLICATE', field: 'input.iccid' }],
    ['an unknown line', () => ({ lineId: 'lin_nope', iccid: good() }), { code: 'NOT_FOUND', reason: 'LINE_NOT_FOUND', field: 'input.lineId' }],
    ['a terminated line', () => ({ lineId: terminatedId, iccid: good() }), { code: 'CONFLICT', reason: 'LINE_ILLEGAL_TRANSITION', field: 'input.lineId' }],
    ['a line not yet active (PENDING)', () => ({ lineId: pendingId, iccid: good() }), { code: 'CONFLICT', reason: 'LINE_ILLEGAL_TRANSITION', field: 'input.lineId' }],
    ['a blank idempotency key', () => ({ lineId, iccid: good(), idempotencyKey: ' ' }), { code: 'BAD_USER_INPUT', field: 'input.idempotencyKey' }],
  ];

  it.each(cases)('%s', async (_name, make, expected) => {
    const before = await h.counts();
    const r = await h.subscribers.request(REPLACE, { i: { idempotencyKey: `bad-${serial++}`, ...make() } });
    expect(r.errors?.[0]?.extensions).toMatchObject(expected);
    expect(r.errors![0]!.message.length).toBeGreaterThan(10);
    expect(await h.counts()).toEqual(before);
  });

  it('refuses a second replacement while one is open (ORDER_ALREADY_OPEN) and a SIM another open replacement reserved', async () => {
    const { replaceSim } = await import('../src/application/replace-sim');
    const reserved = iccid();
    await h.subscribers.runtime.orm.em.fork().transactional((em) => replaceSim(em as Em, h.catalogClient, { lineId, iccid: reserved, idempotencyKey: `open-${lineId}`, now: h.clock.now() }));
    const before = await h.counts();
    const second = await h.subscribers.request(REPLACE, { i: { lineId, iccid: iccid(), idempotencyKey: `open2-${lineId}` } });
    expect(second.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'ORDER_ALREADY_OPEN', field: 'input.lineId' });
    const elsewhere = (await h.rows<{ id: string }>(`select id from line where iccid = $1`, [otherSim]))[0]!.id;
    const taken = await h.subscribers.request(REPLACE, { i: { lineId: elsewhere, iccid: reserved, idempotencyKey: `open3-${lineId}` } });
    expect(taken.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'ICCID_DUPLICATE', field: 'input.iccid' });
    expect(await h.counts()).toEqual(before);
  });
});
