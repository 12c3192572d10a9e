import { Decimal, dec } from '@ledgerline/contracts';
import type { ChargeOutcome, ChargeRequest, PaymentMode } from '@ledgerline/contracts';
import { ledgerMoneyFor, type LedgerRounding } from '@ledgerline/rating';

/** Ledger amounts are NUMERIC(30,6). */
export const SCALE = 6;
export const ZERO = new Decimal(0);

export function round6(value: Decimal, mode: 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 = Decimal.ROUND_HALF_EVEN): Decimal {
  return value.toDecimalPlaces(SCALE, mode);
}

/**
 * What charging and reserving write must fit its columns (units and money NUMERIC(30,6), a reservation's
 * price_per_unit NUMERIC(30,10), units varchar(20)): input past these is refused naming its field, before
 * PostgreSQL refuses it as an INTERNAL failure of the whole batch.
 */
export const UNIT_MAX = 20;
export const UNITS_LIMIT = new Decimal(10).pow(24);
export const PRICE_LIMIT = new Decimal(10).pow(20);

/** Canonical text for SQL parameters and messages: fixed 6 places is what NUMERIC(30,6) stores. */
export const fmt = (value: Decimal): string => value.toFixed(SCALE);

export interface WalletState {
  id: string;
  billingAccountId: string;
  currency: string;
  paymentMode: PaymentMode;
  /** Cash balance the customer holds (prepaid money; for postpaid, credits paid in advance). */
  balance: Decimal;
  /** What a postpaid customer owes and has not been billed for yet (positive). */
  unbilled: Decimal;
  creditLimit: Decimal | null;
  overdraftLimit: Decimal;
  /**
   * A committed-spend budget wallet (PREPAID): the committed amount its next replenishment credits
   * in the same transaction (budget.ts). A charge may draw on it: the budget refills the wallet
   * right after, so cutting the charge to the balance refused what the customer committed to pay.
   * Absent: no budget (reservations leave it out: a hold replenishes nothing).
   */
  budgetCommitted?: Decimal | null;
}

export interface BucketState {
  id: string;
  billingAccountId: string;
  lineId: string | null;
  allowanceId: string;
  unit: string;
  priority: number;
  validFrom: Date;
  validTo: Date;
  /**
   * A rollover bucket: the bucket (of the ending period) its units were carried from. While that
   * bucket is still active (the late-usage grace), the rollover bucket also serves late usage of
   * its period: the renewal emptied the ending bucket into it. Null for other buckets.
   */
  carriedFrom: string | null;
  initial: Decimal;
  remaining: Decimal;
  /**
   * Units used of it (charged, committed; the bucket's `used_quantity`): what a rerate's give-back
   * may take back at most (ADR 0019). Not initial - remaining: units a session holds and units a
   * renewal carried over left the bucket unused. Absent: taken as initial - remaining.
   */
  used?: Decimal;
}

export interface ChargeInput {
  lineId: string | null;
  at: Date;
  units: Decimal;
  unit: string;
  allowanceIds: string[];
  pricePerUnit: Decimal;
  /** The rated price of all `units`, when the request gave it: the money part is priced from it exactly (see moneyFor). */
  amount?: Decimal;
  allowOverdraft: boolean;
  /** A rerate ADJUSTMENT's allowance moves (ADR 0019): gives back, then draws; `amount` is the money if all are made. */
  moves?: MoveInput[];
}

export interface MoveInput {
  allowanceId: string;
  unit: string;
  /** > 0 draws, < 0 gives back. */
  units: Decimal;
  /** Draws: the money for all `units` outside the allowance (the part the buckets no longer hold costs it pro rata). */
  uncoveredAmount: Decimal;
}

export interface BucketPart {
  bucketId: string;
  /** Units taken from the bucket; negative: given back to it (an adjustment's move). */
  units: Decimal;
}

