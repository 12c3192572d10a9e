// Account credit (overpayments, credit notes turned into credit, negative invoices) pays the
// account's issued, unpaid invoices by itself: a payment on channel ACCOUNT_CREDIT and a −amount
// credit entry per invoice paid, whether the credit arrives after the invoice was issued or the
// invoice is issued (or released from a dispute) while the credit is there.
import { dec, minorUnits, newId, type Decimal, type PaymentCreatedData } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { isDraft, outstanding, settlementState, type InvoiceState } from '../domain/lifecycle';
import { stateChanged } from './invoice-lifecycle';
import { enqueueEvents, requestHash, rows, sql } from './sql';

/**
 * Serialises everything that reads or moves one account's credit (its account_credit_lock row, FOR
 * UPDATE until the transaction ends; taking it again in the same transaction returns at once). Lock
 * order (lock-order.ts): after the account's billing lock, before one-off ids and any row lock on the
 * account's invoices — applying credit locks several of them, so a use case holding one invoice while
 * waiting here could deadlock with it.
 */
export async function lockAccountCredit(em: Em, billingAccountId: string): Promise<void> {
  await lockAccountsCredit(em, [billingAccountId]);
}

/**
 * The credit locks of many accounts, in id order. Row locks, not advisory locks: a row lock is kept in
 * the row, an advisory lock takes an entry of PostgreSQL's lock table, which the whole server shares
 * (max_locks_per_transaction × connections): a bill run's batch holding 10,000 of them ran it out
 * ("out of shared memory") for every session. A row a registration did not make (an account written
 * otherwise) is made first; making it holds it like the lock, before the others are taken in order.
 */
export async function lockAccountsCredit(em: Em, billingAccountIds: string[]): Promise<void> {
  const ids = [...new Set(billingAccountIds)].sort();
  if (ids.length === 0) return;
  await sql(em).raw('insert into account_credit_lock (billing_account_id) select id from unnest(?::text[]) as ids(id) order by id on conflict do nothing', [ids]);
  await rows(em, 'select billing_account_id from account_credit_lock where billing_account_id = any(?::text[]) order by billing_account_id for update', [ids]);
}

/**
 * The credit lock of an issued invoice's account, taken before the caller locks the invoice. Not for
 * a draft, which neither gives nor takes credit (issuing it takes the credit lock itself, before the
 * draft). An invoice issued between this read and the caller's lock leaves the caller without it:
 * the issue committed, so what the caller then does to the issued invoice takes the lock after the
 * invoice's row, a rare race that can at worst deadlock (PostgreSQL fails one transaction, not retried).
 */
export async function lockCreditOfInvoice(em: Em, invoiceId: string): Promise<void> {
  const invoice = await sql(em)('invoice').where({ id: invoiceId }).first();
  if (invoice && invoice.state !== 'VOIDED' && !isDraft({ state: invoice.state as InvoiceState, heldFrom: invoice.held_from })) await lockAccountCredit(em, invoice.billing_account_id);
}

/** The account's credit in one currency: the sum of its entries. */
export async function creditBalance(em: Em, billingAccountId: string, currency: string): Promise<Decimal> {
  const [balance] = await rows<{ total: string | null }>(em, 'select sum(amount) as total from account_credit_entry where billing_account_id = ? and currency = ?', [billingAccountId, currency]);
  return dec(String(balance?.total ?? '0'));
}

/** One invoice account credit pays (planAccountCredit): the invoice row (locked), what credit pays of it and what it then owes. */
export interface CreditApplication {
  invoice: any;
  applied: string;
  /** What the invoice owes after it, its disputed part included (total − paid − credited). */
  owedAfter: string;
}

