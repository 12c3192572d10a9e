import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BILLING_STREAM, createCloudEvent, EVENTS, type CloudEvent, type EventName } from '@ledgerline/contracts';
import { scrapeMetrics, type Logger } from '@ledgerline/platform';
import { api, HUB, startHubForTest, startReceiver, until } from './support';

/**
 * Review 31. The hub checked only an event's id, type and subject; the data fields it locks on and stores
 * (`billingAccountId`: advisory lock, held_event, account_partner; `partnerId`, `partnerVersion` and the event's
 * time: account_partner, held_event) went to PostgreSQL as they were. A NUL character (text cannot hold it), a value
 * over its column or integer, or a time before 4713 BC failed the batch's transaction on every redelivery: the
 * consumer's subjects stalled for every hub. Such an event is set aside (dead-lettered with its reason for the hubs
 * that see everything, counted, logged; its account cannot be placed, so no partner hub gets it) and the rest of
 * its batch proceeds. Real PostgreSQL and NATS, local receivers.
 */
const RUN = randomBytes(4).toString('hex');
const ADMIN = { role: 'ADMIN' as const, subject: 'ops-lead' };
const A = { role: 'PARTNER' as const, partnerId: `mvno-unpl-${RUN}` };
const QUERY = 'subject=billing.invoicing.>,billing.subscribers.>';
const ACC_A = `ba_unpl_a_${RUN}`;
const SET_ASIDE = 'ledgerline_events_hub_events_set_aside_total';

let t: Awaited<ReturnType<typeof startHubForTest>>;
let rOps: Awaited<ReturnType<typeof startReceiver>>;
let rA: Awaited<ReturnType<typeof startReceiver>>;
const hubs = { ops: '', a: '' };
const lines: string[] = [];

async function publish(name: EventName, data: unknown, time: Date | string = new Date()): Promise<CloudEvent> {
  const e = createCloudEvent({ source: 'ledgerline/unplaceable-test', type: EVENTS[name].type, subject: RUN, time: typeof time === 'string' ? new Date() : time, data, key: [RUN, name, randomBytes(6).toString('hex')] });
  if (typeof time === 'string') e.time = time;
  await t.messaging.js.publish(EVENTS[name].subject, JSON.stringify(e), { msgID: e.id });
  return e;
}

beforeAll(async () => {
  t = await startHubForTest({}, { logger: pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) }) as unknown as Logger });
  [rOps, rA] = await Promise.all([startReceiver(), startReceiver()]);
  hubs.ops = (await api(t.hub, 'POST', HUB, ADMIN, { callback: rOps.url, query: QUERY })).body.id;
  hubs.a = (await api(t.hub, 'POST', HUB, A, { callback: rA.url, query: QUERY })).body.id;
  expect(hubs.ops && hubs.a).toBeTruthy();
  const opened = await publish('billingAccountCreated', { billingAccountId: ACC_A, customerId: `cus_${RUN}`, partnerId: A.partnerId, partnerVersion: 0 });
  await until('the account placed at A', () => rA.of(opened.id).length > 0);
});

afterAll(async () => {
  await t?.close();
  await Promise.all([rOps?.close(), rA?.close()]);
});

/** Messages of this hub's durables delivered and not acknowledged yet. */
async function unacknowledged(): Promise<number> {
  const schema = String((await t.hub.knex.raw('select current_schema() as s')).rows[0].s);
  const consumers = await t.messaging.jsm.consumers.list(BILLING_STREAM.name).next();
  return consumers.filter((c) => c.name.endsWith(`_${schema}`)).reduce((n, c) => n + c.num_ack_pending, 0);
}

const bill = (billingAccountId: unknown) => ({ customerBillId: `cb_${randomBytes(4).toString('hex')}`, billingAccountId, amountDue: '10.00', currency: 'EUR' });
const unplacedAccount = () => `ba_unpl_x_${randomBytes(4).toString('hex')}`;

