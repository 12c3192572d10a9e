import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { luhnValid } from '../src/domain/validation';
import { startHarness, type Harness } from './support';
import { openAccount } from './plan-fees-support';

/**
 * A text longer than its column (an idempotency key over 200 characters on addLine, changePlan,
 * addAddOn, the line changes and replaceSim; a customer's or billing account's name over 200, an
 * email over 320; an upsell offer's period or rule) reached PostgreSQL, which refused it, and the
 * caller got INTERNAL_SERVER_ERROR. Each is now checked before anything is written (the key with
 * the check endAddOn, closeBillingAccount and collections holds already made): BAD_USER_INPUT
 * naming the field, and nothing written.
 */
let h: Harness;
let customerId: string;
let accountId: string;
let activeLine: string;
let suspendedLine: string;
const SYSTEM = { role: 'SYSTEM' as const, subject: 'workflows', scopes: [] };

let serial = 0;
const RUN = String(Date.now() % 1_000_000).padStart(6, '0');
function iccid(): string {
  const body = `894902${RUN}${String(serial++).padStart(6, '0')}`;
  for (let d = 0; d <= 9; d++) if (luhnValid(`${body}${d}`)) return `${body}${d}`;
  throw new Error('unreachable');
}
const msisdn = (n: number) => `+49151${RUN}${String(n).padStart(2, '0')}`;

const ADD_LINE = `mutation($i: AddLineInput!) { addLine(input: $i) { line { id status } order { status } } }`;
const lineChange = (name: string) => `mutation($i: LineChangeInput!) { ${name}(input: $i) { line { id } } }`;

beforeAll(async () => {
  h = await startHarness();
  ({ customerId, accountId } = await openAccount(h, 'POSTPAID', 'Long Input', 'long@example.org'));
  const add = async (billingAccountId: string, n: number) => {
    const r = await h.ok(ADD_LINE, { i: { billingAccountId, msisdn: msisdn(n), iccid: iccid(), planCode: 'POSTPAID_20GB' } });
    expect(r.addLine.order.status).toBe('COMPLETED');
    return r.addLine.line.id as string;
  };
  activeLine = await add(accountId, 1);
  // POSTPAID_20GB: one line per account.
  suspendedLine = await add((await openAccount(h, 'POSTPAID', 'Long Input Two', 'long2@example.org')).accountId, 2);
  await h.ok(lineChange('suspendLine'), { i: { lineId: suspendedLine } });
});
afterAll(async () => {
  await h?.close();
});

const over = (n: number) => 'k'.repeat(n + 1);
const KEY = over(200);

