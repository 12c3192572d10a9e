// The facts domain/charge-refundable.ts weighs, read for the doors that give a billed charge back: a
// credit note (prepareCreditNote, a dispute's credit lines, the disputes a note covers, pending note
// approvals), a dispute (openDispute) and a refund naming the charge (addOneOffCharge).
//
// Locks: a refund takes the account's credit lock (before the ids' locks) and then, when its charge is
// on an issued invoice, that invoice's row; a credit note holds the credit lock and the invoice row,
// openDispute the invoice row. So a refund and any other give-back of the same line are decided one
// after the other, the later one reading what the earlier one committed — and so are a refund and a
// dispute of the whole invoice (its room is the invoice's, read under the same row lock).
import { dec, type Decimal, type RoundingMode } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { chargeRefundable, invoiceUndisputed, type ChargeLine, type ChargeRefundable, type RefundOfCharge, type RefundTax } from '../domain/charge-refundable';
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
  const lines = await rows<{ line_id: string; gross_amount: string; tax_rate: string; tax_inclusive: boolean; rounding_mode: string; charge_id: string; amount: string; currency: string }>(
    em,
    `select l.id as line_id, l.gross_amount, l.tax_rate, l.tax_inclusive, a.rounding_mode, o.id as charge_id, o.amount, o.currency
       from invoice_line l join one_off_charge o on o.id = l.source_ref and o.invoice_id = l.invoice_id
       join invoice i on i.id = l.invoice_id join billing_account a on a.id = i.billing_account_id
      where l.invoice_id = ? and l.kind = 'ONE_OFF' and o.amount > 0`,
    [invoiceId],
  );
  const refunds = await refundsOf(em, lines.map((l) => l.charge_id));
  for (const l of lines) {
    const of = refunds.get(l.charge_id) ?? [];
    if (of.length === 0) continue;
    const weigh = (rs: RefundRow[]) => chargeRefundable({ currency: l.currency, amount: String(l.amount), refunds: rs, line: { gross: String(l.gross_amount), credited: '0', disputed: '0', tax: refundTax(l) } }).refundedGross!;
    out.set(l.line_id, { all: weigh(of), outside: weigh(of.filter((r) => r.invoice_id !== invoiceId)) });
  }
  // A usage line: the rerate corrections of its records, billed on later invoices.
  for (const [lineId, corrected] of await usageLinesGivenBack(em, invoiceId)) out.set(lineId, { all: corrected, outside: corrected });
  return out;
}

/** How a refund of the charge of invoice line `l` is billed: the line's tax rule, the account's rounding mode (the next bill's). */
function refundTax(l: { tax_rate: unknown; tax_inclusive: unknown; rounding_mode: unknown }): RefundTax {
  return { rate: dec(String(l.tax_rate)).toFixed(), inclusive: Boolean(l.tax_inclusive), roundingMode: String(l.rounding_mode) as RoundingMode };
}

/** What givenBackApart's lines give back apart from the invoice, together (for what the invoice as a whole can still be credited or disputed). */
export function outsideOfInvoice(apart: Map<string, GivenBackApart>): Decimal {
  return [...apart.values()].reduce((a, g) => a.plus(g.outside), dec('0'));
}

/** The charge's line as a refund weighs it, with what its invoice holds for the refusal's message. */
export type LineOfCharge = ChargeLine & { invoiceDisputed: string };

/**
 * What is left of one-off charge `charge` (a row, amount above zero) for a new refund: with its line
 * when it is on an issued invoice (that invoice's row locked: see the top), else its amount less its
 * refunds. On an issued invoice, also no more than the invoice has left if all its open disputes were
 * upheld in full (a dispute of the whole invoice holds its room too). `line` says what the line billed
 * and what took it, and what its invoice's open disputes hold, for the refusal's message.
 */
export async function chargeLeftToRefund(em: Em, charge: { id: string; amount: string; currency: string; invoice_id: string | null }): Promise<{ left: ChargeRefundable; line: LineOfCharge | null }> {
  const refunds = (await refundsOf(em, [charge.id])).get(charge.id) ?? [];
  let line: LineOfCharge | null = null;
  if (charge.invoice_id) {
    const invoice = await sql(em)('invoice').where({ id: charge.invoice_id }).forUpdate().first();
    const billed = invoice && invoice.state !== 'VOIDED' && !isDraft({ state: invoice.state as InvoiceState, heldFrom: invoice.held_from });
    const l = billed ? await sql(em)('invoice_line').where({ invoice_id: invoice.id, source_ref: charge.id, kind: 'ONE_OFF' }).first() : undefined;
    if (l) {
      const [open] = await rows<{ total: string | null }>(em, `select sum(amount) as total from dispute where invoice_line_id = ? and status in ('OPEN', 'IN_REVIEW')`, [l.id]);
      // The invoice as a whole, as openDispute weighs it: its total less its notes, what was given back apart from it and all its open disputes.
      const [{ noted }] = await rows<{ noted: string | null }>(em, 'select sum(total) as noted from credit_note where invoice_id = ?', [invoice.id]);
      const [{ disputed }] = await rows<{ disputed: string | null }>(em, `select sum(amount) as disputed from dispute where invoice_id = ? and status in ('OPEN', 'IN_REVIEW')`, [invoice.id]);
      const outside = outsideOfInvoice(await givenBackApart(em, invoice.id));
      const [account] = await rows<{ rounding_mode: string }>(em, 'select rounding_mode from billing_account where id = ?', [invoice.billing_account_id]);
      line = {
        gross: String(l.gross_amount),
        credited: String(l.credited_amount),
        disputed: String(open?.total ?? '0'),
        tax: refundTax({ ...l, rounding_mode: account?.rounding_mode ?? invoice.rounding_mode }),
        invoiceUndisputed: invoiceUndisputed(String(invoice.total), String(noted ?? '0'), outside, String(disputed ?? '0')),
        invoiceDisputed: String(disputed ?? '0'),
      };
    }
  }
  return { left: chargeRefundable({ currency: charge.currency, amount: String(charge.amount), refunds, line }), line };
}
