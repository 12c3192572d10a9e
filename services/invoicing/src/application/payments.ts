// Money in and out: payments (card, bank transfer matched by reference, wallet), refunds, credit
// notes and prepaid receipts. Each takes an idempotency key backed by a unique index: the same
// key with the same input returns the first result, with other input it is a CONFLICT. A caller's
// key is its billing account's (unique per billing_account_id and key, migration
// 20270120000000): another account's request with the same key is another request.
import { DomainError, badInput, dec, isCurrencyCode, minorUnits, newId, notFound, type Decimal, type CreditNoteCreatedData, type PaymentCreatedData, type RefundCreatedData } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { createHash } from 'node:crypto';
import { CREDIT_NOTE_PREFIX, RECEIPT_PREFIX } from '../domain/document-series';
import { allocatePayment, assertCreditNoteWithinInvoice, creditNoteLines, isDraft, settlementState, splitRefund, type InvoiceState } from '../domain/lifecycle';
import type { PaymentProvider } from '../adapters/payment-provider';
import { applyAccountCredit, creditBalance, lockAccountCredit, lockCreditOfInvoice, owedOn, planAccountCredit } from './credit';
import { lockInvoice, releasedState, stateChanged } from './invoice-lifecycle';
import { enqueueEvents, requestHash, rows, sql } from './sql';
import { givenBackApart } from './charge-given-back';
import { takeDisputesCoveredByCreditNote } from './credit-note-disputes';
import { invoiceToPay } from './invoice-reference';
import { autopayOfReopened, noAutopayOfReopenedAfterDueDate } from './autopay-reopened';
import { closeCreditNoteApprovals, closeRefundApprovals } from './approvals';

export type PaymentChannel = 'CARD' | 'BANK_TRANSFER' | 'WALLET';

export interface RecordPaymentCommand {
  invoiceId?: string | null;
  /** Bank transfers: the reference the customer wrote (the invoice's payment reference). */
  reference?: string | null;
  channel: PaymentChannel;
  amount: { amount: string; currency: string };
  idempotencyKey: string;
  paymentMethodToken?: string | null;
  /** Keep an amount above what is owed as account credit instead of refusing it. */
  allowOverpayment?: boolean | null;
  /**
   * receiveBankTransfer: the statement line's own hash, so the payment's request covers what the payment does not
   * keep (payer, date): the same bank transaction received with another is another line, refused as its key reused.
   */
  statementLine?: string;
  now: Date;
}

function reused(key: string): DomainError {
  return new DomainError('IDEMPOTENCY_KEY_REUSED', `Idempotency key "${key}" was used for a different request`, { field: 'input.idempotencyKey' });
}

/**
 * The transaction's lock on a key of `table` within `account` (its billing account; null: a key of
 * one space for all, as receipts' and invoicing's own payment keys): requests with the same key
 * queue on it (a two-int transaction advisory lock).
 */
export async function lockIdempotencyKey(em: Em, table: string, account: string | null, key: string): Promise<void> {
  await sql(em).raw('select pg_advisory_xact_lock(hashtext(?), hashtext(?))', [`idempotency:${table}`, account === null ? key : `${account}:${key}`]);
}

/**
 * Looks the key up once the transaction holds it: requests with the same key on the same account (a
 * client retrying while its first request still runs, two replicas) queue here until the first
 * commits or rolls back, then find its row instead of running into the unique index. Another
 * account's row with the key is not this request's (`account` null: the key alone). Taken before
 * any row lock.
 */
async function replay(em: Em, table: string, account: string | null, key: string, hash: string): Promise<string | null> {
  await lockIdempotencyKey(em, table, account, key);
  const row = await sql(em)(table).where({ idempotency_key: key, ...(account === null ? {} : { billing_account_id: account }) }).first();
  if (!row) return null;
  if (row.request_hash !== hash) throw reused(key);
  return row.id as string;
}

/**
 * The keys invoicing pays with itself (autopay on the due date, account credit applied, bank statement
 * lines and unapplied payments applied): each names what it pays (an invoice, a bank transaction, a
 * suspense line), so it is one key space for all accounts, looked up by the key alone (a line received
 * again is answered whatever its reference names now), and an autopay key goes to the provider as it
 * always did (an attempt fixed before keeps its capture). Callers may not take them (resolvers).
 */
export const INTERNAL_PAYMENT_KEY_PREFIXES = ['autopay:', 'account-credit:', 'bank-transfer:', 'unapplied:'];
const internalPaymentKey = (key: string): boolean => INTERNAL_PAYMENT_KEY_PREFIXES.some((p) => key.startsWith(p));

/**
 * A payment's key at the card provider, whose key space is the merchant account's (all our accounts
 * at once): a caller's key namespaced by its billing account (`payment:<account>:<key>`, at most 249
 * characters; Stripe takes 255), so two accounts keying alike are two charges; invoicing's own keys as they are.
 */
export const chargeProviderKey = (billingAccountId: string, key: string): string => (internalPaymentKey(key) ? key : `payment:${billingAccountId}:${key}`);

/** The billing account of an invoice, null when there is none with that id. */
async function accountOfInvoice(em: Em, invoiceId: string | null | undefined): Promise<string | null> {
  if (!invoiceId) return null;
  return ((await sql(em)('invoice').where({ id: invoiceId }).first('billing_account_id'))?.billing_account_id as string | undefined) ?? null;
}

/**
 * What payment.idempotency_key and refund.idempotency_key hold. A longer key (or a NUL) is refused
 * before the provider is asked: the row is written after the provider moved the money, so a key the
 * row cannot hold left a card charged or refunded with nothing on the ledger, retry after retry.
 */
const MAX_IDEMPOTENCY_KEY = 200;

/** payment.amount, applied_amount and credit_amount are numeric(18, 4): below 1e14. */
const MAX_PAYMENT_AMOUNT = dec('100000000000000');

function idempotencyKeyStorable(key: string): boolean {
  return key.length <= MAX_IDEMPOTENCY_KEY && !key.includes('\u0000');
}

/**
 * Blank ("" or only whitespace) is no key: no caller means "   " as a key of its own (subscribers, usage, disputes
 * and unapplied payments refuse it too). Any other key is taken as given, surrounding whitespace and all.
 */
function blankKey(key: unknown): boolean {
  return typeof key !== 'string' || key.trim() === '';
}

/** A key checkPaymentKey takes: the approval gates leave any other to the operation, which refuses it. */
export function paymentKeyUsable(key: unknown): key is string {
  return !blankKey(key) && idempotencyKeyStorable(key as string);
}

function checkKeyStorable(key: string): void {
  if (!idempotencyKeyStorable(key)) throw badInput('input.idempotencyKey', `An idempotency key is at most ${MAX_IDEMPOTENCY_KEY} characters, without NUL`, 'IDEMPOTENCY_KEY_INVALID');
}

