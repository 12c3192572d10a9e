/** The usage service's Prometheus metrics, on the running service's registry (served at /metrics). */
import client from 'prom-client';
import { onceAtATime } from '@ledgerline/platform';

export interface UsageMetrics {
  /** Records REJECTED, labelled by their reason code (QUANTITY_INVALID, LINE_UNKNOWN, …): stored so, or refused unstored (EVENT_ID_CONFLICT). */
  rejected: client.Counter<'reason'>;
  rated: client.Counter;
  /** One batch through the pipeline (validate, rate, persist), whatever path it came by. */
  batchSeconds: client.Histogram;
  /** Records whose charge a ChargeResult settled, by outcome (APPLIED, PARTIAL, DENIED). */
  chargesSettled: client.Counter<'outcome'>;
  /** ChargeResults (or whole messages) the consumer could not apply, by reason: not_json, invalid, unstorable, refused. */
  chargeResultsDropped: client.Counter<'reason'>;
  /** Records' ChargeRequests the sweeper published again because no ChargeResult answered them in time. */
  chargesResent: client.Counter;
  /** Re-rate adjustments' ChargeRequests the sweeper published again (same chargeId) because no ChargeResult settled them in time. */
  adjustmentsResent: client.Counter;
  /** Rows of emitted_event the sweeper deleted after USAGE_EMITTED_EVENT_RETENTION_DAYS. */
  emittedEventsPruned: client.Counter;
  /**
   * Online charging session requests (NATS and GraphQL), by operation and Nchf result code; `replayed="true"`: a
   * retransmission answered from the session's stored reply (so new requests are `replayed="false"`).
   */
  sessionRequests: client.Counter<'operation' | 'result_code' | 'replayed'>;
  /**
   * Records of units a PREPAID online session reported past its grant that the balance could not pay for in full
   * (the rest recorded unpaid: usage_record.unpaid_amount, the usageSessionOverageUnpaid event), by usage type and
   * currency. A count, not an amount: money stays exact on the records and in the events.
   */
  sessionOverageUnpaid: client.Counter<'usage_type' | 'currency'>;
  /** Subscribers' events acknowledged without effect (not a CloudEvent, or ids the read model cannot store), by subject and reason. */
  subscriberEventsDropped: client.Counter<'subject' | 'reason'>;
  /** Bill events acknowledged or parked without effect (refused by the parser, or unstorable). */
  billEventsDropped: client.Counter<'reason'>;
}

export function createUsageMetrics(registry: client.Registry = new client.Registry()): UsageMetrics {
  return {
    rejected: new client.Counter({ name: 'ledgerline_usage_rejected_total', help: 'Usage records rejected, by reason code (stored as REJECTED; EVENT_ID_CONFLICT: refused, not stored)', labelNames: ['reason'], registers: [registry] }),
    rated: new client.Counter({ name: 'ledgerline_usage_rated_total', help: 'Usage records rated', registers: [registry] }),
    batchSeconds: new client.Histogram({ name: 'ledgerline_usage_batch_seconds', help: 'Time for one batch of usage records through the pipeline (validate, rate, persist)', buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry] }),
    chargesSettled: new client.Counter({ name: 'ledgerline_usage_charges_settled_total', help: 'Usage records whose charge a ChargeResult settled, by outcome', labelNames: ['outcome'], registers: [registry] }),
    chargeResultsDropped: new client.Counter({ name: 'ledgerline_usage_charge_results_dropped_total', help: 'ChargeResults the consumer could not apply, by reason (not_json, invalid, unstorable, refused: wallets REJECTED the charge); their records stay PENDING for the sweeper', labelNames: ['reason'], registers: [registry] }),
    chargesResent: new client.Counter({ name: 'ledgerline_usage_charges_resent_total', help: "Usage records' ChargeRequests published again by the sweeper (no ChargeResult in time)", registers: [registry] }),
    adjustmentsResent: new client.Counter({ name: 'ledgerline_usage_rerate_adjustments_resent_total', help: "Re-rate adjustments' ChargeRequests published again by the sweeper, same chargeId (no ChargeResult in time; their month cannot be re-rated until settled)", registers: [registry] }),
    emittedEventsPruned: new client.Counter({ name: 'ledgerline_usage_emitted_events_pruned_total', help: 'Rows of emitted_event (events emitted once per line and period) deleted after USAGE_EMITTED_EVENT_RETENTION_DAYS', registers: [registry] }),
    sessionRequests: new client.Counter({ name: 'ledgerline_usage_charging_session_requests_total', help: 'Online charging session requests, by operation and result code; replayed="true": a retransmission answered from the stored reply', labelNames: ['operation', 'result_code', 'replayed'], registers: [registry] }),
    sessionOverageUnpaid: new client.Counter({ name: 'ledgerline_usage_session_overage_unpaid_total', help: "Units a prepaid online session reported past its grant that the balance could not pay for in full (each a record with unpaid_amount and a billing.usage.session.overageunpaid event), by usage type and currency", labelNames: ['usage_type', 'currency'], registers: [registry] }),
    subscriberEventsDropped: new client.Counter({ name: 'ledgerline_usage_subscriber_events_dropped_total', help: "Subscribers' events acknowledged without effect (not a CloudEvent, an invalid time, ids or numbers the read model cannot store), by subject and reason", labelNames: ['subject', 'reason'], registers: [registry] }),
    billEventsDropped: new client.Counter({ name: 'ledgerline_usage_bill_events_dropped_total', help: "Invoicing's bill events acknowledged or parked without marking records BILLED (not_a_cloud_event; invalid: refused by the parser; unstorable: refused by the database again and again, parked), by reason", labelNames: ['reason'], registers: [registry] }),
  };
}

/**
 * Read at each scrape: records whose ChargeRequest no ChargeResult has answered yet, and how long
 * the oldest has waited. A backlog that grows, or an age past a few minutes, means wallets is not
 * charging (down, or failing on these requests); the sweeper keeps re-sending them meanwhile.
 */
export function registerPendingChargeGauges(registry: client.Registry, query: (text: string) => Promise<{ rows: { n: string | number; oldest: Date | null }[] }>, now: () => Date): void {
  // pending_charge holds only the unanswered charges (see sweep-charges.ts): cheap whatever the number of records.
  const pending = onceAtATime(async () => (await query(`select count(*) as n, min(rated_at) as oldest from pending_charge`)).rows[0]);
  new client.Gauge({ name: 'ledgerline_usage_charges_pending', help: 'Rated records whose charge no ChargeResult has answered yet', registers: [registry], async collect() {
    this.set(Number((await pending())?.n ?? 0));
  } });
  new client.Gauge({ name: 'ledgerline_usage_oldest_pending_charge_seconds', help: 'How long the oldest unanswered charge has waited since it was rated (0 when none waits)', registers: [registry], async collect() {
    const oldest = (await pending())?.oldest;
    this.set(oldest ? Math.max(0, (now().getTime() - new Date(oldest).getTime()) / 1000) : 0);
  } });
}
