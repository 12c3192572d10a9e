import { DomainError } from '@ledgerline/contracts';
import type { Db } from '../persistence/sql';
import type { RechargeStarter } from '../adapters/recharge-starter';
import { OPEN_RECHARGE_STATUSES, recharge, type RechargeRow } from './recharge';
import { followUpCompletedTopups } from './balance-events';

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
 * recharge, one credit. The request then follows the recharge (RECHARGE_STARTED, or already its final
 * status when it was settled first: linkRecharge). The daily/monthly limits were applied when the request was made. A request
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
    await linkRecharge(db, d.topupRequestId, row.id, clock());
    return row;
  } catch (error) {
    if (!(error instanceof DomainError) || error.code === 'RECHARGE_UNAVAILABLE') throw error;
    await db.query(`update topup_request set status = 'RECHARGE_REFUSED', reason = $2 where id = $1 and status = 'REQUESTED'`, [d.topupRequestId, `${error.code}: ${error.message}`.slice(0, 500)]);
    return null;
  }
}

/**
 * Writes the recharge on its request with the recharge's status as it is now: RECHARGE_STARTED
 * while it is open, else the final status settleRecharge gives a request (COMPLETED /
 * RECHARGE_<status>). settleRecharge finds a request by `recharge_id`, so one settled before this
 * (a redelivered event, or a watcher faster than this update) would otherwise leave the request
 * RECHARGE_STARTED for ever, counted against the limits. The recharge row is locked (for share) so a
 * settlement running now either finished before (its status is read here) or waits and then finds
 * the request by `recharge_id`. Idempotent: a request already final is left alone. A request it
 * completes asks the next one when the wallet is still below its threshold, as settleRecharge does
 * (followUpCompletedTopups, same transaction).
 */
async function linkRecharge(db: Db, requestId: string, rechargeId: string, now: Date): Promise<void> {
  await db.tx(async (sql) => {
    const linked = await sql.query<{ status: string }>(
      `with r as (select id, status from recharge where id = $2 for share)
       update topup_request t
          set recharge_id = r.id,
              status = case when r.status = any($3::text[]) then 'RECHARGE_STARTED' when r.status = 'COMPLETED' then 'COMPLETED' else 'RECHARGE_' || r.status end
         from r
        where t.id = $1 and t.status in ('REQUESTED', 'RECHARGE_STARTED')
       returning t.status`,
      [requestId, rechargeId, OPEN_RECHARGE_STATUSES],
    );
    if (linked[0]?.status === 'COMPLETED') await followUpCompletedTopups(sql, now, [requestId]);
  });
}
