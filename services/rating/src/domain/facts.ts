/**
 * THE definition of every fact a plan rule may read. The validator, the compiler, the
 * overlap analysis, the cache key and catalog/README.md all derive from this table, so adding a
 * fact here is the only step needed to make it usable (and documented: a unit test checks the
 * README mentions every fact).
 */

export type FactType =
  /** one of a fixed list of values */
  | 'enum'
  /** one of the values the plan itself defines (zone names) */
  | 'planEnum'
  | 'boolean'
  /** a decimal string (ratios, money); compared exactly with decimal.js */
  | 'decimal'
  | 'integer'
  /** a list of codes, tested with contains / doesNotContain */
  | 'codeList';

/** Where the value comes from: the usage event, the subscriber context, or computed by pure code. */
export type FactSource = 'event' | 'subscriber' | 'derived';

/** Rating facts are read by `rules`; eligibility facts by `eligibility`. */
export type FactScope = 'rating' | 'eligibility';

export interface FactDefinition {
  readonly type: FactType;
  readonly values?: readonly string[];
  readonly source: FactSource;
  readonly scopes: readonly FactScope[];
  readonly description: string;
  readonly example: string | number | boolean | string[];
}

export const USAGE_TYPES = ['VOICE', 'SMS', 'MMS', 'DATA', 'CONTENT'] as const;
export const DIRECTIONS = ['OUTGOING', 'INCOMING'] as const;
export const TIME_BANDS = ['PEAK', 'OFFPEAK', 'NIGHT'] as const;
export const DAY_TYPES = ['WEEKDAY', 'WEEKEND', 'HOLIDAY'] as const;
export const ACCOUNT_TYPES = ['PREPAID', 'POSTPAID'] as const;
export const CUSTOMER_TYPES = ['INDIVIDUAL', 'BUSINESS'] as const;
export const LINE_STATUSES = ['ACTIVE', 'SUSPENDED', 'BARRED'] as const;
export const CREDIT_CLASSES = ['A', 'B', 'C', 'D'] as const;

export type UsageType = (typeof USAGE_TYPES)[number];

/**
 * The unit a usage type's quantity is counted in (UsageEvent.quantity; usage's UNIT_OF): a `rate`
 * rule prices the quantity in its `unit` as it is, so a rule that fires for a usage type must have
 * that type's unit (the validator's UNIT_NOT_FOR_USAGE_TYPE).
 */
export const UNIT_OF_USAGE_TYPE = { VOICE: 'SECOND', SMS: 'MESSAGE', MMS: 'MESSAGE', DATA: 'MB', CONTENT: 'ITEM' } as const satisfies Record<UsageType, string>;

export type Direction = (typeof DIRECTIONS)[number];
export type TimeBand = (typeof TIME_BANDS)[number];
export type DayType = (typeof DAY_TYPES)[number];
export type AccountType = (typeof ACCOUNT_TYPES)[number];
export type CustomerType = (typeof CUSTOMER_TYPES)[number];
export type LineStatus = (typeof LINE_STATUSES)[number];

