// Invoice composition: from what an account owes for a period to invoice lines and totals.
//
// Documented rounding and tax rule (the property tests check exactly this):
//  * every line is computed exactly (decimal.js) and rounded ONCE to the currency's minor unit
//    with the account's rounding mode (HALF_EVEN by default);
//  * tax-exclusive rule: net = round(exact), tax = round(net × rate), gross = net + tax;
//  * tax-inclusive rule: gross = round(exact), net = round(gross / (1 + rate)), tax = gross − net;
//  * invoice totals are the plain sums of the line amounts, so lines always add up to the totals;
//  * a discount line is the exception to the tax rule above (2027-01): its net (its gross under an
//    inclusive rule) is rounded once, and its tax is what the tax of the lines it reduces goes down
//    by, each line taxed again by this rule on what is left of it (round(discount × rate) could
//    take a cent more or less tax than those lines carry: a 100 % discount left an invoice at −0.01);
//    a line a discount takes all that is left of gives its shown amount whole, so a 100 % discount
//    leaves exactly 0 of its lines' net, tax and gross.
//
// Day rule (proration of recurring fees and of discount validity, `periodDays` in period.ts): the
// period's days are the account's local days; an instant inside the period counts from the start
// of its local day, so the day of a plan change is billed wholly on the new plan (never on both),
// and the days of a line's segments add up to the period's days. Fees and discounts are prorated
// exactly (days / period days) and rounded once, per line, as above.
import { Decimal, dec, localDay, minorUnits, roundDecimal, type RoundingMode } from '@ledgerline/contracts';
import { daysBetween, periodDays, type Period, type PeriodDays } from './period';

export type LineKind = 'RECURRING' | 'USAGE' | 'ONE_OFF' | 'DISCOUNT' | 'ADJUSTMENT';

export interface TaxRule {
  jurisdiction: string;
  category: string;
  /** e.g. "0.19" */
  rate: string;
  inclusive: boolean;
  name: string;
}

export interface RecurringItem {
  subscriptionId: string;
  lineId: string;
  msisdn?: string | null;
  planCode: string;
  /** The plan version the line held (plan-rule RECURRING discounts take from their versions' fees only). */
  planVersionId?: string | null;
  planName: string;
  /** Fee per billing period (MONTH), per 30 days (DAYS30) or per week (WEEK). */
  fee: string;
  feePeriod: 'MONTH' | 'DAYS30' | 'WEEK';
  proration: 'DAILY' | 'NONE';
  taxCategory: string;
  /** When this plan applied to the line; clipped to the period. */
  from: Date;
  to: Date | null;
  /** Shared plans (family/business pools) charge their fee once per account, not per line. */
  shared: boolean;
}

export interface UsageItem {
  usageType: string;
  zone: string | null;
  unit: string;
  quantity: string;
  /** Unrounded sum of the rated amounts. */
  amount: string;
  count: number;
  taxCategory: string;
  /**
   * Late usage: charges of a period an earlier invoice already billed. They go on this invoice as
   * an ADJUSTMENT line naming that period and invoice (never lost, never merged with this period's usage).
   * `timeZone`: that invoice's own, its period is named in its days (null: this invoice's).
   */
  adjusts?: { invoiceId: string | null; invoiceNumber: string | null; periodStart: Date | null; periodEnd: Date | null; timeZone?: string | null } | null;
}

export interface OneOffItem {
  id: string;
  code: string;
  description: string;
  /** Signed: a credit (goodwill, proration credit) is negative. */
  amount: string;
  taxCategory: string;
  lineId?: string | null;
  /**
   * A credit that gives back (part of) a one-off charge: that charge's id. When the charge is on the
   * same invoice, what is refunded of it is out of every discount's base (and of percent surcharges'):
   * no discount is taken on money the customer no longer pays. The credit itself is given in full.
   */
  refunds?: string | null;
}

/** What a discount reduces: the recurring fees (default), the usage (incl. late usage), or every charge on the invoice. */
export type DiscountTarget = 'RECURRING' | 'USAGE' | 'INVOICE';

export interface DiscountItem {
  code: string;
  description: string;
  /** Percent off the target, e.g. "10" … */
  percent?: string | null;
  /** … or a fixed amount off the target (before tax), capped at it. */
  amount?: string | null;
  target?: DiscountTarget | null;
  /**
   * When the discount is valid (a missing bound is open). Only its days of the period count, by the
   * day rule: an amount is prorated to them (amount × valid days / period days); a percent takes
   * that percent of the recurring fees of those days (fees are dated by their plan segments) and of
   * the share of usage and one-offs for those days (they reach composition undated, as sums, and are
   * spread evenly over the days the account held a plan: `ComposeInput.planHeld`).
   */
  validFrom?: Date | null;
  validTo?: Date | null;
  /**
   * Plan-rule discounts: the spans the plan carrying the rule was held (its subscription segments,
   * any of the account's lines; `to` null = open). Only the days of their union count, by the same
   * day rule and caps as validFrom/validTo (which still narrow them, if given); an empty list
   * means no day of the period, so no discount.
   */
  heldDuring?: { from: Date; to: Date | null }[] | null;
  /**
   * Plan-rule discounts with target RECURRING: only this plan's recurring fees (`RecurringItem.planCode`)
   * are discounted, not another plan's fee on the same days (another line of the account).
   */
  planCode?: string | null;
  /**
   * Plan-rule discounts with target RECURRING: the plan versions carrying the rule (several when
   * versions carry an identical rule). If given, it decides instead of `planCode`: only the fees of
   * segments on these versions (`RecurringItem.planVersionId`) are discounted, not those of a line
   * on another version of the same plan (with a rule of its own); an empty list means no fee.
   */
  planVersionIds?: string[] | null;
}

