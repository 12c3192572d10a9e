// A credit note issued apart from a dispute (staff's issueCreditNote, or another dispute's accepted
// credit) may take the creditable room the invoice's open disputes were opened against: a line
// credited in full leaves a dispute of that line nothing to credit, so it could no longer be accepted
// (DISPUTE_CREDIT_EXCEEDS_CREDITABLE), its hold stayed until an agent rejected it, and the customer
// was told "rejected" although they had been credited.
//
// Rule (the least surprising we found): a note takes from the disputes only the room it leaves them
// short of — on each line, what its open line disputes exceed of what the line can still be credited;
// then, on the invoice, what all its open disputes exceed of what the invoice can still be credited
// (invoice-level and usage disputes first, then line disputes). A note that leaves them room touches
// nothing (staff may be crediting something else on the line). Within each, the oldest dispute
// first. A dispute the note covers in full is closed ACCEPTED with the note's id and credited amount
// (dispute.resolved, as a decision says it); one covered in part is reduced to what is left (still
// acceptable). Either way its part leaves the invoice's hold (released when nothing is left).
//
// Runs inside issueCreditNote's transaction, after the note is written, under the locks it holds
// (credit:<account>, the invoice row), then the dispute rows: exactly once, since a replayed key
// answers before it. The dispute whose own credit note it is (key dispute:<id>) is left to its decision.
// `invoiceState` is the state the invoice is released to before the note (releasedState; dispute.resolved:
// SETTLED tells the customer they had paid, also during the hold, so the credit is account credit and
// nothing is due again).
import { dec, minorUnits, type Decimal } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { lineCreditable } from '../domain/charge-refundable';
import { givenBackApart, outsideOfInvoice } from './charge-given-back';
import { close } from './disputes';
import { releaseDisputeAmount } from './invoice-lifecycle';
import { rows, sql } from './sql';

const DISPUTE_NOTE_KEY = 'dispute:';

/** Returns the ids of the disputes it closed (their workflows are to be told). */
export async function takeDisputesCoveredByCreditNote(
  em: Em,
  c: { invoiceId: string; creditNoteId: string; number: string; idempotencyKey: string; now: Date; invoiceState: string },
): Promise<string[]> {
  const k = sql(em);
  const own = c.idempotencyKey.startsWith(DISPUTE_NOTE_KEY) ? c.idempotencyKey.slice(DISPUTE_NOTE_KEY.length) : null;
  const open: any[] = await k('dispute')
    .where({ invoice_id: c.invoiceId })
    .whereIn('status', ['OPEN', 'IN_REVIEW'])
    .modify((q) => (own ? q.whereNot({ id: own }) : q))
    .orderBy([{ column: 'created_at' }, { column: 'id' }])
    .forUpdate();
  if (open.length === 0) return [];
  const invoice = await k('invoice').where({ id: c.invoiceId }).first();
  const scale = minorUnits(invoice.currency);
  const left = new Map<string, Decimal>(open.map((d) => [d.id, dec(String(d.amount))]));
  const take = (ds: any[], over: Decimal): void => {
    let rest = over;
    for (const d of ds) {
      if (!rest.gt(0)) return;
      const has = left.get(d.id)!;
      const t = has.lt(rest) ? has : rest;
      left.set(d.id, has.minus(t));
      rest = rest.minus(t);
    }
  };

  // Each line: its open disputes against what it can still be credited (a one-off charge's line less
  // what refunds naming the charge gave back: charge-given-back.ts).
  const apart = await givenBackApart(em, c.invoiceId);
  const lineIds = [...new Set(open.filter((d) => d.invoice_line_id).map((d) => d.invoice_line_id as string))];
  if (lineIds.length > 0) {
    for (const l of await k('invoice_line').whereIn('id', lineIds)) {
      const ds = open.filter((d) => d.invoice_line_id === l.id);
      const room = lineCreditable(String(l.gross_amount), String(l.credited_amount), apart.get(l.id)?.all ?? '0');
      const over = ds.reduce((a, d) => a.plus(left.get(d.id)!), dec('0')).minus(room);
      if (over.gt(0)) take(ds, over);
    }
  }
  // The invoice: all its open disputes against what its credit notes left of its total.
  const [{ noted }] = await rows<{ noted: string | null }>(em, 'select sum(total) as noted from credit_note where invoice_id = ?', [c.invoiceId]);
  const room = dec(String(invoice.total)).minus(String(noted ?? '0')).minus(outsideOfInvoice(apart));
  const over = open.reduce((a, d) => a.plus(left.get(d.id)!), dec('0')).minus(room.gt(0) ? room : dec('0'));
  if (over.gt(0)) take([...open.filter((d) => !d.invoice_line_id), ...open.filter((d) => d.invoice_line_id)], over);

  const closed: string[] = [];
  for (const d of open) {
    const was = dec(String(d.amount));
    const now = left.get(d.id)!;
    if (now.eq(was)) continue;
    if (now.isZero()) {
      const credited = was.toFixed(scale);
      const decisionNote = `Credited by credit note ${c.number}.`;
      const decidedBy = `creditNote:${c.number}`;
      await k('dispute').where({ id: d.id }).update({ status: 'ACCEPTED', credited_amount: credited, credit_note_id: c.creditNoteId, decided_by: decidedBy, decision_note: decisionNote, decided_at: c.now, updated_at: c.now });
      await close(em, d, 'ACCEPTED', c.now, { creditedAmount: credited, creditNoteId: c.creditNoteId, decidedBy, decisionNote, invoiceState: c.invoiceState });
      closed.push(d.id);
    } else {
      await k('dispute').where({ id: d.id }).update({ amount: now.toFixed(scale), updated_at: c.now });
      await releaseDisputeAmount(em, c.invoiceId, was.minus(now).toFixed(scale), c.now, `credit note ${c.number} credited part of dispute ${d.id}`);
    }
  }
  return closed;
}
