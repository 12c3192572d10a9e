// How much of a usage record has been given back (review 19), in one place: invoicing holds both ways
// a record's charge comes back to the customer — an accepted dispute's credit note on the line that
// billed it, and a rerate's ADJUSTMENT charge (ChargeResult.usageRecordId) billed on a later invoice.
// Before, neither knew of the other: a record disputed in full and then re-rated was credited twice
// (the adjustment line, then the accepted dispute's note), and the same in the other order.
//
// - A record's charge as billed now: its own charge plus the rerate adjustments of it already billed
//   (as billed, `amount + given_back_before`); disputes of it are capped by that, tax included, less
//   what credit notes of its accepted disputes gave back (`recordRoom`: opening and accepting one).
// - Billing an adjustment (`givenBackBefore`): a credit is not billed as far as the record's accepted
//   disputes' credit notes gave it back already and earlier adjustments did not use that up; a dearer
//   correction first takes back what earlier ones left unbilled so (the record is then billed as the
//   corrected price less the disputes' credit, never less than either allows).
// - A billed adjustment that gives money back closes or reduces the record's open disputes by as much,
//   tax included (`takeDisputesCoveredByAdjustments`), as a credit note does for its line's disputes.
//
// Everything runs under the account's credit lock (billAccounts takes it before reading; a dispute's
// decision and opening hold it or the invoice row), so a bill and a decision never both credit.
import { Decimal, dec, minorUnits, roundDecimal } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { lineCreditable } from '../domain/charge-refundable';
import { adjustedInvoiceOf } from './adjusted-invoice';
import { close } from './disputes';
import { releaseFromOpenDispute } from './invoice-lifecycle';
import { rows, sql } from './sql';

/** The usage line (or late-usage ADJUSTMENT line) of `invoice` that billed charge `c`, as bill-accounts groups them; undefined when none. */
export async function lineThatBilled(em: Em, invoice: any, c: any): Promise<any | undefined> {
  const k = sql(em);
  const lines = await k('invoice_line')
    .where({ invoice_id: invoice.id, usage_type: c.usage_type, unit: c.unit })
    .whereIn('kind', ['USAGE', 'ADJUSTMENT'])
    .modify((q) => (c.zone == null ? q.whereNull('zone') : q.where({ zone: c.zone })));
  // The invoice it adjusts as bill-accounts reads it (adjusted-invoice.ts): a hint naming a voided invoice counts as none.
  const [row] = await rows<{ adj: string | null }>(em, `select ${adjustedInvoiceOf('?::timestamptz')} as adj from unbilled_charge c where c.charge_id = ?`, [new Date(invoice.period_start), c.charge_id]);
  const adjusts: string | null = row?.adj ?? null;
  return lines.find((l: any) => (adjusts ? l.kind === 'ADJUSTMENT' && l.source_ref === adjusts : l.kind === 'USAGE')) ?? (lines.length === 1 ? lines[0] : undefined);
}

/** What one unit of charge costs on `line` tax included (an inclusive rate's amount is gross already). */
export function grossPerCharged(line: any): Decimal {
  if (line.tax_inclusive) return dec('1');
  const net = dec(String(line.net_amount));
  return net.isZero() ? dec('1') : dec(String(line.gross_amount)).dividedBy(net);
}

/** A charge amount tax included on the record's line, rounded down to the currency's minor unit, at least 0. */
export const grossOf = (charged: Decimal, ratio: Decimal, currency: string): Decimal => {
  const g = charged.times(ratio);
  return dec(roundDecimal(g.gt(0) ? g : dec('0'), minorUnits(currency), 'DOWN'));
};

/** A record's charge and the line that billed it (null: invoicing has not billed it, or cannot find its line). */
export async function recordAsBilled(em: Em, usageRecordId: string, billingAccountId: string): Promise<{ charge: any; invoice: any; line: any; ratio: Decimal } | null> {
  const k = sql(em);
  const charge = await k('unbilled_charge').where({ charge_id: usageRecordId, billing_account_id: billingAccountId }).whereNotNull('invoice_id').first();
  if (!charge) return null;
  const invoice = await k('invoice').where({ id: charge.invoice_id }).first();
  if (!invoice) return null;
  const line = await lineThatBilled(em, invoice, charge);
  return line ? { charge, invoice, line, ratio: grossPerCharged(line) } : null;
}

/** The rerate adjustments of a record already billed: their sum as billed, and what of them the disputes' credit absorbed. */
export async function adjustmentsBilled(em: Em, usageRecordId: string): Promise<{ billed: Decimal; absorbed: Decimal }> {
  const [r] = await rows<{ billed: string | null; absorbed: string | null }>(
    em,
    'select sum(amount + given_back_before) as billed, sum(given_back_before) as absorbed from unbilled_charge where usage_record_id = ? and invoice_id is not null',
    [usageRecordId],
  );
  return { billed: dec(String(r?.billed ?? '0')), absorbed: dec(String(r?.absorbed ?? '0')) };
}

