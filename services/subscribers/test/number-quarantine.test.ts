import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '@ledgerline/platform';
import { numberQuarantineDays } from '../src/application/number-quarantine';
import { startHarness, type Harness } from './support';

/**
 * A number released by a termination was given to another customer's new line the same second
 * (MSISDN unique only among live lines): the next holder received the previous customer's calls,
 * SMS, one-time codes and messages. It is now held back for SUBSCRIBERS_NUMBER_QUARANTINE_DAYS
 * (default 90) from the termination: another customer is refused CONFLICT MSISDN_QUARANTINED,
 * told when it is free; the customer who had it may take it back; 0 turns the quarantine off.
 */
let h: Harness;
let off: Harness;
const number = (n: number) => `+49157${String(Math.floor(Math.random() * 1e6)).padStart(6, '0')}${n}${n}`;

const CREATE_CUSTOMER = `mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`;
const OPEN_ACCOUNT = `mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }`;
const ADD_LINE = `mutation($i: AddLineInput!) { addLine(input: $i) { line { id msisdn status } order { status } } }`;
const TERMINATE = `mutation($i: LineChangeInput!) { terminateLine(input: $i) { line { id status } } }`;
const SUSPEND = `mutation($i: LineChangeInput!) { suspendLine(input: $i) { line { id status } } }`;

beforeAll(async () => {
  h = await startHarness({ now: '2026-11-16T10:00:00Z' });
  off = await startHarness({ now: '2026-11-16T10:00:00Z', numberQuarantineDays: 0 });
});
afterAll(async () => {
  await h?.close();
  await off?.close();
});

async function customer(on: Harness, name: string): Promise<string> {
  return (await on.ok(CREATE_CUSTOMER, { i: { name, kind: 'INDIVIDUAL' } })).createCustomer.customer.id;
}
async function account(on: Harness, customerId: string): Promise<string> {
  return (await on.ok(OPEN_ACCOUNT, { i: { customerId, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 1 } })).openBillingAccount.billingAccount.id;
}
/** A line on `msisdn` for `accountId`, terminated at the harness's current time. */
async function terminatedLine(on: Harness, accountId: string, msisdn: string): Promise<string> {
  const line = (await on.ok(ADD_LINE, { i: { billingAccountId: accountId, msisdn } })).addLine.line;
  expect((await on.ok(TERMINATE, { i: { lineId: line.id } })).terminateLine.line.status).toBe('TERMINATED');
  return line.id;
}

describe('a terminated line’s number is held back before it goes to another customer', () => {
  it('refuses it to another customer until 90 days after the termination, then gives it', async () => {
    const msisdn = number(1);
    h.clock.set('2026-11-16T10:00:00Z');
    await terminatedLine(h, await account(h, await customer(h, 'Olga Oldholder')), msisdn);
    const next = await account(h, await customer(h, 'Nina Newholder'));

    h.clock.set('2027-02-14T09:59:59Z'); // a second short of 90 days
    const before = await h.counts();
    const r = await h.subscribers.request<any>(ADD_LINE, { i: { billingAccountId: next, msisdn } });
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'MSISDN_QUARANTINED', field: 'input.msisdn', availableAt: '2027-02-14T10:00:00.000Z' });
    expect(r.errors?.[0]?.message).toContain('2027-02-14T10:00:00.000Z');
    expect(await h.counts()).toEqual(before);

    h.clock.set('2027-02-14T10:00:00Z');
    const given = (await h.ok(ADD_LINE, { i: { billingAccountId: next, msisdn } })).addLine;
    expect({ line: given.line.status, order: given.order.status }).toEqual({ line: 'ACTIVE', order: 'COMPLETED' });
  });

  it('gives it back at once to the customer who had it (another account of theirs too)', async () => {
    const msisdn = number(2);
    h.clock.set('2026-11-16T10:00:00Z');
    const owner = await customer(h, 'Ruth Returning');
    await terminatedLine(h, await account(h, owner), msisdn);
    h.clock.set('2026-11-20T10:00:00Z');
    const back = (await h.ok(ADD_LINE, { i: { billingAccountId: await account(h, owner), msisdn } })).addLine;
    expect(back.line).toMatchObject({ msisdn, status: 'ACTIVE' });
  });

  it('holds it for the latest holder: a customer who had it before another one is refused too', async () => {
    const msisdn = number(3);
    h.clock.set('2026-11-16T10:00:00Z');
    const first = await customer(h, 'Fred First');
    await terminatedLine(h, await account(h, first), msisdn);
    const second = await customer(h, 'Sara Second');
    h.clock.set('2027-03-01T10:00:00Z');
    await terminatedLine(h, await account(h, second), msisdn);
    h.clock.set('2027-03-02T10:00:00Z');
    const r = await h.subscribers.request<any>(ADD_LINE, { i: { billingAccountId: await account(h, first), msisdn } });
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'MSISDN_QUARANTINED', field: 'input.msisdn', availableAt: '2027-05-30T10:00:00.000Z' });
    // The second holder may take it back.
    h.clock.set('2027-03-02T10:00:00Z');
    expect((await h.ok(ADD_LINE, { i: { billingAccountId: await account(h, second), msisdn } })).addLine.line.status).toBe('ACTIVE');
  });

  it('is off with SUBSCRIBERS_NUMBER_QUARANTINE_DAYS=0: the number goes to another customer at once', async () => {
    const msisdn = number(4);
    await terminatedLine(off, await account(off, await customer(off, 'Olaf Old')), msisdn);
    const given = (await off.ok(ADD_LINE, { i: { billingAccountId: await account(off, await customer(off, 'Nora New')), msisdn } })).addLine;
    expect(given.line).toMatchObject({ msisdn, status: 'ACTIVE' });
  });

  it('keeps a live number unique: MSISDN_DUPLICATE as before', async () => {
    const msisdn = number(5);
    await h.ok(ADD_LINE, { i: { billingAccountId: await account(h, await customer(h, 'Lena Live')), msisdn } });
    const r = await h.subscribers.request<any>(ADD_LINE, { i: { billingAccountId: await account(h, await customer(h, 'Otto Other')), msisdn } });
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'MSISDN_DUPLICATE', field: 'input.msisdn' });
  });
});

