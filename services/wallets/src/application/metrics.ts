/** The wallets service's Prometheus metrics, on the running service's registry (served at /metrics). */
import client from 'prom-client';
import { onceAtATime } from '@ledgerline/platform';

export interface WalletsMetrics {
  /** ChargeResults of the charge consumer, by outcome (APPLIED, PARTIAL, DENIED). */
  charges: client.Counter<'outcome'>;
  /** Charge messages (or entries of one) that could not be read, by reason: the sender must send them again. */
  chargeMessagesDropped: client.Counter<'reason'>;
  /** Subscribers' events refused with a coded error (or unreadable), by subject and reason: acknowledged, never applied. */
  subscriberEventsDropped: client.Counter<'subject' | 'reason'>;
  /** One consumer batch of charges applied (every lane's transaction), before its results are published. */
  chargeBatchSeconds: client.Histogram;
  /** Online charging requests over NATS, by operation (reserve, commit, release) and Nchf result code. */
  onlineRequests: client.Counter<'operation' | 'result_code'>;
  /** Online charging requests from arrival to reply, in the service (group wait + transaction). */
  onlineRequestSeconds: client.Histogram<'operation'>;
}

export function createWalletsMetrics(registry: client.Registry = new client.Registry()): WalletsMetrics {
  return {
    charges: new client.Counter({ name: 'ledgerline_wallets_charges_total', help: 'Charges applied by the charge consumer, by outcome', labelNames: ['outcome'], registers: [registry] }),
    chargeMessagesDropped: new client.Counter({ name: 'ledgerline_wallets_charge_messages_dropped_total', help: 'Charge messages or entries that could not be read (not JSON, no chargeId)', labelNames: ['reason'], registers: [registry] }),
    subscriberEventsDropped: new client.Counter({ name: 'ledgerline_wallets_subscriber_events_dropped_total', help: "Subscribers' events refused with a coded error or not readable, acknowledged without effect", labelNames: ['subject', 'reason'], registers: [registry] }),
    chargeBatchSeconds: new client.Histogram({ name: 'ledgerline_wallets_charge_batch_seconds', help: 'Time from a consumer batch of charges handed to the lanes to all of it written (queueing behind the batch before included)', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [registry] }),
    onlineRequests: new client.Counter({ name: 'ledgerline_wallets_online_requests_total', help: 'Online charging requests over NATS, by operation and result code', labelNames: ['operation', 'result_code'], registers: [registry] }),
    // The target is a p99 under 10 ms: buckets fine enough around it.
    onlineRequestSeconds: new client.Histogram({ name: 'ledgerline_wallets_online_request_seconds', help: 'Online charging requests from arrival to reply, in the service', labelNames: ['operation'], buckets: [0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 1], registers: [registry] }),
  };
}

/**
 * Read at each scrape: card recharges still running (STARTING / STARTED) and how long the oldest has
 * run. The Recharge workflow retries the wallet credit without limit once the card is charged (a
 * refund must wait for a definite answer), so wallets unreachable or the worker's token refused
 * shows here as a recharge that ages, not as a failure. The partial index on open recharges keeps
 * this cheap.
 */
export function registerOpenRechargeGauges(registry: client.Registry, read: () => Promise<{ n: string | number; oldest: Date | null } | undefined>, now: () => Date): void {
  const open = onceAtATime(read);
  new client.Gauge({ name: 'ledgerline_wallets_recharges_open', help: 'Card recharges whose workflow has not ended (STARTING, STARTED)', registers: [registry], async collect() {
    this.set(Number((await open())?.n ?? 0));
  } });
  new client.Gauge({ name: 'ledgerline_wallets_oldest_open_recharge_seconds', help: 'How long the oldest open card recharge has run (0 when none is open)', registers: [registry], async collect() {
    const oldest = (await open())?.oldest;
    this.set(oldest ? Math.max(0, (now().getTime() - new Date(oldest).getTime()) / 1000) : 0);
  } });
}

/**
 * Read at each scrape: card recharges that took the customer's money and gave none back (REFUND_FAILED:
 * captured, the credit refused, the refund refused for good). Each waits for staff to return the money
 * (the `rechargeRefundFailed` event names it); a partial index keeps the count cheap.
 */
export function registerRefundFailedRechargeGauge(registry: client.Registry, read: () => Promise<number>): void {
  const count = onceAtATime(read);
  new client.Gauge({ name: 'ledgerline_wallets_recharges_refund_failed', help: 'Card recharges whose card was charged and neither credited nor refunded (REFUND_FAILED): money for staff to return', registers: [registry], async collect() {
    this.set(await count());
  } });
}

/** Where a charge transaction lost its chargeId to a twin and was run again: the charge consumer's lanes, GraphQL applyCharge, a one-off. */
export type ChargeKeyRetryPath = 'charges' | 'applyCharge' | 'oneOffCharge';

/**
 * Charge transactions run again because a twin committed the same `CHARGE:<chargeId>` key first (retryingChargeKeyTaken),
 * by path. Each is a copy of a charge the wallet lock did not serialize with its twin (the wallet being opened, another
 * account named, closeCharge on an account without a wallet): rare; a steady rate means a sender racing its own copies.
 */
export function chargeKeyRetriesCounter(registry: client.Registry): client.Counter<'path'> {
  return new client.Counter({ name: 'ledgerline_wallets_charge_key_retries_total', help: 'Charge transactions run again because a twin committed the same chargeId first, by path (charges, applyCharge, oneOffCharge)', labelNames: ['path'], registers: [registry] });
}

/** Voucher redemptions refused VOUCHER_ATTEMPTS_EXCEEDED, by the limit that refused them (account, caller, prefix, global). */
export function voucherAttemptsRefusedCounter(registry: client.Registry): client.Counter<'limit'> {
  return new client.Counter({ name: 'ledgerline_wallets_voucher_attempts_refused_total', help: 'Voucher redemptions refused because too many wrong codes were tried, by limit (account, caller, prefix, global)', labelNames: ['limit'], registers: [registry] });
}
