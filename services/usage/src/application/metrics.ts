/** The usage service's Prometheus metrics, on the running service's registry (served at /metrics). */
import client from 'prom-client';

export interface UsageMetrics {
  /** Records stored as REJECTED, labelled by their reason code (QUANTITY_INVALID, LINE_UNKNOWN, …). */
  rejected: client.Counter<'reason'>;
  rated: client.Counter;
}

export function createUsageMetrics(registry: client.Registry = new client.Registry()): UsageMetrics {
  return {
    rejected: new client.Counter({ name: 'ledgerline_usage_rejected_total', help: 'Usage records stored as REJECTED, by reason code', labelNames: ['reason'], registers: [registry] }),
    rated: new client.Counter({ name: 'ledgerline_usage_rated_total', help: 'Usage records rated', registers: [registry] }),
  };
}