/**
 * A plan's `surcharge` rule with scope INVOICE (EVENT surcharges are priced by rating, per usage
 * record). Billed for the days of the period the plan carrying it was held (`heldDuring`, the day
 * rule of discounts), on its own ONE_OFF line(s) with `code` as source reference:
 *  - a percent: that percent of the charges of its plan on those days after discounts, before tax
 *    (with `planVersionIds`; without, of every charge of those days): the recurring fees of the
 *    segments on those versions (as a plan-rule RECURRING discount picks them), and the part of
 *    usage and one-offs that is that plan's — they reach composition undated and without their
 *    plan, so per day the share of the lines held on those versions among the account's lines
 *    that day (`ComposeInput.planHeld`), and a one-off with a `lineId` its line's plan. One line
 *    per tax category of that base, taxed at that category's rule; credits (negative one-offs) and
 *    other surcharges are not in the base;
 *  - an amount: per billing period, prorated to those days, one line in `taxCategory`.
 */
export interface SurchargeItem {
  code: string;
  description: string;
  percent?: string | null;
  amount?: string | null;
  /** The tax category of a fixed amount: the plan's (a percent follows the charges it is computed on). */
  taxCategory: string;
  /** The spans the plan carrying the rule was held (as for plan-rule discounts); absent: the whole period. */
  heldDuring?: { from: Date; to: Date | null }[] | null;
  /**
   * The plan versions carrying the rule (several when versions or plans carry an identical rule: one
   * surcharge over the charges of all of them). A percent is of their charges only, not of another
   * plan's line on the same days; absent: of every charge of its days.
   */
  planVersionIds?: string[] | null;
}

export interface ComposeInput {
  currency: string;
  jurisdiction: string;
  roundingMode: RoundingMode;
  period: Period;
  /** The account's IANA time zone: the period's days are its local days (day rule above). */
  timeZone: string;
  recurring: RecurringItem[];
  /**
   * The spans the account held any plan (its subscription segments, any line, with a fee or not; `to`
   * null = open). Usage and one-offs reach composition undated and are spread over the days of their
   * union when discounts are sliced by day. Absent: the spans of `recurring`. No day of the period
   * held (or none given): the whole period. With the line and plan version of each span, a percent
   * surcharge of a plan takes that plan's lines' share of each day's undated charges.
   */
  planHeld?: { from: Date; to: Date | null; lineId?: string | null; planVersionId?: string | null }[] | null;
  usage: UsageItem[];
  oneOffs: OneOffItem[];
  discounts: DiscountItem[];
  /** Plan-rule surcharges (scope INVOICE), after discounts. */
  surcharges?: SurchargeItem[] | null;
  taxRules: TaxRule[];
}

export interface ComposedLine {
  position: number;
  kind: LineKind;
  description: string;
  lineId: string | null;
  usageType: string | null;
  zone: string | null;
  quantity: string;
  unit: string;
  unitPrice: string | null;
  taxCategory: string;
  taxRate: string;
  taxInclusive: boolean;
  netAmount: string;
  taxAmount: string;
  grossAmount: string;
  /** Source reference (one-off id, subscription id, discount code). */
  sourceRef: string | null;
}

export interface TaxSummary {
  taxCategory: string;
  taxRate: string;
  taxInclusive: boolean;
  netAmount: string;
  taxAmount: string;
}

export interface ComposedInvoice {
  currency: string;
  lines: ComposedLine[];
  netTotal: string;
  taxTotal: string;
  grossTotal: string;
  taxSummary: TaxSummary[];
}

interface Draft {
  kind: LineKind;
  description: string;
  lineId: string | null;
  usageType: string | null;
  zone: string | null;
  quantity: string;
  unit: string;
  unitPrice: string | null;
  taxCategory: string;
  exact: Decimal;
  sourceRef: string | null;
  /** Recurring fees: the days of the period they cover, [from, to) as day numbers (`PeriodDays.dayOf`). */
  days?: [number, number][];
  /** Recurring fees: the plan they are for (plan-rule RECURRING discounts take from their own plan's fees only). */
  planCode?: string;
  /** Recurring fees: the plan versions of the segments the fee is for (sorted; a shared fee: every version held on its days). */
  planVersions?: string[];
  /** Discount lines: net, tax and gross worked out from the lines they reduce (else the tax rule on `exact`). */
  amounts?: { net: string; tax: string; gross: string };
}

/**
 * One charge line (with the refunds of it on the invoice, if any) as discounts see it: what is left
 * of it exact per slice, what is left of it as shown (rounded: the net, or the gross under a
 * tax-inclusive rule), and the net and tax it shows now (after the discounts so far).
 */
interface DiscountedLine {
  slices: Decimal[];
  left: Decimal;
  shown: { net: Decimal; tax: Decimal };
}

/**
 * What is left to discount of one charge group (RECURRING, USAGE, ONE_OFF) in one tax category:
 * exact per slice of the period (the days between discount validity bounds), and in rounded lines.
 */
