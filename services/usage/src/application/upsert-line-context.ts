import { badInput, type PaymentMode } from '@ledgerline/contracts';
import type { LineDirectory } from './line-directory';
import { lineProblem, normalizeMsisdn, subscriptionProblem } from '../domain/line-context';

export interface LineContextCommand {
  lineId: string;
  msisdn?: string | null;
  billingAccountId: string;
  status: string;
  at?: Date | null;
  subscription?: {
    subscriptionId: string;
    paymentMode: string;
    currency: string;
    planCode: string;
    planVersionId: string;
    status?: string | null;
    startsAt: Date;
    endsAt?: Date | null;
    addOns?: { code: string; startsAt: Date; endsAt?: Date | null }[] | null;
  } | null;
}

const LINE_STATUSES = ['PENDING', 'ACTIVE', 'SUSPENDED', 'BARRED', 'TERMINATED'] as const;

/**
 * The same effect as subscribers' line and subscription events, for admins and tests. The whole
 * input is checked before anything is applied (ids within their columns, no NUL, an E.164 number,
 * stored as usage events are matched: `+` and digits): a coded BAD_USER_INPUT naming the field,
 * never half a change.
 */
export async function upsertLineContext(directory: LineDirectory, c: LineContextCommand, now: Date): Promise<void> {
  if (!(LINE_STATUSES as readonly string[]).includes(c.status)) throw badInput('input.status', `status must be one of ${LINE_STATUSES.join(', ')}`, 'LINE_STATUS_INVALID');
  const problem = lineProblem(c) ?? (c.subscription ? subscriptionProblem(c.subscription) : undefined);
  if (problem) throw badInput(`input.${problem.field}`, problem.message, problem.code);
  const s = c.subscription;
  if (s && s.paymentMode !== 'PREPAID' && s.paymentMode !== 'POSTPAID') throw badInput('input.subscription.paymentMode', 'paymentMode must be PREPAID or POSTPAID', 'PAYMENT_MODE_INVALID');
  const msisdn = c.msisdn ? normalizeMsisdn(c.msisdn)! : '';
  const at = c.at ?? now;
  await directory.applyLineState({ lineId: c.lineId, msisdn, billingAccountId: c.billingAccountId, status: c.status as (typeof LINE_STATUSES)[number] }, at);
  if (!s) return;
  await directory.applySubscription(
    {
      subscriptionId: s.subscriptionId,
      lineId: c.lineId,
      msisdn,
      billingAccountId: c.billingAccountId,
      paymentMode: s.paymentMode as PaymentMode,
      currency: s.currency,
      planCode: s.planCode,
      planVersionId: s.planVersionId,
      status: s.status ?? 'ACTIVE',
      startsAt: s.startsAt.toISOString(),
      endsAt: s.endsAt ? s.endsAt.toISOString() : null,
      addOns: (s.addOns ?? []).map((a) => ({ code: a.code, startsAt: a.startsAt.toISOString(), endsAt: a.endsAt ? a.endsAt.toISOString() : null })),
    },
    at,
  );
}