/** What credit notes of the record's accepted disputes gave back, tax included (a dispute a rerate closed gave back nothing itself). */
export async function creditedByNotes(em: Em, usageRecordId: string, invoiceId: string): Promise<Decimal> {
  const [r] = await rows<{ credited: string | null }>(em, `select sum(credited_amount) as credited from dispute where invoice_id = ? and usage_record_id = ? and status = 'ACCEPTED' and credit_note_id is not null`, [invoiceId, usageRecordId]);
  return dec(String(r?.credited ?? '0'));
}

/**
 * What of the record can still be disputed or credited, tax included: its charge as billed now (its
 * own and its billed rerate corrections) less its open disputes (but `except`) and what its accepted
 * disputes' credit notes gave back. `charged`: the first part, for messages.
 */
export async function recordRoom(em: Em, invoice: any, usageRecordId: string, line: any, charge: any, except: string | null = null): Promise<{ charged: Decimal; room: Decimal }> {
  const ratio = grossPerCharged(line);
  const { billed } = await adjustmentsBilled(em, usageRecordId);
  const charged = grossOf(dec(String(charge.amount)).plus(billed), ratio, invoice.currency);
  const [open] = await rows<{ open: string | null }>(em, `select sum(amount) as open from dispute where invoice_id = ? and usage_record_id = ? and status in ('OPEN', 'IN_REVIEW') and id <> ?`, [invoice.id, usageRecordId, except ?? '']);
  const room = charged.minus(String(open?.open ?? '0')).minus(await creditedByNotes(em, usageRecordId, invoice.id));
  return { charged, room: room.gt(0) ? room : dec('0') };
}

/**
 * For the invoice's usage lines: what the billed rerate corrections of the records each billed gave
 * back since, tax included (their net change as billed, when it is a credit). A line's credit notes
 * and disputes are weighed against it (charge-given-back.ts): a note of the whole line does not give
 * back again what a record's correction did.
 */
export async function usageLinesGivenBack(em: Em, invoiceId: string): Promise<Map<string, Decimal>> {
  const out = new Map<string, Decimal>();
  const records = await rows<{ charge_id: string; usage_type: string; unit: string; zone: string | null; corrected: string }>(
    em,
    `select c.charge_id, c.usage_type, c.unit, c.zone, sum(a.amount + a.given_back_before) as corrected
       from unbilled_charge c join unbilled_charge a on a.usage_record_id = c.charge_id and a.invoice_id is not null
      where c.invoice_id = ? group by c.charge_id, c.usage_type, c.unit, c.zone`,
    [invoiceId],
  );
  if (records.length === 0) return out;
  const invoice = await sql(em)('invoice').where({ id: invoiceId }).first();
  for (const r of records) {
    const corrected = dec(String(r.corrected));
    if (!corrected.isNegative()) continue;
    const line = await lineThatBilled(em, invoice, r);
    if (!line) continue;
    out.set(line.id, (out.get(line.id) ?? dec('0')).plus(grossOf(corrected.negated(), grossPerCharged(line), invoice.currency)));
  }
  return out;
}

/**
 * For the unbilled rerate adjustments among `chargeIds` (billed now, in this order per record): the
 * part of each not to bill (`given_back_before`, see the top). A credit is also billed only as far as
 * the line that billed its record has room left (its credit notes, whoever issued them, and the
 * corrections billed before took the rest). Read-only (a preview uses it too).
 */
export async function givenBackBefore(em: Em, chargeIds: string[]): Promise<Map<string, Decimal>> {
  const out = new Map<string, Decimal>();
  if (chargeIds.length === 0) return out;
  const adjustments = await rows<{ charge_id: string; billing_account_id: string; usage_record_id: string; amount: string }>(
    em,
    'select charge_id, billing_account_id, usage_record_id, amount from unbilled_charge where charge_id = any(?::text[]) and usage_record_id is not null and invoice_id is null order by received_at, charge_id',
    [chargeIds],
  );
  const byRecord = new Map<string, typeof adjustments>();
  for (const a of adjustments) byRecord.set(a.usage_record_id, [...(byRecord.get(a.usage_record_id) ?? []), a]);
  // What each line has left, tax included, taken down by the credits billed here one after the other.
  const lineLeft = new Map<string, Decimal>();
  const leftOf = async (record: NonNullable<Awaited<ReturnType<typeof recordAsBilled>>>): Promise<Decimal> => {
    if (!lineLeft.has(record.line.id)) {
      const corrected = (await usageLinesGivenBack(em, record.invoice.id)).get(record.line.id) ?? dec('0');
      lineLeft.set(record.line.id, lineCreditable(String(record.line.gross_amount), String(record.line.credited_amount), corrected));
    }
    return lineLeft.get(record.line.id)!;
  };
  for (const [recordId, list] of byRecord) {
    const record = await recordAsBilled(em, recordId, list[0]!.billing_account_id);
    const credited = record ? await creditedByNotes(em, recordId, record.invoice.id) : dec('0');
    // The disputes' credit in the record's charge (net of tax, as adjustments are).
    const creditNet = record && credited.gt(0) ? credited.dividedBy(record.ratio) : dec('0');
    let { absorbed } = await adjustmentsBilled(em, recordId);
    for (const a of list) {
      const amount = dec(String(a.amount));
      let part = dec('0');
      if (amount.lt(0)) {
        // A credit: as far as the disputes' credit was not used by earlier corrections.
        const unused = creditNet.minus(absorbed);
        if (unused.gt(0)) part = dec(roundDecimal(amount.negated().lt(unused) ? amount.negated() : unused, 8, 'DOWN'));
        if (record) {
          // And no more than its line has left (what the disputes' notes took is in both: the larger part).
          const room = await leftOf(record);
          const roomNet = dec(roundDecimal(room.dividedBy(record.ratio), 8, 'DOWN'));
          const over = amount.negated().minus(roomNet);
          if (over.gt(part)) part = over;
          lineLeft.set(record.line.id, Decimal.max(0, room.minus(grossOf(amount.negated().minus(part), record.ratio, record.invoice.currency))));
        }
      } else if (absorbed.gt(0)) {
        // A dearer correction: takes back first what earlier credits left to the disputes.
        part = (amount.lt(absorbed) ? amount : absorbed).negated();
      }
      absorbed = absorbed.plus(part);
      if (!part.isZero()) out.set(a.charge_id, part);
    }
  }
  return out;
}