/** Mutation, its variables (with the over-long field), and the field the refusal names. */
const cases: [string, () => [string, Record<string, unknown>, typeof SYSTEM?], string][] = [
  ['createCustomer: name', () => [`mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`, { i: { name: over(200), kind: 'INDIVIDUAL' } }], 'input.name'],
  ['createCustomer: email', () => [`mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`, { i: { name: 'Ada', kind: 'INDIVIDUAL', email: `${'a'.repeat(310)}@example.org` } }], 'input.email'],
  ['openBillingAccount: name', () => [`mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }`, { i: { customerId, paymentMode: 'POSTPAID', currency: 'EUR', name: over(200) } }], 'input.name'],
  ['addLine: idempotencyKey', () => [ADD_LINE, { i: { billingAccountId: accountId, msisdn: msisdn(3), idempotencyKey: KEY } }], 'input.idempotencyKey'],
  ['changePlan: idempotencyKey', () => [`mutation($i: ChangePlanInput!) { changePlan(input: $i) { line { id } } }`, { i: { lineId: activeLine, planCode: 'FAMILY_SHARE_50GB', idempotencyKey: KEY } }], 'input.idempotencyKey'],
  ['addAddOn: idempotencyKey', () => [`mutation($i: AddAddOnInput!) { addAddOn(input: $i) { line { id } } }`, { i: { lineId: activeLine, offerCode: 'DATA_BOOST_5GB', idempotencyKey: KEY } }], 'input.idempotencyKey'],
  ['suspendLine: idempotencyKey', () => [lineChange('suspendLine'), { i: { lineId: activeLine, idempotencyKey: KEY } }], 'input.idempotencyKey'],
  ['barLine: idempotencyKey', () => [lineChange('barLine'), { i: { lineId: activeLine, reason: 'fraud', idempotencyKey: KEY } }], 'input.idempotencyKey'],
  ['resumeLine: idempotencyKey', () => [lineChange('resumeLine'), { i: { lineId: suspendedLine, idempotencyKey: KEY } }], 'input.idempotencyKey'],
  ['terminateLine: idempotencyKey', () => [lineChange('terminateLine'), { i: { lineId: activeLine, idempotencyKey: KEY } }], 'input.idempotencyKey'],
  ['replaceSim: idempotencyKey', () => [`mutation($i: ReplaceSimInput!) { replaceSim(input: $i) { line { id } } }`, { i: { lineId: activeLine, iccid: iccid(), idempotencyKey: KEY } }], 'input.idempotencyKey'],
  ['endAddOn: idempotencyKey', () => [`mutation($i: EndAddOnInput!) { endAddOn(input: $i) { line { id } } }`, { i: { lineId: activeLine, offerCode: 'DATA_BOOST_5GB', idempotencyKey: KEY } }], 'input.idempotencyKey'],
  ['closeBillingAccount: idempotencyKey', () => [`mutation($i: CloseBillingAccountInput!) { closeBillingAccount(input: $i) { billingAccount { id } } }`, { i: { billingAccountId: accountId, reason: 'Moving abroad', idempotencyKey: KEY } }], 'input.idempotencyKey'],
  ['placeCollectionsHold: idempotencyKey (160: room for ":<lineId>")', () => [`mutation($i: CollectionsHoldInput!) { placeCollectionsHold(input: $i) { holds { id } } }`, { i: { billingAccountId: accountId, holder: 'dunning-inv_1', idempotencyKey: over(160) } }], 'input.idempotencyKey'],
  ['presentUpsellOffer: period', () => [`mutation($i: PresentUpsellOfferInput!) { presentUpsellOffer(input: $i) { offer { id } } }`, { i: { lineId: activeLine, offerCode: 'DATA_BOOST_5GB', period: over(40), rule: 'data-80' } }, SYSTEM], 'input.period'],
  ['presentUpsellOffer: rule', () => [`mutation($i: PresentUpsellOfferInput!) { presentUpsellOffer(input: $i) { offer { id } } }`, { i: { lineId: activeLine, offerCode: 'DATA_BOOST_5GB', period: '2026-11-01', rule: over(120) } }, SYSTEM], 'input.rule'],
];

/** Rows of every table a refused mutation could have written to. */
async function written(): Promise<Record<string, number>> {
  const counts = await h.counts();
  for (const t of ['upsell_offer', 'collections_hold']) counts[t] = Number((await h.rows<{ n: number }>(`select count(*)::int as n from ${t}`))[0]!.n);
  return counts;
}

describe('a text longer than its column is refused as BAD_USER_INPUT naming the field, before anything is written', () => {
  it.each(cases)('%s', async (_name, make, field) => {
    const [query, variables, caller] = make();
    const before = await written();
    const r = await h.subscribers.request(query, variables, caller);
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    expect(r.errors![0]!.message).toMatch(/characters/);
    expect(await written()).toEqual(before);
  });

  it('takes texts as long as their columns, counted in characters (not bytes or UTF-16 units)', async () => {
    const name = 'é'.repeat(199) + '😀'; // 200 characters, 201 UTF-16 units, 402 bytes
    const customer = await h.ok(`mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id name } } }`, { i: { name, kind: 'INDIVIDUAL' } });
    expect(customer.createCustomer.customer.name).toBe(name);
    const account = await h.ok(`mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }`, { i: { customerId, paymentMode: 'POSTPAID', currency: 'EUR', name } });
    expect(account.openBillingAccount.billingAccount.id).toBeTruthy();
    const key = 'k'.repeat(199) + '😀';
    const added = await h.ok(ADD_LINE, { i: { billingAccountId: accountId, msisdn: msisdn(4), idempotencyKey: key } });
    const again = await h.ok(ADD_LINE, { i: { billingAccountId: accountId, msisdn: msisdn(4), idempotencyKey: key } });
    expect(again.addLine.line.id).toBe(added.addLine.line.id);
  });
});
