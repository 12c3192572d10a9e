// Bank statement lines and the suspense list (unapplied cash). A line whose reference names exactly
// one invoice pays it as recordPayment pays a BANK_TRANSFER (that code path, keyed by the bank
// transaction); one that names none or several, or an invoice that cannot take it (voided, a draft,
// another currency), is kept as an unapplied payment, never refused: the money is at the bank. Staff
// apply it to invoices later, all of it or in parts (recordPayment again per part, overpayment kept as
// account credit), or record that it, or part of it, was paid back to the payer
// (refundUnappliedPayment, with the payout's reference). The line keeps what remains.
import { badInput, conflict, dec, decodeCursor, DomainError, isCurrencyCode, minorUnits, newId, notFound, pageSize, toConnection, type Decimal } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { recordPayment, type RecordPaymentCommand } from './payments';
import { referenceCandidates } from './invoice-reference';
import { enqueueEvents, requestHash, sql } from './sql';
import type { PaymentProvider } from '../adapters/payment-provider';

/**
 * UNAPPLIED: nothing applied yet (part may have been paid back); PARTIALLY_APPLIED: part applied, some
 * remains; APPLIED / REFUNDED: nothing remains, an apply / a refund took the last of it.
 */
export type UnappliedStatus = 'UNAPPLIED' | 'PARTIALLY_APPLIED' | 'APPLIED' | 'REFUNDED';

export interface UnappliedPaymentRow {
  id: string;
  bank_transaction_id: string;
  amount: string;
  currency: string;
  reference: string;
  payer_name: string | null;
  received_at: Date;
  status: UnappliedStatus;
  /** What is left to apply or pay back (migration 20270101000000_unapplied_payment_parts). */
  remaining_amount: string;
  reason_code: string;
  candidate_invoice_ids: string[] | string;
  received_by: string | null;
  request_hash: string;
  applied_invoice_id: string | null;
  applied_payment_id: string | null;
  applied_by: string | null;
  applied_at: Date | null;
  apply_idempotency_key: string | null;
  refunded_by: string | null;
  refunded_at: Date | null;
  payout_reference: string | null;
  refund_note: string | null;
  refund_idempotency_key: string | null;
  created_at: Date;
  updated_at: Date | null;
}

/** One apply of a line to an invoice: its own payment. `requested_amount` null: all that remained. */
export interface UnappliedApplicationRow {
  id: string;
  unapplied_payment_id: string;
  /** The invoice's account (its key's scope). */
  billing_account_id: string;
  invoice_id: string;
  payment_id: string;
  amount: string;
  requested_amount: string | null;
  idempotency_key: string;
  applied_by: string | null;
  applied_at: Date;
}

/** One payout of (part of) a line back to its payer. `requested_amount` null: all that remained. */
export interface UnappliedRefundRow {
  id: string;
  unapplied_payment_id: string;
  amount: string;
  requested_amount: string | null;
  payout_reference: string;
  note: string;
  idempotency_key: string;
  refunded_by: string | null;
  refunded_at: Date;
}

/** The payment keys of statement lines and of applied rows: callers of recordPayment may not take them (resolvers' callerKey). */
export const BANK_TRANSFER_KEY_PREFIX = 'bank-transfer:';
export const UNAPPLIED_KEY_PREFIX = 'unapplied:';

/** How many invoices an ambiguous reference keeps as candidates (those the reference names, by reference). */
const MAX_CANDIDATES = 20;
const MAX_BANK_TRANSACTION_ID = 180;

export interface ReceiveBankTransferCommand {
  bankTransactionId: string;
  amount: { amount: string; currency: string };
  reference: string;
  payerName?: string | null;
  receivedAt?: Date | string | null;
  by: string;
  now: Date;
}

/**
 * What became of the line: APPLIED (paid an invoice: the payment; `row` when staff applied it from the
 * suspense list: the payment of the apply that took the last of it), UNAPPLIED (waits on the suspense
 * list), PARTIALLY_APPLIED (applied in part by staff, the rest waits), REFUNDED (nothing remains, a
 * payout back to the payer took the last of it).
 */
