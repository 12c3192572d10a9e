// Ending an add-on before it lapses (endAddOn). Before, there was no way to: a customer kept (and
// paid for) an add-on they no longer wanted, and a change onto a plan that cannot hold it waited
// for it to lapse. Now the purchase ends now, the unused whole days of its price come back as a
// CREDIT one-off (wallets credits a prepaid balance, invoicing puts it on a postpaid bill), and
// `addon.ended` names the buckets wallets revokes. Real PostgreSQL and NATS (outbox), in-process orders.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS, type Caller } from '@ledgerline/contracts';
import { startHarness, type FileCatalog, type Harness } from './support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ now: '2026-11-16T10:00:00Z' });
});
afterAll(async () => {
  await h?.close();
});

const END = `mutation($i: EndAddOnInput!) { endAddOn(input: $i) { line { id } order { id kind status idempotencyKey } addOn { code startsAt endsAt } refund { amount currency } unusedDays } }`;
const BUY = `mutation($i: AddAddOnInput!) { addAddOn(input: $i) { order { id status } } }`;

let n = 0;
async function newLine(planCode = 'FAMILY_SHARE_50GB'): Promise<{ lineId: string; customerId: string; accountId: string }> {
  n += 1;
  const c = await h.ok(`mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`, { i: { name: `Ending Add-on ${n}`, kind: 'INDIVIDUAL', timezone: 'Europe/Berlin' } });
  const a = await h.ok(`mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }`, {
    i: { customerId: c.createCustomer.customer.id, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 1, creditLimit: '300.00' },
  });
  const line = await h.ok(`mutation($i: AddLineInput!) { addLine(input: $i) { line { id } } }`, { i: { billingAccountId: a.openBillingAccount.billingAccount.id, msisdn: `+49151239904${String(n).padStart(2, '0')}`, planCode } });
  return { lineId: line.addLine.line.id, customerId: c.createCustomer.customer.id, accountId: a.openBillingAccount.billingAccount.id };
}
const customer = (customerId: string): Caller => ({ role: 'CUSTOMER', subject: customerId, customerId, scopes: [] });
async function buy(lineId: string, offerCode: string): Promise<string> {
  const o = (await h.ok(BUY, { i: { lineId, offerCode } })).addAddOn.order;
  expect(o.status).toBe('COMPLETED');
  return o.id;
}
async function refusal(query: string, variables: Record<string, unknown>, caller?: Caller) {
  const r = await h.subscribers.request<any>(query, variables, caller);
  const e = r.errors?.[0];
  expect(e, JSON.stringify(r.data)).toBeTruthy();
  return { code: e?.extensions?.code, reason: e?.extensions?.reason, field: e?.extensions?.field, message: e?.message ?? '' };
}
const events = async (subject: string, like: string) =>
  (await h.rows<{ payload: string }>(`select payload from outbox where subject = $1 and payload like $2 order by seq`, [subject, `%${like}%`])).map((r) => JSON.parse(r.payload));
const credits = (lineId: string) => h.rows<{ id: string; kind: string; reason: string; amount: string }>(`select id, kind, reason, amount::text from one_off_charge where line_id = $1 and kind = 'CREDIT'`, [lineId]);