/** A caller's key for money moved (recordPayment, refundPayment, issueCreditNote, issuePaymentReceipt): given (not blank), and one the row holds. */
function checkPaymentKey(key: string): void {
  if (blankKey(key)) throw badInput('input.idempotencyKey', 'An idempotency key is required', 'IDEMPOTENCY_KEY_MISSING');
  checkKeyStorable(key);
}

export async function recordPayment(em: Em, c: RecordPaymentCommand, provider: PaymentProvider): Promise<string> {
  checkPaymentKey(c.idempotencyKey);
  if (PROVIDER_REFUND_KEY_PREFIXES.some((p) => c.idempotencyKey.startsWith(p))) {
    throw badInput('input.idempotencyKey', `Payment idempotency keys starting with ${PROVIDER_REFUND_KEY_PREFIXES.join(' or ')} are reserved for refunds at the payment provider`, 'IDEMPOTENCY_KEY_RESERVED');
  }
  const { now, ...request } = c;
  const hash = requestHash(request);
  // A caller's key is looked up within the account of the invoice it pays (named, or found by its
  // reference); an invoice that does not exist has no payment to replay (lockInvoice refuses it below).
  const internal = internalPaymentKey(c.idempotencyKey);
  const invoiceId = internal ? null : await invoiceToPay(em, c);
  const account = internal ? null : await accountOfInvoice(em, invoiceId);
  if (internal || account !== null) {
    const again = await replay(em, 'payment', account, c.idempotencyKey, hash);
    if (again) return again;
  }

  const payInvoiceId = internal ? await invoiceToPay(em, c) : invoiceId;
  if (!payInvoiceId) throw badInput('input.invoiceId', 'Name the invoice, or give its payment reference', 'PAYMENT_INVOICE_MISSING');
  if ((c.channel as string) === 'ACCOUNT_CREDIT') throw badInput('input.channel', 'Account credit is applied by invoicing itself, not recorded as a payment', 'PAYMENT_CHANNEL_INVALID');
  if (c.channel === 'CARD' && !c.paymentMethodToken) throw badInput('input.paymentMethodToken', 'A card payment needs a payment-method token', 'PAYMENT_METHOD_MISSING');
  // An overpayment becomes credit that pays the account's other open invoices: the credit lock
  // comes before the invoice lock (see lockAccountCredit). A card payment may become one (below).
  if (c.allowOverpayment || c.channel === 'CARD') await lockCreditOfInvoice(em, payInvoiceId);
  const invoice = await lockInvoice(em, payInvoiceId);
  const providerKey = chargeProviderKey(invoice.billing_account_id, c.idempotencyKey);
  const allocate = (allowOverpayment: boolean) =>
    allocatePayment({
      invoice: { state: invoice.state, heldFrom: invoice.held_from, currency: invoice.currency, total: String(invoice.total), amountPaid: String(invoice.amount_paid), amountCredited: String(invoice.amount_credited) },
      amount: c.amount.amount,
      currency: c.amount.currency,
      allowOverpayment,
    });
  let allocation: { applied: string; toCredit: string };
  try {
    allocation = allocate(c.allowOverpayment ?? false);
  } catch (error) {
    // The card was charged before the row is written: an attempt whose transaction failed after the
    // capture left the money at the provider under this key. Its retry records it even when the
    // invoice was paid otherwise meanwhile, the rest kept as account credit (as autopay keeps it);
    // refused, the captured money would never reach the ledger. A new request is still refused
    // before the card is charged. The charge below answers the same capture (or refuses other parameters).
    // INVOICE_VOIDED is not caught: only drafts are voided, and a draft is never charged (STATUS.md).
    const captured = c.channel === 'CARD' && error instanceof DomainError && error.code === 'PAYMENT_EXCEEDS_REMAINING' && (await provider.findCharge(providerKey)) !== null;
    if (!captured) throw error;
    allocation = allocate(true);
  }
  const { applied, toCredit } = allocation;
  const scale = minorUnits(invoice.currency);
  // Checked before the card is charged: an amount the payment row cannot hold failed its insert after the capture.
  if (dec(c.amount.amount).gte(MAX_PAYMENT_AMOUNT)) throw badInput('input.amount.amount', 'The amount is too large', 'PAYMENT_AMOUNT_INVALID');
  const amount = dec(c.amount.amount).toFixed(scale);
  const providerRef = c.channel === 'CARD' ? (await provider.charge({ paymentMethodToken: c.paymentMethodToken!, amount, currency: invoice.currency, reference: invoice.payment_reference ?? invoice.id, idempotencyKey: providerKey })).providerRef : null;

  const id = newId('payment');
  const k = sql(em);
  // payment.reference holds 80 characters; a bank statement's text may be longer (receiveBankTransfer).
  await k('payment').insert({ id, billing_account_id: invoice.billing_account_id, invoice_id: invoice.id, channel: c.channel, amount, currency: invoice.currency, applied_amount: applied, credit_amount: toCredit, reference: (c.reference ?? invoice.payment_reference)?.slice(0, 80) ?? null, provider_ref: providerRef, idempotency_key: c.idempotencyKey, request_hash: hash, created_at: now });
  const paid = dec(String(invoice.amount_paid)).plus(applied).toFixed(scale);
  await k('invoice').where({ id: invoice.id }).update({ amount_paid: paid, updated_at: now });
  if (dec(toCredit).gt(0)) await k('account_credit_entry').insert({ id: newId('accountCreditEntry'), billing_account_id: invoice.billing_account_id, amount: toCredit, currency: invoice.currency, source: 'OVERPAYMENT', source_id: id, created_at: now });
  const next = invoice.state === 'ON_HOLD' ? 'ON_HOLD' : settlementState({ total: String(invoice.total), amountPaid: paid, amountCredited: String(invoice.amount_credited) });
  await stateChanged(em, invoice, invoice.state, next, now, `payment ${id}`);
  // What the part above the invoice's due pays of the account's other open invoices (applied below, in
  // this transaction, under the credit lock taken above): the customer's payment message names them.
  const credit = dec(toCredit).gt(0) ? await planAccountCredit(em, invoice.billing_account_id, invoice.currency) : null;
  const data: PaymentCreatedData = {
    paymentId: id, billingAccountId: invoice.billing_account_id, invoiceId: invoice.id, channel: c.channel, amount, appliedAmount: applied, creditAmount: toCredit, currency: invoice.currency, invoiceState: next,
    ...owedOn(invoice, paid),
    // Invoicing charged the card on file itself (the due date's attempt, a dispute's release).
    autopay: c.idempotencyKey.startsWith('autopay:'),
    creditApplied: (credit?.applications ?? []).map((a) => ({ invoiceId: a.invoice.id, invoiceNumber: a.invoice.number ?? null, amount: a.applied, amountDue: a.owedAfter })),
    creditLeft: (credit?.creditLeft ?? (await creditBalance(em, invoice.billing_account_id, invoice.currency))).toDecimalPlaces(scale, 1).toFixed(scale),
    paidAt: now.toISOString(),
  };
  await enqueueEvents(em, 'paymentCreated', now, [{ subject: id, key: [id], data }]);
  if (dec(toCredit).gt(0)) await applyAccountCredit(em, invoice.billing_account_id, invoice.currency, now);
  return id;
}