export type ReceiveBankTransferResult = { outcome: 'APPLIED'; paymentId: string; row?: UnappliedPaymentRow } | { outcome: 'UNAPPLIED' | 'PARTIALLY_APPLIED' | 'REFUNDED'; row: UnappliedPaymentRow };

/** A line kept before, received again: what has become of it since (an import tool reads the outcome). */
function keptOutcome(row: UnappliedPaymentRow): ReceiveBankTransferResult {
  if (row.status === 'APPLIED' && row.applied_payment_id) return { outcome: 'APPLIED', paymentId: row.applied_payment_id, row };
  if (row.status === 'REFUNDED') return { outcome: 'REFUNDED', row };
  if (row.status === 'PARTIALLY_APPLIED') return { outcome: 'PARTIALLY_APPLIED', row };
  return { outcome: 'UNAPPLIED', row };
}

/** A statement line's fields, checked before anything is looked up or stored (BAD_USER_INPUT naming the field). */
function checkLine(c: ReceiveBankTransferCommand): { amount: string; receivedAt: Date | null } {
  const id = c.bankTransactionId;
  if (typeof id !== 'string' || id.trim() === '') throw badInput('input.bankTransactionId', 'Give the bank transaction id of the statement line', 'BANK_TRANSACTION_ID_MISSING');
  // Its payment's key is `bank-transfer:<id>` (payment.idempotency_key holds 200).
  if (id.length > MAX_BANK_TRANSACTION_ID || id.includes('\u0000')) throw badInput('input.bankTransactionId', `A bank transaction id is at most ${MAX_BANK_TRANSACTION_ID} characters, without NUL`, 'BANK_TRANSACTION_ID_INVALID');
  if (typeof c.amount?.currency !== 'string' || !isCurrencyCode(c.amount.currency)) throw badInput('input.amount.currency', `Unknown currency "${c.amount?.currency}"`, 'PAYMENT_CURRENCY_INVALID');
  const scale = minorUnits(c.amount.currency);
  let amount;
  try {
    amount = dec(c.amount.amount);
  } catch {
    throw badInput('input.amount.amount', 'The amount is a decimal number', 'PAYMENT_AMOUNT_INVALID');
  }
  if (!amount.isFinite() || amount.lte(0)) throw badInput('input.amount.amount', 'A bank transfer received is above zero', 'PAYMENT_AMOUNT_NOT_POSITIVE');
  if (amount.decimalPlaces() > scale) throw badInput('input.amount.amount', `${c.amount.currency} has ${scale} decimal places`, 'PAYMENT_AMOUNT_PRECISION');
  if (amount.gte('1e14')) throw badInput('input.amount.amount', 'The amount is too large', 'PAYMENT_AMOUNT_INVALID');
  if (typeof c.reference !== 'string' || c.reference.length > 1000 || c.reference.includes('\u0000')) throw badInput('input.reference', 'The reference is the statement line’s text, at most 1000 characters', 'PAYMENT_REFERENCE_INVALID');
  if (c.payerName != null && (c.payerName.length > 200 || c.payerName.includes('\u0000'))) throw badInput('input.payerName', 'The payer name is at most 200 characters', 'PAYER_NAME_INVALID');
  let receivedAt: Date | null = null;
  if (c.receivedAt != null) {
    receivedAt = new Date(c.receivedAt);
    if (Number.isNaN(receivedAt.getTime()) || receivedAt.getUTCFullYear() < 1970 || receivedAt.getUTCFullYear() > 9999) throw badInput('input.receivedAt', 'receivedAt is a date-time', 'RECEIVED_AT_INVALID');
  }
  return { amount: amount.toFixed(scale), receivedAt };
}

const reusedTransaction = (id: string) =>
  new DomainError('IDEMPOTENCY_KEY_REUSED', `Bank transaction "${id}" was received before with another amount, reference, payer or date`, { field: 'input.bankTransactionId' });

