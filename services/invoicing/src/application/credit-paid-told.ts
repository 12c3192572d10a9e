// Dunned invoices account credit paid while a bill run billed (a negative invoice's credit reaching an
// older, dunned invoice of its account): once the bill commits, each one's dunning workflow looks again
// (`paymentRecorded`, as after a payment), whichever path billed: a bill-run batch (the service's own
// runner or the workflow's processBillRunBatch mutation) or billSetAsideAccounts. Queued by the use case
// (`afterCommit`), not by each driver: before, the two batch drivers each read and told it themselves and
// billSetAsideAccounts did not. Best effort: a dunning not told looks again at its next step.
import type { Em, ServiceRuntime } from '@ledgerline/platform';
import type { DunningStarter } from '../ports/dunning';
import { afterCommit } from './after-commit';
import { dunnedInvoicesPaidFromCredit } from './credit';

/** `at`: when the accounts were billed (the credit their bills brought paid invoices from then on). */
export type TellCreditPaid = (billingAccountIds: string[], at: Date) => Promise<void>;

/** Queues the signals for the billed accounts until `em`'s transaction commits (nothing without a teller or accounts). */
export function tellCreditPaidAfterCommit(em: Em, deps: { tellCreditPaid?: TellCreditPaid | null }, billingAccountIds: string[], at: Date): void {
  const tell = deps.tellCreditPaid;
  if (!tell || billingAccountIds.length === 0) return;
  const ids = [...new Set(billingAccountIds)];
  afterCommit(em, () => tell(ids, at));
}

export function creditPaidTeller(runtime: Pick<ServiceRuntime, 'orm' | 'logger'>, deps: { dunning: DunningStarter | null }): TellCreditPaid {
  return async (billingAccountIds, at) => {
    const dunning = deps.dunning;
    if (!dunning) return;
    for (const { id: invoiceId, dunningRun } of await dunnedInvoicesPaidFromCredit(runtime.orm.em.fork() as Em, billingAccountIds, at)) {
      await dunning.poke(invoiceId, 'paymentRecorded', dunningRun).catch((err: unknown) => runtime.logger.warn({ err, invoiceId }, 'could not signal the dunning workflow; it looks again on its own'));
    }
  };
}
