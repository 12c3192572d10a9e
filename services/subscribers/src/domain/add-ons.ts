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