/** A line on `msisdn` for `accountId` whose NEW_LINE order the network refused (it stays PENDING), cancelled at the harness's current time. */
async function cancelledPendingLine(on: Harness, accountId: string, msisdn: string): Promise<string> {
  on.sandbox.behave('NEW_LINE', msisdn, { mode: 'reject', code: 'PROVISIONING_SIM_UNKNOWN' });
  const ordered = (await on.ok(ADD_LINE, { i: { billingAccountId: accountId, msisdn } })).addLine;
  on.sandbox.behave('NEW_LINE', msisdn, null);
  expect({ line: ordered.line.status, order: ordered.order.status }).toEqual({ line: 'PENDING', order: 'FAILED' });
  expect((await on.ok(TERMINATE, { i: { lineId: ordered.line.id } })).terminateLine.line.status).toBe('TERMINATED');
  return ordered.line.id;
}

/**
 * A line cancelled while still PENDING (its activation never completed: the number never reached a
 * phone, nobody has it in their contacts) held its number back for 90 days like a line that was in
 * use, so a sales-order mistake made a number unusable for a quarter. Only a line that went live
 * (its history has its activation: a suspended or barred line went live first) quarantines it.
 */
describe('a line cancelled before it went live releases its number at once', () => {
  it('gives the number of a line cancelled while PENDING to another customer at once', async () => {
    const msisdn = number(6);
    h.clock.set('2026-11-16T10:00:00Z');
    await cancelledPendingLine(h, await account(h, await customer(h, 'Mia Mistaken')), msisdn);
    h.clock.set('2026-11-16T10:05:00Z');
    const given = (await h.ok(ADD_LINE, { i: { billingAccountId: await account(h, await customer(h, 'Nico Next')), msisdn } })).addLine;
    expect(given.line).toMatchObject({ msisdn, status: 'ACTIVE' });
  });

  it('still holds back the number of a line suspended and then terminated (it went live)', async () => {
    const msisdn = number(7);
    h.clock.set('2026-11-16T10:00:00Z');
    const line = (await h.ok(ADD_LINE, { i: { billingAccountId: await account(h, await customer(h, 'Sven Suspended')), msisdn } })).addLine.line;
    expect((await h.ok(SUSPEND, { i: { lineId: line.id } })).suspendLine.line.status).toBe('SUSPENDED');
    h.clock.set('2026-11-18T10:00:00Z');
    expect((await h.ok(TERMINATE, { i: { lineId: line.id } })).terminateLine.line.status).toBe('TERMINATED');
    h.clock.set('2026-11-19T10:00:00Z');
    const r = await h.subscribers.request<any>(ADD_LINE, { i: { billingAccountId: await account(h, await customer(h, 'Tina Taker')), msisdn } });
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'MSISDN_QUARANTINED', availableAt: '2027-02-16T10:00:00.000Z' });
  });

  it('does not lift or restart the quarantine of a live holder before it', async () => {
    const msisdn = number(8);
    h.clock.set('2026-11-16T10:00:00Z');
    const holder = await customer(h, 'Hugo Holder');
    await terminatedLine(h, await account(h, holder), msisdn);
    // The holder takes it back, but that line is cancelled before it goes live.
    h.clock.set('2026-12-01T10:00:00Z');
    await cancelledPendingLine(h, await account(h, holder), msisdn);
    h.clock.set('2026-12-02T10:00:00Z');
    const r = await h.subscribers.request<any>(ADD_LINE, { i: { billingAccountId: await account(h, await customer(h, 'Ida Intruder')), msisdn } });
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'MSISDN_QUARANTINED', availableAt: '2027-02-14T10:00:00.000Z' });
  });
});

