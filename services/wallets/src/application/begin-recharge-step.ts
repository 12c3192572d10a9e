import { badInput, conflict, notFound } from '@ledgerline/contracts';
import type { Sql } from '../persistence/sql';
import type { RechargeRow } from './recharge';

/** The steps of a card recharge's workflow that ask wallets first: they put a hold on the card, or take its money. */
export const RECHARGE_STEPS = ['AUTHORIZE', 'CAPTURE'] as const;
export type RechargeStep = (typeof RECHARGE_STEPS)[number];

/** A recharge cancelled before its capture began (its auto top-up rule was turned off): the card is not to be charged. */
export const RECHARGE_CANCELLED = 'RECHARGE_CANCELLED';

export interface BeginRechargeStepCommand {
  rechargeId: string;
  step: RechargeStep;
  now: Date;
}

/**
 * Asked by the Recharge workflow's activities before the card is touched (workflows/src/activities).
 * AUTHORIZE: refused (CONFLICT RECHARGE_CANCELLED) once the recharge is cancelled, so a cancelled one
 * puts no hold on the card. CAPTURE: claims the recharge for its capture (`capture_started_at`, once)
 * unless it is cancelled, in one row update; a cancel (cancelStartedRecharges, auto-topup-settings.ts)
 * updates the same row only while `capture_started_at` is null. The two serialise on the row, and each
 * re-reads the other's column after waiting: a recharge is either cancelled and never captured (the
 * workflow voids its authorization), or its capture began and it is never cancelled (the card's money
 * reaches the wallet). Idempotent: asking again answers the same (a capture retried after a lost answer
 * finds its own claim).
 */
export async function beginRechargeStep(sql: Sql, c: BeginRechargeStepCommand): Promise<RechargeRow> {
  if (!(RECHARGE_STEPS as readonly string[]).includes(c.step)) throw badInput('input.step', `${String(c.step)} is not a recharge step: one of ${RECHARGE_STEPS.join(', ')}`, 'RECHARGE_STEP_INVALID');
  if (typeof c.rechargeId !== 'string' || c.rechargeId.trim() === '') throw badInput('input.rechargeId', 'A recharge id is required', 'RECHARGE_ID_REQUIRED');
  const claimed = c.step === 'CAPTURE'
    ? (await sql.query<RechargeRow>(`update recharge set capture_started_at = coalesce(capture_started_at, $2) where id = $1 and method = 'CARD' and cancelled_at is null returning *`, [c.rechargeId, c.now]))[0]
    : (await sql.query<RechargeRow>(`select * from recharge where id = $1 and method = 'CARD' and cancelled_at is null`, [c.rechargeId]))[0];
  if (claimed) return claimed;
  const row = (await sql.query<RechargeRow & { cancelled_at: Date | null }>(`select * from recharge where id = $1 and method = 'CARD'`, [c.rechargeId]))[0];
  if (!row) throw notFound('Recharge', c.rechargeId, 'input.rechargeId');
  throw conflict(RECHARGE_CANCELLED, `Recharge ${row.id} was cancelled at ${row.cancelled_at?.toISOString()} (its auto top-up rule was turned off) before its card was captured: the card is not to be ${c.step === 'CAPTURE' ? 'captured' : 'authorized'}`, { field: 'input.rechargeId', rechargeId: row.id });
}
