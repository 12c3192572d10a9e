import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './support';

// Every refusal names the field, carries a stable code, and changes nothing (rows and outbox).
let h: Harness;
let customerId: string;
let accountId: string;
let usdAccountId: string;
let lineId: string;
const TAKEN = '+4915123999001';

beforeAll(async () => {
  h = await startHarness();
  const ok = async (query: string, variables: Record<string, unknown>) => {
    const r = await h.subscribers.request(query, variables);
    if (r.errors) throw new Error(r.errors[0]!.message);
    return r.data;
  };
  customerId = (await ok(`mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`, { i: { name: 'Ada', kind: 'INDIVIDUAL', creditClass: 'D' } })).createCustomer.customer.id;
  const open = `mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }`;
  accountId = (await ok(open, { i: { customerId, paymentMode: 'POSTPAID', currency: 'EUR' } })).openBillingAccount.billingAccount.id;
  usdAccountId = (await ok(open, { i: { customerId, paymentMode: 'POSTPAID', currency: 'USD' } })).openBillingAccount.billingAccount.id;
  lineId = (await ok(`mutation($i: AddLineInput!) { addLine(input: $i) { line { id } } }`, { i: { billingAccountId: accountId, msisdn: TAKEN } })).addLine.line.id;
});
afterAll(async () => {
  await h?.close();
});

const ADD_LINE = `mutation($i: AddLineInput!) { addLine(input: $i) { line { id } } }`;
const OPEN = `mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }`;
const SUBSCRIBE = `mutation($i: SubscribeInput!) { subscribe(input: $i) { subscription { id } } }`;
const SUSPEND = `mutation($i: LineChangeInput!) { suspendLine(input: $i) { line { id } } }`;
const PREVIEW = `mutation($i: ChangePlanInput!) { previewPlanChange(input: $i) { timing } }`;