/**
 * A NEW_LINE order whose activation reached the network (the number switched on) and then failed
 * left the line PENDING with no COMPLETED activation, so cancelling it released the number at once
 * while the network might still route its calls to this line: the undo (the saga's compensation)
 * had not been confirmed. Such a number is held back like a live line's until the network confirms
 * the activation undone.
 */
describe('a line whose activation reached the network and then failed', () => {
  const SYSTEM = { role: 'SYSTEM' as const, subject: 'workflows', scopes: [] };
  const FAIL = `mutation($i: OrderStepInput!) { failOrder(input: $i) { order { id status } } }`;

  /** A line on `msisdn` whose NEW_LINE the network applied and then failed, its undo refused by a network outage; cancelled an hour later. */
  async function cancelledHalfActivatedLine(accountId: string, msisdn: string): Promise<{ lineId: string; orderId: string }> {
    h.sandbox.behave('NEW_LINE', msisdn, { mode: 'fail-after-apply' });
    const compensate = h.sandbox.compensate.bind(h.sandbox);
    h.sandbox.compensate = async () => {
      throw new Error('provisioning system unavailable (sandbox outage)');
    };
    try {
      await h.subscribers.request(ADD_LINE, { i: { billingAccountId: accountId, msisdn } });
    } finally {
      h.sandbox.compensate = compensate;
      h.sandbox.behave('NEW_LINE', msisdn, null);
    }
    const [line] = await h.rows<{ id: string; status: string }>(`select id, status from line where msisdn = $1`, [msisdn]);
    const [order] = await h.rows<{ id: string; status: string }>(`select id, status from product_order where line_id = $1 and kind = 'NEW_LINE'`, [line!.id]);
    expect({ line: line!.status, order: order!.status, network: h.sandbox.network.get(msisdn)?.status }).toEqual({ line: 'PENDING', order: 'FAILED', network: 'ACTIVE' });
    h.clock.set(new Date(h.clock.now().getTime() + 3_600_000).toISOString());
    expect((await h.ok(TERMINATE, { i: { lineId: line!.id } })).terminateLine.line.status).toBe('TERMINATED');
    return { lineId: line!.id, orderId: order!.id };
  }

  it('holds its number back while the network has not confirmed the activation undone', async () => {
    const msisdn = number(9);
    h.clock.set('2026-11-16T10:00:00Z');
    await cancelledHalfActivatedLine(await account(h, await customer(h, 'Pia Partial')), msisdn);
    h.clock.set('2026-11-16T12:00:00Z');
    const r = await h.subscribers.request<any>(ADD_LINE, { i: { billingAccountId: await account(h, await customer(h, 'Quentin Quick')), msisdn } });
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'MSISDN_QUARANTINED', field: 'input.msisdn', availableAt: '2027-02-14T11:00:00.000Z' });
  });

  it('releases it once the undo is confirmed (the order workflow reports it with failOrder networkUndone)', async () => {
    const msisdn = number(0);
    h.clock.set('2026-11-16T10:00:00Z');
    const { orderId } = await cancelledHalfActivatedLine(await account(h, await customer(h, 'Walter Workflow')), msisdn);
    await h.ok(FAIL, { i: { orderId, failureCode: 'PROVISIONING_FAILED', networkUndone: true } }, SYSTEM);
    const given = (await h.ok(ADD_LINE, { i: { billingAccountId: await account(h, await customer(h, 'Xena Next')), msisdn } })).addLine;
    expect(given.line).toMatchObject({ msisdn, status: 'ACTIVE' });
  });
});

describe('SUBSCRIBERS_NUMBER_QUARANTINE_DAYS', () => {
  it('is 90 days unless set, 0 turns it off, anything but whole days stops start-up', () => {
    expect([numberQuarantineDays(undefined), numberQuarantineDays(''), numberQuarantineDays('0'), numberQuarantineDays('30')]).toEqual([90, 90, 0, 30]);
    for (const bad of ['-1', '1.5', 'ninety']) expect(() => numberQuarantineDays(bad)).toThrow(ConfigError);
  });
});