export interface ChargeDecision {
  outcome: ChargeOutcome;
  /** Units granted (from buckets and from money). */
  units: Decimal;
  /** Units taken from buckets; an adjustment's: drawn minus given back (may be negative). */
  unitsFromBuckets: Decimal;
  bucketParts: BucketPart[];
  /** Money taken: from the prepaid balance, or accrued as unbilled for postpaid. */
  amount: Decimal;
  reason?: string;
}

const validAt = (b: BucketState, at: Date): boolean => b.validFrom <= at && at < b.validTo;

/**
 * Whether a rollover bucket serves `at` with the units it carried: `at` is in the period of the
 * bucket they were carried from, and that bucket is still active (among `buckets`, which hold the
 * account's active buckets only), i.e. it would still serve late usage itself.
 */
function carriedServes(b: BucketState, at: Date, buckets: readonly BucketState[]): boolean {
  if (b.carriedFrom === null) return false;
  const source = buckets.find((s) => s.id === b.carriedFrom);
  return source !== undefined && validAt(source, at);
}

/**
 * Buckets a charge may draw from, best first: the order of `allowanceIds`, then the buckets valid
 * at the event's time before the units carried over from its period (a late CDR takes first what
 * the ending bucket kept, which is forfeited otherwise), then priority, then the soonest to expire.
 */
export function eligibleBuckets(buckets: readonly BucketState[], c: Pick<ChargeInput, 'lineId' | 'at' | 'unit' | 'allowanceIds'>, holding = true): BucketState[] {
  if (buckets.length === 0 || c.allowanceIds.length === 0) return [];
  const order = new Map(c.allowanceIds.map((id, i) => [id, i]));
  const carriedOnly = (b: BucketState): number => (validAt(b, c.at) ? 0 : 1);
  return buckets
    .filter((b) => order.has(b.allowanceId) && b.unit === c.unit && (b.lineId === null || b.lineId === c.lineId) && (validAt(b, c.at) || carriedServes(b, c.at, buckets)) && (!holding || b.remaining.greaterThan(0)))
    .sort((a, b) => order.get(a.allowanceId)! - order.get(b.allowanceId)! || carriedOnly(a) - carriedOnly(b) || a.priority - b.priority || a.validTo.getTime() - b.validTo.getTime() || (a.id < b.id ? -1 : 1));
}

function decimalPlaces(value: Decimal): number {
  return Math.min(value.decimalPlaces(), SCALE);
}

/**
 * How much money may still be taken: prepaid down to zero (or the overdraft floor when the plan
 * allows it), postpaid up to the credit limit. `null` means no limit.
 */
export function headroom(wallet: WalletState, allowOverdraft: boolean): Decimal | null {
  if (wallet.paymentMode === 'PREPAID') {
    const floor = allowOverdraft ? wallet.overdraftLimit.negated() : ZERO;
    // A budget's next replenishment (its committed amount, not yet drawn) is headroom too: the
    // balance may go down to −committed, and the replenishments that follow in the same
    // transaction bring it back to the threshold (at most two: −committed + 2 × committed ≥ threshold),
    // and above zero however much reservations hold (budget.ts replenishes a negative cash balance too).
    const above = wallet.balance.minus(floor);
    return Decimal.max(wallet.budgetCommitted ? above.plus(wallet.budgetCommitted) : above, ZERO);
  }
  if (wallet.creditLimit === null) return null;
  return Decimal.max(wallet.creditLimit.minus(wallet.unbilled), ZERO);
}

/**
 * Decides one charge against the current state and applies it to that state (buckets first in
 * priority order, then money). Pure: the caller persists the decision. A charge that cannot be
 * covered in full is cut to what is left (PARTIAL, the final unit indication) or DENIED.
 */
