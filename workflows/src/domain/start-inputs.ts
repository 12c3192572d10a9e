// Checks of workflow start inputs that come from another service (subscribers' order, invoicing's
// dunning), which an operator can also start by hand. Pure: imported by the workflows. Each answers
// one sentence per field that is wrong ([] when the input is fine).
import { isPositiveDecimal } from './money';

const show = (v: unknown): string => (v === undefined ? 'nothing' : JSON.stringify(v));
const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v.trim() !== '';
const daysOk = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

const ORDER_KINDS = ['NEW_LINE', 'PLAN_CHANGE', 'ADD_ON', 'SUSPEND', 'RESUME', 'TERMINATE', 'BAR', 'SIM_REPLACEMENT'];

/** `orderFulfilmentWorkflow`'s input: the order id and what the network is asked for that order. */
export function orderInputProblems(input: unknown): string[] {
  if (!isObject(input)) return [`input is required: { orderId, provisioning } (got ${show(input)})`];
  const problems: string[] = [];
  if (!nonEmpty(input.orderId)) problems.push(`orderId is required (got ${show(input.orderId)})`);
  const p = input.provisioning;
  if (!isObject(p)) return [...problems, `provisioning is required: what the network is asked for the order (got ${show(p)})`];
  if (nonEmpty(input.orderId) && p.orderId !== input.orderId) problems.push(`provisioning.orderId must be the order's id ${show(input.orderId)} (got ${show(p.orderId)})`);
  if (typeof p.kind !== 'string' || !ORDER_KINDS.includes(p.kind)) problems.push(`provisioning.kind must be one of ${ORDER_KINDS.join(', ')} (got ${show(p.kind)})`);
  for (const field of ['lineId', 'msisdn', 'idempotencyKey'] as const) if (!nonEmpty(p[field])) problems.push(`provisioning.${field} is required (got ${show(p[field])})`);
  return problems;
}

const isInstant = (v: unknown): boolean => typeof v === 'string' && !Number.isNaN(Date.parse(v));
const isHours = (v: unknown, min: number): v is number => typeof v === 'number' && Number.isFinite(v) && v >= min;

/**
 * `upsellOfferWorkflow`'s input (the offer bridge's, from usage's `usageOfferTriggered`): the line, the add-on, the
 * allowance period (its name, and its bounds when the trigger has them), the rule, and the offer's timings if given.
 */
export function upsellOfferInputProblems(input: unknown): string[] {
  if (!isObject(input)) return [`input is required: { lineId, offerCode, period, rule } (got ${show(input)})`];
  const problems: string[] = [];
  for (const field of ['lineId', 'offerCode', 'period', 'rule'] as const) if (!nonEmpty(input[field])) problems.push(`${field} is required, a non-empty string (got ${show(input[field])})`);
  for (const field of ['periodStart', 'periodEnd'] as const) {
    const v = input[field];
    if (v !== undefined && v !== null && !isInstant(v)) problems.push(`${field} must be an ISO-8601 instant or absent (got ${show(v)})`);
  }
  if (input.validForHours !== undefined && input.validForHours !== null && !(isHours(input.validForHours, 0) && input.validForHours > 0)) problems.push(`validForHours must be a number of hours above 0, or absent (got ${show(input.validForHours)})`);
  if (input.remindBeforeHours !== undefined && input.remindBeforeHours !== null && !isHours(input.remindBeforeHours, 0)) problems.push(`remindBeforeHours must be a number of hours, 0 or more, or absent (got ${show(input.remindBeforeHours)})`);
  return problems;
}

/** `disputeResolutionWorkflow`'s input: the dispute (its policy is checked on its own, INVALID_DISPUTE_POLICY). */
export function disputeInputProblems(input: unknown): string[] {
  if (!isObject(input)) return [`input is required: { disputeId, policy? } (got ${show(input)})`];
  return nonEmpty(input.disputeId) ? [] : [`disputeId is required, a non-empty string (got ${show(input.disputeId)})`];
}

/** `dunningWorkflow`'s input: the invoice, its account, its due date and the policy. */
export function dunningInputProblems(input: unknown): string[] {
  if (!isObject(input)) return [`input is required: { invoiceId, billingAccountId, dueDate, policy } (got ${show(input)})`];
  const problems: string[] = [];
  if (!nonEmpty(input.invoiceId)) problems.push(`invoiceId is required (got ${show(input.invoiceId)})`);
  if (!nonEmpty(input.billingAccountId)) problems.push(`billingAccountId is required (got ${show(input.billingAccountId)})`);
  if (typeof input.dueDate !== 'string' || Number.isNaN(Date.parse(input.dueDate))) problems.push(`dueDate must be an ISO-8601 instant (got ${show(input.dueDate)})`);
  const policy = input.policy;
  if (!isObject(policy)) return [...problems, `policy is required: { reminderDays, lateFee?, suspendAfterDays } (got ${show(policy)})`];
  if (!Array.isArray(policy.reminderDays) || !policy.reminderDays.every(daysOk)) problems.push(`policy.reminderDays must be a list of days from the due date, each 0 or more (got ${show(policy.reminderDays)})`);
  if (!daysOk(policy.suspendAfterDays)) problems.push(`policy.suspendAfterDays must be a number of days, 0 or more (got ${show(policy.suspendAfterDays)})`);
  const fee = policy.lateFee;
  if (fee !== undefined && fee !== null) {
    if (!isObject(fee)) problems.push(`policy.lateFee must be { afterDays, amount } or null (got ${show(fee)})`);
    else {
      if (!daysOk(fee.afterDays)) problems.push(`policy.lateFee.afterDays must be a number of days, 0 or more (got ${show(fee.afterDays)})`);
      if (typeof fee.amount !== 'string' || !isPositiveDecimal(fee.amount)) problems.push(`policy.lateFee.amount must be a positive decimal string such as "5.00" (got ${show(fee.amount)})`);
    }
  }
  if (policy.dayMs !== undefined && policy.dayMs !== null && (typeof policy.dayMs !== 'number' || !Number.isFinite(policy.dayMs))) problems.push(`policy.dayMs must be a number of ms (got ${show(policy.dayMs)})`);
  return problems;
}
