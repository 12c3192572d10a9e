import { Engine } from 'json-rules-engine';
import type { PlanTerms } from './plan-terms';

/** What eligibility rules may ask about a subscriber (the rating library's eligibility facts). */
export interface EligibilityFacts {
  accountType: 'PREPAID' | 'POSTPAID';
  customerType: 'INDIVIDUAL' | 'BUSINESS';
  /** Lines the account would have on the plan after this change, counting this one. */
  lineCount: number;
  creditClass: 'A' | 'B' | 'C' | 'D';
  tenureMonths: number;
}

export interface EligibilityVerdict {
  eligible: boolean;
  reason?: string;
}

/**
 * Checks a plan's json-rules-engine `eligibility` conditions and its structural limits
 * (customer type, max lines). A fresh Engine per check: an Engine must not run two evaluations
 * at once, and eligibility is checked once per order, not per usage event.
 */
export async function checkEligibility(terms: PlanTerms, facts: EligibilityFacts): Promise<EligibilityVerdict> {
  if (terms.customerType && terms.customerType !== facts.customerType) {
    return { eligible: false, reason: `${terms.code} is for ${terms.customerType.toLowerCase()} customers only` };
  }
  if (terms.maxLines != null && facts.lineCount > terms.maxLines) {
    return { eligible: false, reason: `${terms.code} allows at most ${terms.maxLines} line(s) per account` };
  }
  if (!terms.eligibility) return { eligible: true };
  const engine = new Engine([], { allowUndefinedFacts: true });
  engine.addRule({ name: 'eligible', conditions: structuredClone(terms.eligibility.conditions) as never, event: { type: 'eligible' } });
  const { events } = await engine.run({ ...facts, customerKind: facts.customerType });
  return events.length > 0 ? { eligible: true } : { eligible: false, reason: terms.eligibility.message ?? `Not eligible for ${terms.code}` };
}
