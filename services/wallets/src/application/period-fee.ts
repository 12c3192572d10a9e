import { Decimal, deterministicId, formatAmount, minorUnits, unusedDaysRefund } from '@ledgerline/contracts';
import type { Sql } from '../persistence/sql';
import { eventRow, insertOutbox } from '../persistence/sql';
import type { PlanTerms } from '../adapters/catalog-client';
import { covers } from '../domain/allowance-period';
import { fmt } from '../domain/charging';
import { accountId, findTransaction, newTxId, postTransactions } from './ledger';
import { insertNotifications } from './buckets';
import { emitBalanceEvents } from './balance-events';
import { walletOf, type WalletRow } from './wallets';
import { budgetHeadroom } from './budget';
import { isLateChargeRefusal, lateChargeMessage, lateChargeRefusal, recordOwedCredit, type LateChargeRefusal } from './closed-wallet-moves';
import type { SubscriptionTermRow } from './subscription-terms';

type Term = Pick<SubscriptionTermRow, 'subscription_id' | 'billing_account_id' | 'line_id' | 'payment_mode' | 'currency'>;

/**
 * Whether a period's fee gives back its unused whole days when the subscription ends inside it
 * (`DAILY`) or not (`NONE`): the plan's `recurringFee.proration` (absent: not refunded, as
 * `refundUnusedPeriod` has always read it).
 */
export type FeeProration = 'DAILY' | 'NONE';

/** The proration of the plan terms `terms` (null: no terms to read). */
export function prorationOf(terms: PlanTerms | null): FeeProration | null {
  if (!terms) return null;
  return terms.recurringFee?.proration === 'DAILY' ? 'DAILY' : 'NONE';
}

/** What a period of this subscription costs its prepaid balance (postpaid: invoicing bills the fee). */
export function periodFeeOf(term: Pick<Term, 'payment_mode'>, terms: PlanTerms): Decimal {
  return term.payment_mode === 'PREPAID' && terms.recurringFee ? new Decimal(terms.recurringFee.amount) : new Decimal(0);
}

/**
 * Takes the recurring fee of the period starting at `start` from the prepaid balance (ledger:
 * wallet → revenue, key `RENEWAL:<subscription>:<start>`, with the low-balance events a charge
 * would raise), or reports that the balance, its overdraft and a committed-spend budget's next
 * replenishment (budgetHeadroom) do not cover it. Paid already
 * (the same key): nothing more is taken. The fee transaction keeps the proration of the terms it
 * was taken under (`fee_proration`): the period's unused-days refund follows those terms, whatever
 * the plan says when the period ends (`refundUnusedPeriod`). A closed wallet refuses it as a late
 * charge (`lateChargeRefusal`, the period's start as when it is incurred): nothing is taken or owed,
 * as no allowance is granted for it (markFeeRefused); the refusal is kept under the period's key with
 * no entries, as a refused one-off's is under its own (recordRefusedFee), and answers a later try.
 */
export async function payPeriodFee(sql: Sql, term: Term, terms: PlanTerms, start: Date, now: Date): Promise<{ paid: true } | { paid: false; fee: Decimal; balance: Decimal } | { paid: false; refused: LateChargeRefusal }> {
  const fee = periodFeeOf(term, terms);
  const key = `RENEWAL:${term.subscription_id}:${start.toISOString()}`;
  if (fee.isZero()) return { paid: true };
  const existing = await findTransaction(sql, key);
  // The key holds the period's decision: paid, or refused by a closed wallet (kept with no entries).
  if (existing) return isLateChargeRefusal(existing.outcome?.refused) ? { paid: false, refused: existing.outcome.refused } : { paid: true };
  const wallet = await walletOf(sql, term.billing_account_id, term.currency, true);
  // A closed wallet judges the fee as a late charge incurred when its period starts: a settled
  // balance was handed to finance, and a period from the close on is service the account no longer has.
  const refused = wallet && lateChargeRefusal(wallet, start.toISOString(), now);
  if (refused) {
    await recordRefusedFee(sql, term, wallet, { key, fee, start, refused }, now);
    return { paid: false, refused };
  }
  const balance = new Decimal(wallet?.balance ?? 0);
  // A budget wallet pays with its next replenishment too (moveFee's balance events make it), as its usage and one-off charges do.
  if (!wallet || !covers(balance.plus(await budgetHeadroom(sql, wallet.id)), new Decimal(wallet.overdraft_limit), fee)) return { paid: false, fee, balance };
  await moveFee(sql, term, wallet, { key, kind: 'RECURRING_FEE', intoWallet: fee.negated(), proration: prorationOf(terms) }, now);
  return { paid: true };
}

