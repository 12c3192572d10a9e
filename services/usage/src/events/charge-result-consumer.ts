import { WORK_SUBJECTS, type ChargeResult } from '@ledgerline/contracts';
import type { Clock, Logger, Messaging } from '@ledgerline/platform';
import { applyChargeResults, parseChargeResults, type SpendAlertCheck } from '../application/apply-charge-result';
import type { Sql } from '../persistence/sql';
import { consumeBatches } from './jetstream';

/**
 * Why a charge result message (or an entry in it) was not applied: `not_json`, `invalid` (not a
 * storable ChargeResult), `unstorable` (the database refused it), `refused` (wallets REJECTED the
 * request: its chargeId was used for another charge).
 */
export type DroppedResultReason = 'not_json' | 'invalid' | 'unstorable' | 'refused';

/**
 * A database error about the data itself (SQLSTATE class 22: a value too long, not a number, out
 * of range), not about the database being unavailable: retrying the same results cannot succeed.
 */
const isDataError = (error: unknown): boolean => typeof (error as { code?: unknown })?.code === 'string' && (error as { code: string }).code.startsWith('22');

/** wallets → usage: the final outcome of each charge (WORK_SUBJECTS.chargeApplied; one or a batch per message). */
export function startChargeResultConsumer(
  messaging: Messaging,
  sql: Sql,
  o: {
    durable: string;
    deliverNew: boolean;
    logger: Logger;
    clock: Clock;
    onApplied: (lineId: string, billingAccountId: string) => void;
    onSettled?: (outcome: string, records: number) => void;
    onDropped?: (reason: DroppedResultReason, results: number) => void;
    /** The accounts' spend alerts (UsagePipeline.spendAlertSetsOf): a result raising the spend tells those it reaches. */
    spendAlerts?: SpendAlertCheck['setsOf'];
    /** Called after a commit that wrote SPEND_ALERT notices to the outbox. */
    onNotices?: () => void;
  },
) {
  const apply = async (results: ChargeResult[]) => {
    const alerts = o.spendAlerts ? { setsOf: o.spendAlerts, now: o.clock.now() } : undefined;
    const { moved, settled, notices } = await applyChargeResults(sql, results, alerts);
    for (const line of moved) o.onApplied(line.lineId, line.billingAccountId);
    for (const [outcome, records] of settled) o.onSettled?.(outcome, records);
    if (notices > 0) o.onNotices?.();
  };
  return consumeBatches(messaging, { durable: o.durable, filter: WORK_SUBJECTS.chargeApplied, max: 2000, deliverNew: o.deliverNew, logger: o.logger }, async (batch) => {
    const perMessage: ChargeResult[][] = [];
    for (const m of batch) {
      const parsed = parseChargeResults(m.string());
      if (!parsed || parsed.invalid > 0) {
        o.logger.warn({ seq: m.seq, invalid: parsed?.invalid ?? 'not JSON' }, 'ignoring what in a charge result message is not a ChargeResult');
        if (parsed) o.onDropped?.('invalid', parsed.invalid);
        else o.onDropped?.('not_json', 1);
      }
      if (parsed && parsed.refused.length > 0) {
        // Usage never sends one chargeId for two charges (it is the record's id, and a re-send is the
        // stored request): another producer took the id first. Nothing was charged; the record stays
        // PENDING (the sweeper asks again, with its back-off) for an operator to look into.
        o.logger.warn({ seq: m.seq, refused: parsed.refused.slice(0, 10).map((r) => ({ chargeId: r.chargeId, reason: r.reason })) }, 'wallets refused charges of usage records: their chargeId was used for another charge');
        o.onDropped?.('refused', parsed.refused.length);
      }
      perMessage.push(parsed?.results ?? []);
    }
    try {
      await apply(perMessage.flat());
    } catch (error) {
      if (!isDataError(error)) throw error;
      // One message's results the database refuses must not hold back the others (the batch would
      // be retried for ever and every charge stay PENDING): each message alone; one that still
      // fails is dropped and counted. Its records stay PENDING, and the charge sweeper asks wallets
      // again, which answers from its ledger: nothing charged is lost.
      for (const [i, results] of perMessage.entries()) {
        try {
          await apply(results);
        } catch (alone) {
          if (!isDataError(alone)) throw alone;
          o.logger.error({ err: alone, seq: batch[i]!.seq, results: results.length }, 'dropping a charge result message the database refuses; the sweeper will ask wallets again');
          o.onDropped?.('unstorable', results.length);
        }
      }
    }
    for (const m of batch) m.ack();
  });
}
