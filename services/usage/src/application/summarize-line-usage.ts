import type { Em } from '@ledgerline/platform';
import { monthPeriod } from '../domain/period';

export interface UsageTotal {
  usageType: string;
  unit: string;
  quantity: string;
  events: number;
}

/** Sums accepted usage of one line in a period, per usage type, in the database. */
export async function summarizeLineUsage(em: Em, lineId: string, period: string | null | undefined, now: Date) {
  const p = monthPeriod(period, now);
  const knex = em.getKnex();
  const rows: { usage_type: string; unit: string; quantity: string | number; events: string | number }[] = await em.getConnection().execute(
    knex('usage_record')
      .select('usage_type', 'unit')
      .sum({ quantity: 'quantity' })
      .count({ events: '*' })
      .where('line_id', lineId)
      .whereNot('status', 'REJECTED')
      .where('occurred_at', '>=', p.start)
      .where('occurred_at', '<', p.end)
      .groupBy('usage_type', 'unit')
      .orderBy('usage_type'),
  );
  const totals: UsageTotal[] = rows.map((r) => ({ usageType: r.usage_type, unit: r.unit, quantity: String(r.quantity), events: Number(r.events) }));
  return { lineId, period: p.period, totals };
}