/**
 * Who gave money back and why, kept on the refund row (reason, refunded_by, refunded_by_role,
 * approved_by, approval_request_id) and announced from it (billing.invoicing.refund.created). Not part
 * of the request's hash: it moves nothing, and refunds keyed before it existed replay as they did (a
 * replay with other words or by another caller answers the first refund as it was, and announces nothing again).
 */
export interface RefundOrigin {
  /** The caller who made it (approvalActor); for an approved request, its requester. */
  by: string | null;
  /** That caller's role (Caller.role: AGENT, ADMIN, SYSTEM; CUSTOMER); an approved request's requested_role. */
  role?: string | null;
  /** refundPayment: the caller's reason, or the approved request's (a REFUND note gives its own). */
  reason?: string | null;
  /** The supervisor who approved the request this carries out, and that request. */
  approvedBy?: string | null;
  approvalRequestId?: string | null;
}

/**
 * A refund's reason, as an approval request and the refund row hold it (varchar 2000, counted in
 * characters: a JS length, in UTF-16 units, is never below that): longer is refused before any money moves.
 */
const MAX_REFUND_REASON = 2000;
/**
 * Why refundPayment refuses a reason, before the provider is asked (the refund row holds it, and a NUL
 * is no text PostgreSQL stores: the row's insert would fail after the card was refunded); null when
 * it takes it. The approval gate leaves such a reason to the refund, so an agent is refused alike.
 */
export function refundReasonProblem(reason: string | null | undefined): DomainError | null {
  const text = reason?.trim() ?? '';
  if (text.length > MAX_REFUND_REASON) return badInput('input.reason', `A reason has at most ${MAX_REFUND_REASON} characters`, 'REFUND_REASON_TOO_LONG');
  if (text.includes('\u0000')) return badInput('input.reason', 'A reason cannot hold a NUL character', 'REFUND_REASON_INVALID');
  return null;
}

export async function refundPayment(em: Em, c: { paymentId: string; amount: { amount: string; currency: string }; idempotencyKey: string; now: Date }, provider: PaymentProvider, origin: RefundOrigin): Promise<string> {
  checkPaymentKey(c.idempotencyKey);
  const reason = origin.reason?.trim() || null;
  const refused = refundReasonProblem(reason);
  if (refused) throw refused;
  const { now, ...request } = c;
  const hash = requestHash(request);
  // The key is the payment's account's; a payment that does not exist has no refund to replay (prepareRefund refuses it).
  const account = ((await sql(em)('payment').where({ id: c.paymentId }).first('billing_account_id'))?.billing_account_id as string | undefined) ?? null;
  if (account !== null) {
    const again = await replay(em, 'refund', account, c.idempotencyKey, hash);
    if (again) return again;
  }
  const { payment, invoice, amount, scale, fromCredit: creditPart, fromInvoice: invoicePart } = await prepareRefund(em, c);
  const k = sql(em);

  // At the provider the caller's key is namespaced by the operation and the account: its key space is
  // the merchant account's, shared by charges and refunds and by all our accounts, and a client may key
  // a payment and its refund alike, or two accounts their refunds.
  const { id, data } = await payOut(em, payment, amount, { key: c.idempotencyKey, providerKey: refundProviderKey(payment.billing_account_id, c.idempotencyKey), hash, now, origin: { ...origin, reason } }, provider);
  // The credit entry (source REFUND, source_id the refund) is how later refunds know this part came from credit.
  if (dec(creditPart).gt(0)) await k('account_credit_entry').insert({ id: `crd_${id.slice(4)}`, billing_account_id: payment.billing_account_id, amount: dec(creditPart).negated().toFixed(scale), currency: payment.currency, source: 'REFUND', source_id: id, created_at: now });
  if (dec(invoicePart).gt(0) && invoice) {
    const paid = dec(String(invoice.amount_paid)).minus(invoicePart).toFixed(scale);
    await k('invoice').where({ id: invoice.id }).update({ amount_paid: paid, updated_at: now });
    const reopened = settlementState({ total: String(invoice.total), amountPaid: paid, amountCredited: String(invoice.amount_credited) });
    // A disputed paid invoice was not held (nothing to collect); owing again, it is held as
    // openDispute holds an invoice that owes (review 11): credit and dunning leave the disputed part alone.
    const hold = invoice.state !== 'ON_HOLD' && invoice.state !== 'VOIDED' && reopened !== 'SETTLED' && dec(String(invoice.amount_disputed ?? '0')).gt(0);
    if (hold) await k('invoice').where({ id: invoice.id }).update({ held_from: reopened });
    const next = invoice.state === 'ON_HOLD' || invoice.state === 'VOIDED' ? invoice.state : hold ? 'ON_HOLD' : reopened;
    await stateChanged(em, invoice, invoice.state, next, now, hold ? `refund ${id} (disputed: held)` : `refund ${id}`);
    // The reopened invoice owes again: credit the account has pays it, as it pays any open invoice
    // (under the credit lock taken above, in this transaction, so a replayed key applies nothing
    // again). Only after the refund took back the payment's kept credit (the REFUND entry above):
    // what is left is credit from elsewhere, never the money being given back.
    await applyAccountCredit(em, payment.billing_account_id, payment.currency, now);
    // A paid invoice that still owes after that is dunned again: its dunning stopped (or stops at
    // its next look) on the payment, so the due-date job starts its next one (collections.ts). One
    // the credit paid keeps its mark, so its dunning is told at once (the resolver pokes it); one
    // still owing before keeps the dunning it has.
    const owedBefore = dec(String(invoice.total)).minus(String(invoice.amount_paid)).minus(String(invoice.amount_credited));
    const [after] = await k('invoice').where({ id: invoice.id }).select('total', 'amount_paid', 'amount_credited');
    if (!owedBefore.gt(0) && dec(String(after.total)).minus(String(after.amount_paid)).minus(String(after.amount_credited)).gt(0)) {
      await k('invoice').where({ id: invoice.id }).whereNotNull('dunning_started_at').update({ dunning_started_at: null });
      // Reopened on or after its due date: autopay never charges it (autopay-reopened.ts); before it, its due-date charge does.
      await noAutopayOfReopenedAfterDueDate(em, invoice, now);
    }
  }
  // Announced once the invoice is reopened and credit paid what it could: the customer is told what it owes again.
  await announceRefunds(em, [data], now, dec(invoicePart).gt(0));
  return id;
}

