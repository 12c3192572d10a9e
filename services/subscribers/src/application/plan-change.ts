import { allowancePeriodAt, badInput, conflict, dec, money, notFound, round, unusedDaysRefund, type Decimal, type Money } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { localDateOf, startOfLocalDay, billingPeriodOf, formatLocalDate } from '../domain/calendar';
import { feesOn, planChangeTiming, planTerms, prepaidPlanChangeTiming, type PlanChangeTiming, type PlanFee, type PlanTerms } from '../domain/plan-terms';
import { quotePlanChange, type OneOffItem, type RecurringFee } from '../domain/proration';
import { inForceAt, offerFitsPlan, type AddOnEntry } from '../domain/add-ons';
import { assertOptionalIdempotencyKey } from '../domain/validation';
import { BillingAccount, Line, Subscription } from '../persistence/entities';
import type { CatalogClient } from '../ports/catalog-client';
import type { WalletsPort } from '../ports/wallets-client';
import { assertNoScheduledChange, assertPlanFits, findPlan, plansAt } from './plans';
import { findReplayedLineOrder, findReplayedOrder, placeOrder } from './place-order';
import type { LineOrderResult } from './add-line';
import { assertNoOpenOrder, flushOrder, lockLine } from './line-orders';
import { applyDueSubscriptions } from './activate-due-subscriptions';
import { planChangeFees } from './plan-fees';

export interface PlanChangeCommand {
  lineId: string;
  planCode: string;
  idempotencyKey?: string | null;
  now: Date;
}

export interface PlanChangePreview {
  lineId: string;
  fromPlanCode: string;
  fromPlanVersionId: string;
  toPlanCode: string;
  /** The new plan's name, for the bill's wording of its fees. */
  toPlanName: string;
  toPlanVersionId: string;
  sharedAllowances: boolean;
  timing: PlanChangeTiming;
  /**
   * The PLAN_CHANGE fees the order charges: those of the plan changed TO (its price list's change
   * fee; the plan left has no say), when `planChangeFees` says (at completion, or as the new plan
   * starts for END_OF_CYCLE). Carried on the order as they are: completion charges these.
   */
  fees: PlanFee[];
  /** The add-ons still valid when the new plan starts, which it holds with their own dates (`carryAddOns`). */
  carriedAddOns: AddOnEntry[];
  effectiveAt: Date;
  periodStart: string;
  periodEnd: string;
  /**
   * Postpaid, changed at once: the prorated credit (old plan's unused days) and charge (new plan's
   * remaining days), an estimate of what the change does to the period's bill. Nothing is charged
   * from them: invoicing bills the period's fees from the plans held (see `applyPlanChange`).
   */
  items: OneOffItem[];
  /** The sum of `items` and `fees`: what the change costs the customer (an estimate for the items). */
  total: Money;
  /** A prepaid line: what its balance does at the change (wallets settles it); null for postpaid. */
  prepaid: PrepaidSettlement | null;
}

export interface PrepaidSettlement {
  /** Taken from the balance as the new plan starts (its first period), if it has a fee. */
  newPeriodFee: Money | null;
  /** Given back for the unused whole days of the period the old fee paid (a fee prorating daily, changed at once), from the fee wallets took for it. */
  refund: Money | null;
  refundDays: number;
}

/**
 * Works out what a plan change would do, reading only: the same function backs the preview and
 * the order. `wallets`: where a prepaid line's paid allowance period is asked for.
 */