/**
 * The payment of a line paid before its request held the line's hash (statementLine): its reference and amount
 * are all it can be told apart by (the payer and date were not kept), so a line that repeats them is that one.
 */
async function paidBeforeLinesWereKept(em: Em, payment: RecordPaymentCommand): Promise<string | null> {
  const { now: _now, statementLine: _line, ...request } = payment;
  const row = await sql(em)('payment').where({ idempotency_key: payment.idempotencyKey, request_hash: requestHash(request) }).first('id');
  return (row?.id as string | undefined) ?? null;
}

/**
 * A bank statement line. Idempotent by bankTransactionId: the same line again answers what became of
 * it (the payment it made; a kept row: UNAPPLIED while it waits, APPLIED with the payment of staff's
 * apply, REFUNDED once paid back), nothing new stored or emitted; other content is CONFLICT
 * IDEMPOTENCY_KEY_REUSED.
 * A matched line is paid through recordPayment with the key `bank-transfer:<bankTransactionId>` in a
 * savepoint; its coded refusal (no invoice, several, one that cannot take it) is undone and the line
 * kept as an unapplied payment with that reason code (and the candidate invoices).
 */
export async function receiveBankTransfer(em: Em, c: ReceiveBankTransferCommand, provider: PaymentProvider): Promise<ReceiveBankTransferResult> {
  const { amount, receivedAt } = checkLine(c);
  const k = sql(em);
  // Statement lines with the same transaction id queue here (an import run twice at once).
  await k.raw('select pg_advisory_xact_lock(hashtext(?), hashtext(?))', ['bank-transaction', c.bankTransactionId]);
  const hash = requestHash({ bankTransactionId: c.bankTransactionId, amount, currency: c.amount.currency, reference: c.reference, payerName: c.payerName ?? null, receivedAt: receivedAt?.toISOString() ?? null });
  const kept = (await k('unapplied_payment').where({ bank_transaction_id: c.bankTransactionId }).first()) as UnappliedPaymentRow | undefined;
  if (kept) {
    if (kept.request_hash !== hash) throw reusedTransaction(c.bankTransactionId);
    return keptOutcome(kept);
  }

  const payment: RecordPaymentCommand = {
    reference: c.reference,
    channel: 'BANK_TRANSFER',
    amount: { amount, currency: c.amount.currency },
    idempotencyKey: `${BANK_TRANSFER_KEY_PREFIX}${c.bankTransactionId}`,
    allowOverpayment: true, // the money is at the bank: what is above the amount due is the account's credit
    statementLine: hash,
    now: c.now,
  };
  let refusal: DomainError;
  await k.raw('savepoint bank_transfer_payment');
  try {
    const paymentId = await recordPayment(em, payment, provider);
    await k.raw('release savepoint bank_transfer_payment');
    return { outcome: 'APPLIED', paymentId };
  } catch (error) {
    if (!(error instanceof DomainError) || error.category === 'INTERNAL') throw error;
    await k.raw('rollback to savepoint bank_transfer_payment');
    if (error.code === 'IDEMPOTENCY_KEY_REUSED') {
      const paidBefore = await paidBeforeLinesWereKept(em, payment);
      if (paidBefore) return { outcome: 'APPLIED', paymentId: paidBefore };
      // The line was paid before, from other content (recordPayment's replay): not this line.
      throw reusedTransaction(c.bankTransactionId);
    }
    refusal = error;
  }

  const candidates = c.reference.trim() === '' ? [] : await referenceCandidates(em, c.reference, MAX_CANDIDATES);
  const id = newId('unappliedPayment');
  const [row] = (await k('unapplied_payment')
    .insert({
      id,
      bank_transaction_id: c.bankTransactionId,
      amount,
      currency: c.amount.currency,
      reference: c.reference,
      payer_name: c.payerName ?? null,
      received_at: receivedAt ?? c.now,
      status: 'UNAPPLIED',
      remaining_amount: amount,
      // No reference at all names no invoice either (recordPayment's PAYMENT_INVOICE_MISSING).
      reason_code: refusal.code === 'PAYMENT_INVOICE_MISSING' ? 'PAYMENT_REFERENCE_UNMATCHED' : refusal.code,
      candidate_invoice_ids: JSON.stringify(refusal.code === 'PAYMENT_REFERENCE_UNMATCHED' || refusal.code === 'PAYMENT_INVOICE_MISSING' ? [] : candidates),
      received_by: c.by,
      request_hash: hash,
      created_at: c.now,
    })
    .returning('*')) as UnappliedPaymentRow[];
  await enqueueEvents(em, 'paymentUnapplied', c.now, [
    {
      subject: id,
      key: [id],
      data: { unappliedPaymentId: id, bankTransactionId: c.bankTransactionId, amount, currency: c.amount.currency, reference: c.reference, payerName: c.payerName ?? null, receivedAt: new Date(row!.received_at).toISOString(), reasonCode: row!.reason_code, candidateInvoiceIds: candidatesOf(row!) },
    },
  ]);
  return { outcome: 'UNAPPLIED', row: row! };
}