describe('an event whose data the hub stores or locks on cannot be kept as it is', () => {
  it.each([
    { what: 'a NUL in data.billingAccountId', name: 'customerBillCreated', data: () => bill(`ba_\u0000_${RUN}`), reason: 'billing_account_id_invalid', error: /data\.billingAccountId holds a NUL character/ },
    { what: 'data.billingAccountId over 100 characters', name: 'customerBillCreated', data: () => bill(`ba_${'x'.repeat(120)}`), reason: 'billing_account_id_invalid', error: /data\.billingAccountId is 123 characters, over 100/ },
    {
      what: 'a NUL in data.partnerId',
      name: 'billingAccountCreated',
      data: () => ({ billingAccountId: unplacedAccount(), customerId: 'c', partnerId: `p\u0000${RUN}`, partnerVersion: 0 }),
      reason: 'partner_id_invalid',
      error: /data\.partnerId holds a NUL character/,
    },
    {
      what: 'data.partnerId over 100 characters',
      name: 'billingAccountCreated',
      data: () => ({ billingAccountId: unplacedAccount(), customerId: 'c', partnerId: 'p'.repeat(150), partnerVersion: 0 }),
      reason: 'partner_id_invalid',
      error: /data\.partnerId is 150 characters, over 100/,
    },
    {
      what: 'data.partnerVersion over PostgreSQL integer',
      name: 'billingAccountChanged',
      data: () => ({ billingAccountId: ACC_A, partnerId: A.partnerId, partnerVersion: 2 ** 31, changed: ['partnerId'] }),
      reason: 'partner_version_invalid',
      error: /data\.partnerVersion 2147483648 is over 2147483647/,
    },
    { what: 'a time before 4713 BC', name: 'customerBillCreated', data: () => bill(unplacedAccount()), time: '-005000-01-01T00:00:00.000Z', reason: 'time_out_of_range', error: /time -005000-01-01T00:00:00.000Z is before 4713 BC/ },
  ] as const)('$what: set aside with its reason, counted and logged; the normal event after it is delivered', async ({ name, data, reason, error, ...rest }) => {
    const counted = async () => (await scrapeMetrics({ url: `${t.hub.url}/metrics` }))[`${SET_ASIDE}{reason="${reason}"}`] ?? 0;
    const before = await counted();
    // The bad event and a normal one in one batch: the intake of an event before them waits on A's account lock (held
    // here) while both arrive.
    let bad!: CloudEvent;
    let normal!: CloudEvent;
    await t.hub.knex.transaction(async (trx) => {
      await trx.raw(`select pg_advisory_xact_lock(hashtext(current_schema() || '.account_partner:' || ?))`, [ACC_A]);
      await publish('customerBillCreated', bill(ACC_A));
      await until('the intake waiting on the lock', async () => Number((await trx.raw(`select count(*) as n from pg_locks where locktype = 'advisory' and not granted`)).rows[0].n) > 0);
      bad = await publish(name, data(), 'time' in rest ? rest.time : undefined);
      normal = await publish('customerBillCreated', bill(ACC_A));
      await new Promise((r) => setTimeout(r, 300));
    });

    // Before the fix the batch's transaction failed on every redelivery, both came back together: the normal one
    // never reached a hub.
    await until('the normal event delivered to the operator', () => rOps.of(normal.id).length > 0);
    await until('and to A (its account)', () => rA.of(normal.id).length > 0);
    // Before the fix the bad one was never acknowledged: redelivered every 500 ms, failing each batch it joined.
    await until('every message of the hub acknowledged', async () => (await unacknowledged()) === 0, 5_000);
    expect(lines.filter((l) => l.includes('consumer batch failed'))).toEqual([]);
    const rows = await t.hub.knex('webhook_delivery').where({ subscription_id: hubs.ops }).andWhere('payload', 'like', `%${bad.id}%`);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ status: 'DEAD', payload: JSON.stringify(bad) });
    expect(rows[0].last_error).toMatch(error);
    // Its account cannot be placed: no partner hub gets it, nothing is held or recorded for it.
    expect(await t.hub.knex('webhook_delivery').where({ subscription_id: hubs.a }).andWhere('payload', 'like', `%${bad.id}%`)).toEqual([]);
    expect(await t.hub.knex('held_event').where('payload', 'like', `%${bad.id}%`)).toEqual([]);
    expect(rA.received.some((r) => r.body.includes(bad.id))).toBe(false);
    expect(await counted()).toBe(before + 1);
    expect(lines.some((l) => l.includes('event set aside by the hub') && l.includes(bad.id) && l.includes(reason))).toBe(true);
  });
});