/**
 * A period's fee a closed wallet refused: its decision under the period's key (kind RECURRING_FEE,
 * no entries: nothing taken, nothing owed, as the refusal of a late one-off charge is kept,
 * closed-wallet-moves.ts), so the ledger shows why the period was not paid, and a redelivered
 * subscription event or a later renewal pass finds it refused (payPeriodFee), never paid: the
 * period's refund (periodFee) reads what the key took from the wallet, which is nothing. No event:
 * no allowance was granted for the period, so nobody owes it.
 */
async function recordRefusedFee(sql: Sql, term: Term, wallet: WalletRow, r: { key: string; fee: Decimal; start: Date; refused: LateChargeRefusal }, now: Date): Promise<void> {
  await postTransactions(sql, [{
    id: newTxId(), idempotencyKey: r.key, kind: 'RECURRING_FEE', billingAccountId: term.billing_account_id, reference: term.subscription_id,
    outcome: { subscriptionId: term.subscription_id, periodStart: r.start.toISOString(), fee: fmt(r.fee), currency: term.currency, refused: r.refused, refusedBecause: lateChargeMessage(wallet, r.refused) },
    entries: [],
  }], now);
}

/**
 * One ledger transaction between the prepaid wallet and revenue (`intoWallet` negative: a fee
 * taken, with the `proration` of the terms it was taken under; positive: a refund), with the
 * balance events it raises.
 */
async function moveFee(sql: Sql, term: Term, wallet: WalletRow, t: { key: string; kind: string; intoWallet: Decimal; proration?: FeeProration | null }, now: Date): Promise<void> {
  const txId = newTxId();
  await postTransactions(sql, [{
    id: txId,
    idempotencyKey: t.key,
    kind: t.kind,
    billingAccountId: term.billing_account_id,
    reference: term.subscription_id,
    entries: [
      { accountId: wallet.id, unit: term.currency, amount: t.intoWallet },
      { accountId: accountId(term.billing_account_id, 'REVENUE', term.currency), unit: term.currency, amount: t.intoWallet.negated() },
    ],
  }], now);
  // Written with the transaction (same database transaction, the row just inserted): postTransactions is the ledger's shared writer.
  if (t.proration) await sql.query(`update ledger_transaction set fee_proration = $2 where id = $1`, [txId, t.proration]);
  const before = new Decimal(wallet.balance);
  await emitBalanceEvents(sql, now, [{
    walletId: wallet.id, billingAccountId: wallet.billing_account_id, currency: wallet.currency, paymentMode: wallet.payment_mode,
    lowBalanceThreshold: wallet.low_balance_threshold === null ? null : new Decimal(wallet.low_balance_threshold), before, after: before.plus(t.intoWallet), cause: txId,
  }], []);
}

/**
 * A period the balance could not pay: nothing is granted, the subscription is due from now on
 * (the renewal job tries again each minute, and at its next pass after a top-up, and starts the
 * period when the balance covers it), and the customer is told once per period (`periodKey`).
 */
