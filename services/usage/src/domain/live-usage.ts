/**
 * Live usage of a line in a period: units used per allowance bucket, charged units per usage
 * type, and money spent. Pure bookkeeping of what rating decided, so the counters (and the
 * allowanceUsedRatio / spendInPeriod facts: the next event's price is rated on them, this event's
 * notify and offer rules read them once it is booked) move with every event.
 * The wallets ledger stays the authority: its ChargeResult replaces the estimate afterwards.
 * Values are kept as Decimals (the hot path does not re-parse strings for every event).
 */
import { Decimal, dec } from '@ledgerline/contracts';
import { chargeAmountOf, ledgerMoneyFor } from './ledger-money';
import type { AddOnTerm } from './subscriber';

const ZERO = dec('0');

export interface Bucket {
  used: Decimal;
  /** Size of the allowance; null for totals and unlimited allowances. */
  allowance: Decimal | null;
  spend: Decimal;
  events: number;
  /** used / allowance as a decimal string, kept up to date ("0" without a size). */
  ratio: string;
  /** The allowance size was looked up in the plan (it may be null: unlimited). */
  sized?: boolean;
  /** Units wallets rolled over into the period (bundle.renewed): part of the allowance's size. */
  rollover?: Decimal;
  /** The units used at each of THRESHOLDS (the allowance times it), set with the allowance: crossings compare units, no division. */
  limits?: Decimal[];
  /**
   * Summed from the stored records (a load, see live-usage.ts in application) and not yet drawn on
   * here: the thresholds its usage had already passed may never have been announced (the event that
   * crossed one was rated before a crash or a failed write, and the batch rated after it was stored
   * without a crossing). The next event on it reports them as crossed too (see applyUsage).
   */
  fromRecords?: boolean;
}

export type LineCounters = Map<string, Bucket>;

/** The bucket of every usage of the line: its spend and event count. */
export const TOTAL_BUCKET = '';
export const typeBucket = (usageType: string) => `type:${usageType}`;
export const THRESHOLDS = ['0.5', '0.8', '1'] as const;
const THRESHOLD_VALUES = THRESHOLDS.map((t) => dec(t));

export interface UsageDecision {
  usageType: string;
  /** Units booked: the charged units (in a re-rate, what the ledger granted of them). */
  chargedUnits: string;
  /** Rated price of all the charge's units, as if no allowance applied (the ChargeRequest's amount, at 6 places). */
  price: string;
  allowanceId?: string;
  /** Size of that allowance (null when unlimited without a fair-use cap), undefined when the plan does not define it. */
  allowanceSize?: string | null;
  /**
   * The charge's units when the ledger granted fewer than it asked (a PARTIAL charge, re-rated):
   * `price` is theirs, and the money for the units granted is cut as wallets cuts it (rounded down).
   */
  ofUnits?: string;
}

export interface Applied {
  /** Units taken from the allowance (estimate). */
  fromAllowance: string;
  spend: string;
  crossed: { allowanceId: string; threshold: string; ratio: string }[];
}

export function newBucket(): Bucket {
  return { used: ZERO, allowance: null, spend: ZERO, events: 0, ratio: '0' };
}

export function bucketOf(counters: LineCounters, key: string): Bucket {
  let b = counters.get(key);
  if (!b) {
    b = newBucket();
    counters.set(key, b);
  }
  return b;
}

/** Sizes the bucket: the plan's `size` plus what rolled over into the period (none when unlimited). */
export function setAllowance(b: Bucket, size: string | null): void {
  b.allowance = size === null ? null : b.rollover ? dec(size).plus(b.rollover) : dec(size);
  b.limits = b.allowance ? THRESHOLD_VALUES.map((t) => b.allowance!.times(t)) : undefined;
  b.ratio = ratioOf(b);
}

/**
 * Moves a bucket's used units by `units` (a re-rate counting what the ledger drew for a record where the
 * replay drew otherwise, see rerate-period.ts); its ratio follows.
 */
export function addUsed(b: Bucket, units: Decimal): void {
  b.used = b.used.plus(units);
  b.ratio = ratioOf(b);
}

function ratioOf(b: Bucket): string {
  if (!b.allowance || b.allowance.isZero()) return '0';
  return b.used.div(b.allowance).toDecimalPlaces(6).toString();
}

