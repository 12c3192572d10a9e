// Through the bill run against real PostgreSQL (2027-01): the invoice computation's two money rules
// on discounts (unit tests and the rule: src/domain/discount-tax-rounding.test.ts).
//  * A discount's tax is what the tax of the lines it reduces goes down by (per-line tax): three
//    0.02 usage lines at 19 % carry 0.00 tax each, and their 100 % discount carries 0.00 too (it was
//    round(−0.06 × 0.19) = −0.01: the invoice was a cent below the fee, 0.00 net of usage and −0.01 tax).
//  * A credit naming the one-off charge it refunds (`addOneOffCharge(input: { refundsChargeId })`) takes
//    that charge out of the discount base on the same invoice: 10 % off the invoice is not taken on a
//    refunded activation fee.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dec } from '@ledgerline/contracts';
import { account, charges, invoicesOf, runBillRun, startHarness, subscribe, type Harness } from './support';

let h: Harness;
const ADD_DISCOUNT = 'mutation($i: AddDiscountInput!) { addDiscount(input: $i) { ok } }';
const ADD_ONE_OFF = 'mutation($i: AddOneOffChargeInput!) { addOneOffCharge(input: $i) { ok waived } }';
const lines = (inv: any) => inv.lines.map((l: any) => [l.kind, l.netAmount.amount, l.taxAmount.amount, l.grossAmount.amount]);
const sumOf = (inv: any, k: 'netAmount' | 'taxAmount' | 'grossAmount') => inv.lines.reduce((n: any, l: any) => n.plus(l[k].amount), dec('0'));
const oneOff = (id: string, accountId: string, amount: string, over: Record<string, unknown> = {}) => ({
  i: { id, billingAccountId: accountId, code: 'ACTIVATION', description: 'Activation', amount: { amount, currency: 'EUR' }, occurredAt: '2026-09-10T10:00:00Z', ...over },
});
const refund = (id: string, accountId: string, amount: string, refundsChargeId: string, over: Record<string, unknown> = {}) =>
  oneOff(id, accountId, amount, { code: 'REFUND', description: 'Activation refunded', occurredAt: '2026-09-12T10:00:00Z', refundsChargeId, ...over });

beforeAll(async () => {
  h = await startHarness('2026-10-05T10:00:00Z', { consume: false }); // mutations only: no other test's events
  // (a) Postpaid 20 GB (29.99) and three 0.02 usage lines (three zones), 100 % off usage.
  await account(h, 'acc_dtr_usage');
  await subscribe(h, 'acc_dtr_usage', 'sub_dtr1', 'postpaid20', '2026-08-01T00:00:00Z');
  await charges(
    h,
    ['ROAMING_EU', 'ROAMING_WORLD', 'INTERNATIONAL'].map((zone, i) => ({
      chargeId: `chg_dtr_${i}`, billingAccountId: 'acc_dtr_usage', lineId: 'lin_sub_dtr1', usageType: 'VOICE', zone, units: '60', unit: 'SECOND', amount: '0.02', currency: 'EUR', occurredAt: '2026-09-12T12:00:00Z',
    })),
  );
  await h.gql(ADD_DISCOUNT, { i: { billingAccountId: 'acc_dtr_usage', code: 'USE100', description: 'Usage free', percent: '100', target: 'USAGE', validFrom: '2026-08-01T00:00:00Z' } });
  // (b) Postpaid 20 GB, activation 10.00 refunded in full on the same invoice, 10 % off the invoice.
  await account(h, 'acc_dtr_refund');
  await subscribe(h, 'acc_dtr_refund', 'sub_dtr2', 'postpaid20', '2026-08-01T00:00:00Z');
  await h.gql(ADD_ONE_OFF, oneOff('oo_dtr_act', 'acc_dtr_refund', '10.00'));
  await h.gql(ADD_ONE_OFF, refund('oo_dtr_ref', 'acc_dtr_refund', '-10.00', 'oo_dtr_act'));
  await h.gql(ADD_DISCOUNT, { i: { billingAccountId: 'acc_dtr_refund', code: 'ALL10', description: '10% off the invoice', percent: '10', target: 'INVOICE', validFrom: '2026-08-01T00:00:00Z' } });
  const run = await runBillRun(h, '2026-10-01');
  expect(run).toMatchObject({ state: 'COMPLETED', invoicesCreated: 2 });
});

afterAll(async () => {
  await h?.svc.close();
});

describe('bill run: a discount carries the tax its lines lose', () => {
  it('100 % off three 0.02 usage lines at 19 % leaves exactly the fee: 29.99 net, 5.70 tax, 35.69 (was 35.68)', async () => {
    const [inv] = await invoicesOf(h, 'acc_dtr_usage');
    expect(lines(inv)).toEqual([
      ['RECURRING', '29.99', '5.7', '35.69'],
      ['USAGE', '0.02', '0', '0.02'],
      ['USAGE', '0.02', '0', '0.02'],
      ['USAGE', '0.02', '0', '0.02'],
      ['DISCOUNT', '-0.06', '0', '-0.06'], // round(−0.06 × 0.19 = −0.0114) would be −0.01
    ]);
    expect(inv).toMatchObject({ netTotal: { amount: '29.99' }, taxTotal: { amount: '5.7' }, total: { amount: '35.69' } });
    expect(sumOf(inv, 'grossAmount').eq(inv.total.amount)).toBe(true);
    expect(sumOf(inv, 'taxAmount').eq(inv.taxTotal.amount)).toBe(true);
    const d = await h.gql<any>('query($id: ID!) { invoice(id: $id) { taxSummary { taxCategory taxRate netAmount taxAmount } } }', { id: inv.id });
    expect(d.invoice.taxSummary).toEqual([{ taxCategory: 'TELECOM_STANDARD', taxRate: '0.19', netAmount: '29.99', taxAmount: '5.70' }]);
  });
});

