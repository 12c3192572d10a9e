// Credit notes a use case issues on its own (the closure credit: from closeBillingPeriod, the billingaccount.closed
// consumer, issuing a draft), not through a mutation that tells the workflows itself (afterCreditNote): once their
// transaction commits, the same workflows are told, whichever path issued them. The dunning of each noted invoice
// looks again (`paymentRecorded`: it owes less or nothing), the disputes a note covered (closed ACCEPTED with it)
// and their invoices' dunning (`disputeChanged`, through the disputes-closed teller), and the dunning of invoices
// the account credit a note brought paid. Best effort: a workflow not told looks again at its next step.
import type { Em, ServiceRuntime } from '@ledgerline/platform';
import type { DunningStarter } from '../ports/dunning';
import { afterCommit } from './after-commit';
import { dunnedInvoicesPaidFromCredit } from './credit';
import type { TellDisputesClosed } from './disputes-closed-by-bill';
import { rows } from './sql';

/** `at`: when the notes were issued (account credit they brought paid invoices from then on). */
export type TellCreditNotesIssued = (creditNoteIds: string[], at: Date) => Promise<void>;

/** Queues the signals for `creditNoteIds` until `em`'s transaction commits (nothing without a teller or ids). */
export function tellCreditNotesIssuedAfterCommit(em: Em, deps: { tellCreditNotesIssued?: TellCreditNotesIssued | null }, creditNoteIds: string[], at: Date): void {
  const tell = deps.tellCreditNotesIssued;
  if (!tell || creditNoteIds.length === 0) return;
  const ids = [...creditNoteIds];
  afterCommit(em, () => tell(ids, at));
}

export function creditNotesTeller(runtime: Pick<ServiceRuntime, 'orm' | 'logger'>, deps: { dunning: DunningStarter | null; tellDisputesClosed?: TellDisputesClosed | null }): TellCreditNotesIssued {
  return async (creditNoteIds, at) => {
    const em = runtime.orm.em.fork() as Em;
    const notes = await rows<{ invoice_id: string; billing_account_id: string }>(em, 'select distinct invoice_id, billing_account_id from credit_note where id = any(?::text[])', [creditNoteIds]);
    const noted = notes.map((n) => n.invoice_id);
    if (deps.dunning) {
      for (const i of await rows<{ id: string; dunning_runs: number }>(em, 'select id, dunning_runs from invoice where id = any(?::text[]) and dunning_started_at is not null order by id', [noted])) await poke(runtime, deps.dunning, i, 'paymentRecorded');
    }
    const covered = await rows<{ id: string }>(em, `select id from dispute where credit_note_id = any(?::text[]) and decided_by like 'creditNote:%' order by id`, [creditNoteIds]);
    if (covered.length > 0 && deps.tellDisputesClosed) await deps.tellDisputesClosed(covered.map((d) => d.id));
    if (deps.dunning) {
      const paidFromCredit = await dunnedInvoicesPaidFromCredit(em, [...new Set(notes.map((n) => n.billing_account_id))], at, noted);
      for (const i of paidFromCredit) await poke(runtime, deps.dunning, { id: i.id, dunning_runs: i.dunningRun }, 'paymentRecorded');
    }
  };
}

async function poke(runtime: Pick<ServiceRuntime, 'logger'>, dunning: DunningStarter, invoice: { id: string; dunning_runs: number }, what: 'paymentRecorded'): Promise<void> {
  await dunning.poke(invoice.id, what, Number(invoice.dunning_runs)).catch((err: unknown) => runtime.logger.warn({ err, invoiceId: invoice.id }, 'could not signal the dunning workflow; it looks again on its own'));
}
