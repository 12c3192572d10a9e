// A postpaid fee whose description was longer than invoicing's one_off_charge.description (200
// characters) was never billed: the subscribers consumer dropped the whole `oneoffcharge.created`
// event as "invalid", though subscribers writes descriptions of up to 300 characters (a plan-change
// fee named ~95 characters on a plan with an 80-character name: "<fee> for +49… (to <plan>)").
// Money is never dropped because of a text: a description within the contract's limit
// (ONE_OFF_DESCRIPTION_MAX) is billed whole, a longer one (an older or foreign producer) is billed
// with its description cut to that limit and marked with an ellipsis. Real PostgreSQL and NATS.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS, ONE_OFF_DESCRIPTION_MAX, createCloudEvent, type OneOffChargeData } from '@ledgerline/contracts';
import { account, startHarness, waitFor, type Harness } from './support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('2026-10-05T10:00:00Z');
});
afterAll(async () => h?.svc.close());

const publish = async (subject: string, type: string, key: string, data: unknown) =>
  h.svc.runtime.messaging.js.publish(subject, JSON.stringify(createCloudEvent({ source: 'ledgerline/subscribers', type, subject: key, time: new Date('2026-09-10T08:00:00Z'), data, key: [key] })));

const INVOICE = `query($id: ID!) { invoice(id: $id) { total { amount } lines { kind description unitPrice: netAmount { amount } grossAmount { amount } } } }`;

describe("subscribers' one-off charges with long descriptions", () => {
  it('are billed, the amount exact: a 250-character description whole, a 400-character one cut with an ellipsis, a short one unchanged', async () => {
    const run = Date.now().toString(36);
    const acc = `acc_oo_long_${run}`;
    // Other test files' invoicing consumers take these events too: a bill-cycle day none of them bills
    // (their 1st-of-month runs would otherwise bill this account's September one-offs).
    await publish(EVENTS.billingAccountCreated.subject, EVENTS.billingAccountCreated.type, acc, { billingAccountId: acc, customerId: `cus_${acc}`, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 23, paymentTermsDays: 14, timezone: 'Europe/Berlin', creditLimit: null, autopay: false });
    const oneOff = (suffix: string, reason: OneOffChargeData['reason'], amount: string, description: string): OneOffChargeData => ({
      chargeId: `chg_${run}_${suffix}`, billingAccountId: acc, lineId: null, subscriptionId: null, orderId: `ord_${run}`, kind: 'CHARGE', reason,
      amount, currency: 'EUR', description, periodStart: null, periodEnd: null, chargedAt: '2026-09-10T08:00:00Z',
    });
    // "<fee name> for <msisdn> (to <plan name>)": a 145-character fee name and an 80-character plan name, 250 characters in all.
    const long = `${'Plan change administration fee '.repeat(5).slice(0, 145)} for +4915123456789 (to ${'Family Share 50 GB '.repeat(5).slice(0, 80)})`;
    const tooLong = 'Termination fee '.repeat(25).trim(); // 399 characters: more than the contract allows
    expect([long.length, tooLong.length]).toEqual([250, 399]);
    const charges = [
      oneOff('a_long', 'PLAN_CHANGE_FEE', '19.99', long),
      oneOff('b_too_long', 'TERMINATION_FEE', '0.01', tooLong),
      oneOff('c_short', 'ACTIVATION_FEE', '4.95', 'Starter pack for +4915123456789'),
    ];
    for (const c of charges) await publish(EVENTS.oneOffChargeCreated.subject, EVENTS.oneOffChargeCreated.type, c.chargeId, c);
    const recorded = async () => (await h.svc.runtime.orm.em.fork().getConnection().execute(`select id from one_off_charge where billing_account_id = ? order by id`, [acc])) as { id: string }[];
    // The short one came last on the same subject: by the time it is there, the long ones were seen.
    await waitFor(async () => (await recorded()).some((r) => r.id.endsWith('c_short')));
    expect((await recorded()).map((r) => r.id)).toEqual(charges.map((c) => c.chargeId));

    const closed = await h.gql<any>('mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { invoice { id } } } }', {
      i: { billingAccountId: acc, periodStart: '2026-08-22T22:00:00Z', periodEnd: '2026-09-22T22:00:00Z' },
    });
    const invoice = (await h.gql<any>(INVOICE, { id: closed.closeBillingPeriod.billingPeriod.invoice.id })).invoice;
    const lines = invoice.lines.filter((l: any) => l.kind === 'ONE_OFF');
    const cut = `${tooLong.slice(0, ONE_OFF_DESCRIPTION_MAX - 1)}…`;
    expect(lines.map((l: any) => [l.description, l.unitPrice.amount])).toEqual([
      [long, '19.99'],
      [cut, '0.01'],
      ['Starter pack for +4915123456789', '4.95'],
    ]);
    expect([...cut].length).toBe(ONE_OFF_DESCRIPTION_MAX);
  });

  it('addOneOffCharge takes a description as long as the contract allows, and refuses a longer one naming the field (before: INTERNAL_SERVER_ERROR)', async () => {
    const acc = `acc_oo_mut_${Date.now().toString(36)}`;
    await account(h, acc);
    const ADD = 'mutation($i: AddOneOffChargeInput!) { addOneOffCharge(input: $i) { ok } }';
    const input = (id: string, description: string) => ({ i: { id: `${acc}_${id}`, billingAccountId: acc, code: 'GOODWILL', description, amount: { amount: '-5.00', currency: 'EUR' }, occurredAt: '2026-09-15T00:00:00Z' } });
    await h.gql(ADD, input('fits', 'é'.repeat(ONE_OFF_DESCRIPTION_MAX)));
    expect(await h.gqlError(ADD, input('long', 'x'.repeat(ONE_OFF_DESCRIPTION_MAX + 1)))).toEqual({ code: 'BAD_USER_INPUT', reason: 'DESCRIPTION_TOO_LONG', field: 'input.description' });
    const stored = (await h.svc.runtime.orm.em.fork().getConnection().execute(`select id from one_off_charge where billing_account_id = ?`, [acc])) as { id: string }[];
    expect(stored.map((r) => r.id)).toEqual([`${acc}_fits`]);
  });
});