const cases: [string, () => [string, Record<string, unknown>], { code: string; reason: string; field: string }][] = [
  ['an invalid MSISDN', () => [ADD_LINE, { i: { billingAccountId: accountId, msisdn: '0151 2345' } }], { code: 'BAD_USER_INPUT', reason: 'MSISDN_INVALID', field: 'input.msisdn' }],
  ['a duplicate MSISDN (other spelling of the same number)', () => [ADD_LINE, { i: { billingAccountId: accountId, msisdn: '+49 151 23999001' } }], { code: 'CONFLICT', reason: 'MSISDN_DUPLICATE', field: 'input.msisdn' }],
  ['an ICCID with a bad check digit', () => [ADD_LINE, { i: { billingAccountId: accountId, msisdn: '+4915123999002', iccid: '8949000000000000001' } }], { code: 'BAD_USER_INPUT', reason: 'ICCID_INVALID', field: 'input.iccid' }],
  ['a plan the customer is not eligible for (credit class D)', () => [ADD_LINE, { i: { billingAccountId: accountId, msisdn: '+4915123999003', planCode: 'POSTPAID_20GB' } }], { code: 'BAD_USER_INPUT', reason: 'PLAN_NOT_ELIGIBLE', field: 'input.planCode' }],
  ['a business plan for an individual', () => [SUBSCRIBE, { i: { lineId, planCode: 'BUSINESS_POOL' } }], { code: 'BAD_USER_INPUT', reason: 'PLAN_NOT_ELIGIBLE', field: 'input.planCode' }],
  ['a plan in another currency than the account', () => [ADD_LINE, { i: { billingAccountId: usdAccountId, msisdn: '+4915123999004', planCode: 'FAMILY_SHARE_50GB' } }], { code: 'BAD_USER_INPUT', reason: 'PLAN_CURRENCY_MISMATCH', field: 'input.planCode' }],
  ['a prepaid plan on a postpaid account', () => [SUBSCRIBE, { i: { lineId, planCode: 'PREPAID_PAYG' } }], { code: 'BAD_USER_INPUT', reason: 'PLAN_PAYMENT_MODE_MISMATCH', field: 'input.planCode' }],
  ['a child account in another currency than its parent', () => [OPEN, { i: { customerId, paymentMode: 'POSTPAID', currency: 'USD', parentAccountId: accountId } }], { code: 'BAD_USER_INPUT', reason: 'CURRENCY_MISMATCH', field: 'input.currency' }],
  ['a bill-cycle day of 0', () => [OPEN, { i: { customerId, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 0 } }], { code: 'BAD_USER_INPUT', reason: 'BILL_CYCLE_DAY_OUT_OF_RANGE', field: 'input.billCycleDay' }],
  ['a bill-cycle day of 32', () => [OPEN, { i: { customerId, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 32 } }], { code: 'BAD_USER_INPUT', reason: 'BILL_CYCLE_DAY_OUT_OF_RANGE', field: 'input.billCycleDay' }],
  ['a card number as autopay token', () => [OPEN, { i: { customerId, paymentMode: 'POSTPAID', currency: 'EUR', autopayToken: '4111 1111 1111 1111' } }], { code: 'BAD_USER_INPUT', reason: 'AUTOPAY_TOKEN_IS_CARD_NUMBER', field: 'input.autopayToken' }],
  ["a credit limit finer than the currency's minor unit", () => [OPEN, { i: { customerId, paymentMode: 'POSTPAID', currency: 'EUR', creditLimit: '2500.1234567' } }], { code: 'BAD_USER_INPUT', reason: 'AMOUNT_PRECISION', field: 'input.creditLimit' }],
  ['a credit limit in cents for a currency without them (JPY)', () => [OPEN, { i: { customerId, paymentMode: 'POSTPAID', currency: 'JPY', creditLimit: '1000.50' } }], { code: 'BAD_USER_INPUT', reason: 'AMOUNT_PRECISION', field: 'input.creditLimit' }],
  ['a credit limit larger than a ledger holds', () => [OPEN, { i: { customerId, paymentMode: 'POSTPAID', currency: 'EUR', creditLimit: '1000000000000000' } }], { code: 'BAD_USER_INPUT', reason: 'AMOUNT_TOO_LARGE', field: 'input.creditLimit' }],
  ['an unknown customer', () => [OPEN, { i: { customerId: 'cus_nope', paymentMode: 'POSTPAID', currency: 'EUR' } }], { code: 'NOT_FOUND', reason: 'CUSTOMER_NOT_FOUND', field: 'input.customerId' }],
  ['an unknown parent account', () => [OPEN, { i: { customerId, paymentMode: 'POSTPAID', currency: 'EUR', parentAccountId: 'acc_nope' } }], { code: 'NOT_FOUND', reason: 'BILLINGACCOUNT_NOT_FOUND', field: 'input.parentAccountId' }],
  ['an unknown billing account', () => [ADD_LINE, { i: { billingAccountId: 'acc_nope', msisdn: '+4915123999005' } }], { code: 'NOT_FOUND', reason: 'BILLINGACCOUNT_NOT_FOUND', field: 'input.billingAccountId' }],
  ['an unknown line', () => [SUSPEND, { i: { lineId: 'lin_nope' } }], { code: 'NOT_FOUND', reason: 'LINE_NOT_FOUND', field: 'input.lineId' }],
  ['an unknown plan', () => [SUBSCRIBE, { i: { lineId, planCode: 'NO_SUCH_PLAN' } }], { code: 'NOT_FOUND', reason: 'PLAN_NOT_FOUND', field: 'input.planCode' }],
  ['a plan change for a line without a plan', () => [PREVIEW, { i: { lineId, planCode: 'FAMILY_SHARE_50GB' } }], { code: 'CONFLICT', reason: 'SUBSCRIPTION_NOT_FOUND_CONFLICT', field: 'input.lineId' }],
];

describe('bad input is refused with a code naming the field, and changes nothing', () => {
  it.each(cases)('%s', async (_name, make, expected) => {
    const [query, variables] = make();
    const before = await h.counts();
    const r = await h.subscribers.request(query, variables);
    expect(r.errors?.[0]?.extensions).toMatchObject(expected);
    expect(r.errors![0]!.message.length).toBeGreaterThan(10);
    expect(await h.counts()).toEqual(before);
  });
});