export function usedRatio(b: Bucket): string {
  return b.ratio;
}

/**
 * Books one rated event into the counters (mutating them) and says which thresholds it crossed.
 * A shared (pool) allowance is counted in `pool`, the account's counters, which every line of the
 * account draws from; the line's own counters keep its usage per type and its spend.
 * The first event on a bucket loaded from the records (`fromRecords`) also reports every threshold
 * the loaded usage had passed, whether it draws units or not: the caller keeps each announcement
 * once (emitted_event), so a crossing whose event was lost and rated again past it is announced.
 */
export function applyUsage(counters: LineCounters, d: UsageDecision, pool?: LineCounters): Applied {
  const charged = dec(d.chargedUnits);
  let fromAllowance = ZERO;
  // The money for units outside any allowance: what the ledger takes of the rated amount (ledgerMoneyFor).
  const amount = chargeAmountOf(d.price);
  let spend = moneyFor(d, amount, charged, charged);
  const crossed: Applied['crossed'] = [];
  if (d.allowanceId !== undefined && d.allowanceSize !== undefined) {
    const b = bucketOf(pool ?? counters, d.allowanceId);
    if (b.allowance === null && d.allowanceSize !== null) setAllowance(b, d.allowanceSize);
    const usedBefore = b.used;
    if (d.allowanceSize === null) {
      fromAllowance = charged;
      spend = ZERO;
    } else {
      const remaining = b.allowance!.minus(b.used);
      fromAllowance = remaining.lte(0) ? ZERO : remaining.lt(charged) ? remaining : charged;
      // Partly covered: the rated amount pro rata, as wallets' decideCharge takes it (not the tariff run again on the rest).
      const priced = charged.minus(fromAllowance);
      spend = priced.isZero() ? ZERO : priced.eq(charged) ? spend : moneyFor(d, amount, charged, priced);
    }
    const loaded = b.fromRecords === true;
    if (loaded) b.fromRecords = false;
    if (!fromAllowance.isZero()) {
      b.used = b.used.plus(fromAllowance);
      b.ratio = ratioOf(b);
    }
    if (!fromAllowance.isZero() || loaded) {
      // used / allowance passing t is used passing allowance x t (a positive size; a zero one is never crossed).
      const limits = b.allowance && !b.allowance.isZero() ? b.limits : undefined;
      for (let k = 0; limits && k < limits.length; k++) {
        if ((loaded || usedBefore.lt(limits[k])) && b.used.gte(limits[k])) crossed.push({ allowanceId: d.allowanceId, threshold: THRESHOLDS[k], ratio: b.ratio });
      }
    }
    b.events += 1;
  }
  const t = bucketOf(counters, typeBucket(d.usageType));
  t.used = t.used.plus(charged);
  t.events += 1;
  const total = bucketOf(counters, TOTAL_BUCKET);
  if (!spend.isZero()) total.spend = total.spend.plus(spend);
  total.events += 1;
  return { fromAllowance: fromAllowance.toString(), spend: spend.toString(), crossed };
}

/** The money for `units` of the decision's charge. Not a closure in applyUsage: tsx (esbuild keepNames) names every named closure with a defineProperty, ~0.3 µs per event. */
function moneyFor(d: UsageDecision, amount: Decimal, charged: Decimal, units: Decimal): Decimal {
  return d.ofUnits === undefined ? ledgerMoneyFor(amount, charged, units) : ledgerMoneyFor(amount, dec(d.ofUnits), units, Decimal.ROUND_DOWN);
}

export function ratiosOf(counters: LineCounters): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, b] of counters) if (key !== TOTAL_BUCKET && !key.startsWith('type:')) out[key] = b.ratio;
  return out;
}

/** The period's usage as the rules read it (the allowanceUsedRatio and spendInPeriod facts). */
export interface UsageState {
  /** Used ratio per allowance id. */
  allowanceUsedRatios: Record<string, string>;
  /** Money spent in the period (the line's). */
  spendInPeriod: string;
}

/**
 * The usage state of a line as the counters stand: before booking an event, what its price is
 * rated on; after applyUsage, what the plan's notify and offer rules read (the event that takes
 * the bundle past 80 % asks for the 80 % notice). A shared allowance's ratio is the account
 * pool's (`pool`, for the ids in `shared`), not the line's own share of it.
 */