export const FACTS = {
  usageType: {
    type: 'enum', values: USAGE_TYPES, source: 'event', scopes: ['rating'],
    description: 'What was used: a call, a text, a picture message, mobile data or a content purchase.',
    example: 'VOICE',
  },
  direction: {
    type: 'enum', values: DIRECTIONS, source: 'event', scopes: ['rating'],
    description: 'OUTGOING (mobile originated, MO) or INCOMING (mobile terminated, MT). Events may say MO/MT; they are normalised.',
    example: 'OUTGOING',
  },
  destinationZone: {
    type: 'planEnum', source: 'derived', scopes: ['rating'],
    description: "Zone of the called number: longest matching prefix in the plan's `zones.destinations` table, its `default` zone when no prefix matches, NONE when the event has no called number (data).",
    example: 'NATIONAL',
  },
  premiumNumber: {
    type: 'boolean', source: 'derived', scopes: ['rating'],
    description: "true when the called number starts with one of the plan's `zones.premiumPrefixes`.",
    example: false,
  },
  roamingZone: {
    type: 'planEnum', source: 'derived', scopes: ['rating'],
    description: "HOME when not roaming; otherwise the plan's roaming zone whose countries/MCCs contain the visited network, or the roaming table's `default` zone.",
    example: 'EU',
  },
  timeBand: {
    type: 'enum', values: TIME_BANDS, source: 'derived', scopes: ['rating'],
    description: "Band of the event's start time in the plan timezone, from the plan's `timeBands` (first matching band wins, else `timeBands.default`); a window's `days` is the day it starts on, so Monday 02:00 is in a WEEKEND window 22:00→06:00 (Sunday night).",
    example: 'PEAK',
  },
  dayType: {
    type: 'enum', values: DAY_TYPES, source: 'derived', scopes: ['rating'],
    description: "HOLIDAY when the local date is in the plan's `calendar.holidays`, WEEKEND on `calendar.weekendDays`, else WEEKDAY: the event's own day (Monday 02:00 is WEEKDAY, though it is in Sunday night's time band).",
    example: 'WEEKDAY',
  },
  accountType: {
    type: 'enum', values: ACCOUNT_TYPES, source: 'subscriber', scopes: ['rating', 'eligibility'],
    description: "The billing account's payment mode.",
    example: 'PREPAID',
  },
  customerType: {
    type: 'enum', values: CUSTOMER_TYPES, source: 'subscriber', scopes: ['rating', 'eligibility'],
    description: 'Consumer or business customer.',
    example: 'INDIVIDUAL',
  },
  lineCount: {
    type: 'integer', source: 'subscriber', scopes: ['rating', 'eligibility'],
    description: 'Number of lines on the subscription (family and business plans).',
    example: 3,
  },
  lineStatus: {
    type: 'enum', values: LINE_STATUSES, source: 'subscriber', scopes: ['rating'],
    description: 'Line state. Rating always denies usage on a line that is not ACTIVE, whatever the rules say.',
    example: 'ACTIVE',
  },
  allowanceUsedRatio: {
    type: 'decimal', source: 'subscriber', scopes: ['rating'],
    description: "Used share (\"0\" to \"1\", above 1 when over a fair-use cap) of the relevant allowance: the first plan allowance whose usageTypes include the event's usageType. \"0\" when none. `rate`, `discount`, `surcharge` and `deny` rules read it as it was before the event (an event's price depends on the usage before it); `notify` and `offer` rules read it after the event is counted, so `>= 0.8` → notify fires on the event that reaches 80 %.",
    example: '0.80',
  },
  spendInPeriod: {
    type: 'decimal', source: 'subscriber', scopes: ['rating'],
    description: 'Money charged in the current period, in plan currency (decimal string): before the event for `rate`, `discount`, `surcharge` and `deny` rules, with the event for `notify` and `offer` rules.',
    example: '12.50',
  },
  activeAddOns: {
    type: 'codeList', source: 'subscriber', scopes: ['rating'],
    description: 'Codes of the add-ons / offers active on the line (e.g. a roaming pass).',
    example: ['ROAM_EU_PASS_7D'],
  },
  creditClass: {
    type: 'enum', values: CREDIT_CLASSES, source: 'subscriber', scopes: ['eligibility'],
    description: 'Credit check class of the customer (A best).',
    example: 'A',
  },
  tenureMonths: {
    type: 'integer', source: 'subscriber', scopes: ['eligibility'],
    description: 'Months since the customer first subscribed.',
    example: 12,
  },
} as const satisfies Record<string, FactDefinition>;

export type FactName = keyof typeof FACTS;
export const FACT_NAMES = Object.keys(FACTS) as FactName[];

/**
 * Facts the rated event itself moves (the period's usage and spend). Pricing rules read them as
 * they were before the event; `notify` and `offer` rules as they are after it (Rater.noticesAfter),
 * so a notice fires on the event that crosses its threshold, not on the one after it.
 */
export const USAGE_STATE_FACTS: readonly FactName[] = ['allowanceUsedRatio', 'spendInPeriod'];

/** Rule event types evaluated on the state after the event (see USAGE_STATE_FACTS). */
export const NOTICE_EVENT_TYPES: ReadonlySet<string> = new Set(['notify', 'offer']);

export function isFactName(name: string): name is FactName {
  return Object.prototype.hasOwnProperty.call(FACTS, name);
}

export function factDefinition(name: FactName): FactDefinition {
  return FACTS[name];
}

/** The facts of one rated event, as json-rules-engine sees them. */
export interface RatingFacts {
  usageType: UsageType;
  direction: Direction;
  destinationZone: string;
  premiumNumber: boolean;
  roamingZone: string;
  timeBand: TimeBand;
  dayType: DayType;
  accountType: AccountType;
  customerType: CustomerType;
  lineCount: number;
  lineStatus: LineStatus;
  allowanceUsedRatio: string;
  spendInPeriod: string;
  activeAddOns: string[];
}

/** Operators json-rules-engine knows that plan rules may use, per fact type. */
export const OPERATORS_BY_TYPE: Record<FactType, readonly string[]> = {
  enum: ['equal', 'notEqual', 'in', 'notIn'],
  planEnum: ['equal', 'notEqual', 'in', 'notIn'],
  boolean: ['equal', 'notEqual'],
  // equal on decimals is left out on purpose: "0.8" and "0.80" are the same number but not the
  // same string, and json-rules-engine's equal compares with ===.
  decimal: ['lessThan', 'lessThanInclusive', 'greaterThan', 'greaterThanInclusive'],
  integer: ['equal', 'notEqual', 'lessThan', 'lessThanInclusive', 'greaterThan', 'greaterThanInclusive', 'in', 'notIn'],
  codeList: ['contains', 'doesNotContain'],
};

export const ALL_OPERATORS = [...new Set(Object.values(OPERATORS_BY_TYPE).flat())].sort();