export async function markFeeDue(sql: Sql, term: Term, unpaid: { fee: Decimal; balance: Decimal }, periodKey: Date, alreadyDue: boolean, now: Date): Promise<void> {
  // Tried again in a minute, or at the next job pass after a top-up (see `feeDueCanRetry`).
  await sql.query(`update subscription_term set fee_state = 'DUE', period_end = least(period_end, $2), retry_at = $3, updated_at = $2 where subscription_id = $1`, [term.subscription_id, now, new Date(now.getTime() + 60_000)]);
  if (alreadyDue) return;
  const { fee, balance } = unpaid;
  await insertNotifications(sql, [{
    id: deterministicId('message', 'BUNDLE_FEE_DUE', term.subscription_id, periodKey.toISOString()), billingAccountId: term.billing_account_id, walletId: null, bucketId: null, kind: 'BUNDLE_FEE_DUE',
    // The balance floored (as the LOW_BALANCE text): 9.996 EUR rounded read "costs 10.00 and your balance is 10.00".
    message: `Your bundle costs ${fee.toFixed(minorUnits(term.currency))} ${term.currency} and your balance is ${formatAmount(balance, term.currency, 'FLOOR')}: top up and it starts within a minute.`,
  }], now);
  await insertOutbox(sql, [eventRow('bundleFeeDue', term.subscription_id, [term.subscription_id, periodKey.toISOString()], now, {
    subscriptionId: term.subscription_id, billingAccountId: term.billing_account_id, lineId: term.line_id, fee: { amount: fmt(fee), currency: term.currency }, balance: { amount: fmt(balance), currency: term.currency }, period: periodKey.toISOString(),
  })]);
}

/** fee_state of a subscription whose fee a closed wallet refused: the renewal job leaves it for good. */
export const FEE_REFUSED = 'REFUSED';

/**
 * A period a closed wallet refused to pay (payPeriodFee): nothing is granted, and unlike an unpaid
 * fee it is not tried again (no top-up can reach a closed wallet: a retry each minute would never
 * end). The subscription stays where its last paid period ended until its end event comes.
 */
export async function markFeeRefused(sql: Sql, term: Term, now: Date): Promise<void> {
  await sql.query(`update subscription_term set fee_state = $2, period_end = least(period_end, $3), retry_at = null, updated_at = $3 where subscription_id = $1`, [term.subscription_id, FEE_REFUSED, now]);
}

/**
 * A top-up: the account's bundles waiting for their fee are tried at the next job pass. The top-up
 * holds the wallet lock, and a renewal locks its term before the wallet: a term another transaction
 * holds is left as it is (that one is renewing it now, and takes the wallet once the top-up
 * commits). Waiting for it deadlocked the two (topup-renewal-lock-order.test.ts).
 */
export async function feeDueCanRetry(sql: Sql, billingAccountId: string, now: Date): Promise<void> {
  await sql.query(
    `update subscription_term set retry_at = $2 where subscription_id in (
       select subscription_id from subscription_term where billing_account_id = $1 and fee_state = 'DUE' and retry_at > $2 for update skip locked)`,
    [billingAccountId, now],
  );
}

/**
 * What the fee transaction of the period starting at `periodStart` took from the prepaid balance
 * (`RENEWAL:<subscription>:<start>`, written by payPeriodFee: wallet → revenue), as revenue
 * received it, and the proration of the terms it was taken under (null: taken before wallets
 * recorded it, migration 20270123000000); null when no fee was taken for that period. The
 * ledger's figures, not the plan's: the catalog's fee and terms may have changed since (a price
 * rise, a promotion ending, a version that no longer refunds unused days).
 */
export async function periodFee(sql: Sql, term: Term, periodStart: Date): Promise<{ taken: Decimal; proration: FeeProration | null } | null> {
  const [row] = await sql.query<{ taken: string | null; fee_proration: string | null }>(
    `select (select sum(e.amount) from ledger_entry e where e.transaction_id = t.id and e.account_id = $2 and e.unit = $3)::text as taken, t.fee_proration
       from ledger_transaction t where t.idempotency_key = $1`,
    [`RENEWAL:${term.subscription_id}:${periodStart.toISOString()}`, accountId(term.billing_account_id, 'REVENUE', term.currency), term.currency],
  );
  if (!row) return null;
  const proration = row.fee_proration === 'DAILY' || row.fee_proration === 'NONE' ? row.fee_proration : null;
  return { taken: new Decimal(row.taken ?? 0), proration };
}

