// A subscribers' event invoicing cannot apply is logged and counted once, though its batch comes
// back. A one-off for an account not known yet fails its batch after the rest is applied, and the
// batch is redelivered until the account is there: every redelivery left the same bad event out
// again and logged and counted it again (ledgerline_invoicing_subscriber_events_dropped_total
// rose every half second while the one-off waited). Real PostgreSQL and NATS, through the
// subscribers consumer.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { EVENTS, createCloudEvent } from '@ledgerline/contracts';
import { startConsumer } from '../src/events/consumer';
import { startHarness, waitFor, type Harness } from './support';

let h: Harness;
let stopConsumer: (() => Promise<void>) | undefined;
beforeAll(async () => {
  // The consumer is started once the events are all in the stream, so that they come in one batch.
  h = await startHarness('2026-10-05T10:00:00Z', { consume: false });
});
afterAll(async () => {
  await stopConsumer?.();
  await h?.svc.close();
});

type Event = { subject: string; type: string };
const ACCOUNT: Event = EVENTS.billingAccountCreated;
const ONE_OFF: Event = EVENTS.oneOffChargeCreated;
const cloudEvent = (e: Event, key: string, data: unknown) =>
  JSON.stringify(createCloudEvent({ source: 'ledgerline/subscribers', type: e.type, subject: key, time: new Date('2026-10-05T09:00:00Z'), data, key: [key] }));
const accountData = (billingAccountId: string, over: Record<string, unknown> = {}) => ({
  billingAccountId, customerId: 'cus_1', paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 1, paymentTermsDays: 14, timezone: 'Europe/Berlin', creditLimit: null, autopay: false, ...over,
});
const oneOffData = (chargeId: string, billingAccountId: string) => ({
  chargeId, billingAccountId, lineId: null, subscriptionId: null, orderId: null, kind: 'CHARGE', reason: 'ACTIVATION_FEE',
  amount: '4.95', currency: 'EUR', description: 'Starter pack', periodStart: null, periodEnd: null, chargedAt: '2026-10-01T08:00:00Z',
});
const publish = (subject: string, payload: string) => h.svc.runtime.messaging.js.publish(subject, payload);
const query = async (text: string, params: unknown[]) => (await h.svc.runtime.orm.em.fork().getConnection().execute(text, params)) as Record<string, unknown>[];
const accounts = async (prefix: string) => (await query('select id from billing_account where id like ? order by id', [`${prefix}%`])).map((r) => r.id);
const oneOffs = async (prefix: string) => (await query('select id from one_off_charge where id like ? order by id', [`${prefix}%`])).map((r) => r.id);

describe("a subscribers' event invoicing cannot apply", () => {
  it('is logged and counted once while its batch comes back for a one-off waiting for its account', async () => {
    const r = `sdo_${Date.now().toString(36)}_`;
    const warn = vi.spyOn(h.svc.runtime.logger, 'warn');
    const bad = JSON.parse(cloudEvent(ACCOUNT, `${r}bad`, accountData(`${r}bad`, { currency: 'EURO' }))) as { id: string };
    // One-offs waiting for their account on both sides of the bad event: whichever way the consumer cuts the
    // stream into batches, the bad event's batch has one of them.
    for (const n of [1, 2]) await publish(ONE_OFF.subject, cloudEvent(ONE_OFF, `${r}oo_waiting_${n}`, oneOffData(`${r}oo_waiting_${n}`, `${r}later`)));
    await publish(ACCOUNT.subject, JSON.stringify(bad));
    await publish(ONE_OFF.subject, cloudEvent(ONE_OFF, `${r}oo_waiting_3`, oneOffData(`${r}oo_waiting_3`, `${r}later`)));
    await publish(ACCOUNT.subject, cloudEvent(ACCOUNT, `${r}known`, accountData(`${r}known`)));
    stopConsumer = await startConsumer(h.svc.runtime);
    const calls = (): Record<string, unknown>[] => warn.mock.calls.map(([fields, msg]) => ({ ...(fields as unknown as Record<string, unknown>), msg }));
    // The batches failed for the waiting one-offs and came back, several times: the bad event was read again each time.
    const waited = () => calls().filter((c) => /redelivered/.test(String(c.msg)) && String((c.err as Error | undefined)?.message).includes(`${r}later`)).length;
    await waitFor(async () => waited() >= 4);
    expect(await accounts(`${r}known`)).toEqual([`${r}known`]);
    await publish(ACCOUNT.subject, cloudEvent(ACCOUNT, `${r}later`, accountData(`${r}later`)));
    await waitFor(async () => (await oneOffs(`${r}oo_waiting`)).length === 3);
    expect(calls().filter((c) => c.id === bad.id).map((c) => [c.reason, c.field])).toEqual([['invalid', 'currency']]);
    warn.mockRestore();
  });
});
