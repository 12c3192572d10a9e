import { describe, expect, it } from 'vitest';
import { money } from '@ledgerline/contracts';
import { planChangeTiming, prepaidPlanChangeTiming, type PlanTerms } from './plan-terms';

const plan = (code: string, fee: PlanTerms['recurringFee']): PlanTerms => ({
  code, name: code, paymentMode: 'PREPAID', currency: 'EUR', customerType: null, recurringFee: fee, oneOffFees: [], maxLines: null, sharedAllowances: false, eligibility: null,
});
const fee = (amount: string, proration: 'DAILY' | 'NONE') => ({ amount: money(amount, 'EUR'), proration, period: 'DAYS30' as const });

describe('prepaid plan change timing', () => {
  it('applies at once when nothing paid is cut short, or when the unused days come back; otherwise at the end of the paid period', () => {
    const payg = plan('PAYG', null);
    const small = plan('SMALL', fee('10', 'DAILY'));
    const big = plan('BIG', fee('20', 'DAILY'));
    const fixed = plan('FIXED', fee('15', 'NONE'));
    expect(prepaidPlanChangeTiming(payg, fixed)).toBe('IMMEDIATE'); // postpaid's rule would wait for the cycle
    expect(planChangeTiming(payg, fixed)).toBe('END_OF_CYCLE');
    expect(prepaidPlanChangeTiming(small, big)).toBe('IMMEDIATE');
    expect(prepaidPlanChangeTiming(big, small)).toBe('END_OF_CYCLE');
    expect(prepaidPlanChangeTiming(big, payg)).toBe('END_OF_CYCLE');
    expect(prepaidPlanChangeTiming(fixed, big)).toBe('END_OF_CYCLE'); // a fee that does not prorate gives nothing back
  });
});
