import { Decimal, DomainError, badInput, isCurrencyCode, newId } from '@ledgerline/contracts';
import type { BudgetReplenishmentData } from '@ledgerline/contracts';
import type { Sql } from '../persistence/sql';
import { eventRow, insertOutbox, type OutboxRow } from '../persistence/sql';
import { accountId, accountIdSql, chargeKey, ensureAccounts, newTxId, postTransactions, type NewTransaction } from './ledger';
import { requireOpen, requireWallet } from './wallets';
import { fmt } from '../domain/charging';
import { requireMinorUnits } from '../domain/entered-money';
import { closeDueChargesDecided, DUE_CHARGE_KEY_FREE } from './one-off-charges';
// A cycle (apply-charges → balance-events → budget), used only when called: the key a charge's ledger transaction has.

/**
 * An enterprise committed-spend budget is the account's (prepaid) wallet plus a replenishment
 * rule: charges draw the wallet down as usual; when what remains unspent (the balance and what
 * reservations hold) falls below the threshold, the wallet is credited with the committed amount
 * (ledger: + cash wallet / − BUDGET_RECEIVABLE, the receivable invoicing bills) and
 * `budgetReplenished` asks invoicing for one invoice per replenishment. Replenishing happens in
 * the same database transaction as the movement that caused it, under the wallet's row lock, so it
 * happens exactly once per such movement.
 */
export interface BudgetRow {
  id: string;
  wallet_id: string;
  billing_account_id: string;
  currency: string;
  committed: string;
  threshold: string;
  enabled: boolean;
  replenishments: number;
  updated_by: string;
  updated_at: Date;
}

export interface SetBudgetCommand {
  billingAccountId: string;
  currency: string;
  committed: string;
  threshold: string;
  enabled?: boolean | null;
  updatedBy: string;
  now: Date;
}

const DEC = /^\d+(\.\d{1,6})?$/;
/** A replenishment that still leaves the budget below its threshold is followed by another, at most this many per movement. */
const MAX_REPLENISHMENTS_PER_MOVEMENT = 20;

export const replenishmentId = (budgetId: string, sequence: number): string => `brp_${budgetId.replace(/^bud_/, '')}_${sequence}`;