/**
 * What an invoice owes now and when it is due, for the customer messages of the events that change it
 * (refund.created, creditnote.created); read back after the change, in its transaction.
 */
export async function invoiceDue(em: Em, invoiceId: string | null): Promise<{ number: string | null; amountDue: string; dueDate: string | null } | null> {
  if (!invoiceId) return null;
  const invoice = await sql(em)('invoice').where({ id: invoiceId }).first();
  if (!invoice) return null;
  return { number: invoice.number ?? null, amountDue: owedOn(invoice, String(invoice.amount_paid)).amountDue!, dueDate: invoice.due_date ? new Date(invoice.due_date).toISOString() : null };
}

/**
 * The refund.created events of refunds payOut recorded, with what their invoice owes afterwards:
 * `tookFromInvoice` — the refunds gave back money paid on the invoice without lowering it (refundPayment's
 * invoice part; never a REFUND credit note), so an invoice owing after them is reopened.
 */
async function announceRefunds(em: Em, refunds: RefundCreatedData[], now: Date, tookFromInvoice: boolean): Promise<void> {
  const events = [];
  for (const data of refunds) {
    const due = await invoiceDue(em, data.invoiceId);
    const reopened = tookFromInvoice && due !== null && dec(due.amountDue).gt(0);
    // What autopay does with what it owes again (the message promises a card charge only when one comes, and only for what it charges).
    const autopay = reopened ? await autopayOfReopened(em, data.invoiceId!) : {};
    events.push({ subject: data.refundId, key: [data.refundId], data: { ...data, reopened, amountDue: due?.amountDue ?? null, dueDate: due?.dueDate ?? null, ...autopay } satisfies RefundCreatedData });
  }
  await enqueueEvents(em, 'refundCreated', now, events);
}

/**
 * What refundPayment checks and works out before any money moves, under its locks (the account's
 * credit, the invoice, the payment; held to the end of the transaction): its refusals
 * (PAYMENT_NOT_FOUND, REFUND_NOT_ALLOWED, REFUND_CURRENCY_MISMATCH, REFUND_AMOUNT_INVALID,
 * REFUND_EXCEEDS_PAYMENT, REFUND_EXCEEDS_AVAILABLE) and where the money would come from. Asking for a
 * refund's approval runs it too (approvals.ts): a request that could not be carried out now is refused
 * as the refund itself is, and none is stored.
 */
export async function prepareRefund(em: Em, c: { paymentId: string; amount: { amount: string; currency: string } }) {
  const k = sql(em);
  const found = await k('payment').where({ id: c.paymentId }).first();
  if (!found) throw notFound('Payment', c.paymentId, 'input.paymentId');
  // Locks in the order credit notes take them too: the account's credit, the invoice, its payments.
  await lockAccountCredit(em, found.billing_account_id);
  const invoice = found.invoice_id ? await lockInvoice(em, found.invoice_id, 'input.paymentId') : null;
  const payment = await k('payment').where({ id: c.paymentId }).forUpdate().first();
  if (payment.channel === 'ACCOUNT_CREDIT') throw new DomainError('REFUND_NOT_ALLOWED', 'Account credit applied to an invoice is not money to give back; issue a credit note instead', { field: 'input.paymentId' });
  if (c.amount.currency !== payment.currency) throw new DomainError('REFUND_CURRENCY_MISMATCH', `The payment was in ${payment.currency}`, { field: 'input.amount.currency' });
  const scale = minorUnits(payment.currency);
  const amount = dec(c.amount.amount);
  if (amount.lte(0) || amount.decimalPlaces() > scale) throw badInput('input.amount.amount', `A refund is above zero with at most ${scale} decimals`, 'REFUND_AMOUNT_INVALID');
  const refundable = dec(String(payment.amount)).minus(String(payment.refunded_amount));
  if (amount.gt(refundable)) throw new DomainError('REFUND_EXCEEDS_PAYMENT', `Only ${refundable.toFixed(scale)} of this payment can be refunded`, { field: 'input.amount.amount' });

  // A refund gives back kept credit first, then reopens the invoice — each only as far as the money
  // is still there: kept credit the account has since spent on other invoices, or paid money a
  // credit note already took off the invoice, is not given back a second time.
  const fromCreditBefore = dec((await refundedFromCredit(em, [payment.id])).get(payment.id) ?? '0');
  const keptLeft = dec(String(payment.credit_amount)).minus(fromCreditBefore);
  // Under the credit lock taken above: nothing else spends the account's credit meanwhile.
  const balance = keptLeft.gt(0) ? await creditBalance(em, payment.billing_account_id, payment.currency) : dec('0');
  const split = splitRefund({
    currency: payment.currency,
    amount: amount.toFixed(scale),
    keptCredit: keptLeft.toFixed(scale),
    creditBalance: balance.toFixed(),
    // What this payment itself still has on its invoice: not what a CREDIT note moved off it into
    // credit, nor what credit paid on the invoice after a refund reopened it (an ACCOUNT_CREDIT
    // payment of its own), which the invoice-wide amount_paid would count.
    paidOnInvoice: netOnInvoice(payment, fromCreditBefore).toFixed(scale),
    invoicePaid: invoice ? dec(String(invoice.amount_paid)).toFixed() : '0',
  });
  return { payment, invoice, amount, scale, ...split };
}

/**
 * Gives `amount` of a payment (locked by the caller) back, for refundPayment and REFUND credit notes:
 * for a CARD payment the provider's refund, keyed `key` so a retry after a failed commit refunds
 * nothing twice (a refusal throws the provider's coded error and the caller's transaction changes
 * nothing); a `refund` row (other channels without provider ref: someone pays it out); the
 * payment's refunded_amount; and its refund.created event's data, which the caller enqueues in the same
 * transaction once the invoice is updated (announceRefunds: every refund row is written here and every
 * caller announces it, so every refund is announced, once: a replayed request returns before this).
 * Only what is common: the caller decides where the money comes from.
 */
