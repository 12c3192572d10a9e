// Subscribers' one-off charges (activation fees, add-ons) over JetStream:
// a postpaid account's go on its next invoice; a prepaid account's are taken from its balance by
// wallets, so invoicing does not record them (it would never bill them). Real PostgreSQL and NATS.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS, createCloudEvent, dec, type OneOffChargeData } from '@ledgerline/contracts';
import { startHarness, waitFor, type Harness } from './support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z');
});
afterAll(async () => h?.svc.close());

const publish = async (subject: string, type: string, id: string, data: unknown) =>
  h.svc.runtime.messaging.js.publish(subject, JSON.stringify(createCloudEvent({ source: 'ledgerline/subscribers', type, subject: id, time: new Date('2026-10-01T08:00:00Z'), data, key: [id] })));

describe("subscribers' one-off charges", () => {
  it("are recorded for a postpaid account (once, however often the event comes) and not for a prepaid one", async () => {
    const run = Date.now().toString(36);
    const accounts = { post: `acc_oo_post_${run}`, pre: `acc_oo_pre_${run}` };
    for (const [mode, id] of [['POSTPAID', accounts.post], ['PREPAID', accounts.pre]] as const) {
      await publish(EVENTS.billingAccountCreated.subject, EVENTS.billingAccountCreated.type, id, { billingAccountId: id, customerId: `cus_${id}`, paymentMode: mode, currency: 'EUR', billCycleDay: 1, paymentTermsDays: 14, timezone: 'Europe/Berlin', creditLimit: null, autopay: false });
    }
    const fee = (billingAccountId: string): OneOffChargeData => ({
      chargeId: `chg_${billingAccountId}`, billingAccountId, lineId: null, subscriptionId: null, orderId: null, kind: 'CHARGE', reason: 'ACTIVATION_FEE',
      amount: '4.95', currency: 'EUR', description: 'Starter pack', periodStart: null, periodEnd: null, chargedAt: '2026-10-01T08:00:00Z',
    } as OneOffChargeData);
    for (const id of [accounts.pre, accounts.post, accounts.post]) await publish(EVENTS.oneOffChargeCreated.subject, EVENTS.oneOffChargeCreated.type, `chg_${id}`, fee(id));
    const rows = async (id: string) => (await h.svc.runtime.orm.em.fork().getConnection().execute(`select id, amount from one_off_charge where billing_account_id = ?`, [id])) as { id: string; amount: string }[];
    await waitFor(async () => (await rows(accounts.post)).length > 0);
    // The prepaid account's event came first on the same subject: had it been recorded, it would be there by now.
    expect((await rows(accounts.post)).map((r) => [r.id, dec(String(r.amount)).toFixed()])).toEqual([[`chg_${accounts.post}`, '4.95']]);
    expect(await rows(accounts.pre)).toEqual([]);
  });

  it('a plan-change proration one-off (sent by subscribers before the plan segments billed changes) is not billed again', async () => {
    const run = Date.now().toString(36);
    const id = `acc_oo_prorate_${run}`;
    await publish(EVENTS.billingAccountCreated.subject, EVENTS.billingAccountCreated.type, id, { billingAccountId: id, customerId: `cus_${id}`, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 1, paymentTermsDays: 14, timezone: 'Europe/Berlin', creditLimit: null, autopay: false });
    const oneOff = (chargeId: string, reason: string, amount: string): OneOffChargeData => ({
      chargeId, billingAccountId: id, lineId: null, subscriptionId: null, orderId: 'ord_x', kind: 'CHARGE', reason,
      amount, currency: 'EUR', description: reason, periodStart: null, periodEnd: null, chargedAt: '2026-10-01T08:00:00Z',
    } as OneOffChargeData);
    await publish(EVENTS.oneOffChargeCreated.subject, EVENTS.oneOffChargeCreated.type, `p_${run}`, oneOff(`chg_prorate_${run}`, 'PLAN_CHANGE_PRORATION', '8.00'));
    await publish(EVENTS.oneOffChargeCreated.subject, EVENTS.oneOffChargeCreated.type, `a_${run}`, oneOff(`chg_addon_${run}`, 'ADD_ON_PURCHASE', '3.00'));
    const rows = async () => (await h.svc.runtime.orm.em.fork().getConnection().execute(`select id from one_off_charge where billing_account_id = ?`, [id])) as { id: string }[];
    // The add-on came after the proration on the same subject: by the time it is there, the proration was seen.
    await waitFor(async () => (await rows()).length > 0);
    expect((await rows()).map((r) => r.id)).toEqual([`chg_addon_${run}`]);
  });
});