/**
 * What applying the account's credit in `currency` would pay now, without paying it: the account's
 * issued invoices that still owe — SENT or PARTIALLY_PAID, and the undisputed part of one a dispute
 * holds (ON_HOLD after it was issued) — a draft is not issued, a voided one owes nothing — oldest due
 * first, never more than the credit nor than an invoice owes; and the credit left after it. Under the
 * credit lock and the invoices' row locks (taken here), so applyAccountCredit in the same transaction
 * pays exactly this: events written before the credit is applied (a bill issued, a payment whose
 * excess becomes credit) can say what it pays while keeping their place before its payments.
 */
export async function planAccountCredit(em: Em, billingAccountId: string, currency: string): Promise<{ applications: CreditApplication[]; creditLeft: Decimal }> {
  await lockAccountCredit(em, billingAccountId);
  const scale = minorUnits(currency);
  let credit = (await creditBalance(em, billingAccountId, currency)).toDecimalPlaces(scale, 1);
  if (credit.lte(0)) return { applications: [], creditLeft: dec('0') };
  const k = sql(em);
  // An issued invoice on hold for a dispute is still due for what is not disputed (dunning goes on
  // for it): credit pays that part, never the disputed amount.
  const open = await k('invoice')
    .where({ billing_account_id: billingAccountId, currency })
    .where((q) => q.whereIn('state', ['SENT', 'PARTIALLY_PAID']).orWhere((h) => h.where('state', 'ON_HOLD').whereIn('held_from', ['SENT', 'PARTIALLY_PAID'])))
    .whereNull('voided_at')
    .whereRaw(`total - amount_paid - amount_credited - case when state = 'ON_HOLD' then coalesce(amount_disputed, 0) else 0 end > 0`)
    .orderBy([{ column: 'due_date' }, { column: 'issued_at' }, { column: 'id' }])
    .forUpdate();
  const applications: CreditApplication[] = [];
  for (const invoice of open) {
    if (credit.lte(0)) break;
    const disputed = invoice.state === 'ON_HOLD' ? dec(String(invoice.amount_disputed ?? '0')) : dec('0');
    const owing = outstanding({ total: String(invoice.total), amountPaid: String(invoice.amount_paid), amountCredited: String(invoice.amount_credited) });
    const owed = owing.minus(disputed);
    const applied = (credit.lt(owed) ? credit : owed).toFixed(scale);
    if (dec(applied).lte(0)) continue;
    applications.push({ invoice, applied, owedAfter: owing.minus(applied).toFixed(scale) });
    credit = credit.minus(applied);
  }
  return { applications, creditLeft: credit };
}

/**
 * Applies the account's credit in `currency` to its issued invoices that still owe, as
 * planAccountCredit plans it. Called in the transaction that brings the credit (or issues or
 * releases the invoice), under the credit lock, so retries and credits arriving at once apply what
 * is there exactly once. Returns the invoices it paid.
 */
export async function applyAccountCredit(em: Em, billingAccountId: string, currency: string, now: Date): Promise<string[]> {
  const { applications } = await planAccountCredit(em, billingAccountId, currency);
  for (const a of applications) await payFromCredit(em, a.invoice, a.applied, now);
  return applications.map((a) => a.invoice.id as string);
}

/**
 * Invoices whose dunning has started that account credit paid at `at` or later, of the given accounts, but
 * those in `except` (already told otherwise): a negative invoice, a credit note, a payment or refund that
 * brought credit may pay an older invoice whose dunning is waiting. Read after the change commits, so that
 * dunning can be told to look again (`paymentRecorded`), as after a payment: the one query for bill runs and
 * closeBillingPeriod (credit-paid-told.ts), credit notes issued on their own (credit-notes-told.ts) and the
 * mutations' resolvers (`pokeCreditPaid`).
 */
