// Bank statement lines and the suspense list (unapplied cash). A line whose reference names exactly
// one invoice pays it as recordPayment pays a BANK_TRANSFER (that code path, keyed by the bank
// transaction); one that names none or several, or an invoice that cannot take it (voided, a draft,
// another currency), is kept as an unapplied payment, never refused: the money is at the bank. Staff
// apply it to an invoice later (recordPayment again, overpayment kept as account credit), or record
// that it was paid back to the payer (refundUnappliedPayment: REFUNDED, with the payout's reference).
import { badInput, conflict, dec, decodeCursor, DomainError, isCurrencyCode, minorUnits, newId, notFound, pageSize, toConnection } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { recordPayment, type RecordPaymentCommand } from './payments';
import { referenceCandidates } from './invoice-reference';
import { enqueueEvents, requestHash, sql } from './sql';
import type { PaymentProvider } from '../adapters/payment-provider';

export type UnappliedStatus = 'UNAPPLIED' | 'APPLIED' | 'REFUNDED';

export interface UnappliedPaymentRow {
  id: string;
  bank_transaction_id: string;
  amount: string;
  currency: string;
  reference: string;
  payer_name: string | null;
  received_at: Date;
  status: UnappliedStatus;
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
 * suspense list), UNAPPLIED (waits on the suspense list), REFUNDED (paid back to the payer from it).
 */
export type ReceiveBankTransferResult = { outcome: 'APPLIED'; paymentId: string; row?: UnappliedPaymentRow } | { outcome: 'UNAPPLIED' | 'REFUNDED'; row: UnappliedPaymentRow };

/** A line kept before, received again: what has become of it since (an import tool reads the outcome). */
function keptOutcome(row: UnappliedPaymentRow): ReceiveBankTransferResult {
  if (row.status === 'APPLIED' && row.applied_payment_id) return { outcome: 'APPLIED', paymentId: row.applied_payment_id, row };
  if (row.status === 'REFUNDED') return { outcome: 'REFUNDED', row };
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
    // The line was paid before, from other content (recordPayment's replay): not this line.
    if (error.code === 'IDEMPOTENCY_KEY_REUSED') throw reusedTransaction(c.bankTransactionId);
    await k.raw('rollback to savepoint bank_transfer_payment');
    refusal = error;
  }

  const candidates = c.reference.trim() === '' ? [] : await referenceCandidates(em, c.reference, MAX_CANDIDATES);
  const id = newId('payment').replace('pay_', 'upay_');
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
  idempotencyKey: string;
  by: string;
  now: Date;
}

/**
 * Applies a kept line to the invoice staff name: recordPayment (BANK_TRANSFER, key
 * `unapplied:<id>`, overpayment kept as account credit), then the row is APPLIED with who and when.
 * Under the row's lock: applies at once wait, and find it APPLIED. Applied to the same invoice
 * before: answered as it is (whatever the key); to another: CONFLICT UNAPPLIED_PAYMENT_ALREADY_APPLIED.
 * The key, once it applied a row, applies no other (IDEMPOTENCY_KEY_REUSED).
 */
export async function applyUnappliedPayment(em: Em, c: ApplyUnappliedPaymentCommand, provider: PaymentProvider): Promise<UnappliedPaymentRow> {
  if (typeof c.idempotencyKey !== 'string' || c.idempotencyKey.trim() === '') throw badInput('input.idempotencyKey', 'An idempotency key is required', 'IDEMPOTENCY_KEY_MISSING');
  if (c.idempotencyKey.length > 200) throw badInput('input.idempotencyKey', 'An idempotency key is at most 200 characters', 'IDEMPOTENCY_KEY_INVALID');
  const k = sql(em);
  await k.raw('select pg_advisory_xact_lock(hashtext(?), hashtext(?))', ['idempotency:unapplied_apply', c.idempotencyKey]);
  const row = (await k('unapplied_payment').where({ id: c.unappliedPaymentId }).forUpdate().first()) as UnappliedPaymentRow | undefined;
  if (!row) throw notFound('UnappliedPayment', c.unappliedPaymentId, 'input.unappliedPaymentId');
  if (row.status === 'APPLIED') {
    if (row.applied_invoice_id === c.invoiceId) return row;
    throw conflict('UNAPPLIED_PAYMENT_ALREADY_APPLIED', `This payment was applied to invoice ${row.applied_invoice_id} already`, { field: 'input.invoiceId', appliedInvoiceId: row.applied_invoice_id });
  }
  if (row.status === 'REFUNDED') throw conflict('UNAPPLIED_PAYMENT_ALREADY_REFUNDED', 'This payment was paid back to the payer', { field: 'input.unappliedPaymentId' });
  const other = await k('unapplied_payment').where({ apply_idempotency_key: c.idempotencyKey }).first('id');
  if (other) throw new DomainError('IDEMPOTENCY_KEY_REUSED', `Idempotency key "${c.idempotencyKey}" applied another unapplied payment`, { field: 'input.idempotencyKey' });

  const scale = minorUnits(row.currency);
  const paymentId = await recordPayment(
    em,
    {
      invoiceId: c.invoiceId,
      reference: row.reference.trim() === '' ? null : row.reference,
      channel: 'BANK_TRANSFER',
      amount: { amount: dec(String(row.amount)).toFixed(scale), currency: row.currency },
      idempotencyKey: `${UNAPPLIED_KEY_PREFIX}${row.id}`,
      allowOverpayment: true,
      now: c.now,
    },
    provider,
  );
  const [updated] = (await k('unapplied_payment')
    .where({ id: row.id })
    .update({ status: 'APPLIED', applied_invoice_id: c.invoiceId, applied_payment_id: paymentId, applied_by: c.by, applied_at: c.now, apply_idempotency_key: c.idempotencyKey, updated_at: c.now })
    .returning('*')) as UnappliedPaymentRow[];
  return updated!;
}

