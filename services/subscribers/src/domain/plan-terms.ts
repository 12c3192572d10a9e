import { badInput, dec, isDecimalString, money, type Money } from '@ledgerline/contracts';
import type { RecurringFee } from './proration';

/** When a plan's one-off fee is due (the plan document's `oneOffFees[].trigger`). */
export type FeeTrigger = 'ACTIVATION' | 'PLAN_CHANGE' | 'SIM_REPLACEMENT' | 'TERMINATION';

/** A one-off fee of a plan: charged once when its trigger happens to a line (see `fulfil-order.ts`). */
export interface PlanFee {
  code: string;
  /** What the customer reads on the bill, e.g. "Starter pack". */
  name: string;
  trigger: FeeTrigger;
  amount: Money;
}

/** The commercial terms of a plan document that subscribers needs (the rest is rating's business). */
export interface PlanTerms {
  code: string;
  /** The plan's name as customers see it. */
  name: string;
  paymentMode: 'PREPAID' | 'POSTPAID';
  currency: string;
  customerType: 'INDIVIDUAL' | 'BUSINESS' | null;
  recurringFee: RecurringFee | null;
  /** Every one-off fee the plan declares with a positive amount, in document order. */
  oneOffFees: PlanFee[];
  maxLines: number | null;
  /** Whether any allowance is pooled across the lines of an account. */
  sharedAllowances: boolean;
  eligibility: { conditions: unknown; message?: string } | null;
}

export type PlanChangeTiming = 'IMMEDIATE' | 'END_OF_CYCLE';

interface RawDoc {
  code?: unknown;
  name?: unknown;
  paymentMode?: unknown;
  currency?: unknown;
  customerType?: unknown;
  recurringFee?: { amount?: unknown; proration?: unknown; period?: unknown };
  oneOffFees?: { code?: unknown; name?: unknown; amount?: unknown; trigger?: unknown }[];
  maxLines?: unknown;
  allowances?: { shared?: unknown }[];
  eligibility?: { conditions?: unknown; message?: unknown };
}

const FEE_TRIGGERS: readonly FeeTrigger[] = ['ACTIVATION', 'PLAN_CHANGE', 'SIM_REPLACEMENT', 'TERMINATION'];

/** The plan's fees due on `trigger` (all of them: a plan may declare several, e.g. a starter pack and a SIM card). */
export function feesOn(terms: Pick<PlanTerms, 'oneOffFees'>, trigger: FeeTrigger): PlanFee[] {
  return terms.oneOffFees.filter((f) => f.trigger === trigger);
}

/** Reads the terms from a published plan document (already validated by the catalog). */
export function planTerms(document: unknown): PlanTerms {
  const d = (document ?? {}) as RawDoc;
  if (typeof d.code !== 'string' || typeof d.currency !== 'string' || (d.paymentMode !== 'PREPAID' && d.paymentMode !== 'POSTPAID')) {
    throw badInput('input.planCode', 'The plan document has no code, currency or payment mode', 'PLAN_DOCUMENT_INVALID');
  }
  const currency = d.currency;
  const fee = d.recurringFee && isDecimalString(d.recurringFee.amount) ? d.recurringFee : null;
  const oneOffFees: PlanFee[] = [];
  for (const f of Array.isArray(d.oneOffFees) ? d.oneOffFees : []) {
    if (!FEE_TRIGGERS.includes(f.trigger as FeeTrigger) || typeof f.code !== 'string' || !isDecimalString(f.amount) || !dec(f.amount).greaterThan(0)) continue;
    oneOffFees.push({ code: f.code, name: typeof f.name === 'string' && f.name.trim() ? f.name : f.code, trigger: f.trigger as FeeTrigger, amount: money(f.amount, currency) });
  }
  return {
    code: d.code,
    name: typeof d.name === 'string' && d.name.trim() ? d.name : d.code,
    paymentMode: d.paymentMode,
    currency,
    customerType: d.customerType === 'INDIVIDUAL' || d.customerType === 'BUSINESS' ? d.customerType : null,
    recurringFee: fee ? { amount: money(fee.amount as string, currency), proration: fee.proration === 'NONE' ? 'NONE' : 'DAILY', period: fee.period === 'MONTH' || fee.period === 'WEEK' ? fee.period : 'DAYS30' } : null,
    oneOffFees,
    maxLines: typeof d.maxLines === 'number' ? d.maxLines : null,
    sharedAllowances: (d.allowances ?? []).some((a) => a.shared === true),
    eligibility: d.eligibility && d.eligibility.conditions ? { conditions: d.eligibility.conditions, message: typeof d.eligibility.message === 'string' ? d.eligibility.message : undefined } : null,
  };
}

/**
 * When a plan change takes effect. Plan documents carry no explicit policy field, so the rule is
 * the usual operator one, derived from the two plans' terms: upgrades (same or higher recurring
 * fee) apply at once with daily proration; downgrades, and any change touching a fee that does not
 * prorate (e.g. a prepaid 30-day bundle), apply at the end of the current cycle.
 */
export function planChangeTiming(from: PlanTerms, to: PlanTerms): PlanChangeTiming {
  const fromFee = from.recurringFee;
  const toFee = to.recurringFee;
  if (fromFee?.proration === 'NONE' || toFee?.proration === 'NONE') return 'END_OF_CYCLE';
  const a = fromFee ? dec(fromFee.amount.amount) : dec('0');
  const b = toFee ? dec(toFee.amount.amount) : dec('0');
  return b.greaterThanOrEqualTo(a) ? 'IMMEDIATE' : 'END_OF_CYCLE';
}

/**
 * When a PREPAID line's plan change takes effect. Its balance paid the current allowance period
 * up front (wallets), so a change never cuts a paid period short without giving back its unused
 * days: from a plan without a fee, or to one that costs as much or more when the old fee prorates
 * daily (wallets refunds the unused days), it applies at once; otherwise at the end of the paid
 * period. The new plan's first period is paid from the balance as it starts.
 */
export function prepaidPlanChangeTiming(from: PlanTerms, to: PlanTerms): PlanChangeTiming {
  const fromFee = from.recurringFee;
  if (!fromFee) return 'IMMEDIATE';
  if (fromFee.proration === 'NONE') return 'END_OF_CYCLE';
  const b = to.recurringFee ? dec(to.recurringFee.amount.amount) : dec('0');
  return b.greaterThanOrEqualTo(dec(fromFee.amount.amount)) ? 'IMMEDIATE' : 'END_OF_CYCLE';
}