export function decideCharge(wallet: WalletState, buckets: readonly BucketState[], c: ChargeInput): ChargeDecision {
  if (c.moves && c.moves.length > 0) return decideMoves(wallet, buckets, c, c.moves);
  let rest = c.units;
  const parts: BucketPart[] = [];
  for (const bucket of eligibleBuckets(buckets, c)) {
    if (rest.isZero()) break;
    const take = Decimal.min(rest, bucket.remaining);
    parts.push({ bucketId: bucket.id, units: take });
    rest = rest.minus(take);
  }
  const fromBuckets = c.units.minus(rest);
  let moneyUnits = rest;
  let amount = moneyFor(c, rest);
  let outcome: ChargeOutcome = 'APPLIED';
  let reason: string | undefined;
  const room = headroom(wallet, c.allowOverdraft);
  if (room !== null && amount.greaterThan(room)) {
    // Grant only the units the money left can pay for, at the precision the units came in. With a
    // rated amount those are priced by it (units x room / amount, as moneyFor prices them): its
    // pricePerUnit may be 0 (priced per event, or a tiered average that rounds to 0 at 10 places),
    // and room / 0 granted Infinity units. The amount is > room >= 0 here, never 0.
    const paidFor = c.amount === undefined ? room.dividedBy(c.pricePerUnit) : c.units.times(room).dividedBy(c.amount);
    moneyUnits = Decimal.min(paidFor.toDecimalPlaces(decimalPlaces(c.units), Decimal.ROUND_DOWN), rest);
    amount = Decimal.min(moneyFor(c, moneyUnits, Decimal.ROUND_DOWN), room);
    reason = wallet.paymentMode === 'PREPAID' ? 'WALLET_INSUFFICIENT_BALANCE' : 'CREDIT_LIMIT_EXCEEDED';
    outcome = moneyUnits.plus(fromBuckets).isZero() ? 'DENIED' : 'PARTIAL';
  }
  if (outcome === 'DENIED') return { outcome, units: ZERO, unitsFromBuckets: ZERO, bucketParts: [], amount: ZERO, reason };
  for (const part of parts) {
    const bucket = buckets.find((b) => b.id === part.bucketId)!;
    bucket.remaining = bucket.remaining.minus(part.units);
  }
  if (wallet.paymentMode === 'PREPAID') wallet.balance = wallet.balance.minus(amount);
  else wallet.unbilled = wallet.unbilled.plus(amount);
  return { outcome, units: fromBuckets.plus(moneyUnits), unitsFromBuckets: fromBuckets, bucketParts: parts, amount, reason };
}

/**
 * A rerate ADJUSTMENT that moves allowance units (ADR 0019), decided like a charge against the
 * current state and applied to it. Gives back first: to the buckets that served the event's time
 * (as a draw picks them, also those with nothing left), each at most what it has used (`used`: not
 * the units a session holds of it); what none can take back (the period's bucket has ended) is lost. Then draws, as a
 * usage charge does; the units the buckets no longer hold cost their `uncoveredAmount` pro rata
 * (half-even, 6 places) on top of `amount`. All or nothing: money beyond the headroom (a dearer
 * correction, see headroom) DENIES it, and nothing moves.
 */
