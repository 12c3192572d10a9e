import { conflict, DomainError, notFound } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { checkEligibility } from '../domain/eligibility';
import { planTerms, type PlanTerms } from '../domain/plan-terms';
import { subscriptionsAt } from '../domain/subscriptions-at';
import { BillingAccount, Customer, Subscription } from '../persistence/entities';
import type { CatalogClient, CatalogPlanVersion } from '../ports/catalog-client';

export const LIVE_SUBSCRIPTION = ['PENDING', 'ACTIVE', 'SCHEDULED'];

export interface ResolvedPlan {
  plan: CatalogPlanVersion;
  terms: PlanTerms;
}

/**
 * Looks up a plan to sell (a new line with it, subscribe, a plan change and its quote: every path
 * that puts a line on a plan calls this, and only they do): its current version, or NOT_FOUND, or
 * CONFLICT `PLAN_RETIRED` for a plan the catalog has retired, or CONFLICT `PLAN_NOT_YET_EFFECTIVE`
 * (with `effectiveFrom`) for one published for a later date, each naming the field: the last only
 * where `catalog` answers `planNotYetEffective` (a customer's view leaves it out, `catalogForPublic`:
 * such a plan is not public before its date, so it reads NOT_FOUND as an unknown code). Retired:
 * customers and staff alike. What was sold before the retirement is not looked up again: lines keep their pinned
 * version, orders placed before (and their retries) carry theirs, an END_OF_CYCLE change scheduled
 * onto the plan starts.
 */
export async function findPlan(catalog: CatalogClient, code: string, field = 'input.planCode'): Promise<ResolvedPlan> {
  if (!code?.trim()) throw new DomainError('PLAN_CODE_REQUIRED', 'A plan code is required', { field }, 'BAD_USER_INPUT');
  const plan = await catalog.currentPlanVersion(code.trim());
  if (!plan) {
    const upcoming = await catalog.planNotYetEffective?.(code.trim());
    if (upcoming) {
      const effectiveFrom = upcoming.effectiveFrom.toISOString();
      throw conflict('PLAN_NOT_YET_EFFECTIVE', `Plan ${upcoming.code} takes effect on ${effectiveFrom} and cannot be sold before then; wait until that date or choose another plan`, { field, planCode: upcoming.code, effectiveFrom });
    }
    throw notFound('Plan', code, field);
  }
  assertPlanOnSale(plan, field);
  return { plan, terms: planTerms(plan.document) };
}

/** A RETIRED plan (TMF620 lifecycleStatus) is no longer sold: CONFLICT, as catalog answers for a retired plan. */
export function assertPlanOnSale(plan: CatalogPlanVersion, field = 'input.planCode'): void {
  if (plan.planStatus === 'RETIRED') {
    throw conflict('PLAN_RETIRED', `Plan ${plan.code} is retired and no longer sold (lines already on it keep it); choose another plan`, { field, planCode: plan.code });
  }
}

/**
 * Whether `account` may take the plan for one more line (`lineId` already on it is not counted
 * twice): currency and payment mode must match the account, and the plan's eligibility rules
 * must pass for the customer. Each refusal names the field.
 */
export async function assertPlanFits(em: Em, resolved: ResolvedPlan, account: BillingAccount, opts: { lineId?: string; now: Date; field?: string }): Promise<void> {
  const field = opts.field ?? 'input.planCode';
  const { terms } = resolved;
  if (terms.currency !== account.currency) {
    throw new DomainError('PLAN_CURRENCY_MISMATCH', `Plan ${terms.code} is priced in ${terms.currency}, but billing account ${account.id} bills in ${account.currency}`, { field, planCurrency: terms.currency, accountCurrency: account.currency }, 'BAD_USER_INPUT');
  }
  if (terms.paymentMode !== account.paymentMode) {
    throw new DomainError('PLAN_PAYMENT_MODE_MISMATCH', `Plan ${terms.code} is ${terms.paymentMode}, but billing account ${account.id} is ${account.paymentMode}`, { field }, 'BAD_USER_INPUT');
  }
  const customer = await em.findOneOrFail(Customer, { id: account.customerId });
  // The lines on the plan now: a plan that ended at a boundary the sweep has not reached yet (still
  // ACTIVE in its row, `statusAt` ENDED) takes no place; a change started there (still SCHEDULED) does.
  const onPlan = await em.find(Subscription, { billingAccountId: account.id, planCode: terms.code, status: { $in: LIVE_SUBSCRIPTION }, $or: [{ endsAt: null }, { endsAt: { $gt: opts.now } }] });
  const lineIds = new Set(onPlan.map((s) => s.lineId));
  if (opts.lineId) lineIds.add(opts.lineId);
  const lineCount = opts.lineId ? lineIds.size : lineIds.size + 1;
  const tenureMonths = Math.max(0, Math.floor((opts.now.getTime() - customer.createdAt.getTime()) / (30.44 * 86_400_000)));
  const verdict = await checkEligibility(terms, {
    accountType: account.paymentMode as 'PREPAID' | 'POSTPAID',
    customerType: customer.kind as 'INDIVIDUAL' | 'BUSINESS',
    lineCount,
    creditClass: customer.creditClass as 'A' | 'B' | 'C' | 'D',
    tenureMonths,
  });
  if (!verdict.eligible) throw new DomainError('PLAN_NOT_ELIGIBLE', `Not eligible for plan ${terms.code}: ${verdict.reason}`, { field, planCode: terms.code }, 'BAD_USER_INPUT');
}

/**
 * The line's plans as they stand at `now` (`subscriptionsAt`): `current`, the plan in force
 * (PENDING or ACTIVE, the latest start), and `scheduled`, a change still waiting to start. A change
 * due since the boundary that no sweep has started yet is `current` (with the add-ons it carries),
 * not `scheduled`. Reads only (previews, the first unlocked checks); a request that writes starts
 * such a change first under the line's lock (`applyDueSubscriptions`), after which this is what
 * the rows say. `fresh`: read again from the database, not the identity map's.
 */
export async function plansAt(em: Em, lineId: string, now: Date, fresh = false): Promise<{ current: Subscription | null; scheduled: Subscription | null }> {
  const live = await em.find(Subscription, { lineId, status: { $in: LIVE_SUBSCRIPTION } }, { orderBy: { startsAt: 'desc', createdAt: 'desc' }, ...(fresh ? { refresh: true } : {}) });
  const at = subscriptionsAt(live, now);
  return { current: at.find((s) => s.status === 'ACTIVE' || s.status === 'PENDING') ?? null, scheduled: at.find((s) => s.status === 'SCHEDULED') ?? null };
}

/** The line's current subscription; `fresh`: read again from the database (under a lock just taken), not the identity map's. */
export async function currentSubscription(em: Em, lineId: string, fresh = false): Promise<Subscription | null> {
  return em.findOne(Subscription, { lineId, status: { $in: ['PENDING', 'ACTIVE'] } }, { orderBy: { startsAt: 'desc' }, ...(fresh ? { refresh: true } : {}) });
}

export function assertNoScheduledChange(scheduled: Subscription | null): void {
  if (scheduled) throw conflict('PLAN_CHANGE_ALREADY_SCHEDULED', `A change to ${scheduled.planCode} is already scheduled from ${scheduled.startsAt.toISOString()}`, { field: 'input.lineId' });
}
