// Subscribers closed a billing account (`billingaccount.closed`, the customer left): its final
// period is billed here, the way the bill-cycle workflow's `accountClosed` signal bills it, through
// `closeBillingPeriod` with `final`.
import { DomainError } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { periodFrom } from '../domain/bill-cycle';
import type { AccountRow, BillingDeps } from './bill-accounts';
import { closeBillingPeriod } from './bill-run';
import { rows } from './sql';

export interface AccountClosedCommand {
  billingAccountId: string;
  /** When subscribers closed it: the end of its final period. */
  closedAt: Date;
  now: Date;
}

export interface AccountClosedOutcome {
  /** Periods closed now, the last one final (none: the account was closed already). */
  periods: { periodStart: Date; periodEnd: Date; invoiceId: string | null; final: boolean }[];
}

/**
 * Bills an account's last days and marks it CLOSED (`closed_at`: after it only late charges are
 * billed, on an adjustment invoice by the next bill run). From where its live period invoices end
 * (or, never billed, from the start of the cycle period its first plan started in) to `closedAt`,
 * one cycle period at a time as invoicing's cycle has them (`periodFrom`: bill-cycle changes too),
 * each through `closeBillingPeriod`, the last one `final` (prorated over its cycle period's days).
 * Idempotent: an account closed already (a redelivered event, or the bill-cycle workflow's
 * `accountClosed` first) is left as it is and nothing more is billed. An account unknown here is
 * refused `CLOSED_ACCOUNT_UNKNOWN` (the consumer leaves the event out). Its row is locked first, so
 * two deliveries at once bill once. `now` earlier than `closedAt` (another service's clock a little
 * ahead) closes at `closedAt`.
 */
export async function billClosedAccount(em: Em, c: AccountClosedCommand, deps: BillingDeps): Promise<AccountClosedOutcome> {
  const [account] = await rows<AccountRow & { status: string; created_at: Date }>(em, 'select * from billing_account where id = ? for no key update', [c.billingAccountId]);
  // Subscribers' events come in order, its created event before its closed one: an account unknown
  // now never will be (its created event was left out), so this is refused, not tried again for ever.
  if (!account) throw new DomainError('CLOSED_ACCOUNT_UNKNOWN', `Billing account ${c.billingAccountId} is not known to invoicing; nothing to bill`, { field: 'billingAccountId' }, 'BAD_USER_INPUT');
  if (account.status === 'CLOSED' || account.closed_at != null) return { periods: [] };
  const closedAt = c.closedAt;
  const now = c.now > closedAt ? c.now : closedAt;
  const [billed] = await rows<{ billed_to: Date | null; first_plan: Date | null }>(
    em,
    `select (select max(period_end) from invoice where billing_account_id = ? and kind = 'PERIOD' and voided_at is null) as billed_to,
            (select min(valid_from) from subscription_segment where billing_account_id = ?) as first_plan`,
    [account.id, account.id],
  );
  const billedTo = billed?.billed_to ? new Date(billed.billed_to) : null;
  const startedAt = new Date(billed?.first_plan ?? account.created_at);
  let from = billedTo ?? periodFrom(account, startedAt).reference.start;
  const periods: AccountClosedOutcome['periods'] = [];
  if (from >= closedAt) {
    // Billed up to the closure or past it already (a bill run ran first): the last period that
    // reaches the closure is closed again as final, which bills nothing more and marks it CLOSED.
    from = periodFrom(account, new Date(closedAt.getTime() - 1)).reference.start;
  }
  while (from < closedAt) {
    const { period } = periodFrom(account, from);
    const end = period.end < closedAt ? period.end : closedAt;
    const final = end.getTime() === closedAt.getTime();
    const r = await closeBillingPeriod(em, { billingAccountId: account.id, periodStart: from, periodEnd: end, final, now }, deps);
    periods.push({ periodStart: from, periodEnd: end, invoiceId: r.invoiceId, final });
    from = end;
  }
  return { periods };
}