function decideMoves(wallet: WalletState, buckets: readonly BucketState[], c: ChargeInput, moves: readonly MoveInput[]): ChargeDecision {
  const parts: BucketPart[] = [];
  // Remaining units as this decision leaves them (applied to the buckets only once it is made).
  const left = new Map<string, Decimal>();
  const remainingOf = (b: BucketState): Decimal => left.get(b.id) ?? b.remaining;
  // Units used as this decision leaves them: a give-back takes back at most these.
  const usedNow = new Map<string, Decimal>();
  const usedOf = (b: BucketState): Decimal => usedNow.get(b.id) ?? b.used ?? b.initial.minus(b.remaining);
  let moved = ZERO;
  let amount = c.amount ?? c.pricePerUnit.times(c.units);
  for (const m of [...moves.filter((x) => x.units.isNegative()), ...moves.filter((x) => x.units.greaterThan(0))]) {
    const returning = m.units.isNegative();
    const scope = { lineId: c.lineId, at: c.at, unit: m.unit, allowanceIds: [m.allowanceId] };
    let rest = m.units.abs();
    for (const b of eligibleBuckets(buckets, scope, false)) {
      if (rest.isZero()) break;
      const room = returning ? Decimal.min(b.initial.minus(remainingOf(b)), usedOf(b)) : remainingOf(b);
      if (room.lte(0)) continue;
      const take = Decimal.min(rest, room);
      left.set(b.id, returning ? remainingOf(b).plus(take) : remainingOf(b).minus(take));
      usedNow.set(b.id, returning ? usedOf(b).minus(take) : usedOf(b).plus(take));
      parts.push({ bucketId: b.id, units: returning ? take.negated() : take });
      moved = returning ? moved.minus(take) : moved.plus(take);
      rest = rest.minus(take);
    }
    // A draw the buckets could not cover in full: the rest is money at the corrected price.
    if (!returning && !rest.isZero()) amount = amount.plus(round6(m.uncoveredAmount.times(rest).dividedBy(m.units)));
  }
  const room = headroom(wallet, c.allowOverdraft);
  if (amount.greaterThan(0) && room !== null && amount.greaterThan(room)) {
    return { outcome: 'DENIED', units: ZERO, unitsFromBuckets: ZERO, bucketParts: [], amount: ZERO, reason: wallet.paymentMode === 'PREPAID' ? 'WALLET_INSUFFICIENT_BALANCE' : 'CREDIT_LIMIT_EXCEEDED' };
  }
  for (const b of buckets) if (left.has(b.id)) b.remaining = left.get(b.id)!;
  if (wallet.paymentMode === 'PREPAID') wallet.balance = wallet.balance.minus(amount);
  else wallet.unbilled = wallet.unbilled.plus(amount);
  return { outcome: 'APPLIED', units: c.units, unitsFromBuckets: moved, bucketParts: parts, amount };
}

/**
 * The money for `units` of a charge: from the rated `amount` pro rata when the request has one
 * (all of it when no allowance covered a unit; rating's `ledgerMoneyFor`, the rule plan simulation
 * and usage's estimates use too), so the ledger takes exactly what usage rated; else
 * units x pricePerUnit. A tiered price has no exact price per unit (1,500.3 MB for 12.62 is
 * 0.0084126508... per MB), so its pricePerUnit is an average and its product is off by a fraction.
 */
function moneyFor(c: ChargeInput, units: Decimal, rounding: LedgerRounding = Decimal.ROUND_HALF_EVEN): Decimal {
  if (c.amount === undefined) return round6(units.times(c.pricePerUnit), rounding);
  return ledgerMoneyFor(c.amount, c.units, units, rounding);
}

const UNITS = /^\d+(\.\d{1,6})?$/;
/** A price per unit may need 10 places (an average of a tiered price); amounts have 6. */
const PRICE = /^\d+(\.\d{1,10})?$/;
const AMOUNT = /^\d+(\.\d{1,6})?$/;
/** An adjustment (a rerate's correction) may be a credit: negative. */
const SIGNED_PRICE = /^-?\d+(\.\d{1,10})?$/;
const SIGNED_AMOUNT = /^-?\d+(\.\d{1,6})?$/;
/** An adjustment moves at most this many allowances (one record's: the one it leaves and the one it draws on). */
const MAX_MOVES = 4;

/** Why an adjustment's allowanceMoves cannot be applied, or null. */
function invalidMoves(moves: unknown): string | null {
  if (!Array.isArray(moves) || moves.length > MAX_MOVES) return `allowanceMoves must be a list of at most ${MAX_MOVES}`;
  for (const [i, m] of moves.entries()) {
    const at = `allowanceMoves[${i}]`;
    if (!m || typeof m !== 'object') return `${at} must be an object`;
    const { allowanceId, unit, units, uncoveredAmount } = m as Record<string, unknown>;
    if (typeof allowanceId !== 'string' || allowanceId.length === 0 || allowanceId.length > 100) return `${at}.allowanceId is required (at most 100 characters)`;
    if (typeof unit !== 'string' || unit.length === 0 || unit.length > 20) return `${at}.unit is required (at most 20 characters)`;
    if (typeof units !== 'string' || !SIGNED_AMOUNT.test(units) || dec(units).isZero()) return `${at}.units must be a non-zero decimal with at most 6 places`;
    if (dec(units).greaterThan(0) && (typeof uncoveredAmount !== 'string' || !AMOUNT.test(uncoveredAmount))) return `${at}.uncoveredAmount must be a non-negative decimal with at most 6 places (a draw's price outside the allowance)`;
  }
  return null;
}