export async function dunnedInvoicesPaidFromCredit(em: Em, billingAccountIds: string[], at: Date, except: string[] = []): Promise<{ id: string; dunningRun: number }[]> {
  if (billingAccountIds.length === 0) return [];
  const paid = await rows<{ id: string; dunning_runs: number }>(
    em,
    `select distinct i.id, i.dunning_runs from payment p join invoice i on i.id = p.invoice_id
      where p.billing_account_id = any(?::text[]) and p.channel = 'ACCOUNT_CREDIT' and p.created_at >= ? and i.dunning_started_at is not null
        and i.id <> all(?::text[])
      order by i.id`,
    [billingAccountIds, at, except],
  );
  return paid.map((r) => ({ id: r.id, dunningRun: Number(r.dunning_runs) }));
}

async function payFromCredit(em: Em, invoice: any, applied: string, now: Date): Promise<void> {
  const k = sql(em);
  const scale = minorUnits(invoice.currency);
  // One key per application, unique on payment.idempotency_key: the first keeps the key it had
  // when credit was applied only at issue, later ones (more credit arrived) are numbered.
  const [{ n }] = await rows<{ n: string }>(em, `select count(*) as n from payment where invoice_id = ? and channel = 'ACCOUNT_CREDIT'`, [invoice.id]);
  const key = Number(n) === 0 ? `account-credit:${invoice.id}` : `account-credit:${invoice.id}:${Number(n) + 1}`;
  const id = newId('payment');
  await k('payment').insert({
    id, billing_account_id: invoice.billing_account_id, invoice_id: invoice.id, channel: 'ACCOUNT_CREDIT', amount: applied, currency: invoice.currency, applied_amount: applied, credit_amount: '0',
    reference: invoice.payment_reference, provider_ref: null, idempotency_key: key, request_hash: requestHash({ invoiceId: invoice.id, applied }), created_at: now,
  });
  await k('account_credit_entry').insert({ id: `crd_${id.slice(4)}`.slice(0, 40), billing_account_id: invoice.billing_account_id, amount: dec(applied).negated().toFixed(scale), currency: invoice.currency, source: 'INVOICE', source_id: invoice.id, created_at: now });
  const paid = dec(String(invoice.amount_paid)).plus(applied).toFixed(scale);
  await k('invoice').where({ id: invoice.id }).update({ amount_paid: paid, updated_at: now });
  // On hold it stays on hold (the dispute decides the rest), as a payment on it does.
  const next = invoice.state === 'ON_HOLD' ? 'ON_HOLD' : settlementState({ total: String(invoice.total), amountPaid: paid, amountCredited: String(invoice.amount_credited) });
  await stateChanged(em, invoice, invoice.state, next, now, 'account credit applied');
  await enqueueEvents(em, 'paymentCreated', now, [
    {
      subject: id,
      key: [id],
      data: {
        paymentId: id, billingAccountId: invoice.billing_account_id, invoiceId: invoice.id, channel: 'ACCOUNT_CREDIT', amount: applied, appliedAmount: applied, creditAmount: '0', currency: invoice.currency, invoiceState: next,
        ...owedOn(invoice, paid), autopay: false, paidAt: now.toISOString(),
      } satisfies PaymentCreatedData,
    },
  ]);
}

/**
 * What a payment event says of the invoice it paid (customer messages): its number, what it owes once
 * `amountPaid` is its paid amount (disputed part included) and the part a dispute holds, if any.
 */
export function owedOn(invoice: any, amountPaid: string): Pick<PaymentCreatedData, 'invoiceNumber' | 'amountDue' | 'amountDisputed'> {
  const scale = minorUnits(invoice.currency);
  const owing = outstanding({ total: String(invoice.total), amountPaid, amountCredited: String(invoice.amount_credited) });
  // Only an invoice a dispute holds keeps the disputed part from what is asked for.
  const disputed = invoice.state === 'ON_HOLD' ? dec(String(invoice.amount_disputed ?? '0')) : dec('0');
  return {
    invoiceNumber: invoice.number ?? null,
    amountDue: (owing.gt(0) ? owing : dec('0')).toFixed(scale),
    ...(disputed.gt(0) && owing.gt(0) ? { amountDisputed: (disputed.lt(owing) ? disputed : owing).toFixed(scale) } : {}),
  };
}
