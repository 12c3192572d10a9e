import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dec } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { ORDER_FIELDS, startHarness, type Harness } from './support';
import { gqlOn, openAccount, publishPlan } from './plan-fees-support';

/**
 * `previewPlanChange` is the quote a customer accepts before changing plan. The change charges the
 * new plan's PLAN_CHANGE fees (at completion, or as the new plan starts for an END_OF_CYCLE change),
 * so the quote must show them, with when, and count them in its total: before, it showed only the
 * prorated recurring fees and the fee turned up unannounced on the bill. Each case checks the quote
 * against what the change then really charges.
 */

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
  publishPlan(h, 'POSTPAID_20GB', 'PVF_CHEAP', 'Preview Cheap', '29.99', [
    { code: 'DOWN', name: 'Downgrade fee', amount: '7.50', trigger: 'PLAN_CHANGE' },
    { code: 'ETF', name: 'Termination fee', amount: '50.00', trigger: 'TERMINATION' },
  ]);
  publishPlan(h, 'POSTPAID_20GB', 'PVF_DEAR', 'Preview Dear', '39.99', [
    { code: 'UP', name: 'Plan change fee', amount: '10.00', trigger: 'PLAN_CHANGE' },
    { code: 'UP_PAPER', name: 'Contract paperwork', amount: '2.50', trigger: 'PLAN_CHANGE' },
    { code: 'ACT', name: 'Activation fee', amount: '19.99', trigger: 'ACTIVATION' },
  ]);
  publishPlan(h, 'POSTPAID_20GB', 'PVF_FREE', 'Preview Free', '49.99', [{ code: 'ACT', name: 'Activation fee', amount: '19.99', trigger: 'ACTIVATION' }]);
  publishPlan(h, 'PREPAID_PAYG', 'PVF_PRE_A', 'Preview Prepaid A', null, []);
  publishPlan(h, 'PREPAID_PAYG', 'PVF_PRE_B', 'Preview Prepaid B', null, [{ code: 'SWITCH', name: 'Tariff switch', amount: '3.00', trigger: 'PLAN_CHANGE' }]);
});
afterAll(async () => {
  await h?.close();
});

const gql = <T = any>(query: string, variables: Record<string, unknown> = {}) => gqlOn<T>(h, query, variables);

const PREVIEW_FIELDS = `timing effectiveAt items { kind amount { amount currency } } total { amount currency } fees { code name amount { amount currency } when }`;
const PREVIEW = `mutation($i: ChangePlanInput!) { previewPlanChange(input: $i) { ${PREVIEW_FIELDS} } }`;
const CHANGE = `mutation($i: ChangePlanInput!) { changePlan(input: $i) { order { ${ORDER_FIELDS} } preview { ${PREVIEW_FIELDS} } } }`;
const ADD_LINE = `mutation($i: AddLineInput!) { addLine(input: $i) { line { id } order { ${ORDER_FIELDS} } } }`;

let n = 0;
const msisdn = () => `+4915129${String(300000 + n++).padStart(6, '0')}`;

async function lineOn(planCode: string, paymentMode: 'POSTPAID' | 'PREPAID' = 'POSTPAID') {
  h.clock.set('2026-11-16T10:00:00Z');
  const { accountId } = await openAccount(h, paymentMode, 'Preview Fees', 'pvf@example.org');
  const added = (await gql(ADD_LINE, { i: { billingAccountId: accountId, msisdn: msisdn(), planCode } })).addLine;
  expect(added.order.status).toBe('COMPLETED');
  return added.line.id as string;
}

/** The line's PLAN_CHANGE_FEE charges as [amount, when charged]. */
const changeFeeCharges = async (lineId: string) =>
  (await h.rows<{ amount: string; charged_at: Date }>(`select amount::text as amount, charged_at from one_off_charge where line_id = $1 and reason = 'PLAN_CHANGE_FEE' order by charged_at, one_off_charge.amount desc`, [lineId])).map(
    (r) => [dec(r.amount).toFixed(2), new Date(r.charged_at).toISOString()],
  );
const sum = (xs: { amount: string }[]) => xs.reduce((s, x) => s.plus(x.amount), dec('0'));
const brief = (fees: { code: string; name: string; amount: { amount: string; currency: string }; when: string }[]) =>
  fees.map((f) => [f.code, f.name, dec(f.amount.amount).toFixed(2), f.amount.currency, f.when]);