export async function setBudget(sql: Sql, c: SetBudgetCommand): Promise<BudgetRow> {
  if (!isCurrencyCode(c.currency)) throw badInput('input.committed.currency', `"${c.currency}" is not a supported currency`, 'CURRENCY_INVALID');
  if (typeof c.committed !== 'string' || !DEC.test(c.committed) || new Decimal(c.committed).lessThanOrEqualTo(0)) {
    throw badInput('input.committed.amount', `The committed amount must be a decimal greater than zero (got "${c.committed}")`, 'AMOUNT_NOT_POSITIVE');
  }
  if (typeof c.threshold !== 'string' || !DEC.test(c.threshold)) throw badInput('input.threshold', `The threshold must be a non-negative decimal (got "${c.threshold}")`, 'AMOUNT_INVALID');
  requireMinorUnits(new Decimal(c.committed), c.currency, 'input.committed.amount');
  requireMinorUnits(new Decimal(c.threshold), c.currency, 'input.threshold');
  if (new Decimal(c.threshold).greaterThanOrEqualTo(c.committed)) {
    throw badInput('input.threshold', 'The threshold must be below the committed amount (else one replenishment could never lift the budget above it)', 'BUDGET_THRESHOLD_INVALID');
  }
  const wallet = await requireWallet(sql, c.billingAccountId, c.currency);
  // A closed account's budget stopped with it (close-account-wallets.ts): it is not turned on again.
  if (c.enabled ?? true) requireOpen(wallet);
  if (wallet.payment_mode !== 'PREPAID') {
    throw new DomainError('BUDGET_WALLET_NOT_PREPAID', `A committed-spend budget is drawn down like a prepaid balance; the ${c.currency} wallet of ${c.billingAccountId} is ${wallet.payment_mode}`, { field: 'input.billingAccountId' }, 'BAD_USER_INPUT');
  }
  // A budget wallet is funded by its replenishments alone: with an auto top-up as well, one low
  // balance was both replenished (invoiced) and topped up by card.
  if ((c.enabled ?? true) && (await sql.query(`select 1 from auto_topup_rule where wallet_id = $1 and enabled`, [wallet.id])).length > 0) {
    throw badInput('input.billingAccountId', `The ${c.currency} wallet of ${c.billingAccountId} has an automatic card top-up; turn it off (setAutoTopup enabled: false) before making the wallet a committed-spend budget`, 'BUDGET_WALLET_HAS_AUTO_TOPUP');
  }
  await ensureAccounts(sql, c.billingAccountId, [{ id: accountId(c.billingAccountId, 'BUDGET_RECEIVABLE', c.currency), kind: 'BUDGET_RECEIVABLE', unit: c.currency }], c.now);
  const row = (await sql.query<BudgetRow>(
    `insert into budget (id, wallet_id, billing_account_id, currency, committed, threshold, enabled, replenishments, updated_by, updated_at)
     values ($1,$2,$3,$4,$5,$6,$7,0,$8,$9)
     on conflict (wallet_id) do update set committed = excluded.committed, threshold = excluded.threshold, enabled = excluded.enabled, updated_by = excluded.updated_by, updated_at = excluded.updated_at
     returning *`,
    [newId('budget'), wallet.id, c.billingAccountId, c.currency, c.committed, c.threshold, c.enabled ?? true, c.updatedBy, c.now],
  ))[0]!;
  // A new (or lowered-below) budget is funded at once: the same rule as after a charge.
  const events: OutboxRow[] = [];
  await replenishBudgets(sql, c.now, [{ walletId: wallet.id, cause: `set:${c.now.toISOString()}` }], events);
  await insertOutbox(sql, events);
  return (await sql.query<BudgetRow>(`select * from budget where id = $1`, [row.id]))[0]!;
}

/** An enabled budget whose unspent money is below its threshold or its cash below zero (numbers as decimal strings). */
export type BudgetBelowThreshold = Pick<BudgetRow, 'id' | 'wallet_id' | 'billing_account_id' | 'currency' | 'committed' | 'threshold' | 'replenishments'> & { balance: string; unspent: string; overdraft: string };

/**
 * The enabled budgets of the wallets in $1 whose unspent money is below their threshold, or whose
 * cash balance is below zero. Unspent is the wallet balance plus what open reservations hold (the
 * account's RESERVED money account in the budget's currency): a hold is not spending. Counted on
 * the balance alone, a reservation replenished the budget (an invoice) and its release then left
 * the money of that invoice unspent on top; reserving and releasing again and again invoiced the
 * account each time for nothing spent. A commit turns held money into spending, and is where such
 * a replenishment happens. The cash balance: a charge may draw on the next replenishment
 * (`headroom` in domain/charging.ts), and with money held the unspent money can stay above the
 * threshold while the cash is below zero; a budget wallet is never left there (review 9).
 */
export const BUDGETS_BELOW_THRESHOLD = `select b.id, b.wallet_id, b.billing_account_id, b.currency, b.committed::text as committed, b.threshold::text as threshold, b.replenishments,
    a.balance::text as balance, (a.balance + coalesce(h.balance, 0))::text as unspent, w.overdraft_limit::text as overdraft
  from budget b join ledger_account a on a.id = b.wallet_id join wallet w on w.id = b.wallet_id
    left join ledger_account h on h.id = ${accountIdSql('b.billing_account_id', 'RESERVED', 'b.currency')}
  where b.wallet_id = any($1::text[]) and b.enabled and (a.balance + coalesce(h.balance, 0) < b.threshold or a.balance < 0) order by b.wallet_id`;