async function payOut(em: Em, payment: any, amount: Decimal, r: { key: string; providerKey?: string; hash: string; now: Date; creditNoteId?: string; origin: RefundOrigin }, provider: PaymentProvider | null): Promise<{ id: string; data: RefundCreatedData }> {
  const scale = minorUnits(payment.currency);
  let providerRef: string | null = null;
  if (payment.channel === 'CARD') {
    if (!provider) throw new Error(`refunding card payment ${payment.id} needs the payment provider`);
    providerRef = (await provider.refund({ providerRef: payment.provider_ref, amount: amount.toFixed(scale), currency: payment.currency, idempotencyKey: r.providerKey ?? r.key })).providerRef;
  }
  const id = newId('refund');
  // A note's refunds are counted for the approval daily limit as the note (its moved_alone_by), not again here.
  const ofNote = r.creditNoteId ? { credit_note_id: r.creditNoteId, moved_alone_by: null } : {};
  // Why and who go on the row; the event below says what the row says (read back from it), so the two cannot disagree.
  const origin = { reason: r.origin.reason ?? null, refunded_by: r.origin.by, refunded_by_role: r.origin.role ?? null, approved_by: r.origin.approvedBy ?? null, approval_request_id: r.origin.approvalRequestId ?? null };
  const [row] = await sql(em)('refund')
    .insert({ id, payment_id: payment.id, billing_account_id: payment.billing_account_id, amount: amount.toFixed(scale), currency: payment.currency, provider_ref: providerRef, idempotency_key: r.key, request_hash: r.hash, created_at: r.now, ...ofNote, ...origin })
    .returning('*');
  await sql(em)('payment').where({ id: payment.id }).update({ refunded_amount: dec(String(payment.refunded_amount)).plus(amount).toFixed(scale) });
  const data: RefundCreatedData = {
    refundId: row.id,
    paymentId: row.payment_id,
    invoiceId: payment.invoice_id ?? null,
    billingAccountId: payment.billing_account_id,
    channel: payment.channel,
    amount: dec(String(row.amount)).toFixed(scale),
    currency: row.currency,
    reason: row.reason,
    creditNoteId: row.credit_note_id,
    refundedBy: row.refunded_by,
    refundedByRole: row.refunded_by_role,
    approvedBy: row.approved_by,
    approvalRequestId: row.approval_request_id,
    refundedAt: new Date(row.created_at).toISOString(),
    providerRef: row.provider_ref,
    // Customer messages name the invoice by its number (REFUND_SENT).
    invoiceNumber: payment.invoice_id ? (((await sql(em)('invoice').where({ id: payment.invoice_id }).first('number'))?.number as string | null | undefined) ?? null) : null,
  };
  // Pending refund requests of this payment that no longer fit what is left are closed (approvals.ts).
  await closeRefundApprovals(em, payment.id, r.now);
  // The caller announces it (announceRefunds) once the invoice says what it owes after it.
  return { id, data };
}

/** refundPayment's key at the card provider: `refund:<billing account>:<caller's key>` (before 2027-01-20 `refund:<caller's key>`). */
const REFUND_PROVIDER_KEY_PREFIX = 'refund:';
export const refundProviderKey = (billingAccountId: string, key: string): string => `${REFUND_PROVIDER_KEY_PREFIX}${billingAccountId}:${key}`;

/**
 * Payment keys go to the provider's charge as they are (charges made before keep their key); the
 * provider's refund keys start with these, so a payment may not take such a key.
 */
const PROVIDER_REFUND_KEY_PREFIXES = [REFUND_PROVIDER_KEY_PREFIX, 'credit-note:', 'credit-note#'];

/** Refund keys starting with these are a REFUND credit note's (noteRefundKey); callers may not take them. */
export const NOTE_REFUND_KEY_PREFIXES = ['credit-note:', 'credit-note#'];

/**
 * The key of a REFUND note's refund of one payment, at the provider and on the refund row: from the
 * note's idempotency key (not its id, which a retry after a failed commit draws anew) and the payment.
 */
export function noteRefundKey(noteKey: string, paymentId: string): string {
  const plain = `credit-note:${noteKey}:${paymentId}`;
  return plain.length <= 200 ? plain : `credit-note#${createHash('sha256').update(noteKey).digest('hex')}:${paymentId}`;
}

/**
 * What a payment still has on its invoice: what it paid there, less what was given back from the
 * invoice (its refunds beyond those out of its kept credit, REFUND notes) and what CREDIT notes moved
 * off it into account credit. An invoice's amount_paid is the sum of its payments' nets.
 */
function netOnInvoice(p: { applied_amount: unknown; refunded_amount: unknown; moved_to_credit: unknown }, refundedFromCredit: string | Decimal): Decimal {
  return dec(String(p.applied_amount)).minus(dec(String(p.refunded_amount)).minus(refundedFromCredit)).minus(String(p.moved_to_credit ?? '0'));
}

/**
 * How much of each payment's refunds came out of the credit it kept (a REFUND credit entry per
 * refund); the rest of its refunded_amount was given back from what it paid on its invoice (a
 * refund that reopened the invoice, or a REFUND credit note).
 */
async function refundedFromCredit(em: Em, paymentIds: string[]): Promise<Map<string, string>> {
  if (paymentIds.length === 0) return new Map();
  const found = await rows<{ payment_id: string; amount: string }>(
    em,
    `select r.payment_id, sum(-e.amount) as amount
       from refund r join payment p on p.id = r.payment_id
       join account_credit_entry e on e.billing_account_id = p.billing_account_id and e.source = 'REFUND' and e.source_id = r.id
      where r.payment_id = any(?::text[]) group by r.payment_id`,
    [paymentIds],
  );
  return new Map(found.map((f) => [f.payment_id, String(f.amount)]));
}

export interface IssueCreditNoteCommand {
  invoiceId: string;
  kind: 'CREDIT' | 'REFUND' | 'OFFSET';
  reason: string;
  lines: { invoiceLineId: string; amount: string }[];
  idempotencyKey: string;
  now: Date;
}

/** credit_note.reason's length (varchar(300)); the notes invoicing issues itself cut their reason to it. */
const MAX_CREDIT_NOTE_REASON = 300;

/**
 * What issueCreditNote checks and works out before anything is written or any money moves, under its
 * locks (the account's credit, the invoice, its lines, for a REFUND note its payments; held to the end
 * of the transaction): its refusals (INVOICE_VOIDED, INVOICE_NOT_ISSUED, CREDIT_NOTE_REASON_MISSING,
 * the lines' own, CREDIT_NOTE_EXCEEDS_LINE / _INVOICE, CREDIT_NOTE_REFUND_EXCEEDS_PAID), its lines with
 * their tax, and the payments a REFUND note gives money back from. Asking for a credit note's approval
 * (approvals.ts) and a dispute ACCEPT's run it too: a request that could not be carried out now is
 * refused as the note itself is, and none is stored.
 */
