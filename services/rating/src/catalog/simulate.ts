/**
 * Simulation: rate a usage history under a plan as the wallet would charge it (allowances
 * consumed first, the rest priced), to compare plans on real usage. A simplified wallet: one
 * subscriber, one period, events in the order given. Like usage, it prices each event on the
 * period's usage before it and evaluates notify and offer rules on the usage after it.
 */
import { Decimal, ZERO } from '../domain/decimal';
import { priceUnits, type RatingResult } from '../domain/rating-result';
import type { SubscriberContext, UsageEvent } from '../domain/usage';
import { createRater } from '../engine/cached-rater';
import type { CompiledPlan } from '../engine/compile-plan';

export interface SimulatedCharge {
  result: RatingResult;
  /** Units taken from the allowance bucket. */
  coveredUnits: string;
  /** Money charged after the allowance. */
  charge: string;
}

export interface SimulationReport {
  planCode: string;
  planVersion: string;
  currency: string;
  events: number;
  rated: number;
  denied: number;
  /** Sum of usage charges. */
  usageCharge: string;
  /** One period's recurring fee ("0" without one). */
  recurringFee: string;
  total: string;
  charges: SimulatedCharge[];
}

export async function simulate(compiled: CompiledPlan, events: readonly UsageEvent[], ctx: SubscriberContext): Promise<SimulationReport> {
  const rater = createRater(compiled);
  const capacity = new Map<string, Decimal | null>();
  for (const allowance of compiled.plan.allowances) {
    const size = allowance.unlimited ? allowance.fairUseCap : allowance.quantity;
    capacity.set(allowance.id, size === undefined ? null : new Decimal(size));
  }
  const used = new Map<string, Decimal>();
  const periodUsage = new Map<string, Decimal>();
  let spend = ZERO;
  let rated = 0;
  const charges: SimulatedCharge[] = [];

  // The period's usage as the rules see it: pricing rules before an event, notify and offer rules after it.
  const stateNow = (): SubscriberContext => {
    const allowanceUsedRatios: Record<string, string> = {};
    for (const [id, size] of capacity) {
      if (size !== null && size.gt(0)) allowanceUsedRatios[id] = (used.get(id) ?? ZERO).div(size).toString();
    }
    return {
      ...ctx,
      allowanceUsedRatios: { ...ctx.allowanceUsedRatios, ...allowanceUsedRatios },
      spendInPeriod: spend.toString(),
      periodUsage: Object.fromEntries([...periodUsage].map(([type, units]) => [type, units.toString()])),
    };
  };

  for (const event of events) {
    const eventCtx = stateNow();
    let result = rater.tryRateSync(event, eventCtx) ?? (await rater.rate(event, eventCtx));
    if (result.decision === 'DENIED') {
      charges.push({ result, coveredUnits: '0', charge: '0' });
      continue;
    }
    rated++;
    const units = new Decimal(result.chargedUnits);
    let covered = ZERO;
    if (result.allowanceId !== undefined && capacity.has(result.allowanceId)) {
      const size = capacity.get(result.allowanceId)!;
      const already = used.get(result.allowanceId) ?? ZERO;
      covered = size === null ? units : Decimal.max(ZERO, Decimal.min(units, size.minus(already)));
      used.set(result.allowanceId, already.plus(covered));
    }
    const uncovered = units.minus(covered);
    let charge = result.price;
    if (covered.gt(0)) {
      const rule = result.trace.find((entry) => entry.type === 'rate')!.rule;
      const tariff = compiled.ruleByName.get(rule)!.tariff!;
      charge = uncovered.isZero() ? '0' : priceUnits(tariff, result.adjustments, uncovered.toString(), periodUsage.get(event.usageType)?.toString());
    }
    periodUsage.set(event.usageType, (periodUsage.get(event.usageType) ?? ZERO).plus(uncovered));
    spend = spend.plus(charge);
    const after = stateNow();
    result = rater.tryNoticesAfterSync(result, event, after) ?? (await rater.noticesAfter(result, event, after));
    charges.push({ result, coveredUnits: covered.toString(), charge });
  }
  const recurringFee = compiled.plan.recurringFee?.amount ?? '0';
  return {
    planCode: compiled.code,
    planVersion: compiled.version,
    currency: compiled.currency,
    events: events.length,
    rated,
    denied: events.length - rated,
    usageCharge: spend.toString(),
    recurringFee,
    total: spend.plus(recurringFee).toString(),
    charges,
  };
}

export interface PlanCost {
  planCode: string;
  planVersion: string;
  currency: string;
  usageCharge: string;
  recurringFee: string;
  total: string;
  denied: number;
}

/**
 * Cost of the same usage under each plan, cheapest first (grouped by currency: amounts in
 * different currencies are not compared). The subscriber context defaults to an active line of
 * the plan's own payment mode and customer type.
 */
export async function comparePlans(
  events: readonly UsageEvent[],
  plans: readonly CompiledPlan[],
  ctx: Partial<SubscriberContext> = {},
): Promise<PlanCost[]> {
  const costs: PlanCost[] = [];
  for (const compiled of plans) {
    const report = await simulate(compiled, events, {
      accountType: compiled.plan.paymentMode,
      customerType: compiled.plan.customerType ?? 'INDIVIDUAL',
      lineStatus: 'ACTIVE',
      lineCount: 1,
      ...ctx,
    });
    const { planCode, planVersion, currency, usageCharge, recurringFee, total, denied } = report;
    costs.push({ planCode, planVersion, currency, usageCharge, recurringFee, total, denied });
  }
  return costs.sort((a, b) => a.currency.localeCompare(b.currency) || new Decimal(a.total).comparedTo(new Decimal(b.total)) || a.planCode.localeCompare(b.planCode));
}