export interface ApplyUnappliedPaymentCommand {
  unappliedPaymentId: string;
  invoiceId: string;
  /** How much of the line to apply (in its currency); left out: all that remains. */
  amount?: { amount: string; currency: string } | null;
  idempotencyKey: string;
  by: string;
  now: Date;
}

export interface ApplyUnappliedPaymentResult {
  row: UnappliedPaymentRow;
  /** This apply's payment. */
  paymentId: string;
}

/**
 * An apply's or a refund's amount as given (null: all that remains), checked as a money amount
 * (BAD_USER_INPUT naming the field) before anything is looked up.
 */
function partAmount(amount: { amount: string; currency: string } | null | undefined): { value: Decimal; currency: string } | null {
  if (amount == null) return null;
  if (typeof amount.currency !== 'string' || !isCurrencyCode(amount.currency)) throw badInput('input.amount.currency', `Unknown currency "${amount.currency}"`, 'PAYMENT_CURRENCY_INVALID');
  let value: Decimal;
  try {
    value = dec(amount.amount);
  } catch {
    throw badInput('input.amount.amount', 'The amount is a decimal number', 'PAYMENT_AMOUNT_INVALID');
  }
  if (!value.isFinite() || value.lte(0)) throw badInput('input.amount.amount', 'The amount is above zero (leave it out for all that remains)', 'PAYMENT_AMOUNT_NOT_POSITIVE');
  const scale = minorUnits(amount.currency);
  if (value.decimalPlaces() > scale) throw badInput('input.amount.amount', `${amount.currency} has ${scale} decimal places`, 'PAYMENT_AMOUNT_PRECISION');
  if (value.gte('1e14')) throw badInput('input.amount.amount', 'The amount is too large', 'PAYMENT_AMOUNT_INVALID');
  return { value, currency: amount.currency };
}

/** The part asked for is in the line's currency. */
function checkPartCurrency(asked: { currency: string } | null, row: UnappliedPaymentRow): void {
  if (asked && asked.currency !== row.currency) throw badInput('input.amount.currency', `This payment is in ${row.currency}`, 'PAYMENT_CURRENCY_MISMATCH');
}

/** The same amount asked for: both left out, or both the same value. */
const sameRequested = (asked: { value: Decimal } | null, stored: unknown): boolean => (asked == null ? stored == null : stored != null && asked.value.eq(String(stored)));

/** More than the line has left: refused, nothing changed (BAD_USER_INPUT on input.amount, with what remains). */
function exceedsRemaining(row: UnappliedPaymentRow, remaining: Decimal): DomainError {
  const left = remaining.toFixed(minorUnits(row.currency));
  return new DomainError('UNAPPLIED_PAYMENT_EXCEEDS_REMAINING', `Only ${left} ${row.currency} of this payment remains`, { field: 'input.amount', remaining: left }, 'BAD_USER_INPUT');
}

