import { DomainError } from '@ledgerline/contracts';
import type { Db } from '../persistence/sql';
import type { RechargeStarter } from '../adapters/recharge-starter';
import { recharge, type RechargeRow } from './recharge';

/** The data of `autoTopupRequested` (written by balance-events.ts). */
export interface AutoTopupRequestedData {
  topupRequestId: string;
  walletId: string;
  billingAccountId: string;
  amount: { amount: string; currency: string };
  paymentMethodToken: string;
}

/**
 * Turns an auto top-up request into a card recharge through the Recharge workflow. The recharge's
 * idempotency key is the top-up request id, so a redelivered event finds the same recharge (and
 * the workflow id `recharge-<rechargeId>` makes a second start join the first): one request, one
 * recharge, one credit. The daily/monthly limits were applied when the request was made. A request
 * the recharge refuses (a coded error: wallet gone, bad token) is marked RECHARGE_REFUSED and not
 * retried; anything else (Temporal unreachable) is thrown so the event is redelivered.
 */
export async function startAutoTopup(db: Db, starter: RechargeStarter | null, d: AutoTopupRequestedData, now: Date, clock: () => Date, onSettled?: (row: RechargeRow) => void): Promise<RechargeRow | null> {
  if (!d?.topupRequestId) return null;
  const request = (await db.query<{ status: string; recharge_id: string | null }>(`select status, recharge_id from topup_request where id = $1`, [d.topupRequestId]))[0];
  if (!request || request.status !== 'REQUESTED' && request.status !== 'RECHARGE_STARTED') return null;
  // Without Temporal (WALLETS_TEMPORAL=off) card recharges cannot run: the request stays REQUESTED, visible on the wallet.
  if (!starter) return null;
  try {
    const row = await recharge(db, starter, {
      billingAccountId: d.billingAccountId,
      amount: d.amount,
      method: 'CARD',
      paymentMethodToken: d.paymentMethodToken,
      channel: 'AUTO_TOPUP',
      idempotencyKey: d.topupRequestId,
      now,
      clock,
      onSettled,
    });
    await db.query(`update topup_request set status = 'RECHARGE_STARTED', recharge_id = $2 where id = $1 and status = 'REQUESTED'`, [d.topupRequestId, row.id]);
    return row;
  } catch (error) {
    if (!(error instanceof DomainError) || error.code === 'RECHARGE_UNAVAILABLE') throw error;
    await db.query(`update topup_request set status = 'RECHARGE_REFUSED', reason = $2 where id = $1 and status = 'REQUESTED'`, [d.topupRequestId, `${error.code}: ${error.message}`.slice(0, 500)]);
    return null;
  }
}
