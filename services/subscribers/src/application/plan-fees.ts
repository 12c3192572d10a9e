import { createHash } from 'node:crypto';
import { conflict, oneOffDescription, planChangeWording as wordingTo, planFeeDescription } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import type { FeeTrigger, PlanFee } from '../domain/plan-terms';
import { OneOffCharge, ProductOrder, Subscription, type BillingAccount, type Line } from '../persistence/entities';

/**
 * The id of a plan fee's charge: deterministic per order (so per line), trigger and fee code, and
 * `n`, which of the plan's fees with that code it is (a plan may repeat one). A completion whose
 * commit was lost and is run again makes the same charge, and wallets (`CHARGE:<id>`) and invoicing
 * (one row per id) take it once, however often its event is delivered.
 */
export function feeChargeId(orderId: string, trigger: FeeTrigger, code: string, n: number): string {
  return `chg_${createHash('sha256').update(`${orderId}\u001f${trigger}\u001f${code}\u001f${n}`).digest('hex').slice(0, 32)}`;
}

/** The id of the subscription a PLAN_CHANGE order starts (deterministic, so a retried completion makes the same one). */
export function planChangeSubscriptionId(orderId: string): string {
  return `sub_${createHash('sha256').update(`${orderId}\u001fnext`).digest('hex').slice(0, 32)}`;
}

/** `reason` of a plan fee's charge on `oneOffChargeCreated` (invoicing's one-off code), by trigger. */
const FEE_REASON: Record<FeeTrigger, string> = {
  ACTIVATION: 'ACTIVATION_FEE',
  PLAN_CHANGE: 'PLAN_CHANGE_FEE',
  SIM_REPLACEMENT: 'SIM_REPLACEMENT_FEE',
  TERMINATION: 'TERMINATION_FEE',
};

/** Each `trigger` fee of `fees` with the id of its charge (see `feeChargeId`). */
function numberedFees(orderId: string, fees: readonly PlanFee[], trigger: FeeTrigger): { id: string; fee: PlanFee }[] {
  const seen = new Map<string, number>();
  return fees
    .filter((fee) => fee.trigger === trigger)
    .map((fee) => {
      const n = seen.get(fee.code) ?? 0;
      seen.set(fee.code, n + 1);
      return { id: feeChargeId(orderId, trigger, fee.code, n), fee };
    });
}

/**
 * One CHARGE per plan fee with `trigger` (read from the plan when the order was placed), described
 * by the fee's name and the line, as the bill and the customer's SMS show it: "Starter pack for
 * +4915…", "Plan change fee for +4915… (to Family Share 50 GB)". `skip`: charge ids already made.
 * `orderId` null: fees no order charges (a plan `subscribe`d to a live line), whose ids are made
 * from `chargeKey` instead (the subscription's id).
 */
export function planFeeCharges(
  em: Em,
  c: { orderId: string | null; chargeKey?: string; line: Line; account: BillingAccount; subscriptionId: string | null; fees: readonly PlanFee[]; trigger: FeeTrigger; wording?: string; now: Date },
  skip: ReadonlySet<string> = new Set(),
): OneOffCharge[] {
  const key = c.chargeKey ?? c.orderId;
  if (!key) throw new Error('A plan fee charge needs an order or a charge key for its id');
  return numberedFees(key, c.fees, c.trigger)
    .filter(({ id }) => !skip.has(id))
    .map(({ id, fee }) =>
      em.create(OneOffCharge, {
        id,
        billingAccountId: c.account.id,
        lineId: c.line.id,
        subscriptionId: c.subscriptionId,
        orderId: c.orderId,
        kind: 'CHARGE',
        reason: FEE_REASON[c.trigger],
        amount: fee.amount.amount,
        currency: fee.amount.currency,
        // Within ONE_OFF_DESCRIPTION_MAX (cut, "…"): the catalog reports a fee name too long for it (FEE_NAME_TOO_LONG).
        description: oneOffDescription(planFeeDescription(fee.name, c.line.msisdn, c.wording)),
        periodStart: null,
        periodEnd: null,
        chargedAt: c.now,
      }),
    );
}

/** What a PLAN_CHANGE order carries that its fees need (`request` JSON). */
interface PlanChangeFeeRequest {
  timing?: 'IMMEDIATE' | 'END_OF_CYCLE';
  toPlanCode?: string;
  toPlanName?: string;
  fees?: PlanFee[];
}

/** When a fee is charged: as its order completes, or as the plan a change scheduled starts (END_OF_CYCLE). */
export type FeeDue = 'AT_COMPLETION' | 'AT_NEW_PLAN_START';