/** Nothing remains of the line: the apply or the refund that took the last of it says which (`appliedField`: the field an APPLIED line's refusal names). */
function nothingRemains(row: UnappliedPaymentRow, appliedField: string): DomainError {
  if (row.status === 'REFUNDED') return conflict('UNAPPLIED_PAYMENT_ALREADY_REFUNDED', `This payment was paid back already (payout ${row.payout_reference})`, { field: 'input.unappliedPaymentId', payoutReference: row.payout_reference });
  return conflict('UNAPPLIED_PAYMENT_ALREADY_APPLIED', `This payment was applied already (last to invoice ${row.applied_invoice_id}): nothing of it remains`, { field: appliedField, appliedInvoiceId: row.applied_invoice_id });
}

/**
 * Applies (part of) a kept line to the invoice staff name: recordPayment (BANK_TRANSFER, overpayment
 * kept as account credit, key `unapplied:<id>` for a line's first apply, `unapplied:<id>#<n>` for the
 * n-th), an unapplied_payment_application row, and the line's remaining amount and status
 * (PARTIALLY_APPLIED while some remains, APPLIED once nothing does; applied_* name the latest apply).
 * `amount` left out: all that remains. Idempotent by the apply's key, within the billing account of
 * the invoice it pays (another line applied to another account under the key is another apply): the
 * same key and input (line, invoice, amount as given) answer that apply's payment and the row as it is
 * now, also after the line was applied in full; other input on the account, or this line applied under
 * the key to another account's invoice, is IDEMPOTENCY_KEY_REUSED. Under the row's lock: applies at
 * once take turns, each against what the others left; more than remains is
 * UNAPPLIED_PAYMENT_EXCEEDS_REMAINING (BAD_USER_INPUT, input.amount), nothing remaining CONFLICT
 * UNAPPLIED_PAYMENT_ALREADY_APPLIED / _REFUNDED. recordPayment's refusals as they are (nothing changed).
 */
