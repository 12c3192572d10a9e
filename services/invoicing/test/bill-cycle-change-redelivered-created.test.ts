// A bill-cycle change (operator: the 15th instead of the 1st) must survive subscribers'
// `billingaccount.created` coming again (JetStream redelivers at least once; a replay of the stream).
// That event tells how the account was created, never a change: before, invoicing registered it again
// with the old day, which cancelled a pending change, or once the change was in effect scheduled a
// change back to the old cycle. Now a created event for an account invoicing already has changes
// nothing. Real PostgreSQL and NATS.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS, createCloudEvent } from '@ledgerline/contracts';
import { account, startHarness, waitFor, type Harness } from './support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z');
});
afterAll(async () => h?.svc.close());

const publish = async (id: string, data: unknown) =>
  h.svc.runtime.messaging.js.publish(EVENTS.billingAccountCreated.subject, JSON.stringify(createCloudEvent({ source: 'ledgerline/subscribers', type: EVENTS.billingAccountCreated.type, subject: id, time: new Date('2026-10-01T08:00:00Z'), data, key: [id] })));
const created = (id: string, autopay = false) => ({ billingAccountId: id, customerId: `cus_${id}`, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 1, paymentTermsDays: 14, timezone: 'Europe/Berlin', creditLimit: null, autopay });
const cycle = async (id: string) => {
  const [r] = (await h.svc.runtime.orm.em.fork().getConnection().execute('select bill_cycle_day, prev_bill_cycle_day, bill_cycle_changes_at from billing_account where id = ?', [id])) as any[];
  return r && { day: r.bill_cycle_day, prev: r.prev_bill_cycle_day, changesAt: r.bill_cycle_changes_at ? new Date(r.bill_cycle_changes_at).toISOString() : null };
};
/** Publishes `id`'s created event again, then another account's: once that one is there, the first was applied (one ordered consumer). */
async function redeliver(id: string, marker: string): Promise<void> {
  await publish(id, created(id));
  await publish(marker, created(marker));
  await waitFor(async () => (await cycle(marker)) != null);
}

/** An account created by its event on the 1st, moved by the operator to the 15th on 20 October. */
async function movedTo15th(id: string) {
  h.clock.set(new Date('2026-10-01T08:00:00Z'));
  await publish(id, created(id));
  await waitFor(async () => (await cycle(id)) != null);
  h.clock.set(new Date('2026-10-20T09:00:00Z'));
  await account(h, id, { billCycleDay: 15, timezone: 'Europe/Berlin' });
  const changed = { day: 15, prev: 1, changesAt: '2026-10-31T23:00:00.000Z' };
  expect(await cycle(id)).toEqual(changed);
  return changed;
}

describe('a redelivered billingaccount.created after a bill-cycle change', () => {
  it('before the change takes effect: does not cancel it', async () => {
    const run = Date.now().toString(36);
    const id = `acc_bcr_${run}`;
    const changed = await movedTo15th(id);
    await redeliver(id, `acc_bcr_m1_${run}`);
    expect(await cycle(id)).toEqual(changed);
  });

  it('once the change is in effect: does not schedule a change back to the old day', async () => {
    const run = Date.now().toString(36);
    const id = `acc_bcr_back_${run}`;
    const changed = await movedTo15th(id);
    h.clock.set(new Date('2026-11-20T09:00:00Z'));
    await redeliver(id, `acc_bcr_m2_${run}`);
    expect(await cycle(id)).toEqual(changed);
  });
});