export async function quoteChange(em: Em, catalog: CatalogClient, c: PlanChangeCommand, wallets: WalletsPort | null = null): Promise<PlanChangePreview> {
  const line = await em.findOne(Line, { id: c.lineId });
  if (!line) throw notFound('Line', c.lineId, 'input.lineId');
  if (line.status !== 'ACTIVE') throw conflict('LINE_NOT_ACTIVE_CONFLICT', `Only an ACTIVE line can change plan; line ${line.id} is ${line.status}`, { field: 'input.lineId' });
  // The plans as they stand now: a change due since the boundary is the plan in force (changePlan
  // has started it already, under the line's lock; a preview only reads), not one still waiting.
  const { current, scheduled } = await plansAt(em, line.id, c.now);
  if (!current) throw conflict('SUBSCRIPTION_NOT_FOUND_CONFLICT', `Line ${line.id} has no plan; use subscribe`, { field: 'input.lineId' });
  assertNoScheduledChange(scheduled);
  const account = await em.findOneOrFail(BillingAccount, { id: line.billingAccountId });
  const target = await findPlan(catalog, c.planCode);
  if (target.plan.versionId === current.planVersionId) throw badInput('input.planCode', `Line ${line.id} is already on ${current.planCode} version ${target.plan.version}`, 'PLAN_CHANGE_SAME_PLAN');
  await assertPlanFits(em, target, account, { lineId: target.terms.code === current.planCode ? line.id : undefined, now: c.now });
  const fromDoc = await catalog.planVersionDocument(current.planVersionId);
  if (fromDoc == null) throw notFound('PlanVersion', current.planVersionId, 'input.lineId');
  const from = planTerms(fromDoc);
  const prepaid = account.paymentMode === 'PREPAID';
  // A prepaid line: the period its balance paid, and the terms that fee was taken under (wallets keeps
  // them with the fee): whether its unused days come back decides the timing and the refund, not the
  // old plan's terms as the catalog has them now.
  const paid = prepaid ? await paidPeriod(wallets, account.id, current, from.recurringFee, c.now) : null;
  const fromAsPaid = paid ? asPaid(from, paid.proration) : from;
  const timing = prepaid ? prepaidPlanChangeTiming(fromAsPaid, target.terms) : planChangeTiming(from, target.terms);
  const today = localDateOf(c.now, account.timezone);
  const base = {
    lineId: line.id,
    fromPlanCode: current.planCode,
    fromPlanVersionId: current.planVersionId,
    toPlanCode: target.terms.code,
    toPlanName: target.terms.name,
    toPlanVersionId: target.plan.versionId,
    sharedAllowances: target.terms.sharedAllowances,
    timing,
    fees: feesOn(target.terms, 'PLAN_CHANGE'),
  };
  // The quote's total counts every fee the change will charge, whenever it is charged (a change
  // without fees keeps the estimate exactly as it was shown before).
  const due = planChangeFees(base);
  const withFees = (estimate: Money): Money =>
    due.length === 0 ? estimate : round(money(due.reduce((acc, f) => acc.plus(dec(f.fee.amount.amount)), dec(estimate.amount)), account.currency));
  if (paid) {
    // The balance settles a prepaid line's fees (wallets): no prorated one-offs here. The period
    // shown is the allowance period the old plan paid for; a later change starts when it ends.
    const period = { periodStart: formatLocalDate(localDateOf(paid.start, account.timezone)), periodEnd: formatLocalDate(localDateOf(paid.end, account.timezone)) };
    const effectiveAt = timing === 'IMMEDIATE' ? c.now : paid.end;
    const carriedAddOns = await assertAddOnsFitPlan(catalog, current, base.toPlanCode, effectiveAt);
    // What wallets gives back when the old plan ends at `effectiveAt` (refundUnusedPeriod): the
    // unused whole days of the fee its ledger took for this period, under the terms it took it
    // under, with the same function.
    const prorates = (paid.proration ?? from.recurringFee?.proration) === 'DAILY';
    const refund = prorates && paid.fee ? unusedDaysRefund(paid.fee, paid, effectiveAt, account.currency) : null;
    const prepaid = {
      newPeriodFee: target.terms.recurringFee ? round(target.terms.recurringFee.amount) : null,
      refund: refund && !refund.amount.isZero() ? round(money(refund.amount, account.currency)) : null,
      refundDays: refund?.unusedDays ?? 0,
    };
    return { ...base, carriedAddOns, effectiveAt, ...period, items: [], total: withFees(money('0', account.currency)), prepaid };
  }
  if (timing === 'END_OF_CYCLE') {
    const period = billingPeriodOf(today, account.billCycleDay);
    const effectiveAt = startOfLocalDay(period.end, account.timezone);
    const carriedAddOns = await assertAddOnsFitPlan(catalog, current, base.toPlanCode, effectiveAt);
    return { ...base, carriedAddOns, effectiveAt, periodStart: formatLocalDate(period.start), periodEnd: formatLocalDate(period.end), items: [], total: withFees(money('0', account.currency)), prepaid: null };
  }
  const carriedAddOns = await assertAddOnsFitPlan(catalog, current, base.toPlanCode, c.now);
  const quote = quotePlanChange({
    currency: account.currency,
    billCycleDay: account.billCycleDay,
    effectiveDate: today,
    from: { planCode: from.code, fee: from.recurringFee },
    to: { planCode: target.terms.code, fee: target.terms.recurringFee },
  });
  // Effective now; the day of the change is billed on the new plan.
  return { ...base, carriedAddOns, effectiveAt: c.now, periodStart: formatLocalDate(quote.period.start), periodEnd: formatLocalDate(quote.period.end), items: quote.items, total: withFees(quote.total), prepaid: null };
}

/**
 * The new plan takes every add-on still valid when it starts, with its dates (`carryAddOns`), so each
 * must be one the plan can hold: a change onto a plan that cannot hold one (the offer's
 * `compatiblePlans`) is refused, CONFLICT `PLAN_CHANGE_ADDON_INCOMPATIBLE` naming the add-on and
 * when it ends, rather than cutting short an add-on paid for without the customer asking: they
 * may end it first (`endAddOn`, which refunds its unused days), or change once it has ended. An offer the
 * catalog no longer knows is carried as sold. Preview and order alike (both quote here). Returns the add-ons carried
 * (the preview's `carriedAddOns`).
 */
