// Disputes a bill closed outside their workflow (review 19: a billed re-rate correction of their usage
// record; a regenerated draft that no longer bills them): once that bill commits, each dispute's
// newest workflow run is signalled to look again (`disputeDecided`) and each invoice's dunning
// (`disputeChanged`), whichever path billed it — closeBillingPeriod, a bill run batch (the mutation
// or the service's own runner), regenerateInvoice. Queued by the use case (`afterCommit`), not by
// each caller. Best effort: a workflow not told looks again at its next deadline.
import type { Em, ServiceRuntime } from '@ledgerline/platform';
import type { DisputeStarter } from '../ports/disputes';
import type { DunningStarter } from '../ports/dunning';
import { afterCommit } from './after-commit';
import { disputeWorkflowRuns } from './disputes';
import { rows } from './sql';

export type TellDisputesClosed = (disputeIds: string[]) => Promise<void>;

/** Queues the signals for `disputeIds` until `em`'s transaction commits (nothing without a teller or ids). */
export function tellDisputesClosedAfterCommit(em: Em, deps: { tellDisputesClosed?: TellDisputesClosed | null }, disputeIds: string[]): void {
  const tell = deps.tellDisputesClosed;
  if (!tell || disputeIds.length === 0) return;
  const ids = [...disputeIds];
  afterCommit(em, () => tell(ids));
}

export function disputesClosedTeller(runtime: Pick<ServiceRuntime, 'orm' | 'logger'>, deps: { disputes: DisputeStarter | null; dunning: DunningStarter | null }): TellDisputesClosed {
  return async (disputeIds) => {
    const em = runtime.orm.em.fork() as Em;
    if (deps.dunning) {
      const invoices = await rows<{ id: string; dunning_runs: number }>(
        em,
        'select distinct i.id, i.dunning_runs from dispute d join invoice i on i.id = d.invoice_id where d.id = any(?::text[]) and i.dunning_started_at is not null',
        [disputeIds],
      );
      for (const i of invoices) {
        await deps.dunning.poke(i.id, 'disputeChanged', Number(i.dunning_runs)).catch((err: unknown) => runtime.logger.warn({ err, invoiceId: i.id }, 'could not signal the dunning workflow; it looks again on its own'));
      }
    }
    if (deps.disputes) {
      const runs = await disputeWorkflowRuns(em, disputeIds);
      for (const disputeId of disputeIds) {
        await deps.disputes.poke(disputeId, runs.get(disputeId) ?? 1).catch((err: unknown) => runtime.logger.warn({ err, disputeId }, 'could not signal the dispute workflow; it looks again at its next deadline'));
      }
    }
  };
}