interface DiscountBucket {
  group: DiscountTarget | 'ONE_OFF';
  category: string;
  /** Recurring fees are kept per plan and plan versions too (null / empty for usage and one-offs). */
  plan: string | null;
  versions: string[];
  slices: Decimal[];
  /** Its charge lines (the rounded room of the bucket is the sum of their `left`). */
  lines: DiscountedLine[];
  /**
   * Usage and one-offs: per slice, what was put in (`slices` before discounts) and the part of it
   * attributed to each plan version (percent surcharges). Every discount takes the same fraction of
   * a slice's charges, so a version keeps its share of what is left.
   */
  put: Decimal[];
  byVersion: Map<string, Decimal[]>;
}

const NO_TAX: TaxRule = { jurisdiction: '*', category: '*', rate: '0', inclusive: false, name: 'No tax' };

export function findTaxRule(rules: TaxRule[], jurisdiction: string, category: string): TaxRule {
  return (
    rules.find((r) => r.jurisdiction === jurisdiction && r.category === category) ??
    rules.find((r) => r.jurisdiction === jurisdiction && r.category === '*') ??
    NO_TAX
  );
}

/** Applies the documented tax rule to one exact line amount. */
export function taxLine(exact: Decimal | string, rule: Pick<TaxRule, 'rate' | 'inclusive'>, scale: number, mode: RoundingMode): { net: string; tax: string; gross: string } {
  const rate = dec(rule.rate);
  if (rule.inclusive) {
    const gross = roundDecimal(dec(exact), scale, mode);
    const net = roundDecimal(dec(gross).dividedBy(rate.plus(1)), scale, mode);
    return { net, tax: dec(gross).minus(net).toFixed(scale), gross };
  }
  const net = roundDecimal(dec(exact), scale, mode);
  const tax = roundDecimal(dec(net).times(rate), scale, mode);
  return { net, tax, gross: dec(net).plus(tax).toFixed(scale) };
}

/** Days of the period a plan covered (by the day rule), and the prorated exact fee. */
export function proratedFee(item: RecurringItem, period: Period, timeZone: string): { days: number; periodDays: number; exact: Decimal } {
  const { from, to } = clipToPeriod(item, period);
  const pd = periodDays(period, timeZone);
  return feeForDays(item, to > from ? pd.dayOf(to) - pd.dayOf(from) : 0, period);
}

/** The exact fee for `days` days of the period (the whole fee from the whole period on, or with proration NONE). */
export function feeForDays(item: Pick<RecurringItem, 'fee' | 'feePeriod' | 'proration'>, days: number, period: Period): { days: number; periodDays: number; exact: Decimal } {
  const periodDays = daysBetween(period.start, period.end);
  const fee = dec(item.fee);
  const perPeriod = item.feePeriod === 'MONTH' ? fee : fee.times(periodDays).dividedBy(item.feePeriod === 'WEEK' ? 7 : 30);
  if (days === 0 || periodDays === 0) return { days, periodDays, exact: new Decimal(0) };
  if (item.proration === 'NONE' || days >= periodDays) return { days, periodDays, exact: perPeriod };
  return { days, periodDays, exact: perPeriod.times(days).dividedBy(periodDays) };
}

interface Span {
  from: Date;
  to: Date;
}

function clipToPeriod(item: Pick<RecurringItem, 'from' | 'to'>, period: Period): Span {
  return { from: item.from > period.start ? item.from : period.start, to: item.to && item.to < period.end ? item.to : period.end };
}

/** Sorted, disjoint spans covering the same instants as `spans` (overlapping and touching spans merged). */
function unionSpans(spans: Span[]): Span[] {
  const out: Span[] = [];
  for (const s of spans.filter((x) => x.to > x.from).sort((a, b) => a.from.getTime() - b.from.getTime())) {
    const last = out[out.length - 1];
    if (last && s.from <= last.to) {
      if (s.to > last.to) out[out.length - 1] = { from: last.from, to: s.to };
    } else out.push({ from: s.from, to: s.to });
  }
  return out;
}

/** The parts of `span` outside `covered` (sorted and disjoint, as `unionSpans` returns them). */
function subtractSpans(span: Span, covered: Span[]): Span[] {
  const out: Span[] = [];
  let from = span.from;
  for (const c of covered) {
    if (c.to <= from) continue;
    if (c.from >= span.to) break;
    if (c.from > from) out.push({ from, to: c.from });
    from = c.to;
    if (from >= span.to) break;
  }
  if (from < span.to) out.push({ from, to: span.to });
  return out;
}

const samePrice = (a: RecurringItem, b: RecurringItem) =>
  a.planName === b.planName && dec(a.fee).eq(dec(b.fee)) && a.feePeriod === b.feePeriod && a.proration === b.proration && a.taxCategory === b.taxCategory;

/** The local days of [from, to) in the account's time zone as "first–last" (localDay: not the UTC dates). */
const localRange = (from: Date, to: Date, timeZone: string) => `${localDay(from, timeZone)}–${localDay(new Date(to.getTime() - 1), timeZone)}`;

function adjustedPeriod(a: NonNullable<UsageItem['adjusts']>, timeZone: string): string {
  if (!a.periodStart || !a.periodEnd) return 'an earlier period';
  return localRange(a.periodStart, a.periodEnd, a.timeZone ?? timeZone);
}

