import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { checkEligibility, type EligibilityFacts } from './eligibility';
import { planChangeTiming, planTerms } from './plan-terms';

const plan = (name: string) => planTerms(JSON.parse(readFileSync(new URL(`../../../../catalog/plans/${name}.json`, import.meta.url), 'utf8')));
const facts = (over: Partial<EligibilityFacts> = {}): EligibilityFacts => ({ accountType: 'POSTPAID', customerType: 'INDIVIDUAL', lineCount: 1, creditClass: 'B', tenureMonths: 0, ...over });

describe('plan eligibility', () => {
  const family = plan('family-share-50gb');
  it('admits a family of three with credit class B', async () => {
    expect(await checkEligibility(family, facts({ lineCount: 3 }))).toEqual({ eligible: true });
  });
  it('refuses a sixth line (maxLines 5)', async () => {
    expect((await checkEligibility(family, facts({ lineCount: 6 }))).eligible).toBe(false);
  });
  it('refuses credit class D with the plan message', async () => {
    expect(await checkEligibility(family, facts({ creditClass: 'D' }))).toEqual({ eligible: false, reason: 'At most 5 lines, credit class C or better.' });
  });
  it('refuses a business plan to an individual', async () => {
    expect((await checkEligibility(plan('business-pool'), facts({ lineCount: 1, creditClass: 'A' }))).eligible).toBe(false);
    expect((await checkEligibility(plan('business-pool'), facts({ customerType: 'BUSINESS', creditClass: 'A' }))).eligible).toBe(true);
  });
  it('reads the terms subscribers needs', () => {
    expect(family).toMatchObject({ code: 'FAMILY_SHARE_50GB', currency: 'EUR', paymentMode: 'POSTPAID', maxLines: 5, sharedAllowances: true, recurringFee: { amount: { amount: '59.99' }, proration: 'DAILY' }, oneOffFees: [{ code: 'ACTIVATION', name: 'Activation fee per line', trigger: 'ACTIVATION', amount: { amount: '9.99', currency: 'EUR' } }] });
  });
});

describe('plan change timing', () => {
  it('upgrades apply at once, downgrades at the end of the cycle', () => {
    expect(planChangeTiming(plan('postpaid-20gb'), plan('family-share-50gb'))).toBe('IMMEDIATE');
    expect(planChangeTiming(plan('family-share-50gb'), plan('postpaid-20gb'))).toBe('END_OF_CYCLE');
  });
  it('a fee without proration waits for the cycle end', () => {
    expect(planChangeTiming(plan('prepaid-payg'), plan('prepaid-bundle-30d'))).toBe('END_OF_CYCLE');
  });
});
