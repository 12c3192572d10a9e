/** Invoicing's own Prometheus metrics, on the running service's registry (served at /metrics). */
import client from 'prom-client';
import { onceAtATime } from '@ledgerline/platform';
import { countSetAsideByCode } from './bill-run-set-aside';

export interface OpenDisputeCounts {
  OPEN: number;
  IN_REVIEW: number;
  /** IN_REVIEW with `review_due_at` before now. */
  overdue: number;
}

/** One bounded statement (at most two rows, from the partial index on open disputes). */
export async function countOpenDisputes(query: (text: string, params: unknown[]) => Promise<{ status: string; n: string | number; overdue: string | number }[]>, now: Date): Promise<OpenDisputeCounts> {
  const rows = await query(
    `select status, count(*) as n, count(*) filter (where status = 'IN_REVIEW' and review_due_at < ?) as overdue from dispute where status in ('OPEN', 'IN_REVIEW') group by status`,
    [now],
  );
  const counts: OpenDisputeCounts = { OPEN: 0, IN_REVIEW: 0, overdue: 0 };
  for (const r of rows) {
    if (r.status === 'OPEN' || r.status === 'IN_REVIEW') counts[r.status] = Number(r.n);
    counts.overdue += Number(r.overdue);
  }
  return counts;
}

/**
 * Read at each scrape: open disputes by status, and those waiting for an agent past their review
 * deadline by the service's clock. The dispute workflow escalates a dispute at its deadline (and
 * moves `reviewDueAt` on), so one that stays overdue means the workflow is not running for it
 * (worker or Temporal down, a start that keeps failing) or the policy waits for an agent after the
 * last level (`onFinalBreach: WAIT`). Alert `LedgerlineDisputesOverdue`.
 */
export function registerDisputeGauges(registry: client.Registry, query: Parameters<typeof countOpenDisputes>[0], now: () => Date): void {
  const read = onceAtATime(() => countOpenDisputes(query, now()));
  new client.Gauge({ name: 'ledgerline_invoicing_disputes_open', help: 'Disputes not closed yet, by status (OPEN: being assessed; IN_REVIEW: waiting for an agent)', labelNames: ['status'], registers: [registry], async collect() {
    const c = await read();
    this.set({ status: 'OPEN' }, c.OPEN);
    this.set({ status: 'IN_REVIEW' }, c.IN_REVIEW);
  } });
  new client.Gauge({ name: 'ledgerline_invoicing_disputes_overdue', help: 'Disputes IN_REVIEW past their reviewDueAt (the workflow escalates at the deadline: one that stays here is not being escalated)', registers: [registry], async collect() {
    this.set((await read()).overdue);
  } });
}

/**
 * Read at each scrape: accounts bill runs set aside (their batch could not bill them for a reason their data
 * gives, bill-run-set-aside.ts) and not billed since, by the refusal's code. Each waits for staff to fix its
 * data and bill it (`billSetAsideAccounts`): the customer is not invoiced meanwhile. Alert
 * `LedgerlineBillRunAccountsSetAside`.
 */
export function registerBillRunSetAside(registry: client.Registry, query: Parameters<typeof countSetAsideByCode>[0]): void {
  const read = onceAtATime(() => countSetAsideByCode(query));
  new client.Gauge({ name: 'ledgerline_invoicing_bill_run_accounts_set_aside', help: 'Accounts bill runs set aside (not billable for a reason their data gives, e.g. PLAN_VERSION_UNKNOWN) and not billed since, by code (BillRun.setAsideAccounts; billSetAsideAccounts once fixed)', labelNames: ['code'], registers: [registry], async collect() {
    const counts = await read();
    this.reset();
    for (const [code, n] of counts) this.set({ code }, n);
  } });
}

/** Why the charges consumer left a message, or a result in it, out: see `DroppedChargeReason` in events/consumer.ts. */
export type ChargeResultsDropped = client.Counter<'reason'>;

/**
 * Wallets' charge results the consumer could not record, by reason (not_json, invalid, unstorable, refused):
 * each is logged with what it was; the postpaid charge is missing from the next bill until it is
 * recorded (the recordCharges mutation). Alert on any increase.
 */
export function registerChargeResultsDropped(registry: client.Registry): ChargeResultsDropped {
  return new client.Counter({ name: 'ledgerline_invoicing_charge_results_dropped_total', help: "Wallets' charge results the consumer could not record and skipped, by reason (not_json: a message that is not JSON; invalid: an entry that is not a ChargeResult; unstorable: a value unbilled_charge cannot hold; refused: a charge in another currency than its account's)", labelNames: ['reason'], registers: [registry] });
}

/** Why the subscribers consumer left an event out: see `DroppedEventReason` in events/consumer.ts. */
export type SubscriberEventsDropped = client.Counter<'reason'>;

/**
 * Subscribers' events (accounts, subscriptions, one-off charges) the consumer could not apply, by
 * reason (not_a_cloud_event, invalid, unstorable, refused): each is logged with its id, type and
 * problem; invoicing's read model lacks what it said until it is put right by hand. Alert on any increase.
 */
