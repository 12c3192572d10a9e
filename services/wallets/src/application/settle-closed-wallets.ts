import { Decimal, type WalletSettledData } from '@ledgerline/contracts';
import type { Db, Sql } from '../persistence/sql';
import { eventRow, insertOutbox } from '../persistence/sql';
import { fmt } from '../domain/charging';
import { minorUnitSql, postTransactions, type NewTransaction } from './ledger';
import { closeMany } from './reservations';
import { roundingWriteOff } from './write-off-rounding';
import { WALLET_COLUMNS, WALLET_JOINS, WALLET_SETTLED, lockAccountWallets, type WalletRow } from './wallets';
import { recordDueChargeCollected, recordRefusedCharge } from './closed-wallet-moves';
import { closeDueChargesDecided, DUE_CHARGE_KEY_FREE } from './one-off-charges';
import { netDueCharges as netDueChargesOf } from '../domain/settlement-netting';

/**
 * Settles the closed wallets whose balance became final (`final_at` = closedAt + the late-usage
 * grace, WALLETS_CLOSED_LATE_USAGE_GRACE_HOURS, reached by `now`): one periodic-jobs step. Late
 * usage arriving from finalAt on is refused by charging itself (WALLET_BALANCE_FINAL), so what is
 * on the wallet then is final; this says so once per account with `billing.wallets.wallet.settled`
 * carrying each wallet's final balance, the figure finance pays out. Returns the wallets settled.
 * An account that fails is logged by the jobs and tried again at the next pass; the others go on.
 */
export async function settleClosedWallets(db: Db, now: Date, limit = 200): Promise<number> {
  const due = await db.query<{ billing_account_id: string }>(
    `select distinct billing_account_id from (select billing_account_id from wallet where status = 'CLOSED' and settled_at is null and final_at <= $1 order by final_at limit $2) d`,
    [now, limit],
  );
  let settled = 0;
  for (const { billing_account_id } of due) settled += await db.tx((sql) => settleAccountWallets(sql, billing_account_id, now));
  if (!oldResiduesWrittenOff.has(db)) await writeOffOldResidues(db, now, limit);
  return settled;
}

/** Databases this process has found free of residues settled before write-offs existed (none can appear since). */
const oldResiduesWrittenOff = new WeakSet<Db>();

/**
 * Wallets settled before rounding write-offs existed (2026-11-29) may still hold a residue below one
 * minor unit, which the ledger check reports: written off as their settlement would be now (the key
 * names that settlement, so once), under the account's wallet locks. Once a pass finds none, this
 * process stops looking: a settled wallet is written off when settled or paid out, so no new one appears.
 */
export async function writeOffOldResidues(db: Db, now: Date, limit = 200): Promise<number> {
  const residueOf = `w.settled_at is not null and a.balance <> 0 and abs(a.balance) < ${minorUnitSql('w.currency')}`;
  const due = await db.query<{ billing_account_id: string }>(
    `select distinct w.billing_account_id from wallet w join ledger_account a on a.id = w.id where ${residueOf} limit $1`,
    [limit],
  );
  let written = 0;
  for (const { billing_account_id } of due) {
    written += await db.tx(async (sql) => {
      await lockAccountWallets(sql, billing_account_id);
      const wallets = await sql.query<{ id: string; billing_account_id: string; currency: string; settled_at: Date; balance: string }>(
        `select w.id, w.billing_account_id, w.currency, w.settled_at, a.balance::text as balance from wallet w join ledger_account a on a.id = w.id
          where w.billing_account_id = $1 and ${residueOf}`,
        [billing_account_id],
      );
      const writeOffs: NewTransaction[] = [];
      for (const w of wallets) {
        const writeOff = await roundingWriteOff(sql, w, new Date(w.settled_at), new Decimal(w.balance), now);
        if (writeOff) writeOffs.push(writeOff.tx);
      }
      await postTransactions(sql, writeOffs, now);
      return writeOffs.length;
    });
  }
  if (due.length === 0) oldResiduesWrittenOff.add(db);
  return written;
}

/**
 * One account's closed wallets whose finalAt has come, under the account's wallet locks (id order,
 * as charging takes them): a charge batch that committed first is in the balance, one after sees
 * the wallet settled (and finalAt passed) and is refused. A reservation still open on them (made
 * before the close, not yet expired) is given back first, as its expiry would (EXPIRED: a commit
 * after it answers that and charges nothing), so the balance holds all the money left. Then
 * `settled_at` is set, a balance below one minor unit either way is written off to ROUNDING
 * (write-off-rounding.ts), and the event written, in the same transaction: a second pass or a second
 * replica finds nothing to settle (and the event's id is the account's, so it is published once).
 */