export function usageStateOf(counters: LineCounters, pool?: LineCounters, shared?: Iterable<string>, addOns?: ReadonlyMap<string, LineCounters>): UsageState {
  const allowanceUsedRatios = ratiosOf(counters);
  if (pool && shared) for (const id of shared) allowanceUsedRatios[id] = pool.get(id)?.ratio ?? '0';
  // An add-on allowance's ratio is the purchase's in force (its own bucket), not the period's.
  if (addOns) for (const [id, c] of addOns) allowanceUsedRatios[id] = c.get(id)?.ratio ?? '0';
  const total = counters.get(TOTAL_BUCKET);
  return { allowanceUsedRatios, spendInPeriod: total ? total.spend.toString() : '0' };
}

/**
 * One purchase of an add-on's allowance. Wallets grants each purchase its own bucket (grant key
 * `addon:<order>:<allowance>`), valid from the purchase's start for the allowance's days (never past
 * the add-on's end), whatever the line's allowance period: two passes bought in one period are two
 * buckets, and a pass running over a renewal is one. Its usage is counted on its own, under `key`.
 */
export interface AddOnPurchase {
  /** Counters key: `<line>|addon:<allowance>@<start instant>` (the line owns it, see CounterStore). */
  key: string;
  lineId: string;
  allowanceId: string;
  code: string;
  start: Date;
  end: Date;
}

/** Per add-on code, its (per-line) allowances and how many days each is valid (null: as long as the add-on). */
export type AddOnAllowances = ReadonlyMap<string, readonly { id: string; days: number | null }[]>;

const NEVER = 8.64e15;

export const addOnKeyOf = (lineId: string, allowanceId: string, start: Date): string => `${lineId}|addon:${allowanceId}@${start.toISOString()}`;

function purchasesOf(lineId: string, term: AddOnTerm, allowancesOf: AddOnAllowances): AddOnPurchase[] {
  const allowances = allowancesOf.get(term.code);
  if (!allowances) return [];
  const start = new Date(term.startsAt);
  const ends = term.endsAt === null ? NEVER : new Date(term.endsAt).getTime();
  return allowances.map((a) => ({
    key: addOnKeyOf(lineId, a.id, start),
    lineId,
    allowanceId: a.id,
    code: term.code,
    start,
    end: new Date(a.days === null ? ends : Math.min(ends, start.getTime() + a.days * 86_400_000)),
  }));
}

/**
 * The add-on purchases in force at `at` (as rating's activeAddOns sees them), by allowance id;
 * undefined when there are none. Two purchases of one add-on in force at once (subscribers sells a
 * second only once the first has ended): the earlier one.
 */
export function addOnPurchasesAt(lineId: string, addOns: readonly AddOnTerm[], at: Date, allowancesOf: AddOnAllowances): Map<string, AddOnPurchase> | undefined {
  let out: Map<string, AddOnPurchase> | undefined;
  const t = at.getTime();
  for (const term of addOns) {
    if (new Date(term.startsAt).getTime() > t || (term.endsAt !== null && t >= new Date(term.endsAt).getTime())) continue;
    for (const p of purchasesOf(lineId, term, allowancesOf)) {
      const known = out?.get(p.allowanceId);
      if (!known || p.start < known.start) (out ??= new Map()).set(p.allowanceId, p);
    }
  }
  return out;
}

/**
 * What live usage shows of each add-on allowance at `at`: the purchase in force then, else the
 * latest one that began by `at` and was still valid after `since` (a pass used up and ended earlier
 * in the period). By allowance id.
 */
export function addOnPurchasesShown(lineId: string, addOns: readonly AddOnTerm[], at: Date, since: Date, allowancesOf: AddOnAllowances): Map<string, AddOnPurchase> {
  const out = new Map(addOnPurchasesAt(lineId, addOns, at, allowancesOf) ?? []);
  for (const term of addOns) {
    for (const p of purchasesOf(lineId, term, allowancesOf)) {
      if (p.start > at || p.end <= since) continue;
      const known = out.get(p.allowanceId);
      if (!known || (known.end <= at && p.start > known.start)) out.set(p.allowanceId, p);
    }
  }
  return out;
}