describe('bill run: a refunded one-off charge is out of the discount base', () => {
  it('activation 10.00 and its −10.00 refund, 10 % off the invoice: 3.00 off (10 % of 29.99), 26.99 net — was 4.00 (of 39.99)', async () => {
    const [inv] = await invoicesOf(h, 'acc_dtr_refund');
    expect(lines(inv)).toEqual([
      ['RECURRING', '29.99', '5.7', '35.69'],
      ['ONE_OFF', '10', '1.9', '11.9'],
      ['ONE_OFF', '-10', '-1.9', '-11.9'], // the refund in full
      ['DISCOUNT', '-3', '-0.57', '-3.57'],
    ]);
    expect(inv).toMatchObject({ netTotal: { amount: '26.99' }, taxTotal: { amount: '5.13' }, total: { amount: '32.12' } });
  });
});

describe('addOneOffCharge: a refund names a charge of the account and stays within it', () => {
  beforeAll(async () => {
    await account(h, 'acc_dtr_checks');
    await account(h, 'acc_dtr_other');
    await h.gql(ADD_ONE_OFF, oneOff('oo_dtr_chk_act', 'acc_dtr_checks', '10.00'));
    await h.gql(ADD_ONE_OFF, oneOff('oo_dtr_chk_gw', 'acc_dtr_checks', '-2.00', { code: 'GOODWILL', description: 'Goodwill' }));
    await h.gql(ADD_ONE_OFF, oneOff('oo_dtr_other_act', 'acc_dtr_other', '10.00'));
  });

  it('refuses a positive amount, an unknown charge, another account’s charge, a credit, another tax category and more than is left', async () => {
    expect(await h.gqlError(ADD_ONE_OFF, refund('oo_dtr_r1', 'acc_dtr_checks', '5.00', 'oo_dtr_chk_act'))).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'ONE_OFF_REFUND_INVALID', field: 'input.refundsChargeId' });
    expect(await h.gqlError(ADD_ONE_OFF, refund('oo_dtr_r1', 'acc_dtr_checks', '-5.00', 'oo_dtr_none'))).toMatchObject({ code: 'NOT_FOUND', field: 'input.refundsChargeId' });
    expect(await h.gqlError(ADD_ONE_OFF, refund('oo_dtr_r1', 'acc_dtr_checks', '-5.00', 'oo_dtr_other_act'))).toMatchObject({ code: 'NOT_FOUND', field: 'input.refundsChargeId' });
    expect(await h.gqlError(ADD_ONE_OFF, refund('oo_dtr_r1', 'acc_dtr_checks', '-1.00', 'oo_dtr_chk_gw'))).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'ONE_OFF_REFUND_INVALID', field: 'input.refundsChargeId' });
    expect(await h.gqlError(ADD_ONE_OFF, refund('oo_dtr_r1', 'acc_dtr_checks', '-5.00', 'oo_dtr_chk_act', { taxCategory: 'REDUCED' }))).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'ONE_OFF_REFUND_TAX_CATEGORY', field: 'input.taxCategory' });
    expect(await h.gqlError(ADD_ONE_OFF, refund('oo_dtr_r1', 'acc_dtr_checks', '-10.01', 'oo_dtr_chk_act'))).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'ONE_OFF_REFUND_EXCEEDS_CHARGE', field: 'input.amount.amount' });
  });

  it('takes refunds up to the charge, answers a replay as it was, and a reused id with another charge is IDEMPOTENCY_KEY_REUSED', async () => {
    expect(await h.gql(ADD_ONE_OFF, refund('oo_dtr_r2', 'acc_dtr_checks', '-6.00', 'oo_dtr_chk_act'))).toEqual({ addOneOffCharge: { ok: true, waived: false } });
    expect(await h.gql(ADD_ONE_OFF, refund('oo_dtr_r2', 'acc_dtr_checks', '-6.00', 'oo_dtr_chk_act'))).toEqual({ addOneOffCharge: { ok: true, waived: false } });
    expect(await h.gqlError(ADD_ONE_OFF, refund('oo_dtr_r3', 'acc_dtr_checks', '-4.01', 'oo_dtr_chk_act'))).toMatchObject({ reason: 'ONE_OFF_REFUND_EXCEEDS_CHARGE' });
    expect(await h.gql(ADD_ONE_OFF, refund('oo_dtr_r3', 'acc_dtr_checks', '-4.00', 'oo_dtr_chk_act'))).toEqual({ addOneOffCharge: { ok: true, waived: false } });
    expect(await h.gqlError(ADD_ONE_OFF, refund('oo_dtr_r3', 'acc_dtr_checks', '-4.00', 'oo_dtr_other_act'))).toMatchObject({ code: 'CONFLICT', reason: 'IDEMPOTENCY_KEY_REUSED' });
    const row = await h.svc.runtime.orm.em.fork().getConnection().execute("select tax_category, refunds_charge_id from one_off_charge where id = 'oo_dtr_r3'");
    expect(row).toEqual([{ tax_category: 'TELECOM_STANDARD', refunds_charge_id: 'oo_dtr_chk_act' }]);
  });
});