export interface RefundUnappliedPaymentCommand {
  unappliedPaymentId: string;
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
 * Records that a kept line was paid back to its payer (money nobody could identify, or sent by
 * mistake): the UNAPPLIED row becomes REFUNDED with who, when, the payout's reference and the note.
 * The payout itself is the bank's (outside the API); nothing else moves here (the row paid no invoice).
 * Under the row's lock, as applyUnappliedPayment: a refund and an apply at once do exactly one; the
 * other is CONFLICT UNAPPLIED_PAYMENT_ALREADY_APPLIED / _ALREADY_REFUNDED. Refunded before with the
 * same payout reference: answered as it is (whatever the key); the same key with another payout or
 * note: IDEMPOTENCY_KEY_REUSED; another payout: CONFLICT UNAPPLIED_PAYMENT_ALREADY_REFUNDED. A key
 * that refunded one row refunds no other (IDEMPOTENCY_KEY_REUSED). Event payment.unappliedrefunded.
 */
export async function refundUnappliedPayment(em: Em, c: RefundUnappliedPaymentCommand): Promise<UnappliedPaymentRow> {
  checkRefund(c);
  const k = sql(em);
  await k.raw('select pg_advisory_xact_lock(hashtext(?), hashtext(?))', ['idempotency:unapplied_refund', c.idempotencyKey]);
  const row = (await k('unapplied_payment').where({ id: c.unappliedPaymentId }).forUpdate().first()) as UnappliedPaymentRow | undefined;
  if (!row) throw notFound('UnappliedPayment', c.unappliedPaymentId, 'input.unappliedPaymentId');
  const reused = () => new DomainError('IDEMPOTENCY_KEY_REUSED', `Idempotency key "${c.idempotencyKey}" refunded another unapplied payment, or this one with another payout reference or note`, { field: 'input.idempotencyKey' });
  const other = await k('unapplied_payment').where({ refund_idempotency_key: c.idempotencyKey }).whereNot({ id: row.id }).first('id');
  if (other) throw reused();
  if (row.status === 'APPLIED') throw conflict('UNAPPLIED_PAYMENT_ALREADY_APPLIED', `This payment was applied to invoice ${row.applied_invoice_id}: it cannot be paid back from the suspense list`, { field: 'input.unappliedPaymentId', appliedInvoiceId: row.applied_invoice_id });
  if (row.status === 'REFUNDED') {
    if (row.refund_idempotency_key === c.idempotencyKey) {
      if (row.payout_reference === c.payoutReference && row.refund_note === c.note) return row;
      throw reused();
    }
    if (row.payout_reference === c.payoutReference) return row;
    throw conflict('UNAPPLIED_PAYMENT_ALREADY_REFUNDED', `This payment was paid back already (payout ${row.payout_reference})`, { field: 'input.unappliedPaymentId', payoutReference: row.payout_reference });
  }

  const [updated] = (await k('unapplied_payment')
    .where({ id: row.id, status: 'UNAPPLIED' })
    .update({ status: 'REFUNDED', refunded_by: c.by, refunded_at: c.now, payout_reference: c.payoutReference, refund_note: c.note, refund_idempotency_key: c.idempotencyKey, updated_at: c.now })
    .returning('*')) as UnappliedPaymentRow[];
  const scale = minorUnits(updated!.currency);
  await enqueueEvents(em, 'paymentUnappliedRefunded', c.now, [
    {
      subject: row.id,
      key: [row.id, 'refunded'],
      // The note stays on the row (staff's words about a payer), not in the event partners may receive.
      data: { unappliedPaymentId: row.id, bankTransactionId: row.bank_transaction_id, amount: dec(String(row.amount)).toFixed(scale), currency: row.currency, reference: row.reference, payerName: row.payer_name, receivedAt: new Date(row.received_at).toISOString(), payoutReference: c.payoutReference, refundedBy: c.by, refundedAt: c.now.toISOString() },
    },
  ]);
  return updated!;
}

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