/** Checks the fields of a charge message; returns the reason it cannot be rated, or null. */
export function invalidCharge(c: ChargeRequest): string | null {
  const adjustment = c.kind === 'ADJUSTMENT';
  if (c.kind !== undefined && c.kind !== 'USAGE' && !adjustment) return 'kind must be USAGE or ADJUSTMENT';
  if (typeof c.chargeId !== 'string' || c.chargeId.length === 0 || c.chargeId.length > 200) return 'chargeId is required (at most 200 characters)';
  if (typeof c.units !== 'string' || !UNITS.test(c.units)) return 'units must be a non-negative decimal with at most 6 places';
  if (typeof c.pricePerUnit !== 'string' || !(adjustment ? SIGNED_PRICE : PRICE).test(c.pricePerUnit)) return `pricePerUnit must be a ${adjustment ? '' : 'non-negative '}decimal with at most 10 places`;
  if (c.amount != null && (typeof c.amount !== 'string' || !(adjustment ? SIGNED_AMOUNT : AMOUNT).test(c.amount))) return `amount must be a ${adjustment ? '' : 'non-negative '}decimal with at most 6 places`;
  if (adjustment && Array.isArray(c.allowanceIds) && c.allowanceIds.length > 0) return 'an adjustment draws on no allowance through allowanceIds (it must be empty; allowanceMoves moves units)';
  if (c.allowanceMoves != null) {
    if (!adjustment) return 'allowanceMoves are for an ADJUSTMENT only';
    const problem = invalidMoves(c.allowanceMoves);
    if (problem) return problem;
  }
  if (typeof c.unit === 'string' && c.unit.length > UNIT_MAX) return `unit must be at most ${UNIT_MAX} characters`;
  const units = dec(c.units);
  const price = dec(c.pricePerUnit).abs();
  if (units.greaterThanOrEqualTo(UNITS_LIMIT)) return `units must be below ${UNITS_LIMIT.toFixed()}`;
  if (price.greaterThanOrEqualTo(PRICE_LIMIT)) return `pricePerUnit must be below ${PRICE_LIMIT.toFixed()} (either sign)`;
  if (units.times(price).greaterThanOrEqualTo(UNITS_LIMIT)) return `units × pricePerUnit must be below ${UNITS_LIMIT.toFixed()} (either sign)`;
  if (c.amount != null && dec(c.amount).abs().greaterThanOrEqualTo(UNITS_LIMIT)) return `amount must be below ${UNITS_LIMIT.toFixed()} (either sign)`;
  if (Number.isNaN(Date.parse(c.occurredAt))) return 'occurredAt is not a date';
  if (!Array.isArray(c.allowanceIds)) return 'allowanceIds must be a list';
  if (c.paymentMode !== 'PREPAID' && c.paymentMode !== 'POSTPAID') return 'paymentMode must be PREPAID or POSTPAID';
  return null;
}

export function toChargeInput(c: ChargeRequest): ChargeInput {
  const input: ChargeInput = { lineId: c.lineId ?? null, at: new Date(c.occurredAt), units: dec(c.units), unit: c.unit, allowanceIds: c.allowanceIds, pricePerUnit: dec(c.pricePerUnit), ...(c.amount != null ? { amount: dec(c.amount) } : {}), allowOverdraft: !!c.allowOverdraft };
  if (c.kind === 'ADJUSTMENT' && c.allowanceMoves && c.allowanceMoves.length > 0) {
    input.moves = c.allowanceMoves.map((m) => ({ allowanceId: m.allowanceId, unit: m.unit, units: dec(m.units), uncoveredAmount: dec(m.uncoveredAmount ?? '0') }));
  }
  return input;
}