export async function prepareCreditNote(em: Em, c: Pick<IssueCreditNoteCommand, 'invoiceId' | 'kind' | 'reason' | 'lines'>) {
  // A note may turn into account credit that pays other invoices: credit lock first (lockAccountCredit).
  await lockCreditOfInvoice(em, c.invoiceId);
  const invoice = await lockInvoice(em, c.invoiceId);
  if (invoice.state === 'VOIDED') throw new DomainError('INVOICE_VOIDED', 'A voided invoice cannot be credited', { field: 'input.invoiceId' });
  if (isDraft({ state: invoice.state, heldFrom: invoice.held_from })) throw new DomainError('INVOICE_NOT_ISSUED', 'Regenerate a draft instead of crediting it', { field: 'input.invoiceId' });
  if (!c.reason?.trim()) throw badInput('input.reason', 'Say why the customer is credited', 'CREDIT_NOTE_REASON_MISSING');
  // What credit_note.reason holds (varchar, counted in characters), checked before anything is written: the insert
  // failed on it (INTERNAL), and an agent's request passed this check and then failed every approval, PENDING for good.
  if ([...c.reason].length > MAX_CREDIT_NOTE_REASON) throw badInput('input.reason', `A reason has at most ${MAX_CREDIT_NOTE_REASON} characters`, 'CREDIT_NOTE_REASON_TOO_LONG');
  if (c.reason.includes('\u0000')) throw badInput('input.reason', 'A reason cannot hold a NUL character', 'CREDIT_NOTE_REASON_INVALID');
  const k = sql(em);
  const invoiceLines = await k('invoice_line').where({ invoice_id: invoice.id }).forUpdate();
  // The tax earlier notes gave back per line, read under the invoice's row lock (lockInvoice above):
  // a note on the same invoice at once waits for it and then reads this one's lines (READ COMMITTED),
  // so two notes never compute their tax from the same "already credited".
  const taxBefore = await rows<{ invoice_line_id: string; tax: string }>(
    em,
    'select l.invoice_line_id, sum(l.tax_amount) as tax from credit_note_line l join credit_note n on n.id = l.credit_note_id where n.invoice_id = ? group by l.invoice_line_id',
    [invoice.id],
  );
  const taxCredited = new Map(taxBefore.map((t) => [t.invoice_line_id, String(t.tax)]));
  // What was given back apart from notes is not credited again: refunds naming a one-off charge's line's
  // charge, a usage line's records' billed rerate corrections (charge-given-back.ts).
  const apart = await givenBackApart(em, invoice.id);
  const byId = new Map(
    invoiceLines.map((l: any) => [l.id, { grossAmount: String(l.gross_amount), taxAmount: String(l.tax_amount), creditedAmount: String(l.credited_amount), taxCredited: taxCredited.get(l.id) ?? '0', givenBackApart: apart.get(l.id)?.all.toFixed() ?? '0' }]),
  );
  // All of the invoice's credit notes together credit at most what it billed, its tax and net too.
  const [before] = await rows<{ total: string | null; tax: string | null }>(em, 'select sum(total) as total, sum(tax_total) as tax from credit_note where invoice_id = ?', [invoice.id]);
  const lines = creditNoteLines(
    invoice.currency,
    c.lines.map((l) => ({ ...l, line: byId.get(l.invoiceLineId) })),
    invoice.rounding_mode,
    { total: String(invoice.total), netTotal: String(invoice.net_total), taxTotal: String(invoice.tax_total), creditedTotal: String(before?.total ?? '0'), taxCreditedTotal: String(before?.tax ?? '0') },
  );
  const scale = minorUnits(invoice.currency);
  const total = dec(assertCreditNoteWithinInvoice(invoice.currency, String(invoice.total), String(before?.total ?? '0'), lines));
  const taxTotal = lines.reduce((a, l) => a.plus(l.taxAmount), dec('0'));
  const owed = dec(String(invoice.total)).minus(String(invoice.amount_paid)).minus(String(invoice.amount_credited));
  if (c.kind === 'REFUND' && total.gt(String(invoice.amount_paid))) throw new DomainError('CREDIT_NOTE_REFUND_EXCEEDS_PAID', `Only ${dec(String(invoice.amount_paid)).toFixed(scale)} was paid`, { field: 'input.lines' });
  // A REFUND note pays money back: it is given back from the invoice's payments (money first, then
  // account credit applied to it) and counts as refunded on them, so a refund of the same payment
  // cannot give it back a second time.
  const payouts: { payment: any; take: Decimal }[] = [];
  if (c.kind === 'REFUND') {
    const payments = await k('payment').where({ invoice_id: invoice.id }).orderByRaw(`channel = 'ACCOUNT_CREDIT', created_at, id`).forUpdate();
    const fromCredit = await refundedFromCredit(em, payments.map((p: any) => p.id as string));
    let left = total;
    for (const p of payments) {
      if (!left.gt(0)) break;
      const paidLeft = netOnInvoice(p, fromCredit.get(p.id) ?? '0');
      if (!paidLeft.gt(0)) continue;
      const take = paidLeft.lt(left) ? paidLeft : left;
      payouts.push({ payment: p, take });
      left = left.minus(take);
    }
    if (left.gt(0)) {
      const can = total.minus(left).toFixed(scale);
      throw new DomainError('CREDIT_NOTE_REFUND_EXCEEDS_PAID', `Only ${can} of what was paid on this invoice has not been given back yet`, { field: 'input.lines', refundable: can });
    }
  }
  return { invoice, lines, total, taxTotal, owed, payouts, scale };
}

/**
 * A closure credit note's own facts (closure-credit.ts): when the account closed, and whether the note is issued in
 * the transaction that issues its invoice (that bill's event tells the customer of it).
 */
export interface ClosureOfNote {
  accountClosedAt: Date;
  withInvoice: boolean;
}

/**
 * Why a note was issued, as the customer may be told it (on its event only; the staff's reason stays here), with
 * what each cause links: the dispute whose acceptance issued it (that dispute's message tells it), or the closure
 * whose days after it the note credits. Staff's own notes have none.
 */
export type CreditNoteTold =
  | { cause: 'DISPUTE_ACCEPTED'; disputeId: string }
  | { cause: 'CHARGE_WAIVED' }
  | { cause: 'ACCOUNT_CLOSED'; closure: ClosureOfNote };

/** A REFUND note's card refund the provider refused after another of the note's refunds went out: kept as account credit. */
export interface RefusedNoteRefund {
  paymentId: string;
  amount: string;
  /** The provider's code (PAYMENT_DECLINED…). */
  code: string;
}

/**
 * The provider said no for good (a decline: a coded refusal of the request). Not an outage or an unknown outcome
 * (INTERNAL: the refund may have gone through), nor its key already taken by other parameters (a refund under
 * it may exist): those still fail the note, to be retried under the same key.
 */
function providerRefused(error: unknown): error is DomainError {
  return error instanceof DomainError && error.category === 'BAD_USER_INPUT';
}

/**
 * A credit note against invoice lines. CREDIT lowers what the invoice still asks for (any part of
 * it already paid becomes account credit); OFFSET puts the amount on the account's credit for
 * later invoices; REFUND pays it back (the paid amount goes down by it): each payment it takes money
 * back from is refunded as refundPayment refunds it (payOut; `provider` for CARD payments, null only
 * where no REFUND note is issued; `origin`: who issued and approved it, on each refund's event).
 * `told`: why, as the customer may be told it (CreditNoteTold; none for staff's own notes): on the event only, not
 * part of the request.
 */
