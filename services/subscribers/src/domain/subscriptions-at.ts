import { carryAddOns, type AddOnEntry } from './add-ons';

/** What of a subscription row says which plan a line holds when (its `addOns` as stored, JSON). */
export interface HeldPlan {
  id: string;
  status: string;
  startsAt: Date;
  endsAt?: Date | null;
  addOns: string;
}

/**
 * A subscription's status at `now` as the sweep (`applyDueSubscriptions`) leaves it: a SCHEDULED
 * one whose start has passed is ACTIVE, an ACTIVE one whose end has passed is ENDED. The sweep runs
 * about once a minute; until it (or a request on the line) has run, the rows still say what they
 * said before the boundary, and this is what they mean.
 */
export function statusAt(sub: Pick<HeldPlan, 'status' | 'startsAt' | 'endsAt'>, now: Date): string {
  const status = sub.status === 'SCHEDULED' && sub.startsAt.getTime() <= now.getTime() ? 'ACTIVE' : sub.status;
  return status === 'ACTIVE' && sub.endsAt && sub.endsAt.getTime() <= now.getTime() ? 'ENDED' : status;
}

/**
 * The subscription `next` follows (the one a plan change ended as `next` starts): ACTIVE or ENDED,
 * begun before it and ending at its start; the latest such. Where a starting plan carries its add-ons from.
 */
export function planLeftBy<T extends HeldPlan>(next: HeldPlan, subs: readonly T[]): T | undefined {
  return subs
    .filter((s) => s.id !== next.id && (s.status === 'ACTIVE' || s.status === 'ENDED') && s.startsAt.getTime() < next.startsAt.getTime() && s.endsAt?.getTime() === next.startsAt.getTime())
    .sort((a, b) => b.startsAt.getTime() - a.startsAt.getTime())[0];
}

/**
 * One line's subscriptions (`subs`: all of them, or at least the live ones) as they stand at `now`:
 * each with `statusAt`, and a plan that has started holding the add-ons it takes from the plan it
 * follows as it starts (`carryAddOns`), as `applyDueSubscriptions` will write them. Rows already up
 * to date are returned as they are; the others as copies (nothing to flush: reads only).
 */
export function subscriptionsAt<T extends HeldPlan>(subs: readonly T[], now: Date): T[] {
  return subs.map((s) => {
    const status = statusAt(s, now);
    if (status === s.status) return s;
    let addOns = s.addOns;
    const left = s.status === 'SCHEDULED' ? planLeftBy(s, subs) : undefined;
    if (left) {
      const held = JSON.parse(s.addOns) as AddOnEntry[];
      const carried = carryAddOns(held, JSON.parse(left.addOns) as AddOnEntry[], s.startsAt);
      if (carried.length > held.length) addOns = JSON.stringify(carried);
    }
    return { ...s, status, addOns };
  });
}