async function assertAddOnsFitPlan(catalog: CatalogClient, current: Subscription, toPlanCode: string, effectiveAt: Date): Promise<AddOnEntry[]> {
  const carried = (JSON.parse(current.addOns) as AddOnEntry[]).filter((a) => inForceAt(a, effectiveAt));
  for (const held of carried) {
    const offer = await catalog.offer(held.code);
    if (offer && !offerFitsPlan(offer.compatiblePlans, toPlanCode)) {
      throw conflict('PLAN_CHANGE_ADDON_INCOMPATIBLE', `Add-on ${held.code} is valid until ${held.endsAt} and cannot be held on plan ${toPlanCode}; end it first with endAddOn (its unused days are refunded), or change plan once it has ended`, {
        field: 'input.planCode',
        offerCode: held.code,
        addOnEndsAt: held.endsAt,
      });
    }
  }
  return carried;
}

/**
 * The allowance period a prepaid line's balance paid and the fee it paid for it: wallets' own
 * period (it knows when a bundle that waited for a top-up restarted), the fee its ledger took
 * for that period (`feeTaken`, wallets' `periodFeeTaken`: what `refundUnusedPeriod` prorates, not
 * the plan's price now, which may have changed since) and the terms it took it under
 * (`feeProration`: whether `refundUnusedPeriod` gives the unused days back, not the plan's terms
 * now; null for a fee taken before wallets recorded them). A period wallets has not taken a fee for
 * (waiting for a top-up, not renewed yet, a subscription wallets does not know yet) is computed by
 * the same rule from the subscription's start, with no fee: nothing is refunded for it. Without
 * wallets (development) the same rule and the plan's fee and terms, an estimate.
 */
async function paidPeriod(wallets: WalletsPort | null, billingAccountId: string, current: Subscription, fee: RecurringFee | null, now: Date): Promise<{ start: Date; end: Date; fee: Decimal | null; proration: RecurringFee['proration'] | null }> {
  if (!wallets) return { ...allowancePeriodAt(current.startsAt, fee?.period, now), fee: fee ? dec(fee.amount.amount) : null, proration: null };
  const known = await wallets.allowancePeriod(billingAccountId, current.id);
  if (known && known.end > now) return { start: known.start, end: known.end, fee: known.feeTaken === null ? null : dec(known.feeTaken), proration: known.feeTaken === null ? null : known.feeProration };
  return { ...allowancePeriodAt(current.startsAt, fee?.period, now), fee: null, proration: null };
}

/**
 * The old plan's terms with the proration its period's fee was taken under (`proration`, from
 * wallets), which `prepaidPlanChangeTiming` and the refund go by; unchanged when wallets has none
 * recorded (no fee taken, or one taken before it kept them: the plan's terms, as wallets then uses).
 */
function asPaid(from: PlanTerms, proration: RecurringFee['proration'] | null): PlanTerms {
  if (!proration || !from.recurringFee || from.recurringFee.proration === proration) return from;
  return { ...from, recurringFee: { ...from.recurringFee, proration } };
}

export async function previewPlanChange(em: Em, catalog: CatalogClient, c: PlanChangeCommand, wallets: WalletsPort | null = null): Promise<PlanChangePreview> {
  return quoteChange(em, catalog, c, wallets);
}

/** Places a PLAN_CHANGE order carrying the quote; fulfilment switches exactly these plan versions at `effectiveAt` (the items stay an estimate). */
export async function changePlan(em: Em, catalog: CatalogClient, c: PlanChangeCommand, wallets: WalletsPort | null = null): Promise<LineOrderResult & { preview: PlanChangePreview | null }> {
  const { now, ...input } = c;
  assertOptionalIdempotencyKey(c.idempotencyKey);
  // The key first (its lock, then the line's: see findReplayedOrder): a retry sent while the first
  // request runs waits for it and gets its order.
  const early = await findReplayedLineOrder(em, c.lineId, c.idempotencyKey, 'PLAN_CHANGE', input);
  if (early) return { order: early, line: await em.findOneOrFail(Line, { id: early.lineId }), preview: null };
  // Locked before the checks (idempotency key, no scheduled change, no open order): a second
  // change for the line sent at the same moment waits here, then sees this one (a replay, or
  // refused as a later one would be).
  const locked = await lockLine(em, c.lineId);
  const replay = await findReplayedOrder(em, locked?.billingAccountId, c.idempotencyKey, 'PLAN_CHANGE', input);
  if (replay) return { order: replay, line: await em.findOneOrFail(Line, { id: replay.lineId }), preview: null };
  if (!locked) throw notFound('Line', c.lineId, 'input.lineId');
  // A change scheduled for the boundary that has passed is started first (the sweep's own step, in
  // this transaction under the line's lock): this change is decided on the plan in force now, not
  // refused PLAN_CHANGE_ALREADY_SCHEDULED for a start already past. Refused, it all rolls back and
  // the sweep starts it as before.
  await applyDueSubscriptions(em, locked, now);
  const preview = await quoteChange(em, catalog, c, wallets);
  await assertNoOpenOrder(em, c.lineId);
  const line = await em.findOneOrFail(Line, { id: c.lineId });
  const order = placeOrder(em, {
    kind: 'PLAN_CHANGE',
    billingAccountId: line.billingAccountId,
    lineId: line.id,
    request: { ...preview, effectiveAt: preview.effectiveAt.toISOString() },
    idempotencyKey: c.idempotencyKey,
    input,
    now,
  });
  await flushOrder(em);
  return { line, order, preview };
}
