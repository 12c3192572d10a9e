/**
 * TypeScript shape of a plan document and an offer document. catalog/schema/*.schema.json is
 * the authority; these types describe documents that passed validatePlan / validateOffer.
 */
import type { RoundingMode } from './decimal';
import type { UsageType } from './facts';

export type DecimalString = string;
export type Unit = 'SECOND' | 'MESSAGE' | 'MB' | 'ITEM';

export interface RecurringFee {
  amount: DecimalString;
  period: 'MONTH' | 'DAYS30' | 'WEEK';
  proration: 'DAILY' | 'NONE';
}

export interface OneOffFee {
  code: string;
  name: string;
  amount: DecimalString;
  trigger: 'ACTIVATION' | 'SIM_REPLACEMENT' | 'PLAN_CHANGE' | 'TERMINATION';
}

export interface Allowance {
  id: string;
  name?: string;
  unit: Unit;
  usageTypes: UsageType[];
  /** Finite quantity, or absent when `unlimited` is true. */
  quantity?: DecimalString;
  unlimited?: boolean;
  /** Fair-use cap of an unlimited allowance, in the allowance unit. */
  fairUseCap?: DecimalString;
  /** Number of days from grant, or PERIOD (until the end of the billing period). */
  validity: 'PERIOD' | { days: number };
  rollover?: { maxQuantity?: DecimalString; percent?: DecimalString };
  /** Shared by every line of the subscription (family / business pools). */
  shared?: boolean;
}

export interface AddOn {
  code: string;
  name: string;
  price: DecimalString;
  validityDays: number;
  allowances: Allowance[];
}

export interface ConditionLeaf {
  fact: string;
  operator: string;
  value: unknown;
}

export type Condition =
  | ConditionLeaf
  | { all: Condition[] }
  | { any: Condition[] }
  | { not: Condition };

export type TopLevelCondition = { all: Condition[] } | { any: Condition[] } | { not: Condition };

export interface PriceTier {
  /** Upper bound (inclusive) of the tier in charged units; null for the last, open tier. */
  upTo: DecimalString | null;
  /** At least one of unitPrice and flatFee (TIERED_FLAT: flatFee); the other counts as 0. A free tier is unitPrice "0". */
  unitPrice?: DecimalString;
  flatFee?: DecimalString;
}

export type PriceModel = 'GRADUATED' | 'VOLUME' | 'TIERED_FLAT';

export interface PriceTable {
  model: PriceModel;
  /** EVENT: tiers count the event's own units; PERIOD: they count units used in the period so far. */
  basis: 'EVENT' | 'PERIOD';
  tiers: PriceTier[];
}

export interface Increments {
  first: number | DecimalString;
  next: number | DecimalString;
}

export interface RateParams {
  allowanceId?: string;
  unit: Unit;
  pricePerUnit?: DecimalString;
  priceTable?: PriceTable;
  increments?: Increments;
  rounding?: { mode: RoundingMode; scale: number };
}

/**
 * EVENT: rating applies it to the event's price. INVOICE, USAGE, RECURRING: invoice-level, rating
 * lists it with nothing applied and invoicing takes it (services/invoicing, `planRuleDiscounts`)
 * off the invoice's charges, its usage or the plan's recurring fees; an INVOICE `surcharge` it bills
 * on a line of its own (`planRuleSurcharges`). USAGE and RECURRING are for `discount` rules only
 * (the schema refuses them on a `surcharge`).
 */
export type AdjustmentScope = 'EVENT' | 'INVOICE' | 'USAGE' | 'RECURRING';

/** Exactly one of `percent` or `amount` (the schema's oneOf); no validity: a rule applies while its plan is held. */
export interface AdjustmentParams {
  percent?: DecimalString;
  amount?: DecimalString;
  scope: AdjustmentScope;
  label?: string;
}

export interface DenyParams {
  reason: string;
  message?: string;
}

export interface NotifyParams {
  threshold: DecimalString;
  template: string;
  channel?: 'SMS' | 'EMAIL' | 'PUSH';
}

export interface OfferParams {
  offerCode: string;
}

export type RuleEvent =
  | { type: 'rate'; params: RateParams }
  | { type: 'discount'; params: AdjustmentParams }
  | { type: 'surcharge'; params: AdjustmentParams }
  | { type: 'deny'; params: DenyParams }
  | { type: 'notify'; params: NotifyParams }
  | { type: 'offer'; params: OfferParams };

export type RuleEventType = RuleEvent['type'];

export interface PlanRule {
  name: string;
  description?: string;
  priority?: number;
  conditions: TopLevelCondition;
  event: RuleEvent;
}

export interface TimeBandWindow {
  band: 'PEAK' | 'OFFPEAK' | 'NIGHT';
  /** Day types the window applies to; all days when absent. */
  days?: Array<'WEEKDAY' | 'WEEKEND' | 'HOLIDAY'>;
  /** Local time "HH:MM", inclusive. */
  from: string;
  /** Local time "HH:MM", exclusive; "24:00" is the end of the day. A window may wrap midnight. */
  to: string;
}

export type Weekday = 'MON' | 'TUE' | 'WED' | 'THU' | 'FRI' | 'SAT' | 'SUN';

export interface Zones {
  homeCountry: string;
  homeMccs?: string[];
  /** "+49": national numbers written with a leading 0 are rewritten to this country code. */
  countryCallingCode?: string;
  destinations?: { default: string; prefixes: Array<{ prefix: string; zone: string }> };
  premiumPrefixes?: string[];
  roaming?: { default: string; zones: Array<{ zone: string; countries?: string[]; mccs?: string[] }> };
}

export interface PlanDocument {
  $schema?: string;
  code: string;
  name: string;
  description: string;
  paymentMode: 'PREPAID' | 'POSTPAID';
  customerType?: 'INDIVIDUAL' | 'BUSINESS';
  currency: string;
  timezone: string;
  taxCategory: string;
  recurringFee?: RecurringFee;
  oneOffFees?: OneOffFee[];
  balancePolicy?: { overdraftAllowed: boolean; overdraftLimit?: DecimalString; creditLimitHint?: DecimalString };
  maxLines?: number;
  allowances: Allowance[];
  addOns?: AddOn[];
  compatibleOffers?: string[];
  eligibility?: { conditions: TopLevelCondition; message?: string };
  committedSpend?: {
    budget: DecimalString;
    threshold: DecimalString;
    replenishAmount: DecimalString;
    invoiceOnReplenish: boolean;
  };
  calendar?: { weekendDays?: Weekday[]; holidays?: string[] };
  timeBands?: { default: 'PEAK' | 'OFFPEAK' | 'NIGHT'; windows: TimeBandWindow[] };
  zones: Zones;
  rules: PlanRule[];
}

export interface OfferDocument {
  $schema?: string;
  code: string;
  name: string;
  description: string;
  currency: string;
  price: DecimalString;
  validityDays: number;
  allowances: Allowance[];
  compatiblePlans?: string[];
  autoRenew?: boolean;
  taxCategory: string;
}
