// Invoice composition: from what an account owes for a period to invoice lines and totals.
//
// Documented rounding and tax rule (the property tests check exactly this):
//  * every line is computed exactly (decimal.js) and rounded ONCE to the currency's minor unit
//    with the account's rounding mode (HALF_EVEN by default);
//  * tax-exclusive rule: net = round(exact), tax = round(net × rate), gross = net + tax;
//  * tax-inclusive rule: gross = round(exact), net = round(gross / (1 + rate)), tax = gross − net;
//  * invoice totals are the plain sums of the line amounts, so lines always add up to the totals.
import { Decimal, dec, minorUnits, roundDecimal, type RoundingMode } from '@ledgerline/contracts';
import { daysBetween, type Period } from './period';

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
   */
  adjusts?: { invoiceId: string | null; invoiceNumber: string | null; periodStart: Date | null; periodEnd: Date | null } | null;
}

export interface OneOffItem {
  id: string;
  code: string;
  description: string;
  /** Signed: a credit (goodwill, proration credit) is negative. */
  amount: string;
  taxCategory: string;
  lineId?: string | null;
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
}

export interface ComposeInput {
  currency: string;
  jurisdiction: string;
  roundingMode: RoundingMode;
  period: Period;
  recurring: RecurringItem[];
  usage: UsageItem[];
  oneOffs: OneOffItem[];
  discounts: DiscountItem[];
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

/** Days of the period a plan covered, and the prorated exact fee. */
export function proratedFee(item: RecurringItem, period: Period): { days: number; periodDays: number; exact: Decimal } {
  const from = item.from > period.start ? item.from : period.start;
  const to = item.to && item.to < period.end ? item.to : period.end;
  const periodDays = daysBetween(period.start, period.end);
  const days = to > from ? daysBetween(from, to) : 0;
  const fee = dec(item.fee);
  const perPeriod = item.feePeriod === 'MONTH' ? fee : fee.times(periodDays).dividedBy(item.feePeriod === 'WEEK' ? 7 : 30);
  if (days === 0 || periodDays === 0) return { days, periodDays, exact: new Decimal(0) };
  if (item.proration === 'NONE' || days >= periodDays) return { days, periodDays, exact: perPeriod };
  return { days, periodDays, exact: perPeriod.times(days).dividedBy(periodDays) };
}

const iso = (d: Date) => d.toISOString().slice(0, 10);

function adjustedPeriod(a: NonNullable<UsageItem['adjusts']>): string {
  if (!a.periodStart || !a.periodEnd) return 'an earlier period';
  return `${iso(a.periodStart)}–${iso(new Date(a.periodEnd.getTime() - 1))}`;
}

export function composeInvoice(input: ComposeInput): ComposedInvoice {
  const scale = minorUnits(input.currency);
  const drafts: Draft[] = [];

  // Recurring fees: shared plans once per account (earliest line's coverage), others per line.
  const sharedOwner = new Map<string, string>();
  const recurring = [...input.recurring].sort((a, b) => a.from.getTime() - b.from.getTime() || a.subscriptionId.localeCompare(b.subscriptionId));
  const recurringDrafts: Draft[] = [];
  for (const item of recurring) {
    if (item.shared) {
      // The first line on a shared plan carries its fee (and its plan changes); the others ride along.
      const owner = sharedOwner.get(item.planCode) ?? item.subscriptionId;
      sharedOwner.set(item.planCode, owner);
      if (owner !== item.subscriptionId) continue;
    }
    const { days, periodDays, exact } = proratedFee(item, input.period);
    if (days === 0) continue;
    const partial = days < periodDays && item.proration === 'DAILY';
    const from = item.from > input.period.start ? item.from : input.period.start;
    const to = item.to && item.to < input.period.end ? item.to : input.period.end;
    const who = item.shared ? 'account' : (item.msisdn ?? item.lineId);
    recurringDrafts.push({
      kind: 'RECURRING',
      description: `${item.planName} (${who})${partial ? `, ${days}/${periodDays} days ${iso(from)}–${iso(new Date(to.getTime() - 1))}` : ''}`,
      lineId: item.shared ? null : item.lineId,
      usageType: null,
      zone: null,
      quantity: partial ? dec(String(days)).dividedBy(periodDays).toDecimalPlaces(6).toFixed() : '1',
      unit: 'PERIOD',
      unitPrice: dec(item.fee).toFixed(),
      taxCategory: item.taxCategory,
      exact,
      sourceRef: item.subscriptionId,
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
      description: u.adjusts ? `Late usage for ${adjustedPeriod(u.adjusts)}${u.adjusts.invoiceNumber || u.adjusts.invoiceId ? `, invoice ${u.adjusts.invoiceNumber ?? u.adjusts.invoiceId}` : ''}: ${what}` : what,
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
  const chargeDrafts = [...recurringDrafts, ...usageDrafts, ...oneOffDrafts];

  // Discounts (coupons and plan rules) on their target, before tax: one line per tax category they
  // reduce, each the discount's share of that category. Amounts are capped at the target, so an
  // invoice never turns negative through a discount; each line is rounded once like any other.
  for (const d of input.discounts) {
    const target = d.target ?? 'RECURRING';
    const base = (target === 'RECURRING' ? recurringDrafts : target === 'USAGE' ? usageDrafts : chargeDrafts).filter((c) => c.exact.gt(0));
    const byCategory = new Map<string, Decimal>();
    for (const r of base) byCategory.set(r.taxCategory, (byCategory.get(r.taxCategory) ?? new Decimal(0)).plus(r.exact));
    const total = [...byCategory.values()].reduce((a, b) => a.plus(b), new Decimal(0));
    if (total.lte(0)) continue;
    const off = d.percent != null ? total.times(dec(d.percent)).dividedBy(100) : Decimal.min(dec(d.amount ?? '0'), total);
    for (const [category, part] of [...byCategory].sort(([a], [b]) => a.localeCompare(b))) {
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
        exact: off.times(part).dividedBy(total).negated(),
        sourceRef: d.code,
      });
    }
  }

  const lines: ComposedLine[] = [];
  const summary = new Map<string, TaxSummary>();
  let net = new Decimal(0);
  let tax = new Decimal(0);
  let gross = new Decimal(0);
  drafts.forEach((d, i) => {
    const rule = findTaxRule(input.taxRules, input.jurisdiction, d.taxCategory);
    const t = taxLine(d.exact, rule, scale, input.roundingMode);
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