export async function issueCreditNote(em: Em, c: IssueCreditNoteCommand, provider: PaymentProvider | null, origin: RefundOrigin = { by: null }, told: CreditNoteTold | null = null): Promise<string> {
  // An empty key is refused as a payment's is (gateCreditNote lets it through to here, so an agent is refused alike).
  checkPaymentKey(c.idempotencyKey);
  const { now, ...request } = c;
  const hash = requestHash(request);
  // The key is the invoice's account's; an invoice that does not exist has no note to replay (prepareCreditNote refuses it).
  const account = await accountOfInvoice(em, c.invoiceId);
  if (account !== null) {
    const again = await replay(em, 'credit_note', account, c.idempotencyKey, hash);
    if (again) return again;
  }
  const { invoice, lines, total, taxTotal, owed, payouts, scale } = await prepareCreditNote(em, c);
  const k = sql(em);

  const id = newId('creditNote');
  // Counters per document type and series (an account's invoice series may not take this prefix: document-series.ts).
  await k.raw(`insert into invoice_series (document_type, series, last_number) values ('CREDIT_NOTE', ?, 0) on conflict (document_type, series) do nothing`, [CREDIT_NOTE_PREFIX]);
  const [{ last_number }] = (await k.raw(`update invoice_series set last_number = last_number + 1 where document_type = 'CREDIT_NOTE' and series = ? returning last_number`, [CREDIT_NOTE_PREFIX])).rows;
  const number = `${CREDIT_NOTE_PREFIX}-${String(last_number).padStart(8, '0')}`;
  await k('credit_note').insert({ id, number, invoice_id: invoice.id, billing_account_id: invoice.billing_account_id, kind: c.kind, reason: c.reason, total: total.toFixed(scale), tax_total: taxTotal.toFixed(scale), currency: invoice.currency, idempotency_key: c.idempotencyKey, request_hash: hash, created_at: now });
  await k('credit_note_line').insert(lines.map((l, i) => ({ id: `${id}_${i + 1}`.slice(0, 40), credit_note_id: id, invoice_line_id: l.invoiceLineId, amount: l.amount, tax_amount: l.taxAmount })));
  for (const l of lines) await k('invoice_line').where({ id: l.invoiceLineId }).update({ credited_amount: k.raw('credited_amount + ?::numeric', [l.amount]) });
  // Pending credit note requests of this invoice this note leaves no room for are closed (approvals.ts).
  await closeCreditNoteApprovals(em, invoice.id, now);
  // The money goes back: a refund per payment, at the card provider for a card. A refusal before any refund
  // went out at the provider fails the note (nothing moved). Once one has gone out, the money has left: the
  // note stands, and a later card refund the provider refuses is kept as the customer's account credit
  // (credit_note.refunds_refused), never lost from the record nor given back again by a retry.
  const refunds: RefundCreatedData[] = [];
  const refused: RefusedNoteRefund[] = [];
  let sentAtProvider = false;
  for (const p of payouts) {
    const key = noteRefundKey(c.idempotencyKey, p.payment.id);
    try {
      const { data: refund } = await payOut(em, p.payment, p.take, { key, hash: requestHash({ creditNoteKey: c.idempotencyKey, paymentId: p.payment.id, amount: p.take.toFixed(scale) }), now, creditNoteId: id, origin: { ...origin, reason: c.reason } }, provider);
      refunds.push(refund);
      if (p.payment.channel === 'CARD') sentAtProvider = true;
    } catch (error) {
      if (!sentAtProvider || p.payment.channel !== 'CARD' || !providerRefused(error)) throw error;
      refused.push({ paymentId: p.payment.id, amount: p.take.toFixed(scale), code: error.code });
      await k('payment').where({ id: p.payment.id }).update({ moved_to_credit: dec(String(p.payment.moved_to_credit ?? '0')).plus(p.take).toFixed(scale) });
    }
  }
  if (refused.length > 0) await k('credit_note').where({ id }).update({ refunds_refused: JSON.stringify(refused) });

  let paid = dec(String(invoice.amount_paid));
  let credited = dec(String(invoice.amount_credited));
  let toAccount = dec('0');
  if (c.kind === 'CREDIT') {
    credited = credited.plus(total);
    if (total.gt(owed)) {
      // Part of the credited amount was already paid: the customer keeps it as credit — never more
      // than was paid (the invoice-total cap above already ensures it).
      toAccount = total.minus(owed.isNegative() ? 0 : owed);
      if (toAccount.gt(paid)) toAccount = paid.isNegative() ? dec('0') : paid;
      paid = paid.minus(toAccount);
      await movePaymentsToCredit(em, invoice.id, toAccount, scale);
    }
  } else if (c.kind === 'OFFSET') {
    toAccount = total;
  } else {
    credited = credited.plus(total);
    paid = paid.minus(total);
    // What the provider refused to refund stays the customer's, as account credit (the payment's moved_to_credit above).
    toAccount = refused.reduce((a, r) => a.plus(r.amount), dec('0'));
  }
  await k('invoice').where({ id: invoice.id }).update({ amount_paid: paid.toFixed(scale), amount_credited: credited.toFixed(scale), updated_at: now });
  if (toAccount.gt(0)) await k('account_credit_entry').insert({ id: `crd_${id.slice(3)}`.slice(0, 40), billing_account_id: invoice.billing_account_id, amount: toAccount.toFixed(scale), currency: invoice.currency, source: 'CREDIT_NOTE', source_id: id, created_at: now });
  // Open disputes whose creditable room the note took give it up: covered in full, ACCEPTED with this
  // note; in part, reduced (a held invoice may be released here, so the state change below sees ON_HOLD).
  // dispute.resolved says the state the invoice is released to before this note (SETTLED: paid, also during the hold).
  await takeDisputesCoveredByCreditNote(em, { invoiceId: invoice.id, creditNoteId: id, number, idempotencyKey: c.idempotencyKey, now, invoiceState: releasedState(invoice) });
  if (c.kind !== 'OFFSET' && invoice.state !== 'ON_HOLD' && invoice.state !== 'VALIDATED') {
    const next = settlementState({ total: String(invoice.total), amountPaid: paid.toFixed(scale), amountCredited: credited.toFixed(scale) });
    await stateChanged(em, invoice, invoice.state as InvoiceState, next, now, `credit note ${number}`);
  }
  // The credit pays the account's open invoices (an OFFSET note on an open invoice pays that one too).
  if (toAccount.gt(0)) await applyAccountCredit(em, invoice.billing_account_id, invoice.currency, now);
  // Announced once the invoice and the credit it brought are applied: the customer is told what is still due.
  // Never the reason: it is staff's (the customer-safe `cause` says why).
  const due = await invoiceDue(em, invoice.id);
  const data: CreditNoteCreatedData = {
    creditNoteId: id,
    number,
    invoiceId: invoice.id,
    billingAccountId: invoice.billing_account_id,
    kind: c.kind,
    total: total.toFixed(scale),
    taxTotal: taxTotal.toFixed(scale),
    currency: invoice.currency,
    lines,
    invoiceNumber: due?.number ?? null,
    creditAmount: toAccount.toFixed(scale),
    amountDue: due?.amountDue ?? '0',
    dueDate: due?.dueDate ?? null,
    cause: told?.cause ?? null,
    disputeId: told?.cause === 'DISPUTE_ACCEPTED' ? told.disputeId : null,
    accountClosedAt: told?.cause === 'ACCOUNT_CLOSED' ? told.closure.accountClosedAt.toISOString() : null,
    issuedWithInvoice: told?.cause === 'ACCOUNT_CLOSED' ? told.closure.withInvoice : false,
  };
  await enqueueEvents(em, 'creditNoteCreated', now, [{ subject: id, key: [id], data }]);
  // A REFUND note's refunds: its lowering of the invoice reopens nothing.
  await announceRefunds(em, refunds, now, false);
  return id;
}