/**
 * Replenishes the enabled budgets of these wallets whose unspent money is below their threshold or
 * whose cash balance is below zero (read after the movement, in the caller's transaction), as many
 * times as it takes to lift both, and pays from it what is due (a replenishment is a credit like
 * any other, see settleAfterCredit): the account's due one-off charges oldest first, with the
 * headroom a charge has (balance + overdraft + the next replenishment; replenished again after
 * each as needed), and brings the retry of bundles waiting for their fee forward. Posted here, not
 * through emitBalanceEvents (which calls this). Appends `budgetReplenished` events to `events`.
 * Returns what each replenished wallet's balance moved by, replenishments less due charges paid
 * (the balance notices judge the money after it).
 */
export async function replenishBudgets(sql: Sql, now: Date, wallets: { walletId: string; cause: string }[], events: OutboxRow[], preloaded?: BudgetBelowThreshold[]): Promise<Map<string, Decimal>> {
  const credited = new Map<string, Decimal>();
  if (wallets.length === 0) return credited;
  // No row lock on budget: every path that moves a wallet's money (and setBudget) holds the wallet's row lock.
  const budgets = preloaded ?? (await sql.query<BudgetBelowThreshold>(BUDGETS_BELOW_THRESHOLD, [wallets.map((w) => w.walletId)]));
  if (budgets.length === 0) return credited;
  // A due charge whose chargeId a charge decided under its key meanwhile is settled by that decision, as a credit's
  // settleDueCharges settles it: a wallet only ever replenished by its budget kept it open for ever (skipped below).
  for (const b of budgets) await closeDueChargesDecided(sql, b.billing_account_id, b.currency, now);
  // Every budget read here is replenished at least once: one more statement, only then.
  const due = await sql.query<DueRow>(
    `select d.id, d.billing_account_id, d.currency, d.line_id, d.reason, d.amount::text as amount from due_charge d
      join unnest($1::text[], $2::text[]) as k(acc, cur) on d.billing_account_id = k.acc and d.currency = k.cur
      where d.settled_at is null
        -- Not one being paid in this transaction by a credit (settleDueCharges marks it settled after its own posting).
        and ${DUE_CHARGE_KEY_FREE}
      order by d.created_at, d.id`,
    [budgets.map((b) => b.billing_account_id), budgets.map((b) => b.currency)],
  );
  const txs: NewTransaction[] = [];
  const rows: unknown[][] = [];
  const paid: { id: string; tx: string }[] = [];
  for (const b of budgets) {
    const cause = wallets.find((w) => w.walletId === b.wallet_id)!.cause;
    const committed = new Decimal(b.committed);
    const overdraft = new Decimal(b.overdraft);
    // Each replenishment reports as `remaining` the wallet balance after it (GraphQL's Budget.remaining).
    let cash = new Decimal(b.balance);
    let unspent = new Decimal(b.unspent);
    let sequence = b.replenishments;
    const replenishWhileLow = () => {
      while (sequence - b.replenishments < MAX_REPLENISHMENTS_PER_MOVEMENT && (unspent.lessThan(b.threshold) || cash.isNegative())) {
        sequence++;
        cash = cash.plus(committed);
        unspent = unspent.plus(committed);
        const id = replenishmentId(b.id, sequence);
        const txId = newTxId();
        txs.push({
          id: txId,
          idempotencyKey: `BUDGET:${id}`,
          kind: 'BUDGET_REPLENISHMENT',
          billingAccountId: b.billing_account_id,
          reference: id,
          entries: [
            { accountId: b.wallet_id, unit: b.currency, amount: committed },
            { accountId: accountId(b.billing_account_id, 'BUDGET_RECEIVABLE', b.currency), unit: b.currency, amount: committed.negated() },
          ],
        });
        rows.push([id, b.id, b.billing_account_id, sequence, fmt(committed), b.currency, fmt(cash), txId, cause]);
        const data: BudgetReplenishmentData = { replenishmentId: id, budgetId: b.id, billingAccountId: b.billing_account_id, amount: fmt(committed), currency: b.currency, remaining: fmt(cash), replenishedAt: now.toISOString() };
        events.push(eventRow('budgetReplenished', b.id, [id], now, data));
      }
    };
    replenishWhileLow();
    let taken = new Decimal(0);
    for (const d of due.filter((x) => x.billing_account_id === b.billing_account_id && x.currency === b.currency)) {
      const amount = new Decimal(d.amount);
      if (amount.greaterThan(cash.plus(overdraft).plus(committed))) break; // oldest first: the rest waits
      const txId = newTxId();
      txs.push({
        id: txId,
        idempotencyKey: chargeKey(d.id),
        kind: 'ONE_OFF_CHARGE',
        billingAccountId: b.billing_account_id,
        reference: d.line_id,
        outcome: { chargeId: d.id, reason: d.reason, amount: fmt(amount), currency: b.currency },
        entries: [
          { accountId: b.wallet_id, unit: b.currency, amount: amount.negated() },
          { accountId: accountId(b.billing_account_id, 'REVENUE', b.currency), unit: b.currency, amount },
        ],
      });
      paid.push({ id: d.id, tx: txId });
      cash = cash.minus(amount);
      unspent = unspent.minus(amount);
      taken = taken.plus(amount);
      replenishWhileLow();
    }
    if (sequence !== b.replenishments) {
      await sql.write(`update budget set replenishments = $2 where id = $1`, [b.id, sequence]);
      credited.set(b.wallet_id, committed.times(sequence - b.replenishments).minus(taken));
    }
  }
  if (txs.length === 0) return credited;
  await postTransactions(sql, txs, now);
  if (rows.length > 0) {
    await sql.write(
      `insert into budget_replenishment (id, budget_id, billing_account_id, sequence, amount, currency, remaining, transaction_id, cause, created_at)
       select id, bud, acc, seq, amt, cur, rem, tx, cause, $10 from unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::numeric[], $6::text[], $7::numeric[], $8::text[], $9::text[]) as t(id, bud, acc, seq, amt, cur, rem, tx, cause)`,
      [...Array.from({ length: 9 }, (_, k) => rows.map((r) => r[k])), now],
    );
  }
  if (paid.length > 0) {
    await sql.write(`update due_charge d set settled_at = $3, transaction_id = t.tx from unnest($1::text[], $2::text[]) as t(id, tx) where d.id = t.id`, [paid.map((p) => p.id), paid.map((p) => p.tx), now]);
  }
  // As a top-up does (feeDueCanRetry): bundles waiting for their fee are tried at the next job pass.
  await sql.write(
    `update subscription_term set retry_at = $2 where subscription_id in (
       select subscription_id from subscription_term where billing_account_id = any($1::text[]) and fee_state = 'DUE' and retry_at > $2 for update skip locked)`,
    [budgets.map((b) => b.billing_account_id), now],
  );
  return credited;
}