describe('previewPlanChange shows the plan-change fees the change charges', () => {
  it('postpaid, changed at once: the new plan\'s fees, due at completion, in the total with the prorated items', async () => {
    const lineId = await lineOn('PVF_CHEAP');
    h.clock.set('2026-11-20T09:00:00Z');
    const preview = (await gql(PREVIEW, { i: { lineId, planCode: 'PVF_DEAR' } })).previewPlanChange;
    expect(preview.timing).toBe('IMMEDIATE');
    expect(brief(preview.fees)).toEqual([
      ['UP', 'Plan change fee', '10.00', 'EUR', 'AT_COMPLETION'],
      ['UP_PAPER', 'Contract paperwork', '2.50', 'EUR', 'AT_COMPLETION'],
    ]);
    expect(preview.items.length).toBe(2);
    // The total is everything the change puts on the bill: the prorated estimate and the fees.
    expect(preview.total.currency).toBe('EUR');
    expect(dec(preview.total.amount).toFixed(2)).toBe(sum(preview.items.map((i: any) => i.amount)).plus('12.50').toFixed(2));

    const changed = (await gql(CHANGE, { i: { lineId, planCode: 'PVF_DEAR', idempotencyKey: `pvf-up-${lineId}` } })).changePlan;
    expect(changed.order.status).toBe('COMPLETED');
    expect(changed.preview).toEqual(preview);
    // What the quote announced is what the change charged, when it said.
    expect(await changeFeeCharges(lineId)).toEqual([
      ['10.00', '2026-11-20T09:00:00.000Z'],
      ['2.50', '2026-11-20T09:00:00.000Z'],
    ]);
  });

  it('postpaid, at the end of the cycle: the fees are due as the new plan starts, and only then charged', async () => {
    const lineId = await lineOn('PVF_DEAR');
    h.clock.set('2026-11-20T09:00:00Z');
    const preview = (await gql(PREVIEW, { i: { lineId, planCode: 'PVF_CHEAP' } })).previewPlanChange;
    expect(preview.timing).toBe('END_OF_CYCLE');
    expect(brief(preview.fees)).toEqual([['DOWN', 'Downgrade fee', '7.50', 'EUR', 'AT_NEW_PLAN_START']]);
    expect(preview.items).toEqual([]);
    expect(preview.total).toEqual({ amount: '7.50', currency: 'EUR' });

    const changed = (await gql(CHANGE, { i: { lineId, planCode: 'PVF_CHEAP', idempotencyKey: `pvf-down-${lineId}` } })).changePlan;
    expect(changed.order.status).toBe('COMPLETED');
    expect(await changeFeeCharges(lineId)).toEqual([]);
    h.clock.set('2026-12-01T00:30:00Z');
    const { activateDueSubscriptions } = await import('../src/application/activate-due-subscriptions');
    await h.subscribers.runtime.orm.em.fork().transactional((em) => activateDueSubscriptions(em as Em, h.clock.now()));
    expect(await changeFeeCharges(lineId)).toEqual([['7.50', new Date(preview.effectiveAt).toISOString()]]);
  });

  it('a plan with no plan-change fee: no fees, the total is the prorated estimate alone', async () => {
    const lineId = await lineOn('PVF_CHEAP');
    h.clock.set('2026-11-20T09:00:00Z');
    const preview = (await gql(PREVIEW, { i: { lineId, planCode: 'PVF_FREE' } })).previewPlanChange;
    expect(preview.timing).toBe('IMMEDIATE');
    expect(preview.fees).toEqual([]);
    expect(dec(preview.total.amount).toFixed(2)).toBe(sum(preview.items.map((i: any) => i.amount)).toFixed(2));
  });

  it('prepaid: the fee the balance pays is in the quote and its total', async () => {
    const lineId = await lineOn('PVF_PRE_A', 'PREPAID');
    h.clock.set('2026-11-20T09:00:00Z');
    const before = await h.counts();
    const preview = (await gql(PREVIEW, { i: { lineId, planCode: 'PVF_PRE_B' } })).previewPlanChange;
    expect(await h.counts()).toEqual(before);
    expect(preview.timing).toBe('IMMEDIATE');
    expect(brief(preview.fees)).toEqual([['SWITCH', 'Tariff switch', '3.00', 'EUR', 'AT_COMPLETION']]);
    expect(preview.total).toEqual({ amount: '3.00', currency: 'EUR' });
    await gql(CHANGE, { i: { lineId, planCode: 'PVF_PRE_B', idempotencyKey: `pvf-pre-${lineId}` } });
    expect(await changeFeeCharges(lineId)).toEqual([['3.00', '2026-11-20T09:00:00.000Z']]);
  });
});
