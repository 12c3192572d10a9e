// The worker's Prometheus endpoint. Temporal's core SDK serves it (`/metrics` on the address given):
// its own worker metrics (task slots, poll and schedule-to-start latencies, workflow and activity
// failures, sticky cache) and the counters Ledgerline's workflows record through `metricMeter`
// (e.g. ledgerline_dunning_suspension_failed_rounds_total). Services serve /metrics on their GraphQL
// port; the worker has no HTTP server of its own, hence a port of its own.
import type { RuntimeOptions } from '@temporalio/worker';

/**
 * WORKER_METRICS_ADDRESS: `host:port` to serve Prometheus metrics on (e.g. `0.0.0.0:9464`), or
 * undefined when unset or `off` (no endpoint). Anything else is refused, naming the variable.
 */
export function readMetricsAddress(env: NodeJS.ProcessEnv): string | undefined {
  const raw = env.WORKER_METRICS_ADDRESS?.trim();
  if (!raw || raw === 'off') return undefined;
  const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(raw);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535) throw new Error(`WORKER_METRICS_ADDRESS=${raw}: give host:port (e.g. 0.0.0.0:9464), or "off"`);
  return raw;
}

/** Runtime telemetry for Runtime.install: Prometheus on `address`, names as prom-client writes them (`_total`, seconds). */
export function metricsTelemetry(address: string | undefined): Pick<RuntimeOptions, 'telemetryOptions'> {
  if (!address) return {};
  return { telemetryOptions: { metrics: { prometheus: { bindAddress: address, countersTotalSuffix: true, useSecondsForDurations: true } } } };
}