export function composeInvoice(input: ComposeInput): ComposedInvoice {
  const scale = minorUnits(input.currency);
  const drafts: Draft[] = [];
  const pd: PeriodDays = periodDays(input.period, input.timeZone);
  // A span's days by the day rule; spans are cut at local day starts, so a day is in one span only.
  const spanDays = (s: Span) => pd.dayOf(s.to) - pd.dayOf(s.from);

  // Recurring fees, one per line on its plan. A shared plan (family/business pool) is one fee for the
  // account: prorated over the union of the days any of the account's lines had it in the period, so
  // it is billed as long as one line keeps it and never twice for a day two lines share. Each day is
  // priced by the earliest line covering it (a later version of the plan at another price bills its
  // own days on its own line). A fee is for the plan versions of its segments: a line's own, or for a
  // shared fee every version of the plan held on its days (plan-rule RECURRING discounts match them).
  const recurring = [...input.recurring].sort((a, b) => a.from.getTime() - b.from.getTime() || a.subscriptionId.localeCompare(b.subscriptionId));
  type Fee = { item: RecurringItem; spans: Span[]; versions: Set<string> };
  const versionsOf = (item: RecurringItem) => new Set(item.planVersionId ? [item.planVersionId] : []);
  const fees: Fee[] = [];
  const sharedFees = new Map<string, Fee[]>();
  const sharedCovered = new Map<string, Span[]>();
  const sharedHeld: { item: RecurringItem; span: Span }[] = [];
  for (const item of recurring) {
    const clipped = clipToPeriod(item, input.period);
    const span = { from: pd.startOf(clipped.from), to: pd.startOf(clipped.to) };
    if (span.to <= span.from) continue;
    if (!item.shared) {
      fees.push({ item, spans: [span], versions: versionsOf(item) });
      continue;
    }
    sharedHeld.push({ item, span });
    const covered = sharedCovered.get(item.planCode) ?? [];
    const fresh = subtractSpans(span, covered);
    sharedCovered.set(item.planCode, unionSpans([...covered, span]));
    if (fresh.length === 0) continue;
    const parts = sharedFees.get(item.planCode) ?? [];
    sharedFees.set(item.planCode, parts);
    let part = parts.find((p) => samePrice(p.item, item));
    if (!part) {
      part = { item, spans: [], versions: new Set() };
      parts.push(part);
      fees.push(part);
    }
    part.spans = unionSpans([...part.spans, ...fresh]);
  }
  for (const { item, span } of sharedHeld) {
    if (!item.planVersionId) continue;
    for (const part of sharedFees.get(item.planCode) ?? []) if (part.spans.some((s) => s.from < span.to && span.from < s.to)) part.versions.add(item.planVersionId);
  }
  const recurringDrafts: Draft[] = [];
  for (const { item, spans, versions } of fees) {
    const { days, periodDays, exact } = feeForDays(item, spans.reduce((n, s) => n + spanDays(s), 0), input.period);
    if (days === 0) continue;
    const partial = days < periodDays && item.proration === 'DAILY';
    const ranges = spans.map((s) => localRange(s.from, s.to, input.timeZone)).join(', ');
    const who = item.shared ? 'account' : (item.msisdn ?? item.lineId);
    recurringDrafts.push({
      kind: 'RECURRING',
      description: `${item.planName} (${who})${partial ? `, ${days}/${periodDays} days ${ranges}` : ''}`,
      lineId: item.shared ? null : item.lineId,
      usageType: null,
      zone: null,
      quantity: partial ? dec(String(days)).dividedBy(periodDays).toDecimalPlaces(6).toFixed() : '1',
      unit: 'PERIOD',
      unitPrice: dec(item.fee).toFixed(),
      taxCategory: item.taxCategory,
      exact,
      sourceRef: item.subscriptionId,
      days: spans.map((s) => [pd.dayOf(s.from), pd.dayOf(s.to)]),
      planCode: item.planCode,
      planVersions: [...versions].sort(),
    });
  }
  drafts.push(...recurringDrafts);

  // Usage grouped by type and zone with quantities (already aggregated by the caller).
  const usageDrafts: Draft[] = [];
  const adjustKey = (u: UsageItem) => (u.adjusts ? `1|${u.adjusts.periodStart?.toISOString() ?? ''}|${u.adjusts.invoiceId ?? ''}` : '0');
  const usage = [...input.usage].sort((a, b) => adjustKey(a).localeCompare(adjustKey(b)) || a.usageType.localeCompare(b.usageType) || (a.zone ?? '').localeCompare(b.zone ?? ''));
  for (const u of usage) {
    const what = `${u.usageType}${u.zone ? ` ${u.zone}` : ''} (${u.count} ${u.count === 1 ? 'record' : 'records'})`;
    usageDrafts.push({
      kind: u.adjusts ? 'ADJUSTMENT' : 'USAGE',
      description: u.adjusts ? `Late usage for ${adjustedPeriod(u.adjusts, input.timeZone)}${u.adjusts.invoiceNumber || u.adjusts.invoiceId ? `, invoice ${u.adjusts.invoiceNumber ?? u.adjusts.invoiceId}` : ''}: ${what}` : what,
      lineId: null,
      usageType: u.usageType,
      zone: u.zone,
      quantity: dec(u.quantity).toFixed(),
      unit: u.unit,
      unitPrice: null,
      taxCategory: u.taxCategory,
      exact: dec(u.amount),
      sourceRef: u.adjusts?.invoiceId ?? null,
    });
  }
  drafts.push(...usageDrafts);

  const oneOffDrafts: Draft[] = [];
  for (const o of [...input.oneOffs].sort((a, b) => a.id.localeCompare(b.id))) {
    oneOffDrafts.push({ kind: 'ONE_OFF', description: o.description, lineId: o.lineId ?? null, usageType: null, zone: null, quantity: '1', unit: 'ITEM', unitPrice: dec(o.amount).toFixed(), taxCategory: o.taxCategory, exact: dec(o.amount), sourceRef: o.id });
  }
  drafts.push(...oneOffDrafts);

  // Discounts (coupons and plan rules) reduce their target before tax. A target is charges only:
  // a credit (a negative one-off: goodwill, a refund of a fee; a negative usage or late-usage
  // line) is in no discount's base, so it is given in full, never discounted, and discounts alone
  // never take the net below zero (discount-credits.test.ts). What is left to discount is
  // kept per charge group (recurring fees; usage incl. late usage; one-offs) and tax category, and
  // each discount is taken from what is left of its target and capped there, so stacked discounts
  // together never take off more than their target and an invoice never turns negative through
  // discounts. Order (the same whatever order the discounts arrive in, up to ties): percent
  // discounts first, each that percent of what is left (two 10 % take 19 %); then amounts,
  // RECURRING and USAGE before INVOICE (targeted before invoice-wide), each spread over what is left
  // of its target pro rata; ties in the given order. A 20.00 coupon and 50 % on a 30.00 fee take
  // 15.00 + 15.00. One line per tax category a discount reduces, rounded once like any other line,
  // and never more than the rounded charge lines of its target in that category not yet discounted
  // (so rounding cannot take a cent more than the lines show either). What it takes of each line is
  // tracked per line (`DiscountedLine`), so its tax is what those lines' per-line tax loses (above).
  // A credit naming a one-off charge on the invoice (`refunds`) takes what it refunds of that charge
  // out of the base (the pair is one line here), so no discount is taken on a refunded fee.
  // A discount valid for part of the period takes only from its days: what is left is kept per
  // slice of the period between validity bounds (a recurring fee in the slices of the days it
  // covers, usage and one-offs spread evenly over the days the account held any plan, `planHeld`:
  // there is no usage on days without a line), so stacked discounts on the same days are capped by
  // those days' charges too. An amount is prorated to its valid days first.
  // A plan-rule discount counts the same way, its valid days being the days the plan carrying the
  // rule was held (`heldDuring`: its segments); with target RECURRING it takes from the fees of the
  // segments on the plan versions carrying it only (`planVersionIds`, else `planCode`). Usage
  // reaches composition summed per type × zone (not per plan), so a plan rule on USAGE takes the
  // share of the usage for the plan's days, as a coupon does: all of it when that plan was the only
  // one the account held.
  const dayCount = Math.max(pd.total, 1); // a period shorter than a day: one slice, every discount whole
  const overlap = (a: number, b: number, [from, to]: readonly [number, number]) => Math.max(0, Math.min(b, to) - Math.max(a, from));
  /** Sorted, disjoint [from, to) day ranges covering the same days as `ranges` (empty ones dropped). */
  const mergeRanges = (ranges: [number, number][]): [number, number][] => {
    const out: [number, number][] = [];
    for (const [a, b] of ranges.filter(([a, b]) => b > a).sort(([a], [b]) => a - b)) {
      const last = out[out.length - 1];
      if (last && a <= last[1]) last[1] = Math.max(last[1], b);
      else out.push([a, b]);
    }
    return out;
  };
  const daysOf = (spans: { from: Date; to: Date | null }[]): [number, number][] => spans.map((h) => [pd.dayOf(h.from), h.to ? pd.dayOf(h.to) : pd.total]);
  /** The discount's valid days as sorted, disjoint [from, to) day ranges (empty: none). */
  const windowsOf = (d: Pick<DiscountItem, 'validFrom' | 'validTo' | 'heldDuring'>): [number, number][] => {
    if (pd.total === 0) return d.heldDuring && !d.heldDuring.some((h) => h.from < input.period.end && (h.to == null || h.to > input.period.start)) ? [] : [[0, 1]];
    const valid: [number, number] = [d.validFrom ? pd.dayOf(d.validFrom) : 0, d.validTo ? pd.dayOf(d.validTo) : pd.total];
    const held: [number, number][] = d.heldDuring ? daysOf(d.heldDuring) : [[0, pd.total]];
    return mergeRanges(held.map(([a, b]): [number, number] => [Math.max(a, valid[0]), Math.min(b, valid[1])]));
  };
  const windows = input.discounts.map(windowsOf);
  const surcharges = input.surcharges ?? [];
  const surchargeWindows = surcharges.map(windowsOf);
  const cuts = [...new Set([0, dayCount, ...windows.flat(2), ...surchargeWindows.flat(2)])].sort((a, b) => a - b);
  const sliceSpans = cuts.slice(0, -1).map((from, j) => [from, cuts[j + 1]!] as const);
  // Undated charges (usage, one-offs) lie on the days the account held a plan; none: the whole period.
  const heldAny = pd.total === 0 ? [] : mergeRanges(daysOf(input.planHeld ?? input.recurring));
  const undatedDays: [number, number][] = heldAny.length > 0 ? heldAny : [[0, dayCount]];
  const spread = (c: Draft): Decimal[] => {
    const days = c.days ?? undatedDays;
    const covered = days.reduce((n, [a, b]) => n + b - a, 0);
    return sliceSpans.map((slice) => c.exact.times(days.reduce((n, [a, b]) => n + overlap(a, b, slice), 0)).dividedBy(covered));
  };
  // Whose undated charges are whose (percent surcharges of a plan): per day, the plan version of
  // each of the account's lines held that day (from `planHeld`, else the recurring segments). A
  // usage charge's part for a version is, per day it is spread on, the share of that day's lines on
  // the version. A one-off with a line is that line's: spread over the line's own days and going to
  // its version of each day (so a line that joined on the 16th has all of it on its plan's days; for
  // discounts it stays spread over the account's days, and the surcharge takes each slice's share of
  // what discounts left there); a line with no day held: as usage. A day no line is known on goes to
  // no version (only when nothing held is known at all).
  // Only a percent surcharge of a plan asks whose the undated charges are.
  const attributing = surcharges.some((x) => x.percent != null && x.planVersionIds != null);
  const held: NonNullable<ComposeInput['planHeld']> = input.planHeld ?? input.recurring;
  const heldSpans = pd.total === 0 || !attributing ? [] : held.map((h, i) => ({ days: daysOf([h])[0]!, line: h.lineId ?? `#${i}`, version: h.planVersionId ?? null }));
  const linesOn: Map<string, string | null>[] = Array.from({ length: attributing ? dayCount : 0 }, () => new Map());
  for (const h of heldSpans) for (let d = Math.max(0, h.days[0]); d < Math.min(dayCount, h.days[1]); d++) linesOn[d]!.set(h.line, h.version);
  type Shares = Map<string, Decimal>;
  const add = (m: Shares, v: string | null, x: Decimal) => {
    if (v != null && !x.isZero()) m.set(v, (m.get(v) ?? new Decimal(0)).plus(x));
  };
  const dayShares = linesOn.map((lines) => {
    const m: Shares = new Map();
    for (const v of lines.values()) add(m, v, new Decimal(1).dividedBy(lines.size));
    return m;
  });
  /** Per slice, the part of an undated charge for each plan version (what `spread` puts there, for usage). */
  const attribute = (c: Draft, line: string | null): Map<string, Decimal[]> => {
    const own = line == null ? [] : linesOn.flatMap((l, d): [number, number][] => (l.has(line) ? [[d, d + 1]] : []));
    const days = own.length > 0 ? own : (c.days ?? undatedDays);
    const covered = days.reduce((n, [a, b]) => n + b - a, 0);
    const out = new Map<string, Decimal[]>();
    sliceSpans.forEach(([from, to], j) => {
      const sum: Shares = new Map();
      for (const [a, b] of days) {
        for (let d = Math.max(a, from); d < Math.min(b, to); d++) {
          if (own.length > 0) add(sum, linesOn[d]!.get(line!) ?? null, new Decimal(1));
          else for (const [v, share] of dayShares[d]!) add(sum, v, share);
        }
      }
      for (const [v, share] of sum) {
        const parts = out.get(v) ?? sliceSpans.map(() => new Decimal(0));
        parts[j] = c.exact.times(share).dividedBy(covered);
        out.set(v, parts);
      }
    });
    return out;
  };
  const lineOf = new Map(input.oneOffs.map((o) => [o.id, o.lineId ?? null]));
  const ruleOf = (category: string) => findTaxRule(input.taxRules, input.jurisdiction, category);
  /** What a line shows (rounded by the documented tax rule): its net and tax, and the amount discounts take from (net, or gross if inclusive). */
  const shownOf = (exact: Decimal, category: string) => {
    const rule = ruleOf(category);
    const t = taxLine(exact, rule, scale, input.roundingMode);
    return { net: dec(t.net), tax: dec(t.tax), amount: dec(rule.inclusive ? t.gross : t.net) };
  };
  // A credit naming a one-off charge on this invoice (`refunds`, same tax category) gives that charge
  // back: what it refunds is out of the base (a discount is not taken on money no longer charged).
  const refundedBy = new Map<string, Draft[]>();
  const refunds = new Map(input.oneOffs.filter((o) => o.refunds && dec(o.amount).lt(0)).map((o) => [o.id, o.refunds!]));
  for (const r of oneOffDrafts) {
    const of = refunds.get(r.sourceRef ?? '');
    const charge = of == null ? undefined : oneOffDrafts.find((c) => c.sourceRef === of && c.exact.gt(0) && c.taxCategory === r.taxCategory);
    if (charge) refundedBy.set(charge.sourceRef!, [...(refundedBy.get(charge.sourceRef!) ?? []), r]);
  }
  const buckets = new Map<string, DiscountBucket>();
  const charges: [DiscountTarget | 'ONE_OFF', Draft[]][] = [['RECURRING', recurringDrafts], ['USAGE', usageDrafts], ['ONE_OFF', oneOffDrafts]];
  for (const [group, ds] of charges) {
    for (const charge of ds.filter((x) => x.exact.gt(0))) {
      const given = group === 'ONE_OFF' ? (refundedBy.get(charge.sourceRef ?? '') ?? []) : [];
      const c: Draft = { ...charge, exact: given.reduce((n, r) => n.plus(r.exact), charge.exact) };
      if (c.exact.lte(0)) continue;
      const shown = [charge, ...given].map((x) => shownOf(x.exact, x.taxCategory));
      const plan = group === 'RECURRING' ? (c.planCode ?? '') : null;
      const versions = group === 'RECURRING' ? (c.planVersions ?? []) : [];
      const key = `${group}|${c.taxCategory}|${plan ?? ''}|${versions.join(',')}`;
      const zeros = () => sliceSpans.map(() => new Decimal(0));
      const bucket: DiscountBucket = buckets.get(key) ?? { group, category: c.taxCategory, plan, versions, slices: zeros(), lines: [], put: zeros(), byVersion: new Map() };
      const line: DiscountedLine = {
        slices: spread(c),
        left: shown.reduce((n, x) => n.plus(x.amount), new Decimal(0)),
        shown: { net: shown.reduce((n, x) => n.plus(x.net), new Decimal(0)), tax: shown.reduce((n, x) => n.plus(x.tax), new Decimal(0)) },
      };
      bucket.lines.push(line);
      line.slices.forEach((x, j) => {
        bucket.slices[j] = bucket.slices[j]!.plus(x);
        bucket.put[j] = bucket.put[j]!.plus(x);
      });
      if (attributing && group !== 'RECURRING') {
        for (const [v, parts] of attribute(c, group === 'ONE_OFF' ? (lineOf.get(c.sourceRef ?? '') ?? null) : null)) {
          const sum = bucket.byVersion.get(v) ?? zeros();
          bucket.byVersion.set(v, sum.map((x, j) => x.plus(parts[j]!)));
        }
      }
      buckets.set(key, bucket);
    }
  }
  // A discount line is rounded as the negative amount it is (FLOOR, UP… are not symmetric around zero).
  const rounded = (x: Decimal) => dec(roundDecimal(x.negated(), scale, input.roundingMode)).negated();
  const TARGETS: DiscountTarget[] = ['RECURRING', 'USAGE', 'INVOICE'];
  const rank = (d: DiscountItem) => (d.percent != null ? 0 : TARGETS.length) + TARGETS.indexOf(d.target ?? 'RECURRING');
  const ordered = input.discounts.map((d, i) => ({ d, i })).sort((x, y) => rank(x.d) - rank(y.d) || x.i - y.i);
  for (const { d, i } of ordered) {
    const target = d.target ?? 'RECURRING';
    const ranges = windows[i]!;
    const validDays = ranges.reduce((n, [a, b]) => n + b - a, 0);
    if (validDays <= 0) continue;
    const valid = sliceSpans.map(([from, to]) => ranges.some(([a, b]) => from >= a && to <= b));
    const leftIn = (b: DiscountBucket) => b.slices.reduce((n, x, j) => (valid[j] ? n.plus(x) : n), new Decimal(0));
    const ownPlan = (b: DiscountBucket) =>
      target !== 'RECURRING' || (d.planVersionIds != null ? b.versions.some((v) => d.planVersionIds!.includes(v)) : d.planCode == null || b.plan === d.planCode);
    const from = [...buckets.values()].filter((b) => (target === 'INVOICE' || b.group === target) && ownPlan(b) && leftIn(b).gt(0));
    const total = from.reduce((n, b) => n.plus(leftIn(b)), new Decimal(0));
    if (total.lte(0)) continue;
    const share = d.percent != null ? Decimal.min(Decimal.max(dec(d.percent), 0), 100).dividedBy(100) : null;
    const amount = share == null ? Decimal.max(dec(d.amount ?? '0'), 0).times(validDays).dividedBy(dayCount) : null;
    const takeOf = (x: Decimal) => (share != null ? x.times(share) : amount!.gte(total) ? x : amount!.times(x).dividedBy(total));
    const byCategory = new Map<string, [DiscountedLine, Decimal][]>();
    for (const b of from) {
      b.slices.forEach((x, j) => {
        if (valid[j]) b.slices[j] = x.minus(takeOf(x));
      });
      const takes = byCategory.get(b.category) ?? [];
      for (const l of b.lines) {
        let take = new Decimal(0);
        l.slices.forEach((x, j) => {
          if (!valid[j]) return;
          const t = takeOf(x);
          l.slices[j] = x.minus(t);
          take = take.plus(t);
        });
        if (take.lte(0)) continue;
        takes.push([l, take]);
      }
      byCategory.set(b.category, takes);
    }
    for (const [category, takes] of [...byCategory].sort(([x], [y]) => x.localeCompare(y))) {
      const room = takes.reduce((n, [l]) => n.plus(l.left), new Decimal(0));
      // A line the discount takes all that is left of (100 %, or an amount covering it) gives all it
      // shows: a 100 % discount leaves 0.00 of its lines, never a rounding cent either way.
      const emptied = takes.map(([l]) => l.slices.every((x) => x.isZero()));
      const whole = takes.reduce((n, [l], k) => (emptied[k] ? n.plus(l.left) : n), new Decimal(0));
      const partly = takes.reduce((n, [, t], k) => (emptied[k] ? n : n.plus(t)), new Decimal(0));
      const exact = whole.plus(partly);
      const line = Decimal.min(room, rounded(exact));
      if (exact.lte(0) || line.isZero()) continue;
      // The rounded line comes off its lines in whole minor units: those emptied whole, the rest pro
      // rata to what the discount took of each (rounded down, the remainder in order), within each.
      const parts = takes.map(([l, t], k) => (emptied[k] ? l.left : partly.isZero() ? new Decimal(0) : Decimal.min(l.left, dec(roundDecimal(line.minus(whole).times(t).dividedBy(partly), scale, 'DOWN')))));
      let rest = line.minus(parts.reduce((n, x) => n.plus(x), new Decimal(0)));
      takes.forEach(([l], k) => {
        const more = Decimal.max(0, Decimal.min(rest, l.left.minus(parts[k]!)));
        rest = rest.minus(more);
        parts[k] = parts[k]!.plus(more);
      });
      // Its tax (and under an inclusive rule its net) is what its lines lose, each taxed again on what
      // is left of it by the per-line rule: the lines and their discounts carry the tax the
      // discounted lines would carry (never a cent more or less than the lines show).
      let net = new Decimal(0);
      let tax = new Decimal(0);
      takes.forEach(([l], k) => {
        if (parts[k]!.isZero()) return;
        l.left = l.left.minus(parts[k]!);
        const now = l.left.isZero() ? { net: new Decimal(0), tax: new Decimal(0) } : shownOf(l.left, category);
        net = net.plus(now.net.minus(l.shown.net));
        tax = tax.plus(now.tax.minus(l.shown.tax));
        l.shown = { net: now.net, tax: now.tax };
      });
      drafts.push({
        kind: 'DISCOUNT',
        description: d.description,
        lineId: null,
        usageType: null,
        zone: null,
        quantity: '1',
        unit: 'ITEM',
        unitPrice: null,
        taxCategory: category,
        exact: line.negated(),
        sourceRef: d.code,
        amounts: { net: net.toFixed(scale), tax: tax.toFixed(scale), gross: net.plus(tax).toFixed(scale) },
      });
    }
  }

  // Surcharges come after every discount: a percent is of what the customer is charged for the
  // plan's charges on its days (what the discounts left of each charge group, per tax category: the
  // fees of its versions' segments, its share of usage and one-offs, above), never of another
  // surcharge, nor of another plan's charges (two lines on plans with 2 % and 3 % pay 2 % and 3 % of
  // their own charges, not 5 % of both); two surcharges of one plan stack side by side (2 % and 3 %
  // of its charges are 5 %, not compounded).
  surcharges.forEach((s, i) => {
    const ranges = surchargeWindows[i]!;
    const validDays = ranges.reduce((n, [a, b]) => n + b - a, 0);
    if (validDays <= 0) return;
    const valid = sliceSpans.map(([from, to]) => ranges.some(([a, b]) => from >= a && to <= b));
    const line = (category: string, exact: Decimal, quantity: string, unitPrice: string | null, description: string) => {
      if (exact.lte(0) || dec(roundDecimal(exact, scale, input.roundingMode)).isZero()) return;
      drafts.push({ kind: 'ONE_OFF', description, lineId: null, usageType: null, zone: null, quantity, unit: 'ITEM', unitPrice, taxCategory: category, exact, sourceRef: s.code });
    };
    if (s.percent != null) {
      const share = Decimal.max(dec(s.percent), 0).dividedBy(100);
      const byCategory = new Map<string, Decimal>();
      const own = s.planVersionIds;
      for (const b of buckets.values()) {
        if (own != null && b.group === 'RECURRING' && !b.versions.some((v) => own.includes(v))) continue;
        const part = (x: Decimal, j: number) => {
          if (own == null || b.group === 'RECURRING' || b.put[j]!.isZero()) return x;
          return x.times(own.reduce((n, v) => n.plus(b.byVersion.get(v)?.[j] ?? 0), new Decimal(0))).dividedBy(b.put[j]!);
        };
        const left = b.slices.reduce((n, x, j) => (valid[j] ? n.plus(part(x, j)) : n), new Decimal(0));
        byCategory.set(b.category, (byCategory.get(b.category) ?? new Decimal(0)).plus(left));
      }
      for (const [category, left] of [...byCategory].sort(([x], [y]) => x.localeCompare(y))) line(category, left.times(share), '1', null, s.description);
    } else if (s.amount != null) {
      const whole = Decimal.max(dec(s.amount), 0);
      const partial = validDays < dayCount;
      line(
        s.taxCategory,
        whole.times(validDays).dividedBy(dayCount),
        partial ? dec(String(validDays)).dividedBy(dayCount).toDecimalPlaces(6).toFixed() : '1',
        whole.toFixed(),
        partial ? `${s.description}, ${validDays}/${dayCount} days` : s.description,
      );
    }
  });

  const lines: ComposedLine[] = [];
  const summary = new Map<string, TaxSummary>();
  let net = new Decimal(0);
  let tax = new Decimal(0);
  let gross = new Decimal(0);
  drafts.forEach((d, i) => {
    const rule = findTaxRule(input.taxRules, input.jurisdiction, d.taxCategory);
    const t = d.amounts ?? taxLine(d.exact, rule, scale, input.roundingMode);
    lines.push({
      position: i + 1,
      kind: d.kind,
      description: d.description,
      lineId: d.lineId,
      usageType: d.usageType,
      zone: d.zone,
      quantity: d.quantity,
      unit: d.unit,
      unitPrice: d.unitPrice,
      taxCategory: d.taxCategory,
      taxRate: dec(rule.rate).toFixed(),
      taxInclusive: rule.inclusive,
      netAmount: t.net,
      taxAmount: t.tax,
      grossAmount: t.gross,
      sourceRef: d.sourceRef,
    });
    net = net.plus(t.net);
    tax = tax.plus(t.tax);
    gross = gross.plus(t.gross);
    const key = `${d.taxCategory}|${rule.rate}|${rule.inclusive}`;
    const s = summary.get(key) ?? { taxCategory: d.taxCategory, taxRate: dec(rule.rate).toFixed(), taxInclusive: rule.inclusive, netAmount: '0', taxAmount: '0' };
    s.netAmount = dec(s.netAmount).plus(t.net).toFixed(scale);
    s.taxAmount = dec(s.taxAmount).plus(t.tax).toFixed(scale);
    summary.set(key, s);
  });
  return { currency: input.currency, lines, netTotal: net.toFixed(scale), taxTotal: tax.toFixed(scale), grossTotal: gross.toFixed(scale), taxSummary: [...summary.values()] };
}