interface DueRow {
  id: string;
  billing_account_id: string;
  currency: string;
  line_id: string | null;
  reason: string;
  amount: string;
}

/**
 * What a committed-spend budget adds to the headroom of a charge taken whole from the balance (a
 * one-off charge, a due charge a credit pays, a bundle's recurring fee): its committed amount, as
 * for usage charges (`headroom` in domain/charging.ts). The balance may go down to −committed (less
 * the overdraft) and the replenishment that follows in the same transaction (emitBalanceEvents →
 * replenishBudgets) lifts it back: a budget is funded by its replenishments, so a charge left due
 * "until the next top-up" was never taken. Read under the caller's wallet lock (budgets change only
 * under it); zero without an enabled budget.
 */
export async function budgetHeadroom(sql: Sql, walletId: string): Promise<Decimal> {
  const [b] = await sql.query<{ committed: string }>(`select committed::text as committed from budget where wallet_id = $1 and enabled`, [walletId]);
  return new Decimal(b?.committed ?? 0);
}

export async function budgetOf(sql: Sql, billingAccountId: string): Promise<(BudgetRow & { balance: string })[]> {
  return sql.query(`select b.*, a.balance from budget b join ledger_account a on a.id = b.wallet_id where b.billing_account_id = $1 order by b.currency`, [billingAccountId]);
}
