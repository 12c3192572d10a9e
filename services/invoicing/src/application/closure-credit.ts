// An account closed at an instant its issued invoices had billed past: a bill run billed the period
// before the closed event reached invoicing, or the bill-cycle workflow closed it as not final before
// its `accountClosed` signal came. The final close then bills nothing more, so without this the
// customer paid the fees of days after they left. What those invoices' fees exceed what the final
// stub would have billed is given back by a CREDIT note on each (the invoice the customer has shows
// it as credited; what was paid of it becomes account credit).
//
// "What the stub would have billed" is composed as `closeBillingPeriod` composes a final stub
// (`prorateOverCycle` over the cycle period, the closing day counting to nothing), so the customer
// ends up paying exactly what they would have had the closure been known in time, and a plan's own
// terms hold: a fee with proration NONE costs the whole period for any day of it, so nothing comes
// back. Discounts on the fees (target RECURRING, coupons and plan rules) are netted the same way.
//
// A draft billed past the closure (a bill run with autoIssue false, or regenerated while the line's end was
// not known) asks nothing until it is issued: it is credited as it is issued (`creditClosureOfIssued`), so the
// customer never pays its days after the closure, whichever comes first. The note's event says why
// (cause ACCOUNT_CLOSED, `accountClosedAt`), and the workflows are told once it commits, whichever path issued it.
// Such a note is issued before the bill is announced: the bill's event names it and says what is due after it, and
// the note's event says it came with its invoice (`issuedWithInvoice`), so the customer gets the bill's message only.
import { Decimal, dec, minorUnits, type BillClosureCredit } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { periodFrom, prorateOverCycle } from '../domain/bill-cycle';
import { composeInvoice, type ComposedLine } from '../domain/compose';
import { loadCompositionInputs, type AccountRow, type BillingDeps } from './bill-accounts';
import { lockAccountCredit } from './credit';
import { tellCreditNotesIssuedAfterCommit } from './credit-notes-told';
import { issueCreditNote } from './payments';
import { rows, sql } from './sql';

/** Key of an invoice's closure credit note: reserved (no caller may take it), one per invoice. */
export const CLOSURE_NOTE_KEY_PREFIX = 'closure:';
const closureNoteKey = (invoiceId: string): string => `${CLOSURE_NOTE_KEY_PREFIX}${invoiceId}`;

interface BilledLine {
  id: string;
  kind: string;
  source_ref: string | null;
  tax_category: string;
  gross_amount: string;
  credited_amount: string;
}

/**
 * Credits the fees the account's issued invoices billed for days after `closedAt` (its closed_at).
 * Once per invoice: an invoice with its closure note already is left alone (a redelivered closed
 * event, the workflow's final close retried or coming after the consumer's), whatever was composed
 * since. Drafts are left to their issue (`creditClosureOfIssued`). Answers the notes issued now; dunning and
 * disputes are told of them after the commit. `issuing`: the invoice being issued in this transaction (its note
 * is told by its bill).
 */
export async function creditFeesAfterClosure(em: Em, account: AccountRow, closedAt: Date, deps: BillingDeps, now: Date, issuing: string | null = null): Promise<string[]> {
  const billedPast = await rows<{ id: string; period_start: Date; period_end: Date }>(
    em,
    `select i.id, i.period_start, i.period_end
       from invoice i
      where i.billing_account_id = ? and i.kind = 'PERIOD' and i.voided_at is null and i.number is not null and i.period_end > ?
        and exists (select 1 from invoice_line l where l.invoice_id = i.id and l.kind = 'RECURRING')
        and not exists (select 1 from credit_note n where n.billing_account_id = i.billing_account_id and n.idempotency_key = ? || i.id)
      order by i.period_start`,
    [account.id, closedAt, CLOSURE_NOTE_KEY_PREFIX],
  );
  if (billedPast.length === 0) return [];
  // Other notes on these invoices wait (every note takes this lock first), so what is left of each is read as it stays.
  await lockAccountCredit(em, account.id);
  const notes: string[] = [];
  for (const invoice of billedPast) {
    const start = new Date(invoice.period_start);
    const owedLines = await stubLines(em, account, start, new Date(invoice.period_end), closedAt, deps, now);
    const billed = await rows<BilledLine>(em, 'select id, kind, source_ref, tax_category, gross_amount, credited_amount from invoice_line where invoice_id = ? order by position', [invoice.id]);
    const [left] = await rows<{ total: string; credited_before: string }>(em, 'select i.total, (select coalesce(sum(n.total), 0) from credit_note n where n.invoice_id = i.id) as credited_before from invoice i where i.id = ?', [invoice.id]);
    const room = dec(String(left!.total)).minus(String(left!.credited_before));
    const lines = creditLines(billed, owedLines.lines, owedLines.feeDiscounts, room);
    if (lines.length === 0) continue;
    notes.push(
      await issueCreditNote(
        em,
        { invoiceId: invoice.id, kind: 'CREDIT', reason: `Account closed at ${closedAt.toISOString()}: fees for the days after the closure`, lines, idempotencyKey: closureNoteKey(invoice.id), now },
        null, // a CREDIT note pays nothing out: no payment provider
        { by: null },
        { cause: 'ACCOUNT_CLOSED', closure: { accountClosedAt: closedAt, withInvoice: invoice.id === issuing } },
      ),
    );
  }
  tellCreditNotesIssuedAfterCommit(em, deps, notes, now);
  return notes;
}

/**
 * As a draft is issued (numbered, not yet announced: issueInvoices' `creditOnIssue`): one billed past its
 * account's closure is credited the fees of the days after it at once, as a final close credits an issued
 * invoice. Answers the note its bill tells; none for an invoice of an open account, or one ending at or
 * before the closure.
 */