/**
 * Records on the invoice's payments which of them the money a CREDIT note moves into account credit
 * came from, so none of them is refunded that money again. Account credit that paid the invoice goes
 * back to credit first (newest first), then money payments (newest first): the note gives the
 * customer credit, and what they paid in money stays refundable as long as it is on the invoice.
 * Rows from before payment.moved_to_credit may leave part unrecorded; the refund's invoice-wide cap
 * still holds for them.
 */
async function movePaymentsToCredit(em: Em, invoiceId: string, amount: Decimal, scale: number): Promise<void> {
  if (!amount.gt(0)) return;
  const k = sql(em);
  const payments = await k('payment').where({ invoice_id: invoiceId }).orderByRaw(`channel <> 'ACCOUNT_CREDIT', created_at desc, id desc`).forUpdate();
  const fromCredit = await refundedFromCredit(em, payments.map((p: any) => p.id as string));
  let left = amount;
  for (const p of payments) {
    if (!left.gt(0)) break;
    const net = netOnInvoice(p, fromCredit.get(p.id) ?? '0');
    if (!net.gt(0)) continue;
    const take = net.lt(left) ? net : left;
    await k('payment').where({ id: p.id }).update({ moved_to_credit: dec(String(p.moved_to_credit)).plus(take).toFixed(scale) });
    left = left.minus(take);
  }
}

export interface IssueReceiptCommand {
  billingAccountId: string;
  rechargeId: string;
  amount: { amount: string; currency: string };
  paymentReference: string;
  channel: string;
  idempotencyKey: string;
  now: Date;
}

/** What the receipt row holds (varchar, counted in characters): recharge_id, payment_reference, channel. */
const RECEIPT_TEXTS = [
  ['rechargeId', 80, 'RECEIPT_RECHARGE_ID_INVALID'],
  ['paymentReference', 120, 'RECEIPT_PAYMENT_REFERENCE_INVALID'],
  ['channel', 32, 'RECEIPT_CHANNEL_INVALID'],
] as const;

/**
 * issuePaymentReceipt's refusals, before a number is drawn (each BAD_USER_INPUT naming its field), as the rest
 * of the payments API refuses them: an amount above zero, within the currency's minor units and below what
 * receipt.amount (numeric(18, 4)) holds; the currency the billing account's (an account invoicing does not know
 * yet has none to compare: its receipt is issued as before); texts their columns hold. The amount, in the
 * currency's minor units.
 */
async function checkReceipt(em: Em, c: IssueReceiptCommand): Promise<string> {
  for (const [field, max, code] of RECEIPT_TEXTS) {
    const text = c[field];
    if ([...text].length > max || text.includes('\u0000')) throw badInput(`input.${field}`, `${field} is at most ${max} characters, without NUL`, code);
  }
  if (!isCurrencyCode(c.amount.currency)) throw badInput('input.amount.currency', `Unknown currency "${c.amount.currency}"`, 'RECEIPT_CURRENCY_INVALID');
  const scale = minorUnits(c.amount.currency);
  const account = await sql(em)('billing_account').where({ id: c.billingAccountId }).first('currency');
  if (account && account.currency !== c.amount.currency) {
    throw new DomainError('RECEIPT_CURRENCY_MISMATCH', `The billing account is in ${account.currency}; a receipt in ${c.amount.currency} cannot be issued to it`, { field: 'input.amount.currency' }, 'BAD_USER_INPUT');
  }
  const amount = dec(c.amount.amount);
  if (amount.lte(0)) throw badInput('input.amount.amount', 'A receipt is for an amount above zero', 'RECEIPT_AMOUNT_NOT_POSITIVE');
  if (amount.decimalPlaces() > scale) throw badInput('input.amount.amount', `${c.amount.currency} has ${scale} decimal places`, 'RECEIPT_AMOUNT_PRECISION');
  if (amount.gte(MAX_PAYMENT_AMOUNT)) throw badInput('input.amount.amount', 'The amount is too large', 'RECEIPT_AMOUNT_INVALID');
  return amount.toFixed(scale);
}

/** A receipt for a prepaid recharge (the recharge workflow's activity). */
export async function issuePaymentReceipt(em: Em, c: IssueReceiptCommand): Promise<string> {
  checkPaymentKey(c.idempotencyKey);
  const { now, ...request } = c;
  const hash = requestHash(request);
  // One key space (the recharge workflow's `<workflowId>:issueReceipt`, an ops-only mutation).
  const again = await replay(em, 'receipt', null, c.idempotencyKey, hash);
  if (again) return again;
  const k = sql(em);
  const amount = await checkReceipt(em, c);
  // Counters per document type and series (an account's invoice series may not take this prefix: document-series.ts).
  await k.raw(`insert into invoice_series (document_type, series, last_number) values ('RECEIPT', ?, 0) on conflict (document_type, series) do nothing`, [RECEIPT_PREFIX]);
  const [{ last_number }] = (await k.raw(`update invoice_series set last_number = last_number + 1 where document_type = 'RECEIPT' and series = ? returning last_number`, [RECEIPT_PREFIX])).rows;
  const id = newId('receipt');
  await k('receipt').insert({ id, number: `${RECEIPT_PREFIX}-${String(last_number).padStart(8, '0')}`, billing_account_id: c.billingAccountId, recharge_id: c.rechargeId, amount, currency: c.amount.currency, payment_reference: c.paymentReference, channel: c.channel, idempotency_key: c.idempotencyKey, request_hash: hash, created_at: now });
  return id;
}