export async function settleAccountWallets(sql: Sql, billingAccountId: string, now: Date): Promise<number> {
  await lockAccountWallets(sql, billingAccountId);
  const due = `w.billing_account_id = $1 and w.status = 'CLOSED' and w.settled_at is null and w.final_at <= $2`;
  const open = await sql.query<{ id: string }>(`select r.id from reservation r join wallet w on w.id = r.wallet_id where ${due} and r.status = 'RESERVED' order by r.id`, [billingAccountId, now]);
  if (open.length > 0) await closeMany(sql, open.map((r) => ({ reservationId: r.id, usedUnits: '0', closing: 'EXPIRED' as const })), now);
  const wallets = await sql.query<WalletRow>(`select ${WALLET_COLUMNS} from wallet w ${WALLET_JOINS} where ${due} order by w.currency`, [billingAccountId, now]);
  if (wallets.length === 0) return 0;
  await sql.query(`update wallet set settled_at = $2 where id = any($1::text[])`, [wallets.map((w) => w.id), now]);
  // What the wallets hold pays their due charges first (whole minor units): the balance below is after it.
  for (const w of wallets) w.balance = fmt(await netDueCharges(sql, { ...w, settled_at: now }, now));
  // A wallet settled holding less than a minor unit (0.007 EUR left, or owing 0.004) has nothing
  // anyone can pay out or collect: written off to ROUNDING now, so its final balance is 0.
  const writtenOff = new Map<string, Decimal>();
  const writeOffs: NewTransaction[] = [];
  for (const w of wallets) {
    const writeOff = await roundingWriteOff(sql, w, now, new Decimal(w.balance), now);
    if (!writeOff) continue;
    writtenOff.set(w.id, writeOff.residue);
    writeOffs.push(writeOff.tx);
  }
  await postTransactions(sql, writeOffs, now);
  const first = wallets[0]!;
  const data: WalletSettledData = {
    billingAccountId,
    closedAt: new Date(first.closed_at!).toISOString(),
    finalAt: new Date(first.final_at!).toISOString(),
    settledAt: now.toISOString(),
    wallets: wallets.map((w) => {
      const residue = writtenOff.get(w.id);
      const balance = { amount: fmt(new Decimal(w.balance).minus(residue ?? 0)), currency: w.currency };
      return { walletId: w.id, currency: w.currency, paymentMode: w.payment_mode, balance, ...(residue ? { roundingWrittenOff: { amount: fmt(residue), currency: w.currency } } : {}) };
    }),
  };
  // Once per account (the key), as wallet.closed: an account closes once and its wallets settle once.
  await insertOutbox(sql, [eventRow('walletSettled', billingAccountId, [billingAccountId, 'settled'], now, data)]);
  return wallets.length;
}

/**
 * One-off charges still waiting for a top-up when a wallet is settled: none can come (a closed
 * wallet takes no credit), so they would wait for ever, shown as due, and nobody would collect them.
 * What the wallet holds pays them first, oldest first, in whole minor units (domain/settlement-netting.ts):
 * the customer is not paid out money while invoiced for a charge it could have paid. A charge
 * covered whole is taken as a top-up would take it; of one covered in part, or not at all, the part
 * covered is taken and the rest refused WALLET_SETTLED on the same row under its key, and
 * `charge.refused` hands that rest to finance (invoicing bills it). Each due row is closed by its
 * ledger row. In the settlement's transaction, which sets settled_at: a second pass finds nothing
 * due, and a redelivered one-off finds its key. Returns the wallet's balance after it.
 */
async function netDueCharges(sql: Sql, wallet: WalletRow, now: Date): Promise<Decimal> {
  // One a charge decided under its key meanwhile is settled by that decision, not netted (its key is taken).
  await closeDueChargesDecided(sql, wallet.billing_account_id, wallet.currency, now);
  const due = await sql.query<{ id: string; line_id: string | null; reason: string; description: string; amount: string; created_at: Date }>(
    `select d.id, d.line_id, d.reason, d.description, d.amount::text as amount, d.created_at from due_charge d where d.billing_account_id = $1 and d.currency = $2 and d.settled_at is null
       and ${DUE_CHARGE_KEY_FREE}
     order by d.created_at, d.id`,
    [wallet.billing_account_id, wallet.currency],
  );
  const netted = netDueChargesOf(new Decimal(wallet.balance), due.map((c) => ({ id: c.id, amount: new Decimal(c.amount) })), wallet.currency);
  for (const [i, c] of due.entries()) {
    const { collected, refused } = netted.charges[i]!;
    const dueSince = new Date(c.created_at);
    const txId = refused.greaterThan(0)
      ? await recordRefusedCharge(sql, wallet, { chargeId: c.id, lineId: c.line_id, reason: c.reason, description: c.description, amount: new Decimal(c.amount), dueSince, collected }, WALLET_SETTLED, now)
      : await recordDueChargeCollected(sql, wallet, { chargeId: c.id, lineId: c.line_id, reason: c.reason, amount: new Decimal(c.amount), dueSince }, now);
    await sql.query(`update due_charge set settled_at = $2, transaction_id = $3 where id = $1`, [c.id, now, txId]);
  }
  return netted.left;
}