export async function creditClosureOfIssued(em: Em, invoiceId: string, deps: BillingDeps, now: Date): Promise<BillClosureCredit | null> {
  const [account] = await rows<AccountRow>(
    em,
    `select a.* from invoice i join billing_account a on a.id = i.billing_account_id
      where i.id = ? and i.kind = 'PERIOD' and i.number is not null and a.closed_at is not null and i.period_end > a.closed_at`,
    [invoiceId],
  );
  if (!account) return null;
  const closedAt = new Date(account.closed_at!);
  const notes = await creditFeesAfterClosure(em, account, closedAt, deps, now, invoiceId);
  const note = await sql(em)('credit_note').whereIn('id', notes).andWhere({ invoice_id: invoiceId }).first('id', 'number', 'total', 'currency');
  if (!note) return null;
  return { creditNoteId: note.id, number: note.number, amount: dec(String(note.total)).toFixed(minorUnits(note.currency)), accountClosedAt: closedAt.toISOString() };
}

/**
 * The lines the final stub [start, closedAt) would have billed for the fees (usage and one-offs
 * were billed as they are: none here), and the codes of the discounts on fees. A period starting at
 * or after the closure owes nothing. Composed as if the account were open: only its fees and their
 * discounts are wanted, not the after-closure rule that drops them.
 */
async function stubLines(em: Em, account: AccountRow, start: Date, end: Date, closedAt: Date, deps: BillingDeps, now: Date): Promise<{ lines: ComposedLine[]; feeDiscounts: Set<string> }> {
  const open = { ...account, closed_at: null };
  const stubEnd = closedAt > start ? closedAt : end;
  const input = (await loadCompositionInputs(em, [{ account: open, period: { start, end: stubEnd } }], deps, now)).get(account.id)!;
  const feeDiscounts = new Set(input.discounts.filter((d) => (d.target ?? 'RECURRING') === 'RECURRING').map((d) => d.code));
  if (closedAt <= start) return { lines: [], feeDiscounts };
  const fees = { ...input, usage: [], oneOffs: [] };
  return { lines: composeInvoice(prorateOverCycle(fees, periodFrom(account, start).reference)).lines, feeDiscounts };
}

/**
 * Per fee (subscription and tax category) what was billed beyond the stub, less per tax category
 * what the fee discounts gave beyond the stub's, as credit note lines on the fee lines (latest days
 * first: the last lines of a fee), each within what is left of its line, all within what is left
 * of the invoice (`room`).
 */
function creditLines(billed: BilledLine[], owed: ComposedLine[], feeDiscounts: Set<string>, room: Decimal): { invoiceLineId: string; amount: string }[] {
  const sum = (xs: { gross: string }[]) => xs.reduce((n, x) => n.plus(x.gross), dec('0'));
  const billedOf = (kind: string, ref: string | null, cat: string) => billed.filter((l) => l.kind === kind && l.source_ref === ref && l.tax_category === cat).map((l) => ({ gross: String(l.gross_amount) }));
  const owedOf = (kind: string, ref: string | null, cat: string) => owed.filter((l) => l.kind === kind && l.sourceRef === ref && l.taxCategory === cat).map((l) => ({ gross: l.grossAmount }));
  const credit = new Map<string, Decimal>();
  const leftOn = (l: BilledLine) => dec(String(l.gross_amount)).minus(String(l.credited_amount)).minus(credit.get(l.id) ?? 0);
  const fees = billed.filter((l) => l.kind === 'RECURRING');
  const groups = new Map(fees.map((l) => [`${l.source_ref}|${l.tax_category}`, l]));
  for (const g of groups.values()) {
    let left = sum(billedOf('RECURRING', g.source_ref, g.tax_category)).minus(sum(owedOf('RECURRING', g.source_ref, g.tax_category)));
    for (const l of [...fees].reverse()) {
      if (!left.gt(0)) break;
      if (l.source_ref !== g.source_ref || l.tax_category !== g.tax_category) continue;
      const take = Decimal.min(left, leftOn(l));
      if (take.gt(0)) credit.set(l.id, (credit.get(l.id) ?? dec('0')).plus(take));
      left = left.minus(take);
    }
  }
  // A discount on the fees took less off the stub than off the billed fees: that much less comes back.
  const discounts = billed.filter((l) => l.kind === 'DISCOUNT' && l.source_ref != null && feeDiscounts.has(l.source_ref));
  for (const cat of new Set(discounts.map((l) => l.tax_category))) {
    const codes = new Set(discounts.filter((l) => l.tax_category === cat).map((l) => l.source_ref));
    let less = dec('0');
    for (const code of codes) less = less.plus(sum(owedOf('DISCOUNT', code, cat))).minus(sum(billedOf('DISCOUNT', code, cat)));
    for (const l of [...fees].reverse()) {
      if (!less.gt(0)) break;
      if (l.tax_category !== cat) continue;
      const take = Decimal.min(less, credit.get(l.id) ?? dec('0'));
      credit.set(l.id, (credit.get(l.id) ?? dec('0')).minus(take));
      less = less.minus(take);
    }
  }
  // Never more than the invoice can still be credited (earlier notes, credits on it).
  let left = room;
  const out: { invoiceLineId: string; amount: string }[] = [];
  for (const l of fees) {
    const take = Decimal.min(left, credit.get(l.id) ?? dec('0'));
    if (!take.gt(0)) continue;
    out.push({ invoiceLineId: l.id, amount: take.toFixed() });
    left = left.minus(take);
  }
  return out;
}
