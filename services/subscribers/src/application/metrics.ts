/** Subscribers' own Prometheus metrics, on the running service's registry (served at /metrics). */
import client from 'prom-client';
import { onceAtATime, type Clock, type Em } from '@ledgerline/platform';
import { GOES_LIVE } from './number-quarantine';
import { refusedBars, refusedResumes } from './retry-collections-orders';

export interface UnenforcedHolds {
  /** Holds in force on an ACTIVE line whose bar the network refused (its latest attempt FAILED). */
  bar: number;
  /** Lines barred for collections with no hold left whose resumption the network refused. */
  resume: number;
}

/**
 * Collections holds the network has not carried out: counted from the holds' latest attempts
 * (`bar_order_id`, `resume_order_id`), two bounded statements. Same SQL on PostgreSQL and SQLite.
 */
export async function countUnenforcedHolds(em: Em): Promise<UnenforcedHolds> {
  const knex = em.getKnex();
  const [bar] = await refusedBars(knex).countDistinct({ n: 'h.line_id' });
  const [resume] = await refusedResumes(knex).countDistinct({ n: 'h.line_id' });
  return { bar: Number(bar?.n ?? 0), resume: Number(resume?.n ?? 0) };
}

/**
 * Read at each scrape: lines a collections hold should have barred, or its lift resumed, that the
 * network refused (the hold's latest attempt FAILED). The caller's retry (the dunning activity, the
 * orphaned-holds sweep) tries again with the request's key; a line that stays here is not being
 * retried (a bar of a line gone live on a held account has no caller: see STATUS.md). Alert on any
 * value that lasts.
 */
export function registerCollectionsGauges(registry: client.Registry, em: () => Em): void {
  const read = onceAtATime(() => countUnenforcedHolds(em()));
  new client.Gauge({
    name: 'ledgerline_subscribers_collections_unenforced_lines',
    help: 'Lines whose collections bar (action=bar: held, still ACTIVE) or resumption (action=resume: no hold left, still BARRED) the network refused, not yet done by a retry',
    labelNames: ['action'],
    registers: [registry],
    async collect() {
      const c = await read();
      this.set({ action: 'bar' }, c.bar);
      this.set({ action: 'resume' }, c.resume);
    },
  });
}

export interface OrdersAwaitingNetworkUndo {
  /** FAILED activations whose undo at the network is not confirmed: each holds its line's number back. */
  count: number;
  /** Seconds since the oldest of them failed (its `updated_at`, the failure's instant), 0 when there is none. */
  oldestSeconds: number;
}

/**
 * Activations (the orders that take a line live) that failed after they may have reached the network and whose undo
 * nobody has confirmed (`network_undone_at` empty): the saga's compensation still refused, a workflow ended while in
 * progress. Their numbers are held back from other customers (number quarantine) until the saga, the workflow or
 * staff (`confirmOrderNetworkUndone`) confirms the undo. One bounded statement; same SQL on PostgreSQL and SQLite.
 */
export async function countOrdersAwaitingNetworkUndo(em: Em, now: Date): Promise<OrdersAwaitingNetworkUndo> {
  const [row] = await em
    .getKnex()('product_order')
    .where({ status: 'FAILED' })
    .whereNull('network_undone_at')
    .whereIn('kind', [...GOES_LIVE])
    .select(em.getKnex().raw('count(*) as n'), em.getKnex().raw('min(updated_at) as oldest'));
  const n = Number((row as { n?: unknown } | undefined)?.n ?? 0);
  const oldest = (row as { oldest?: Date | string | number | null } | undefined)?.oldest;
  if (n === 0 || oldest === null || oldest === undefined) return { count: n, oldestSeconds: 0 };
  const at = oldest instanceof Date ? oldest.getTime() : typeof oldest === 'number' ? oldest : Date.parse(oldest);
  return { count: n, oldestSeconds: Math.max(0, Math.floor((now.getTime() - at) / 1000)) };
}

/**
 * Read at each scrape (time from the service's clock): the FAILED activations waiting for their undo at the network
 * to be confirmed, and how long the oldest has waited. Alert `LedgerlineNumberAwaitingNetworkUndo` when one has waited
 * more than a day: staff check the provisioning system for that MSISDN and confirm with `confirmOrderNetworkUndone`.
 */
export function registerNetworkUndoGauges(registry: client.Registry, em: () => Em, clock: Clock): void {
  // Both gauges of one scrape share one read.
  const current = onceAtATime(() => countOrdersAwaitingNetworkUndo(em(), clock.now()));
  new client.Gauge({
    name: 'ledgerline_subscribers_orders_awaiting_network_undo',
    help: "FAILED activations whose undo at the network nobody has confirmed (saga, workflow or staff's confirmOrderNetworkUndone): each holds its line's number back from other customers",
    registers: [registry],
    async collect() {
      this.set((await current()).count);
    },
  });
  new client.Gauge({
    name: 'ledgerline_subscribers_orders_awaiting_network_undo_oldest_seconds',
    help: 'Seconds since the oldest of those activations failed (0 when there is none)',
    registers: [registry],
    async collect() {
      this.set((await current()).oldestSeconds);
    },
  });
}
