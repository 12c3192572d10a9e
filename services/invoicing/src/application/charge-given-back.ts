// The facts domain/charge-refundable.ts weighs, read for the doors that give a billed charge back: a
// credit note (prepareCreditNote, a dispute's credit lines, the disputes a note covers, pending note
// approvals), a dispute (openDispute) and a refund naming the charge (addOneOffCharge).
//
// Locks: a refund takes the account's credit lock (before the ids' locks) and then, when its charge is
// on an issued invoice, that invoice's row; a credit note holds the credit lock and the invoice row,
// openDispute the invoice row. So a refund and any other give-back of the same line are decided one
// after the other, the later one reading what the earlier one committed.
import { dec, type Decimal } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { chargeRefundable, type ChargeRefundable, type RefundOfCharge } from '../domain/charge-refundable';
import { isDraft, type InvoiceState } from '../domain/lifecycle';
import { rows, sql } from './sql';
import { usageLinesGivenBack } from './usage-record-given-back';

interface RefundRow extends RefundOfCharge {
  charge_id: string;
  invoice_id: string | null;
}

/**
 * The refunds naming the charges that give or will give money back: not cancelled, or billed (one
 * billed and then waived before 2027-01 was given all the same), with their line's gross once billed.
 */
async function refundsOf(em: Em, chargeIds: string[]): Promise<Map<string, RefundRow[]>> {
  const out = new Map<string, RefundRow[]>();
  if (chargeIds.length === 0) return out;
  const found = await rows<{ charge_id: string; amount: string; invoice_id: string | null; gross_amount: string | null }>(
    em,
    `select o.refunds_charge_id as charge_id, o.amount, o.invoice_id, l.gross_amount
       from one_off_charge o
       left join invoice_line l on l.invoice_id = o.invoice_id and l.source_ref = o.id and l.kind = 'ONE_OFF'
      where o.refunds_charge_id = any(?::text[]) and (o.waived_at is null or o.invoice_id is not null)
      order by o.id`,
    [chargeIds],
  );
  for (const r of found) {
    const row: RefundRow = { charge_id: r.charge_id, invoice_id: r.invoice_id, amount: String(r.amount), billedGross: r.gross_amount == null ? null : String(r.gross_amount) };
    out.set(r.charge_id, [...(out.get(r.charge_id) ?? []), row]);
  }
  return out;
}

export interface GivenBackApart {
  /** What refunds of the line's charge gave or will give back, tax included. */
  all: Decimal;
  /** The part of it not on the line's own invoice (the invoice's total does not show it). */
  outside: Decimal;
}

/**
 * For the invoice's lines that bill a one-off charge (ONE_OFF, amount above zero): what refunds naming
 * that charge gave or will give back apart from the line's credit notes; for its usage lines, what the
 * billed rerate corrections of their records gave back. Lines without any are absent.
 */
export async function givenBackApart(em: Em, invoiceId: string): Promise<Map<string, GivenBackApart>> {
  const out = new Map<string, GivenBackApart>();
  const lines = await rows<{ line_id: string; gross_amount: string; charge_id: string; amount: string; currency: string }>(
    em,
    `select l.id as line_id, l.gross_amount, o.id as charge_id, o.amount, o.currency
       from invoice_line l join one_off_charge o on o.id = l.source_ref and o.invoice_id = l.invoice_id
      where l.invoice_id = ? and l.kind = 'ONE_OFF' and o.amount > 0`,
    [invoiceId],
  );
  const refunds = await refundsOf(em, lines.map((l) => l.charge_id));
  for (const l of lines) {
    const of = refunds.get(l.charge_id) ?? [];
    if (of.length === 0) continue;
    const weigh = (rs: RefundRow[]) => chargeRefundable({ currency: l.currency, amount: String(l.amount), refunds: rs, line: { gross: String(l.gross_amount), credited: '0', disputed: '0' } }).refundedGross!;
    out.set(l.line_id, { all: weigh(of), outside: weigh(of.filter((r) => r.invoice_id !== invoiceId)) });
  }
  // A usage line: the rerate corrections of its records, billed on later invoices.
  for (const [lineId, corrected] of await usageLinesGivenBack(em, invoiceId)) out.set(lineId, { all: corrected, outside: corrected });
  return out;
}

/** What givenBackApart's lines give back apart from the invoice, together (for what the invoice as a whole can still be credited or disputed). */
export function outsideOfInvoice(apart: Map<string, GivenBackApart>): Decimal {
  return [...apart.values()].reduce((a, g) => a.plus(g.outside), dec('0'));
}

/**
 * What is left of one-off charge `charge` (a row, amount above zero) for a new refund: with its line
 * when it is on an issued invoice (that invoice's row locked: see the top), else its amount less its
 * refunds. `line` says what the line billed and what took it, for the refusal's message.
 */
export async function chargeLeftToRefund(em: Em, charge: { id: string; amount: string; currency: string; invoice_id: string | null }): Promise<{ left: ChargeRefundable; line: { gross: string; credited: string; disputed: string } | null }> {
  const refunds = (await refundsOf(em, [charge.id])).get(charge.id) ?? [];
  let line: { gross: string; credited: string; disputed: string } | null = null;
  if (charge.invoice_id) {
    const invoice = await sql(em)('invoice').where({ id: charge.invoice_id }).forUpdate().first();
    const billed = invoice && invoice.state !== 'VOIDED' && !isDraft({ state: invoice.state as InvoiceState, heldFrom: invoice.held_from });
    const l = billed ? await sql(em)('invoice_line').where({ invoice_id: invoice.id, source_ref: charge.id, kind: 'ONE_OFF' }).first() : undefined;
    if (l) {
      const [open] = await rows<{ total: string | null }>(em, `select sum(amount) as total from dispute where invoice_line_id = ? and status in ('OPEN', 'IN_REVIEW')`, [l.id]);
      line = { gross: String(l.gross_amount), credited: String(l.credited_amount), disputed: String(open?.total ?? '0') };
    }
  }
  return { left: chargeRefundable({ currency: charge.currency, amount: String(charge.amount), refunds, line }), line };
}