/** What the fee transaction of the period took (`periodFee`), or null: no fee taken for it. */
export async function periodFeeTaken(sql: Sql, term: Term, periodStart: Date): Promise<Decimal | null> {
  return (await periodFee(sql, term, periodStart))?.taken ?? null;
}

/**
 * A prepaid subscription that ends inside a period it paid for (an immediate plan change, a
 * termination), whose fee was taken under terms that prorate it DAILY: the whole days it will not
 * use come back to the balance: the fee the ledger took for that period (`periodFee`, not the plan's fee in
 * the catalog now, which may have risen or fallen since) × unused days / days of the period, to
 * the currency's minor unit, half-even, never more than that fee; ledger: revenue → wallet, key
 * `RENEWAL_REFUND:<subscription>:<period start>`, so a redelivered end gives nothing more. The day
 * of the end counts as used. Nothing comes back for a period whose fee transaction is not in the
 * ledger: its fee was not taken (a bundle waiting for a top-up, a postpaid plan). Every taken fee
 * has had this key since fees were first taken, and ledger transactions cannot be deleted, so no
 * paid period lacks it; falling back to the catalog's fee would give back money never taken.
 * Whether the fee prorates is the fee transaction's own record (`fee_proration`, the terms it was
 * taken under), not the plan's terms now (`terms`, as the catalog answers at the end: a new
 * version may say otherwise, or nothing); those decide only for a fee taken before the record
 * (null), as they did then.
 * A wallet settled after its account closed is not credited: the refund is recorded as owed to the
 * customer for finance to pay out (recordOwedCredit), and 0 is returned (nothing to spend).
 * Returns what came back: a caller that got money back settles what is due with it
 * (settleAfterCredit; followSubscriptionChange does, in this transaction: one-off-charges imports
 * this file, so it is not called from here).
 */
export async function refundUnusedPeriod(sql: Sql, term: SubscriptionTermRow, terms: PlanTerms | null, endsAt: Date, now: Date): Promise<Decimal> {
  if (term.payment_mode !== 'PREPAID') return new Decimal(0);
  const paid = await periodFee(sql, term, term.period_start);
  if (!paid || (paid.proration ?? prorationOf(terms)) !== 'DAILY') return new Decimal(0);
  const fee = paid.taken;
  if (fee.lessThanOrEqualTo(0)) return new Decimal(0);
  const { unusedDays, amount } = unusedDaysRefund(fee, { start: term.period_start, end: term.period_end }, endsAt, term.currency);
  const refund = Decimal.min(amount, fee);
  if (refund.isZero()) return refund;
  const period = term.period_start.toISOString();
  const key = `RENEWAL_REFUND:${term.subscription_id}:${period}`;
  if (await findTransaction(sql, key)) return new Decimal(0);
  const wallet = await walletOf(sql, term.billing_account_id, term.currency, true);
  if (!wallet) return new Decimal(0);
  const shown = `${refund.toFixed(minorUnits(term.currency))} ${term.currency}`;
  // After the settlement the balance was handed to finance: the refund is owed to the customer and
  // paid out, not put back to spend (nothing comes back to pay due charges with).
  const owed = wallet.settled_at !== null;
  if (owed) await recordOwedCredit(sql, wallet, { key, source: 'BUNDLE_REFUND', sourceId: key, reason: 'RECURRING_FEE_REFUND', reference: term.subscription_id, amount: refund }, now);
  else await moveFee(sql, term, wallet, { key, kind: 'RECURRING_FEE_REFUND', intoWallet: refund }, now);
  await insertNotifications(sql, [{
    id: deterministicId('message', 'BUNDLE_REFUND', term.subscription_id, period), billingAccountId: term.billing_account_id, walletId: wallet.id, bucketId: null, kind: 'BUNDLE_REFUND',
    message: owed
      ? `Your bundle ended ${unusedDays} day(s) early: ${shown} is owed to you and is paid out with the rest of your closed account's balance.`
      : `Your bundle ended ${unusedDays} day(s) early: ${shown} is back on your balance.`,
  }], now);
  return owed ? new Decimal(0) : refund;
}
