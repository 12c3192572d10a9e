import { WORK_SUBJECTS } from '@ledgerline/contracts';
import type { Clock, Logger, Messaging } from '@ledgerline/platform';
import { applyChargeResults, parseChargeResults } from '../application/apply-charge-result';
import type { Sql } from '../persistence/sql';
import { consumeBatches } from './jetstream';

/** wallets → usage: the final outcome of each charge (WORK_SUBJECTS.chargeApplied; one or a batch per message). */
export function startChargeResultConsumer(messaging: Messaging, sql: Sql, o: { durable: string; deliverNew: boolean; logger: Logger; clock: Clock; onApplied: (lineId: string, billingAccountId: string) => void; onSettled?: (outcome: string, records: number) => void }) {
  return consumeBatches(messaging, { durable: o.durable, filter: WORK_SUBJECTS.chargeApplied, max: 2000, deliverNew: o.deliverNew, logger: o.logger }, async (batch) => {
    const results = [];
    for (const m of batch) {
      const parsed = parseChargeResults(m.string());
      if (!parsed || parsed.invalid > 0) o.logger.warn({ seq: m.seq, invalid: parsed?.invalid ?? 'not JSON' }, 'ignoring what in a charge result message is not a ChargeResult');
      if (parsed) results.push(...parsed.results);
    }
    const { moved, settled } = await applyChargeResults(sql, results);
    for (const line of moved) o.onApplied(line.lineId, line.billingAccountId);
    for (const [outcome, records] of settled) o.onSettled?.(outcome, records);
    for (const m of batch) m.ack();
  });
}
