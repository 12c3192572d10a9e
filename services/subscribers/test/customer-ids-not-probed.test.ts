/**
 * A customer cannot tell another customer's line, account or upsell offer from one that does not
 * exist: reads answer null for both (authorization-audit.test.ts), and so do the mutations a
 * customer may call: the same NOT_FOUND (code, reason, field, message naming the id) for another
 * customer's id as for a made-up one. Staff keep the precise answers.
 *
 * Found: `authorizeLine` (changePlan, previewPlanChange, addAddOn, endAddOn, suspendLine),
 * `respondToUpsellOffer` and `updateBillingAccount` answered FORBIDDEN for another customer's id
 * and NOT_FOUND for an unknown one: an oracle of which line / offer / account ids exist.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import { startHarness, type Harness } from './support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ now: '2026-11-20T09:00:00Z' });
});
afterAll(async () => {
  await h?.close();
});

let n = 0;
const msisdn = () => `+4915125${String(300000 + n++).padStart(6, '0')}`;

async function household() {
  const c = (await h.ok(`mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`, { i: { name: 'Probe Household', kind: 'INDIVIDUAL' } })).createCustomer.customer.id as string;
  const a = (await h.ok(`mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }`, { i: { customerId: c, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 1 } }))
    .openBillingAccount.billingAccount.id as string;
  const lineId = (await h.ok(`mutation($i: AddLineInput!) { addLine(input: $i) { line { id } } }`, { i: { billingAccountId: a, msisdn: msisdn(), planCode: 'POSTPAID_20GB' } })).addLine.line.id as string;
  const offerId = (
    await h.ok(`mutation($i: PresentUpsellOfferInput!) { presentUpsellOffer(input: $i) { offer { id } } }`, { i: { lineId, offerCode: 'DATA_BOOST_5GB', period: '2026-11', rule: 'probe' } })
  ).presentUpsellOffer.offer.id as string;
  const me: Caller = { role: 'CUSTOMER', subject: c, customerId: c, scopes: [] };
  return { customerId: c, accountId: a, lineId, offerId, me };
}

/** An id of the same shape as `id` (prefix, 32 hex digits) that names nothing. */
const madeUp = (id: string) => id.replace(/[0-9a-f]{32}$/, randomBytes(16).toString('hex'));

type Res = { data?: unknown; errors?: readonly { message: string; extensions?: Record<string, unknown> }[] };
/** The answer as a client sees it, the id it named replaced by <id>. */
function answer(r: Res, id: string) {
  const e = r.errors?.[0];
  if (!e) return { ok: r.data };
  return { code: e.extensions?.code, reason: e.extensions?.reason, field: e.extensions?.field, message: e.message.split(id).join('<id>'), namesId: e.message.includes(id) };
}

type Ids = { lineId: string; offerId: string; accountId: string };
/** The customer-callable mutations that name another customer's object by id: [name, query, input for the ids, the id named]. */
const MUTATIONS: [string, string, (ids: Ids) => Record<string, unknown>, (ids: Ids) => string][] = [
  ['changePlan', `mutation($i: ChangePlanInput!) { changePlan(input: $i) { __typename } }`, (x) => ({ lineId: x.lineId, planCode: 'FAMILY_SHARE_50GB', idempotencyKey: 'probe-change' }), (x) => x.lineId],
  ['previewPlanChange', `mutation($i: ChangePlanInput!) { previewPlanChange(input: $i) { __typename } }`, (x) => ({ lineId: x.lineId, planCode: 'FAMILY_SHARE_50GB' }), (x) => x.lineId],
  ['addAddOn', `mutation($i: AddAddOnInput!) { addAddOn(input: $i) { __typename } }`, (x) => ({ lineId: x.lineId, offerCode: 'DATA_BOOST_5GB', idempotencyKey: 'probe-addon' }), (x) => x.lineId],
  ['endAddOn', `mutation($i: EndAddOnInput!) { endAddOn(input: $i) { __typename } }`, (x) => ({ lineId: x.lineId, offerCode: 'DATA_BOOST_5GB', idempotencyKey: 'probe-end' }), (x) => x.lineId],
  ['suspendLine', `mutation($i: LineChangeInput!) { suspendLine(input: $i) { __typename } }`, (x) => ({ lineId: x.lineId, idempotencyKey: 'probe-suspend' }), (x) => x.lineId],
  ['respondToUpsellOffer', `mutation($i: RespondToUpsellOfferInput!) { respondToUpsellOffer(input: $i) { __typename } }`, (x) => ({ offerId: x.offerId, accept: true }), (x) => x.offerId],
  ['updateBillingAccount', `mutation($i: UpdateBillingAccountInput!) { updateBillingAccount(input: $i) { __typename } }`, (x) => ({ billingAccountId: x.accountId, autopayToken: 'tok_probe_1234' }), (x) => x.accountId],
];

const AGENT: Caller = { role: 'AGENT', subject: 'care-ann', scopes: [] };
const PARTNER: Caller = { role: 'PARTNER', subject: 'crm', partnerId: 'crm', scopes: [] };

describe("a customer cannot probe which ids exist: another customer's object answers as a made-up one", () => {
  let mine: Awaited<ReturnType<typeof household>>;
  let theirs: Awaited<ReturnType<typeof household>>;
  let unknown: Ids;
  beforeAll(async () => {
    mine = await household();
    theirs = await household();
    unknown = { lineId: madeUp(theirs.lineId), offerId: madeUp(theirs.offerId), accountId: madeUp(theirs.accountId) };
  });

  it.each(MUTATIONS)('%s', async (_name, query, input, named) => {
    const before = await h.counts();
    const other = answer(await h.subscribers.request(query, { i: input(theirs) }, mine.me), named(theirs));
    const none = answer(await h.subscribers.request(query, { i: input(unknown) }, mine.me), named(unknown));
    expect(other).toEqual(none);
    expect(other).toMatchObject({ code: 'NOT_FOUND', namesId: true });
    expect(await h.counts()).toEqual(before);

    // Staff keep the precise answer for an unknown id; a partner is refused by role, whatever the id.
    expect(answer(await h.subscribers.request(query, { i: input(unknown) }, AGENT), named(unknown))).toEqual(none);
    const partner = [await h.subscribers.request(query, { i: input(theirs) }, PARTNER), await h.subscribers.request(query, { i: input(unknown) }, PARTNER)].map((r) => r.errors?.[0]?.extensions?.code);
    expect(partner).toEqual(['FORBIDDEN', 'FORBIDDEN']);
  });

  it("a staff-only change stays FORBIDDEN for a customer whatever the line (refused by role, not by the row)", async () => {
    const query = `mutation($i: LineChangeInput!) { terminateLine(input: $i) { __typename } }`;
    const codes = [mine.lineId, theirs.lineId, unknown.lineId].map(async (lineId) => (await h.subscribers.request(query, { i: { lineId } }, mine.me)).errors?.[0]?.extensions?.code);
    expect(await Promise.all(codes)).toEqual(['FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN']);
  });
});
