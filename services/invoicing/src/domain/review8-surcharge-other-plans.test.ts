// Review 8: a plan's INVOICE percent surcharge is also charged on the charges of ANOTHER plan the
// account holds on the same days (commit fe5049c).
//
// bill-accounts builds one SurchargeItem per plan rule (merging only rules with the same name AND
// the same percent, "a fee the operator put on every plan is not charged twice for two lines"), and
// compose takes each percent "of every charge of those days". An account with one line on plan A
// ("regulatory fee 2 %") and one on plan B ("regulatory fee 3 %"), both for the whole month, is
// charged 5 % on both lines' fees: plan A's 2 % on plan B's fee and plan B's 3 % on plan A's — the
// very double charge the merge was meant to prevent, and a rate neither plan carries. Each line's
// fee should carry its own plan's surcharge: 2 % × 30.00 + 3 % × 30.00 = 1.50, not 5 % × 60.00 = 3.00.
import { describe, expect, it } from 'vitest';
import { dec } from '@ledgerline/contracts';
import { composeInvoice, type ComposeInput, type RecurringItem, type SurchargeItem } from './compose';
import { periodEndingOn } from './period';

const TZ = 'Europe/Berlin';
const period = periodEndingOn('2026-10-01', 1, TZ); // September 2026, 30 days
const LONG_AGO = new Date('2026-01-01T00:00:00Z');
const line = (n: number, planCode: string): RecurringItem => ({
  subscriptionId: `sub_${n}`, lineId: `lin_${n}`, msisdn: `+4915100000${n}`, planCode, planVersionId: `plv_${planCode}_1`, planName: planCode, fee: '30.00', feePeriod: 'MONTH', proration: 'DAILY',
  taxCategory: 'TELECOM_STANDARD', from: LONG_AGO, to: null, shared: false,
});
// As bill-accounts builds them: two rules (same name, different percent), each held the whole period by its plan
// (and, since the fix, naming the plan version carrying it: `planVersionIds`).
const surcharge = (plan: string, percent: string): SurchargeItem => ({ code: `PLAN:${plan}:regulatory-fee`, description: `Regulatory fee ${percent}%`, percent, taxCategory: 'TELECOM_STANDARD', heldDuring: [{ from: LONG_AGO, to: null }], planVersionIds: [`plv_${plan}_1`] });
const input: ComposeInput = {
  currency: 'EUR', jurisdiction: 'DE', roundingMode: 'HALF_EVEN', timeZone: TZ, period,
  recurring: [line(1, 'PLAN_A'), line(2, 'PLAN_B')], usage: [], oneOffs: [], discounts: [], taxRules: [],
  surcharges: [surcharge('PLAN_A', '2'), surcharge('PLAN_B', '3')],
};

describe('review8: plan-rule percent surcharges of two plans held side by side', () => {
  it('each plan surcharges its own line, not the other plan\'s', () => {
    const inv = composeInvoice(input);
    const surcharged = inv.lines.filter((l) => l.sourceRef?.startsWith('PLAN:')).reduce((n, l) => n.plus(l.netAmount), dec('0'));
    expect(surcharged.toFixed(2), JSON.stringify(inv.lines.map((l) => [l.description, l.netAmount]))).toBe('1.50');
  });
});