/**
 * After billing (the charges have their invoice_id): the billed rerate adjustments among `chargeIds`
 * that give money back close or reduce their record's open disputes by as much, tax included, oldest
 * first — a dispute covered in full is ACCEPTED with that amount credited and no credit note of its
 * own (decidedBy `rerate:<chargeId>`, dispute.resolved with the state the invoice is released to, as a
 * withdrawal's: close() reads it), one covered in part is reduced; either way
 * the hold goes down. `dispute_taken` keeps what each took, so billing it again after a void takes no
 * more. Returns the ids of the disputes it closed (their workflows are to be told).
 */
export async function takeDisputesCoveredByAdjustments(em: Em, chargeIds: string[], now: Date): Promise<string[]> {
  if (chargeIds.length === 0) return [];
  const k = sql(em);
  const billed = await rows<{ charge_id: string; billing_account_id: string; usage_record_id: string; amount: string; given_back_before: string; dispute_taken: string }>(
    em,
    `select charge_id, billing_account_id, usage_record_id, amount, given_back_before, dispute_taken from unbilled_charge
      where charge_id = any(?::text[]) and usage_record_id is not null and invoice_id is not null and amount + given_back_before < 0 order by received_at, charge_id`,
    [chargeIds],
  );
  const closed: string[] = [];
  for (const a of billed) {
    const record = await recordAsBilled(em, a.usage_record_id, a.billing_account_id);
    if (!record) continue;
    const credit = grossOf(dec(String(a.amount)).plus(String(a.given_back_before)).negated(), record.ratio, record.invoice.currency);
    let rest = credit.minus(String(a.dispute_taken));
    if (!rest.gt(0)) continue;
    const open: any[] = await k('dispute')
      .where({ invoice_id: record.invoice.id, usage_record_id: a.usage_record_id })
      .whereIn('status', ['OPEN', 'IN_REVIEW'])
      .orderBy([{ column: 'created_at' }, { column: 'id' }])
      .forUpdate();
    const scale = minorUnits(record.invoice.currency);
    let taken = dec('0');
    for (const d of open) {
      if (!rest.gt(0)) break;
      const was = dec(String(d.amount));
      const t = was.lt(rest) ? was : rest;
      rest = rest.minus(t);
      taken = taken.plus(t);
      if (t.eq(was)) {
        const credited = was.toFixed(scale);
        const decidedBy = `rerate:${a.charge_id}`.slice(0, 200);
        const decisionNote = 'Corrected by re-rating the usage record: the correction is credited on your next invoice.';
        await k('dispute').where({ id: d.id }).update({ status: 'ACCEPTED', credited_amount: credited, credit_note_id: null, decided_by: decidedBy, decision_note: decisionNote, decided_at: now, updated_at: now });
        await close(em, d, 'ACCEPTED', now, { creditedAmount: credited, creditNoteId: null, decidedBy, decisionNote });
        closed.push(d.id);
      } else {
        await k('dispute').where({ id: d.id }).update({ amount: was.minus(t).toFixed(scale), updated_at: now });
        // Credited on the next invoice: due again on this one, a release of the dispute (autopay charges it).
        await releaseFromOpenDispute(em, record.invoice.id, d.id, t.toFixed(scale), now, `a re-rate of usage record ${a.usage_record_id} credited part of dispute ${d.id}`);
      }
    }
    if (taken.gt(0)) await k('unbilled_charge').where({ charge_id: a.charge_id }).update({ dispute_taken: dec(String(a.dispute_taken)).plus(taken).toFixed(scale) });
  }
  return closed;
}