export function registerSubscriberEventsDropped(registry: client.Registry): SubscriberEventsDropped {
  return new client.Counter({ name: 'ledgerline_invoicing_subscriber_events_dropped_total', help: "Subscribers' events the consumer could not apply and skipped, by reason (not_a_cloud_event: not JSON or not a CloudEvent; invalid: a value the read model cannot hold; unstorable: the database refused it alone; refused: invoicing's rules refuse it, e.g. a one-off in another currency than its account's)", labelNames: ['reason'], registers: [registry] });
}

/** Why a refused wallet charge was held: see `HeldReason` in wallet-charge-refused.ts. */
export type WalletChargesHeld = client.Counter<'reason'>;

/**
 * Charges a closed prepaid wallet refused (`billing.wallets.charge.refused`) that invoicing holds
 * instead of billing, by reason: each is a row of `wallet_charge_refused` (status HELD, held_because)
 * and a warning log; the customer is not billed for it until it is put right. Alert on any increase.
 */
export function registerWalletChargesHeld(registry: client.Registry): WalletChargesHeld {
  return new client.Counter({ name: 'ledgerline_invoicing_wallet_charges_held_total', help: "Charges closed prepaid wallets refused that invoicing holds instead of billing, by reason (not_a_cloud_event; invalid: a value out of shape; account_unknown; currency_mismatch: not the account's currency; refused: another of invoicing's rules; unstorable: the database refused it)", labelNames: ['reason'], registers: [registry] });
}

/**
 * Read at each scrape: charges of closed accounts (after their final period) not billed yet, by
 * currency. The account's next bill run bills them on an adjustment invoice after its final one;
 * money that stays here is waiting for that run (or for someone to write it off). Rows come from
 * the charges' own currency (one per currency the query finds; none when nothing waits).
 */
export function registerUnbilledAfterClose(registry: client.Registry, query: (text: string, params: unknown[]) => Promise<{ currency: string; amount: string | number }[]>): void {
  const read = onceAtATime(() => query(`select c.currency, sum(c.amount) as amount from unbilled_charge c join billing_account a on a.id = c.billing_account_id where a.closed_at is not null and c.invoice_id is null group by c.currency`, []));
  new client.Gauge({ name: 'ledgerline_invoicing_unbilled_after_close', help: 'Charges of closed accounts (arrived after the final invoice) not billed yet, by currency: billed by the next bill run on an adjustment invoice', labelNames: ['currency'], registers: [registry], async collect() {
    const found = await read();
    this.reset();
    for (const r of found) this.set({ currency: r.currency }, Number(r.amount));
  } });
}

/**
 * Read at each scrape: bank transfers kept on the suspense list (receiveBankTransfer could not match
 * them to one invoice) of which something remains (UNAPPLIED or PARTIALLY_APPLIED), by currency: how
 * many, how much remains of them (not their original amounts: parts applied or paid back are gone),
 * and how long the oldest has waited since the bank received it (by the service's clock). Money the
 * bank holds that pays no invoice until staff apply it (applyUnappliedPayment) or pay it back to its
 * payer (refundUnappliedPayment). One statement over those rows (the partial index, migration
 * 20270101000000_unapplied_payment_parts). A currency seen once stays at 0. Alert LedgerlineUnappliedCashAging.
 */
export function registerUnappliedPayments(registry: client.Registry, query: (text: string, params: unknown[]) => Promise<{ currency: string; n: string | number; amount: string | number; oldest: Date | string | null }[]>, now: () => Date): void {
  const read = onceAtATime(() => query(`select currency, count(*) as n, sum(remaining_amount) as amount, min(received_at) as oldest from unapplied_payment where status in ('UNAPPLIED', 'PARTIALLY_APPLIED') group by currency`, []));
  const seen = new Set<string>();
  const byCurrency = async () => {
    const found = await read();
    for (const r of found) seen.add(r.currency);
    return new Map(found.map((r) => [r.currency, r]));
  };
  new client.Gauge({ name: 'ledgerline_invoicing_unapplied_payments', help: 'Bank transfers on the suspense list (their reference named no invoice, or several) of which something is neither applied nor paid back yet, by currency', labelNames: ['currency'], registers: [registry], async collect() {
    const found = await byCurrency();
    for (const currency of seen) this.set({ currency }, Number(found.get(currency)?.n ?? 0));
  } });
  new client.Gauge({ name: 'ledgerline_invoicing_unapplied_payments_amount', help: 'What remains of the bank transfers on the suspense list, neither applied nor paid back yet, by currency (money received that pays no invoice yet)', labelNames: ['currency'], registers: [registry], async collect() {
    const found = await byCurrency();
    for (const currency of seen) this.set({ currency }, Number(found.get(currency)?.amount ?? 0));
  } });
  new client.Gauge({ name: 'ledgerline_invoicing_unapplied_payments_oldest_seconds', help: 'How long the oldest bank transfer on the suspense list has waited since the bank received it (receivedAt), by currency; 0 when none waits', labelNames: ['currency'], registers: [registry], async collect() {
    const found = await byCurrency();
    const at = now().getTime();
    for (const currency of seen) {
      const oldest = found.get(currency)?.oldest;
      this.set({ currency }, oldest == null ? 0 : Math.max(0, Math.floor((at - new Date(oldest).getTime()) / 1000)));
    }
  } });
}