export async function applyUnappliedPayment(em: Em, c: ApplyUnappliedPaymentCommand, provider: PaymentProvider): Promise<ApplyUnappliedPaymentResult> {
  if (typeof c.idempotencyKey !== 'string' || c.idempotencyKey.trim() === '') throw badInput('input.idempotencyKey', 'An idempotency key is required', 'IDEMPOTENCY_KEY_MISSING');
  if (c.idempotencyKey.length > 200) throw badInput('input.idempotencyKey', 'An idempotency key is at most 200 characters', 'IDEMPOTENCY_KEY_INVALID');
  const asked = partAmount(c.amount);
  const k = sql(em);
  // The key is the account's of the invoice it pays (as recordPayment keys a caller's); an invoice
  // that does not exist took no apply (recordPayment refuses it below).
  const account = ((await k('invoice').where({ id: c.invoiceId }).first('billing_account_id'))?.billing_account_id as string | undefined) ?? null;
  await k.raw('select pg_advisory_xact_lock(hashtext(?), hashtext(?))', ['idempotency:unapplied_apply', `${account ?? ''}:${c.idempotencyKey}`]);
  const row = (await k('unapplied_payment').where({ id: c.unappliedPaymentId }).forUpdate().first()) as UnappliedPaymentRow | undefined;
  if (!row) throw notFound('UnappliedPayment', c.unappliedPaymentId, 'input.unappliedPaymentId');
  checkPartCurrency(asked, row);
  const done = account === null ? undefined : ((await k('unapplied_payment_application').where({ billing_account_id: account, idempotency_key: c.idempotencyKey }).first()) as UnappliedApplicationRow | undefined);
  if (done) {
    if (done.unapplied_payment_id === row.id && done.invoice_id === c.invoiceId && sameRequested(asked, done.requested_amount)) return { row, paymentId: done.payment_id };
    throw new DomainError('IDEMPOTENCY_KEY_REUSED', `Idempotency key "${c.idempotencyKey}" applied another unapplied payment, or this one to another invoice or for another amount`, { field: 'input.idempotencyKey' });
  }
  // The key applied this line to another account's invoice (under the row's lock): a retry naming the
  // wrong invoice, not a second apply. Only a key neither on this account nor on this line applies anew.
  if (await k('unapplied_payment_application').where({ unapplied_payment_id: row.id, idempotency_key: c.idempotencyKey }).first('id')) {
    throw new DomainError('IDEMPOTENCY_KEY_REUSED', `Idempotency key "${c.idempotencyKey}" applied this unapplied payment to another invoice`, { field: 'input.idempotencyKey' });
  }
  const remaining = dec(String(row.remaining_amount));
  if (!remaining.gt(0)) throw nothingRemains(row, 'input.invoiceId');
  const part = asked?.value ?? remaining;
  if (part.gt(remaining)) throw exceedsRemaining(row, remaining);

  const scale = minorUnits(row.currency);
  const [{ n }] = (await k('unapplied_payment_application').where({ unapplied_payment_id: row.id }).count({ n: '*' })) as { n: string | number }[];
  const nth = Number(n) + 1;
  const paymentId = await recordPayment(
    em,
    {
      invoiceId: c.invoiceId,
      reference: row.reference.trim() === '' ? null : row.reference,
      channel: 'BANK_TRANSFER',
      amount: { amount: part.toFixed(scale), currency: row.currency },
      // The first apply keeps the key a whole-line apply always had.
      idempotencyKey: nth === 1 ? `${UNAPPLIED_KEY_PREFIX}${row.id}` : `${UNAPPLIED_KEY_PREFIX}${row.id}#${nth}`,
      allowOverpayment: true,
      now: c.now,
    },
    provider,
  );
  const left = remaining.minus(part);
  await k('unapplied_payment_application').insert({ id: newId('unappliedPaymentApplication'), unapplied_payment_id: row.id, billing_account_id: account, invoice_id: c.invoiceId, payment_id: paymentId, amount: part.toFixed(scale), requested_amount: asked ? asked.value.toFixed(scale) : null, idempotency_key: c.idempotencyKey, applied_by: c.by, applied_at: c.now });
  const [updated] = (await k('unapplied_payment')
    .where({ id: row.id })
    .update({ status: left.gt(0) ? 'PARTIALLY_APPLIED' : 'APPLIED', remaining_amount: left.toFixed(scale), applied_invoice_id: c.invoiceId, applied_payment_id: paymentId, applied_by: c.by, applied_at: c.now, apply_idempotency_key: c.idempotencyKey, updated_at: c.now })
    .returning('*')) as UnappliedPaymentRow[];
  return { row: updated!, paymentId };
}

export interface RefundUnappliedPaymentCommand {
  unappliedPaymentId: string;
  /** How much of the line went back (in its currency); left out: all that remains. */
  amount?: { amount: string; currency: string } | null;
  /** The outgoing bank transfer's id (the payout that sent the money back), at most 120 characters. */
  payoutReference: string;
  /** Why it went back (nobody could identify it, sent by mistake…): required. */
  note: string;
  idempotencyKey: string;
  by: string;
  now: Date;
}

const MAX_PAYOUT_REFERENCE = 120;
const MAX_REFUND_NOTE = 1000;

function checkRefund(c: RefundUnappliedPaymentCommand): void {
  if (typeof c.unappliedPaymentId !== 'string' || c.unappliedPaymentId.trim() === '') throw badInput('input.unappliedPaymentId', 'Name the unapplied payment to refund', 'UNAPPLIED_PAYMENT_ID_MISSING');
  if (typeof c.payoutReference !== 'string' || c.payoutReference.trim() === '') throw badInput('input.payoutReference', 'Give the reference of the outgoing bank transfer that paid the money back', 'PAYOUT_REFERENCE_MISSING');
  if (c.payoutReference.length > MAX_PAYOUT_REFERENCE || c.payoutReference.includes('\u0000')) throw badInput('input.payoutReference', `A payout reference is at most ${MAX_PAYOUT_REFERENCE} characters, without NUL`, 'PAYOUT_REFERENCE_INVALID');
  if (typeof c.note !== 'string' || c.note.trim() === '') throw badInput('input.note', 'Say why the money goes back to the payer', 'REFUND_NOTE_MISSING');
  if (c.note.length > MAX_REFUND_NOTE || c.note.includes('\u0000')) throw badInput('input.note', `The note is at most ${MAX_REFUND_NOTE} characters, without NUL`, 'REFUND_NOTE_INVALID');
  if (typeof c.idempotencyKey !== 'string' || c.idempotencyKey.trim() === '') throw badInput('input.idempotencyKey', 'An idempotency key is required', 'IDEMPOTENCY_KEY_MISSING');
  if (c.idempotencyKey.length > 200) throw badInput('input.idempotencyKey', 'An idempotency key is at most 200 characters', 'IDEMPOTENCY_KEY_INVALID');
}

