/** Subscribers' own Prometheus metrics, on the running service's registry (served at /metrics). */
import client from 'prom-client';
import { onceAtATime, type Em } from '@ledgerline/platform';
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