describe('endAddOn', () => {
  it('ends the purchase now and credits its unused whole days pro rata, once; a repeat answers the same; ended again is a CONFLICT', async () => {
    h.clock.set('2026-11-16T10:00:00Z');
    const { lineId, customerId } = await newLine();
    const purchaseOrderId = await buy(lineId, 'DATA_BOOST_5GB'); // 5.00 EUR, 30 days: until 16 Dec 10:00
    h.clock.set('2026-11-20T12:00:00Z'); // 25 whole days left (the day of the end counts as used): 5.00 × 25/30 = 4.1666… → 4.17
    const input = { lineId, offerCode: 'DATA_BOOST_5GB', reason: 'Not needed any more', idempotencyKey: 'end-boost-1' };
    const first = (await h.ok(END, { i: input }, customer(customerId))).endAddOn;
    expect(first).toMatchObject({
      line: { id: lineId },
      order: { kind: 'ADD_ON_END', status: 'COMPLETED', idempotencyKey: 'end-boost-1' },
      addOn: { code: 'DATA_BOOST_5GB', startsAt: '2026-11-16T10:00:00.000Z', endsAt: '2026-11-20T12:00:00.000Z' },
      refund: { amount: '4.17', currency: 'EUR' },
      unusedDays: 25,
    });
    const line = (await h.ok(`query($id: ID!) { line(id: $id) { subscription { addOns { code startsAt endsAt } } } }`, { id: lineId })).line;
    expect(line.subscription.addOns).toEqual([{ code: 'DATA_BOOST_5GB', startsAt: '2026-11-16T10:00:00.000Z', endsAt: '2026-11-20T12:00:00.000Z' }]);

    const [credit, ...more] = await credits(lineId);
    expect(more).toEqual([]);
    expect(credit).toMatchObject({ kind: 'CREDIT', reason: 'ADD_ON_PURCHASE' });
    expect(Number.isNaN(Number(credit!.amount))).toBe(false);
    expect(credit!.amount.replace(/0+$/, '')).toBe('-4.17');
    const oneOff = await events(EVENTS.oneOffChargeCreated.subject, credit!.id);
    expect(oneOff.map((e) => e.data)).toEqual([
      expect.objectContaining({ chargeId: credit!.id, lineId, orderId: first.order.id, kind: 'CREDIT', reason: 'ADD_ON_PURCHASE', amount: '-4.17', currency: 'EUR', chargedAt: '2026-11-20T12:00:00.000Z' }),
    ]);
    const ended = await events(EVENTS.addOnEnded.subject, lineId);
    expect(ended.map((e) => e.data)).toEqual([
      {
        orderId: first.order.id, purchaseOrderId, lineId, billingAccountId: expect.any(String), subscriptionId: expect.any(String), offerCode: 'DATA_BOOST_5GB',
        startsAt: '2026-11-16T10:00:00.000Z', endsAt: '2026-12-16T10:00:00.000Z', endedAt: '2026-11-20T12:00:00.000Z', reason: 'Not needed any more',
        grantKeys: [`addon:${purchaseOrderId}:boost-data`], refund: { amount: '4.17', currency: 'EUR' }, creditChargeId: credit!.id,
      },
    ]);
    // Usage learns of the end from the subscription's add-ons (it counts a purchase while startsAt <= t < endsAt).
    const changed = (await events(EVENTS.subscriptionChanged.subject, lineId)).filter((e) => e.time === '2026-11-20T12:00:00.000Z');
    expect(changed.map((e) => e.data.addOns)).toEqual([[{ code: 'DATA_BOOST_5GB', startsAt: '2026-11-16T10:00:00.000Z', endsAt: '2026-11-20T12:00:00.000Z' }]]);

    // The customer is told, with the credit and where it goes (a postpaid account: the next invoice).
    const told = await h.rows<{ subject: string; content: string }>(`select subject, content from communication_message where line_id = $1 and template = 'ADD_ON_ENDED'`, [lineId]);
    expect(told.length).toBeGreaterThan(0);
    expect([...new Set(told.map((t) => `${t.subject} | ${t.content}`))]).toEqual([
      `Data Boost 5 GB ended | Data Boost 5 GB on ${(await h.rows<{ msisdn: string }>('select msisdn from line where id = $1', [lineId]))[0]!.msisdn} ended on 2026-11-20 12:00 UTC. 4.17 EUR for its 25 unused days is credited on your next invoice.`,
    ]);

    // The same request again (later): the first answer, nothing more written.
    h.clock.set('2026-11-21T09:00:00Z');
    const before = await h.counts();
    expect((await h.ok(END, { i: input }, customer(customerId))).endAddOn).toEqual(first);
    expect(await h.counts()).toEqual(before);
    // The same key for something else; another key for the ended add-on.
    expect(await refusal(END, { i: { ...input, reason: 'Other' } })).toMatchObject({ code: 'CONFLICT', reason: 'IDEMPOTENCY_KEY_REUSED', field: 'input.idempotencyKey' });
    const again = await refusal(END, { i: { ...input, idempotencyKey: 'end-boost-2' } });
    expect(again).toMatchObject({ code: 'CONFLICT', reason: 'ADDON_NOT_ACTIVE', field: 'input.offerCode' });
    expect(again.message).toContain('ended on 2026-11-20T12:00:00.000Z');
    expect(await h.counts()).toEqual(before);
  });

  it('two requests at once (other keys, or the same key) make one end and one credit', async () => {
    h.clock.set('2026-11-16T10:00:00Z');
    const a = await newLine();
    await buy(a.lineId, 'DATA_BOOST_5GB');
    h.clock.set('2026-11-26T10:00:00Z'); // 20 days left: 5.00 × 20/30 = 3.33
    const results = await Promise.all(['race-1', 'race-2', 'race-1', 'race-2'].map((k) => h.subscribers.request<any>(END, { i: { lineId: a.lineId, offerCode: 'DATA_BOOST_5GB', idempotencyKey: k } })));
    const done = results.filter((r) => !r.errors);
    const refused = results.filter((r) => r.errors);
    expect(new Set(done.map((r) => r.data.endAddOn.order.id)).size).toBe(1);
    expect(done.length).toBeGreaterThanOrEqual(1);
    for (const r of refused) expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'ADDON_NOT_ACTIVE', field: 'input.offerCode' });
    expect(done[0].data.endAddOn.refund).toEqual({ amount: '3.33', currency: 'EUR' });
    expect(await credits(a.lineId)).toHaveLength(1);
    expect(await events(EVENTS.addOnEnded.subject, a.lineId)).toHaveLength(1);
  });

  it('refuses a lapsed or never-bought add-on (CONFLICT), bad input (naming the field), another customer and an unknown line', async () => {
    h.clock.set('2026-11-16T10:00:00Z');
    const { lineId, customerId } = await newLine();
    const other = await newLine();
    await buy(lineId, 'ROAM_WORLD_PASS_7D');
    h.clock.set('2026-11-23T10:00:00Z'); // the 7-day pass lapsed this instant
    const before = await h.counts();
    const i = { lineId, offerCode: 'ROAM_WORLD_PASS_7D', idempotencyKey: 'k-lapsed' };
    expect(await refusal(END, { i })).toMatchObject({ code: 'CONFLICT', reason: 'ADDON_NOT_ACTIVE', field: 'input.offerCode' });
    expect(await refusal(END, { i: { ...i, offerCode: 'DATA_BOOST_5GB' } })).toMatchObject({ code: 'CONFLICT', reason: 'ADDON_NOT_ACTIVE', field: 'input.offerCode' });
    expect(await refusal(END, { i: { ...i, idempotencyKey: ' ' } })).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'IDEMPOTENCY_KEY_INVALID', field: 'input.idempotencyKey' });
    expect(await refusal(END, { i: { ...i, offerCode: '' } })).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'OFFER_CODE_REQUIRED', field: 'input.offerCode' });
    expect(await refusal(END, { i: { ...i, reason: 'x'.repeat(301) } })).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'REASON_TOO_LONG', field: 'input.reason' });
    expect(await refusal(END, { i: { ...i, lineId: 'lin_nope' } })).toMatchObject({ code: 'NOT_FOUND', field: 'input.lineId' });
    expect(await refusal(END, { i }, customer(other.customerId))).toMatchObject({ code: 'NOT_FOUND', field: 'input.lineId' }); // as an unknown line
    expect((await refusal(END, { i }, customer(customerId))).reason).toBe('ADDON_NOT_ACTIVE'); // the owner may ask
    expect(await h.counts()).toEqual(before);
  });

  it('a plan change blocked by an add-on the new plan cannot hold names endAddOn, and goes through once it is ended', async () => {
    h.clock.set('2026-11-16T10:00:00Z');
    const { lineId } = await newLine('FAMILY_SHARE_50GB');
    await buy(lineId, 'DATA_BOOST_5GB');
    const restore = (h.catalogClient as FileCatalog).sellOnlyWith(['DATA_BOOST_5GB'], ['FAMILY_SHARE_50GB']);
    try {
      h.clock.set('2026-11-18T10:00:00Z');
      const CHANGE = `mutation($i: ChangePlanInput!) { changePlan(input: $i) { order { status } preview { timing carriedAddOns { code } } } }`;
      const blocked = await refusal(CHANGE, { i: { lineId, planCode: 'POSTPAID_20GB' } });
      expect(blocked).toMatchObject({ code: 'CONFLICT', reason: 'PLAN_CHANGE_ADDON_INCOMPATIBLE', field: 'input.planCode' });
      expect(blocked.message).toContain('endAddOn');
      expect((await h.ok(END, { i: { lineId, offerCode: 'DATA_BOOST_5GB', idempotencyKey: 'end-for-change' } })).endAddOn.refund).toEqual({ amount: '4.67', currency: 'EUR' }); // 28 days left
      expect((await h.ok(CHANGE, { i: { lineId, planCode: 'POSTPAID_20GB' } })).changePlan).toEqual({ order: { status: 'COMPLETED' }, preview: { timing: 'END_OF_CYCLE', carriedAddOns: [] } });
    } finally {
      restore();
    }
  });

  it('an add-on carried to a plan change waiting to start is no longer carried once ended', async () => {
    h.clock.set('2026-11-16T10:00:00Z');
    const { lineId } = await newLine('FAMILY_SHARE_50GB');
    const CHANGE = `mutation($i: ChangePlanInput!) { changePlan(input: $i) { preview { timing } } }`;
    expect((await h.ok(CHANGE, { i: { lineId, planCode: 'POSTPAID_20GB' } })).changePlan.preview.timing).toBe('END_OF_CYCLE');
    await buy(lineId, 'DATA_BOOST_5GB'); // valid on 1 December: carried to the waiting plan
    const waiting = () => h.rows<{ add_ons: string }>(`select add_ons from subscription where line_id = $1 and status = 'SCHEDULED'`, [lineId]);
    expect(JSON.parse((await waiting())[0]!.add_ons)).toHaveLength(1);
    h.clock.set('2026-11-17T10:00:00Z');
    await h.ok(END, { i: { lineId, offerCode: 'DATA_BOOST_5GB', idempotencyKey: 'end-carried' } });
    expect(JSON.parse((await waiting())[0]!.add_ons)).toEqual([]);
  });
});