/**
 * Records that (part of) a kept line was paid back to its payer (money nobody could identify, or
 * sent by mistake): an unapplied_payment_refund row with who, when, the payout's reference, the note
 * and the amount (left out: all that remains); the line's remaining amount goes down by it, and it
 * is REFUNDED once nothing remains (before that its status stays UNAPPLIED / PARTIALLY_APPLIED; the
 * row's refunded_* / payout_reference / refund_note name the latest payout). The payout itself is the
 * bank's (outside the API); nothing else moves here (that money paid no invoice).
 * Under the row's lock, as applyUnappliedPayment: refunds and applies at once take turns, each against
 * what the others left; more than remains is UNAPPLIED_PAYMENT_EXCEEDS_REMAINING (input.amount);
 * nothing remaining is CONFLICT UNAPPLIED_PAYMENT_ALREADY_APPLIED / _ALREADY_REFUNDED. The key is the
 * line's (a suspense line belongs to no account; another line's payout under it is another payout):
 * the same key and input (payout, note, amount as given) answered as it is; the key with other input on
 * the line: IDEMPOTENCY_KEY_REUSED. A payout reference recorded on this line before
 * (any key): the same payout, answered as it is (with another amount: CONFLICT
 * UNAPPLIED_PAYOUT_ALREADY_RECORDED). Event payment.unappliedrefunded per payout, with its amount.
 */
