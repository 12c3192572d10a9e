import type { AccountType, CustomerType } from '../domain/facts';
import type { CompiledPlan } from './compile-plan';

export interface EligibilityFacts {
  accountType: AccountType;
  customerType: CustomerType;
  lineCount: number;
  creditClass: 'A' | 'B' | 'C' | 'D';
  tenureMonths: number;
}

/** Whether a customer may take the plan, per its `eligibility` conditions (none = everyone). */
export async function checkEligibility(compiled: CompiledPlan, facts: EligibilityFacts): Promise<{ eligible: boolean; message?: string }> {
  if (!compiled.eligibilityEngine) return { eligible: true };
  const fired = await compiled.eligibilityEngine.run({ ...facts });
  return fired.length > 0 ? { eligible: true } : { eligible: false, message: compiled.plan.eligibility?.message };
}
