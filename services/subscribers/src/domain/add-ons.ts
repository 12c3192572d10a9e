import { Decimal, unusedDaysRefund, type Money } from '@ledgerline/contracts';

/** One add-on purchase held by a subscription (its `addOns` JSON, and `SubscriptionData.addOns`). */
export interface AddOnEntry {
  code: string;
  startsAt: string;
  endsAt: string | null;
}

const DAY = 86_400_000;

/** Whether `entry` is still valid at `at` (it ends after it, or never). */
export function inForceAt(entry: AddOnEntry, at: Date): boolean {
  return entry.endsAt === null || new Date(entry.endsAt).getTime() > at.getTime();
}

/**
 * The add-ons a plan starting at `at` holds: its own (`onto`), then every purchase of `from` (the
 * subscription it follows) still valid at `at` that it does not hold yet, with its own dates (usage
 * counts a purchase by line, allowance and start, so the new plan goes on counting the same one).
 * A purchase is the same when its code and start are; the order of `onto` is kept.
 */
export function carryAddOns(onto: readonly AddOnEntry[], from: readonly AddOnEntry[], at: Date): AddOnEntry[] {
  const held = new Set(onto.map((a) => `${a.code}\u001f${a.startsAt}`));
  const carried = from.filter((a) => inForceAt(a, at) && !held.has(`${a.code}\u001f${a.startsAt}`));
  return [...onto, ...carried];
}

/** Whether an offer sold to `compatiblePlans` (empty: any plan) may be held on `planCode`. */
export function offerFitsPlan(compatiblePlans: readonly string[], planCode: string): boolean {
  return compatiblePlans.length === 0 || compatiblePlans.includes(planCode);
}

/** When a purchase of `validityDays` made at `startsAt` ends. */
export function addOnEndsAt(startsAt: Date, validityDays: number): Date {
  return new Date(startsAt.getTime() + validityDays * DAY);
}

/** Whether two entries are the same purchase (code and start: how usage and `carryAddOns` tell them). */
export function samePurchase(a: AddOnEntry, b: AddOnEntry): boolean {
  return a.code === b.code && a.startsAt === b.startsAt;
}

/** The purchase of `code` valid at `at` among `entries` (at most one: a code is not sold again while one is valid). */
export function purchaseInForce(entries: readonly AddOnEntry[], code: string, at: Date): AddOnEntry | undefined {
  return entries.find((a) => a.code === code && new Date(a.startsAt).getTime() <= at.getTime() && inForceAt(a, at));
}

/** `entries` with `purchase` ending at `at` (the others as they are). */
export function endPurchase(entries: readonly AddOnEntry[], purchase: AddOnEntry, at: Date): AddOnEntry[] {
  return entries.map((a) => (samePurchase(a, purchase) ? { ...a, endsAt: at.toISOString() } : a));
}

/**
 * What ending `purchase` at `at` gives back of its `price`: the whole days of its validity not
 * used (the day it ends counts as used) over its days, to the currency's minor unit, half-even
 * (`unusedDaysRefund`, the rule wallets refunds a prepaid plan's unused days by). Nothing for a
 * purchase without an end.
 */
export function addOnRefund(price: Money, purchase: AddOnEntry, at: Date): { unusedDays: number; periodDays: number; amount: Decimal } {
  if (purchase.endsAt === null) return { unusedDays: 0, periodDays: 0, amount: new Decimal(0) };
  return unusedDaysRefund(new Decimal(price.amount), { start: new Date(purchase.startsAt), end: new Date(purchase.endsAt) }, at, price.currency);
}