/**
 * The PLAN_CHANGE fees a change charges and when: the fees it carries (the new plan's), at
 * completion for an IMMEDIATE change, as the new plan starts for an END_OF_CYCLE one (so never if
 * the line is terminated first). The one rule for the quote (`previewPlanChange`), `completeOrder`
 * and the sweep starting scheduled plans (`scheduledChangeFees`).
 */
export function planChangeFees(r: Pick<PlanChangeFeeRequest, 'timing' | 'fees'>): { fee: PlanFee; when: FeeDue }[] {
  const when: FeeDue = r.timing === 'END_OF_CYCLE' ? 'AT_NEW_PLAN_START' : 'AT_COMPLETION';
  return (r.fees ?? []).filter((fee) => fee.trigger === 'PLAN_CHANGE').map((fee) => ({ fee, when }));
}

/** The plan-change fees charged `when` (see `planChangeFees`). */
export function planChangeFeesDue(r: Pick<PlanChangeFeeRequest, 'timing' | 'fees'>, when: FeeDue): PlanFee[] {
  return planChangeFees(r)
    .filter((f) => f.when === when)
    .map((f) => f.fee);
}

/** The wording a plan-change fee's charge ends with: "(to Family Share 50 GB)". */
export function planChangeWording(r: PlanChangeFeeRequest): string {
  return wordingTo(String(r.toPlanName ?? r.toPlanCode));
}

/**
 * The PLAN_CHANGE fees of the END_OF_CYCLE change that scheduled `sub`, charged now that it starts
 * (dated at its start). The fees are those the order carried when the change was placed; the charge
 * ids are the order's (`feeChargeId`), so starting the same subscription again charges nothing, and
 * neither does a change completed before review 8 (2026-11-27), whose fees were charged at
 * completion. A subscription no order scheduled (or one placed before plan fees) has none.
 */
export async function scheduledChangeFees(em: Em, sub: Subscription, line: Line, account: BillingAccount): Promise<OneOffCharge[]> {
  const orders = await em.find(ProductOrder, { lineId: line.id, kind: 'PLAN_CHANGE', status: 'COMPLETED' });
  const order = orders.find((o) => planChangeSubscriptionId(o.id) === sub.id);
  if (!order) return [];
  const r = JSON.parse(order.request) as PlanChangeFeeRequest;
  const fees = planChangeFeesDue(r, 'AT_NEW_PLAN_START');
  if (!fees.length) return [];
  const ids = numberedFees(order.id, fees, 'PLAN_CHANGE').map((f) => f.id);
  const made = new Set((await em.find(OneOffCharge, { id: { $in: ids } })).map((c) => c.id));
  return planFeeCharges(em, { orderId: order.id, line, account, subscriptionId: sub.id, fees, trigger: 'PLAN_CHANGE', wording: planChangeWording(r), now: sub.startsAt }, made);
}

/** The `trigger` fees of one subscription's plan version, read from the catalog when the order was placed. */
export interface SubscriptionFees {
  subscriptionId: string;
  fees: PlanFee[];
}

/** What a TERMINATE or SIM_REPLACEMENT order carries for its plan fees (`request` JSON). */
export interface PlanFeesRequest {
  /**
   * The fees of every plan the line may be on when the order completes: its ACTIVE and its
   * SCHEDULED subscription when it was placed (one open order per line, so no other change comes
   * in between). Absent on orders placed before review 8 (2026-11-27).
   */
  planFees?: SubscriptionFees[];
  /** Orders placed before: the ACTIVE subscription when placed and its fees. */
  subscriptionId?: string | null;
  fees?: PlanFee[];
}

/**
 * The fees to charge for `trigger` as the order completes: those of the line's subscription in
 * force now (`current`, its ACTIVE one once due changes are applied), not of the plan it was on when
 * the order was placed: an END_OF_CYCLE change may have fallen due in between. None for a line that
 * has no plan in force (a PENDING line cancelled). An order placed before carries only the fees
 * read when it was placed, charged as then. A plan in force that the order carries no fees for (a
 * plan subscribed meanwhile to a line that had none) is refused rather than charged nothing.
 */
export function feesInForce(r: PlanFeesRequest, current: Subscription | null, trigger: FeeTrigger): { subscriptionId: string | null; fees: PlanFee[] } {
  if (!r.planFees) return { subscriptionId: r.subscriptionId ?? null, fees: r.fees ?? [] };
  if (!current) return { subscriptionId: null, fees: [] };
  const known = r.planFees.find((p) => p.subscriptionId === current.id);
  if (!known) {
    throw conflict('PLAN_FEES_UNKNOWN', `Line ${current.lineId} is on ${current.planCode}, whose ${trigger} fees this order does not carry (the plan changed after it was placed); place the order again`, {
      field: 'input.lineId',
    });
  }
  return known;
}
