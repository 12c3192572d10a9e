import { badInput, conflict, type ChargeResult } from '@ledgerline/contracts';
import type { Sql } from '../persistence/sql';
import { chargeKey, closeLedgerKey, lockIdempotencyKey } from './ledger';
import { CHARGE_CLOSED, CHARGE_ID_CONFLICT, oneOffDecision } from './apply-charges';
import { DUE_CHARGE_CLOSED_COLUMNS, noticeDueChargesCancelled, type DueChargeClosed } from './one-off-charges';

export { CHARGE_CLOSED };

export interface CloseChargeCommand {
  chargeId: string;
  billingAccountId: string;
  now: Date;
}

/** What a charge id stands for once closed: the charge wallets decided under it, or none (`outcome` null: it never reached wallets and never will). */
export interface ClosedCharge {
  /** The charge moved something (APPLIED or PARTIAL): what a caller would give back. */
  taken: boolean;
  outcome: ChargeResult['outcome'] | null;
  amountCharged: string | null;
  /** The currency of amountCharged (its revenue entry's; else the account's wallet's); null with it. */
  currency: string | null;
  reason: string | null;
}

/**
 * Settles what a chargeId stands for, for a caller about to give the money back (subscribers, for
 * a FAILED add-on order whose charge may or may not have reached wallets): the charge decided under
 * the id if there was one, else nothing, and then nothing ever will be. Before, the caller sent the
 * charge again to find out, and a charge that had never arrived was taken then and refunded after.
 *
 * The id is closed with a row of its own in `ledger_transaction` under the charge's key
 * (`CHARGE:<id>`, kind CHARGE_CLOSED, no entries). It is written under the locks of every wallet of
 * the account, the locks charging takes before it looks its key up (applyChargesIn): a charge being
 * applied meanwhile either committed first (and is answered here), or waits for these locks and
 * then finds the closed key (answered DENIED, CHARGE_CLOSED, nothing written). A prepaid one-off
 * charge still waiting under the id as a due charge is closed too (settled by the CHARGE_CLOSED row):
 * a credit paying it meanwhile either paid first (answered taken) or finds it closed. A one-off decided
 * under the id is answered its decision (oneOffDecision): taken only when it took money (not refused by a
 * closed wallet, not a credit). A charge naming
 * another account under the same id is another charge (CHARGE_ID_CONFLICT). Same id again: the same answer.
 */
export async function closeCharge(sql: Sql, c: CloseChargeCommand): Promise<ClosedCharge> {
  if (typeof c.chargeId !== 'string' || c.chargeId.trim() === '' || c.chargeId.length > 200) throw badInput('input.chargeId', 'A charge id (at most 200 characters) is required', 'CHARGE_ID_REQUIRED');
  if (typeof c.billingAccountId !== 'string' || c.billingAccountId.trim() === '') throw badInput('input.billingAccountId', 'A billing account id is required', 'BILLING_ACCOUNT_ID_REQUIRED');
  const key = chargeKey(c.chargeId);
  const owner = c.billingAccountId.slice(0, 40); // the column's width, as charges store it
  // Charging's own locks, in its order (wallets by id), then the key's (as other writers of a key).
  await sql.query(`select id from wallet where billing_account_id = $1 order by id for update`, [c.billingAccountId]);
  await lockIdempotencyKey(sql, key);
  await closeLedgerKey(sql, key, CHARGE_CLOSED, owner, c.now);
  const [row] = await sql.query<{ id: string; kind: string; billing_account_id: string | null; outcome: { outcome?: ChargeResult['outcome']; amountCharged?: string; reason?: string; amount?: string; currency?: string } | null }>(
    `select id, kind, billing_account_id, outcome from ledger_transaction where idempotency_key = $1`,
    [key],
  );
  if (!row || row.billing_account_id !== owner) {
    throw conflict(CHARGE_ID_CONFLICT, `chargeId ${c.chargeId} was used for a charge of another billing account`, { field: 'input.chargeId' });
  }
  if (row.kind === CHARGE_CLOSED) {
    // A one-off charge waiting as a due charge under this id (the balance could not pay it yet) is
    // closed with it: no credit pays it any more (they pay only open ones, under these same wallet
    // locks) and it is no longer shown as due. Marked settled by the CHARGE_CLOSED row, which moved nothing.
    const closed = await sql.query<DueChargeClosed>(
      `update due_charge d set settled_at = $3, transaction_id = $2 where d.id = $1 and d.billing_account_id = $4 and d.settled_at is null returning ${DUE_CHARGE_CLOSED_COLUMNS}`,
      [c.chargeId, row.id, c.now, owner],
    );
    // The customer was told it was due (CHARGE_DUE): told it no longer is (CHARGE_DUE_CANCELLED), once.
    await noticeDueChargesCancelled(sql, closed, c.now);
    return { taken: false, outcome: null, amountCharged: null, currency: null, reason: null };
  }
  // A one-off under the same key (subscribers' oneoffcharge event): its own decision, read as a charge under the id
  // reads it (oneOffDecision). Taken only when money was taken: not a one-off a closed wallet refused (DENIED), not a
  // credit (ONE_OFF_CREDIT, CREDIT_OWED: APPLIED with a negative amount). Before, any one-off was `taken: true,
  // APPLIED`, and subscribers refunded a FAILED add-on's price never taken.
  if (row.kind !== 'CHARGE') {
    const d = oneOffDecision(row.kind, row.outcome);
    return { taken: d.taken, outcome: d.outcome, amountCharged: d.amountCharged, currency: d.currency, reason: d.reason };
  }
  const outcome = row.outcome?.outcome ?? 'APPLIED';
  const [unit] = await sql.query<{ unit: string }>(
    `select coalesce((select e.unit from ledger_entry e where e.transaction_id = $1 and e.account_id like '%:REVENUE:%' limit 1), (select w.currency from wallet w where w.billing_account_id = $2 order by w.id limit 1)) as unit`,
    [row.id, c.billingAccountId],
  );
  return { taken: outcome === 'APPLIED' || outcome === 'PARTIAL', outcome, amountCharged: row.outcome?.amountCharged ?? null, currency: unit?.unit ?? null, reason: row.outcome?.reason ?? null };
}