export async function refundUnappliedPayment(em: Em, c: RefundUnappliedPaymentCommand): Promise<UnappliedPaymentRow> {
  checkRefund(c);
  const asked = partAmount(c.amount);
  const k = sql(em);
  // The key is the line's (a suspense line belongs to no account): another line's payout with it is another payout.
  await k.raw('select pg_advisory_xact_lock(hashtext(?), hashtext(?))', ['idempotency:unapplied_refund', `${c.unappliedPaymentId}:${c.idempotencyKey}`]);
  const row = (await k('unapplied_payment').where({ id: c.unappliedPaymentId }).forUpdate().first()) as UnappliedPaymentRow | undefined;
  if (!row) throw notFound('UnappliedPayment', c.unappliedPaymentId, 'input.unappliedPaymentId');
  checkPartCurrency(asked, row);
  const byKey = (await k('unapplied_payment_refund').where({ unapplied_payment_id: row.id, idempotency_key: c.idempotencyKey }).first()) as UnappliedRefundRow | undefined;
  if (byKey) {
    if (byKey.payout_reference === c.payoutReference && byKey.note === c.note && sameRequested(asked, byKey.requested_amount)) return row;
    throw new DomainError('IDEMPOTENCY_KEY_REUSED', `Idempotency key "${c.idempotencyKey}" refunded this unapplied payment with another payout reference, note or amount`, { field: 'input.idempotencyKey' });
  }
  const scale = minorUnits(row.currency);
  // The same payout recorded again (someone else, another key): it is the same refund.
  const samePayout = (await k('unapplied_payment_refund').where({ unapplied_payment_id: row.id, payout_reference: c.payoutReference }).first()) as UnappliedRefundRow | undefined;
  if (samePayout) {
    if (!asked || asked.value.eq(String(samePayout.amount))) return row;
    const recorded = dec(String(samePayout.amount)).toFixed(scale);
    throw conflict('UNAPPLIED_PAYOUT_ALREADY_RECORDED', `Payout ${c.payoutReference} was recorded for ${recorded} ${row.currency} already`, { field: 'input.payoutReference', amount: recorded });
  }
  const remaining = dec(String(row.remaining_amount));
  if (!remaining.gt(0)) throw nothingRemains(row, 'input.unappliedPaymentId');
  const part = asked?.value ?? remaining;
  if (part.gt(remaining)) throw exceedsRemaining(row, remaining);

  const left = remaining.minus(part);
  const refundId = newId('unappliedPaymentRefund');
  await k('unapplied_payment_refund').insert({ id: refundId, unapplied_payment_id: row.id, amount: part.toFixed(scale), requested_amount: asked ? asked.value.toFixed(scale) : null, payout_reference: c.payoutReference, note: c.note, idempotency_key: c.idempotencyKey, refunded_by: c.by, refunded_at: c.now });
  const [updated] = (await k('unapplied_payment')
    .where({ id: row.id })
    .update({ status: left.gt(0) ? row.status : 'REFUNDED', remaining_amount: left.toFixed(scale), refunded_by: c.by, refunded_at: c.now, payout_reference: c.payoutReference, refund_note: c.note, refund_idempotency_key: c.idempotencyKey, updated_at: c.now })
    .returning('*')) as UnappliedPaymentRow[];
  await enqueueEvents(em, 'paymentUnappliedRefunded', c.now, [
    {
      subject: row.id,
      key: [row.id, 'refunded', refundId],
      // The note stays on the row (staff's words about a payer), not in the event partners may receive.
      data: { unappliedPaymentId: row.id, refundId, bankTransactionId: row.bank_transaction_id, amount: part.toFixed(scale), remainingAmount: left.toFixed(scale), currency: row.currency, reference: row.reference, payerName: row.payer_name, receivedAt: new Date(row.received_at).toISOString(), payoutReference: c.payoutReference, refundedBy: c.by, refundedAt: c.now.toISOString() },
    },
  ]);
  return updated!;
}

/** A line's applies, oldest first. */
export const applicationsOf = async (em: Em, id: string): Promise<UnappliedApplicationRow[]> =>
  (await sql(em)('unapplied_payment_application').where({ unapplied_payment_id: id }).orderBy([{ column: 'applied_at' }, { column: 'id' }])) as UnappliedApplicationRow[];

/** A line's payouts back to its payer, oldest first. */
export const refundsOf = async (em: Em, id: string): Promise<UnappliedRefundRow[]> =>
  (await sql(em)('unapplied_payment_refund').where({ unapplied_payment_id: id }).orderBy([{ column: 'refunded_at' }, { column: 'id' }])) as UnappliedRefundRow[];

/** unappliedPayments: newest first (received into the list), of one status or all. */
export async function listUnappliedPayments(em: Em, args: { filter?: { status?: UnappliedStatus | null } | null; first?: number | null; after?: string | null }) {
  const limit = pageSize(args);
  const status = args.filter?.status;
  const q = sql(em)('unapplied_payment').modify((b) => (status ? b.where({ status }) : b));
  if (args.after) {
    const [at, id] = decodeCursor(args.after).split('|');
    if (!at || !id || Number.isNaN(Date.parse(at))) throw badInput('after', 'This cursor was not issued by unappliedPayments', 'CURSOR_INVALID');
    q.whereRaw('(created_at, id) < (?::timestamptz, ?)', [at, id]);
  }
  const found = (await q.orderBy([{ column: 'created_at', order: 'desc' }, { column: 'id', order: 'desc' }]).limit(limit + 1)) as UnappliedPaymentRow[];
  return toConnection(found, limit, (r) => `${new Date(r.created_at).toISOString()}|${r.id}`, Boolean(args.after));
}

export const candidatesOf = (r: UnappliedPaymentRow): string[] => (typeof r.candidate_invoice_ids === 'string' ? JSON.parse(r.candidate_invoice_ids) : (r.candidate_invoice_ids ?? []));
