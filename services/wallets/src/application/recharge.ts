import { DomainError, badInput, conflict, newId, notFound, type RechargeRefundFailedData, type RechargeRefusedData } from '@ledgerline/contracts';
import type { Db, Sql } from '../persistence/sql';
import { eventRow, insertOutbox } from '../persistence/sql';
import { requestHash } from './ledger';
import { WALLET_SETTLED, enteredAmount, requireOpen, requireWallet, walletSettledMessage } from './wallets';
import { checkKey, creditWallet, requirePrepaid } from './topup-balance';
import { fmt } from '../domain/charging';
import { RECHARGE_REFUND_FAILED_STATUS, rechargeUnavailable, rechargeWorkflowId, type RechargeOutcome, type RechargeStarter } from '../adapters/recharge-starter';
import { followUpCompletedTopups } from './balance-events';

export interface RechargeRow {
  id: string;
  idempotency_key: string;
  billing_account_id: string;
  wallet_id: string;
  amount: string;
  currency: string;
  channel: string;
  method: 'CARD' | 'BANK_TRANSFER';
  status: string;
  workflow_id: string | null;
  failure: string | null;
  created_at: Date;
  updated_at: Date | null;
}

export interface RechargeCommand {
  billingAccountId: string;
  amount: { amount: string; currency: string };
  method: 'CARD' | 'BANK_TRANSFER';
  paymentMethodToken?: string | null;
  channel?: string | null;
  idempotencyKey: string;
  now: Date;
  /** The service clock, read when the workflow's outcome is recorded later. */
  clock?: () => Date;
  /** Called when the workflow's outcome has been recorded (tests, auto top-up). */
  onSettled?: (row: RechargeRow) => void;
}

/**
 * Where a person made a recharge (`RechargeInput.channel`; none: SELF_CARE). AUTO_TOPUP is not one
 * of them: it is the channel of the recharge wallets makes for an auto top-up request itself.
 */
export const RECHARGE_CHANNELS = ['SELF_CARE', 'APP', 'WEB', 'AGENT', 'IVR', 'USSD', 'RETAIL'] as const;
export const AUTO_TOPUP_CHANNEL = 'AUTO_TOPUP';

function rechargeChannel(channel: string | null | undefined): string {
  if (channel == null) return 'SELF_CARE';
  if (channel === AUTO_TOPUP_CHANNEL || (RECHARGE_CHANNELS as readonly string[]).includes(channel)) return channel;
  const shown = typeof channel === 'string' ? `"${channel.slice(0, 40)}"` : String(channel);
  throw badInput('input.channel', `${shown} is not a recharge channel: one of ${RECHARGE_CHANNELS.join(', ')}`, 'RECHARGE_CHANNEL_INVALID');
}

/**
 * A recharge on channel AUTO_TOPUP is the one wallets makes for an auto top-up request
 * (auto-topup-recharge.ts): its key is the request's id, and it is that request's recharge (this
 * account, amount and card, the request still waiting for it). Anyone else naming the channel is refused.
 */
async function requireAutoTopupRequest(sql: Sql, c: RechargeCommand, amount: string): Promise<void> {
  // Locked to the end of the recharge's transaction, which names the recharge on it: turning the rule
  // off (cancelRequestsNotCharged) either came first (CANCELLED: not found here, nothing written) or
  // waits and then leaves this request, whose card may now be charged, to finish.
  const found = await sql.query(
    `select 1 from topup_request where id = $1 and billing_account_id = $2 and amount = $3::numeric and currency = $4 and payment_method_token = $5 and status in ('REQUESTED', 'RECHARGE_STARTED') for update`,
    [c.idempotencyKey, c.billingAccountId, amount, c.amount.currency, c.paymentMethodToken ?? ''],
  );
  if (found.length === 0) throw badInput('input.channel', `${AUTO_TOPUP_CHANNEL} is the channel of recharges wallets makes for an auto top-up; a recharge made by a person uses one of ${RECHARGE_CHANNELS.join(', ')}`, 'RECHARGE_CHANNEL_INVALID');
}

/**
 * A recharge: by card through the Recharge workflow (authorize → capture → credit → receipt,
 * started with workflow id `recharge-<id>`), or by bank transfer (PENDING until the transfer is
 * confirmed). Same key + same input returns the same recharge; other input is a CONFLICT; both within
 * the billing account (another account's recharge under the same key is its own). Only a
 * PREPAID wallet is recharged: a POSTPAID account is refused (WALLET_NOT_PREPAID) before the row is
 * written, so its card is never charged. Once its row is written a card recharge is accepted: if its
 * workflow cannot be started now it is answered STARTING (pending) and the jobs pass starts it.
 */
export async function recharge(db: Db, starter: RechargeStarter | null, c: RechargeCommand): Promise<RechargeRow> {
  checkKey(c.idempotencyKey);
  // What a card or a bank transfer pays: no finer than the currency's minor unit.
  const amount = enteredAmount(c.amount);
  if (c.method === 'CARD' && !c.paymentMethodToken) throw badInput('input.paymentMethodToken', 'A card recharge needs a payment method token', 'PAYMENT_METHOD_REQUIRED');
  const channel = rechargeChannel(c.channel);
  const hash = requestHash({ b: c.billingAccountId, a: fmt(amount), c: c.amount.currency, m: c.method, t: c.paymentMethodToken ?? null, ch: channel });
  let row = await db.tx(async (sql) => {
    // One request per key at a time: copies sent together (a double click, a client retry) wait and
    // find the first one's recharge, instead of one failing on the key's unique index. The key is the
    // account's (unique per billing account and key): another customer's "recharge-1" is theirs.
    await sql.query(`select pg_advisory_xact_lock(hashtext('recharge:' || $1::text || ':' || $2::text))`, [c.billingAccountId, c.idempotencyKey]);
    const existing = (await sql.query<RechargeRow & { request_hash: string }>(`select * from recharge where billing_account_id = $1 and idempotency_key = $2`, [c.billingAccountId, c.idempotencyKey]))[0];
    if (existing) {
      if (existing.request_hash !== hash) throw conflict('IDEMPOTENCY_KEY_REUSED', 'This idempotency key was already used for a different recharge', { field: 'input.idempotencyKey' });
      return existing;
    }
    const wallet = await requireWallet(sql, c.billingAccountId, c.amount.currency);
    requirePrepaid(wallet);
    // Refused before the row is written: the card of a closed account is never charged.
    requireOpen(wallet);
    if (channel === AUTO_TOPUP_CHANNEL) await requireAutoTopupRequest(sql, c, fmt(amount));
    if (c.method === 'CARD' && !starter) throw rechargeUnavailable('Temporal is not configured for this wallets service (WALLETS_TEMPORAL=off)');
    const id = newId('recharge');
    const made = (await sql.query<RechargeRow>(
      `insert into recharge (id, idempotency_key, request_hash, billing_account_id, wallet_id, amount, currency, channel, method, payment_method_token, status, workflow_id, created_at)
       values ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13) returning *`,
      [id, c.idempotencyKey, hash, c.billingAccountId, wallet.id, fmt(amount), c.amount.currency, channel, c.method, c.paymentMethodToken ?? null, c.method === 'CARD' ? 'STARTING' : 'PENDING_TRANSFER', c.method === 'CARD' ? rechargeWorkflowId(id) : null, c.now],
    ))[0]!;
    // The request names its recharge from the moment it exists: no cancel can take it back now.
    if (channel === AUTO_TOPUP_CHANNEL) await sql.query(`update topup_request set recharge_id = $2 where id = $1 and recharge_id is null`, [c.idempotencyKey, id]);
    return made;
  });
  if (row.method === 'CARD' && row.status === 'STARTING') {
    if (!starter) throw rechargeUnavailable('Temporal is not configured for this wallets service');
    // Once the row is written the recharge is accepted: a start that fails here (Temporal away, or
    // a lost answer after Temporal started it) is answered with the recharge as it stands,
    // STARTING, i.e. pending, and syncRecharges starts it (idempotent by workflow id), as does a
    // retry with the same key. An error here used to invite a retry under a new key while the jobs
    // pass started this one too: the customer paid twice.
    try {
      await starter.start({ rechargeId: row.id, billingAccountId: row.billing_account_id, amount: row.amount, currency: row.currency, paymentMethodToken: c.paymentMethodToken!, channel: row.channel });
    } catch {
      return row;
    }
    row = (await db.query<RechargeRow>(`update recharge set status = 'STARTED', updated_at = $2 where id = $1 and status = 'STARTING' returning *`, [row.id, c.now]))[0] ?? row;
    watchRecharge(db, starter, row, c.clock ?? (() => c.now), c.onSettled);
  }
  return row;
}

/** A card recharge cancelled before its capture began (auto top-up turned off): nothing was taken. */
export const RECHARGE_CANCELLED_STATUS = 'CANCELLED';

/** Statuses a card recharge can still leave; the others are final. */
export const OPEN_RECHARGE_STATUSES = ['STARTING', 'STARTED'];

/**
 * Records how the workflow ended (once: only an open recharge changes), and the auto top-up
 * request it served. COMPLETED: the workflow credited the wallet (ledger key `TOPUP@<account>:recharge-<id>:creditWallet`);
 * DECLINED / FAILED: no money was taken (authorization declined or voided), CANCELLED instead when the recharge was
 * cancelled (auto top-up turned off before its capture began); REFUNDED: the capture was refunded;
 * REFUND_FAILED: the capture was neither credited nor refunded (the provider refused the refund for
 * good), announced by `rechargeRefundFailed` for staff to return the money. A request COMPLETED with
 * the wallet still below its rule's threshold asks the next one in the same transaction
 * (followUpCompletedTopups).
 */
export async function settleRecharge(db: Db, rechargeId: string, outcome: RechargeOutcome, now: Date): Promise<RechargeRow | null> {
  return db.tx(async (sql) => {
    // Cancelled (its auto top-up rule turned off before the capture began: cancelStartedRecharges): a workflow that
    // ended DECLINED / FAILED took no money, and the recharge is CANCELLED, its request left CANCELLED. What took
    // money is recorded as it is (COMPLETED: credited; REFUNDED; REFUND_FAILED), and its request follows it.
    const row = (await sql.query<RechargeRow>(
      `update recharge set status = case when cancelled_at is not null and $2 in ('DECLINED', 'FAILED') then '${RECHARGE_CANCELLED_STATUS}' else $2 end, failure = $3, updated_at = $4
        where id = $1 and status = any($5::text[]) returning *`,
      [rechargeId, outcome.status, outcome.failure, now, OPEN_RECHARGE_STATUSES],
    ))[0];
    if (!row) return null;
    const requests = await sql.query<{ id: string; status: string }>(
      `update topup_request set status = $2 where recharge_id = $1 and (status <> 'CANCELLED' or $3::boolean) returning id, status`,
      [rechargeId, outcome.status === 'COMPLETED' ? 'COMPLETED' : `RECHARGE_${outcome.status}`, row.status === 'COMPLETED' || row.status === 'REFUNDED' || row.status === RECHARGE_REFUND_FAILED_STATUS],
    );
    if (row.status === RECHARGE_REFUND_FAILED_STATUS) {
      // The customer paid and got nothing back; nothing here can put it right: the event is staff's to-do.
      const data: RechargeRefundFailedData = {
        rechargeId: row.id, billingAccountId: row.billing_account_id, walletId: row.wallet_id, amount: { amount: row.amount, currency: row.currency },
        method: 'CARD', channel: row.channel, workflowId: row.workflow_id ?? rechargeWorkflowId(row.id), captureId: outcome.captureId ?? null,
        code: outcome.failure ?? RECHARGE_REFUND_FAILED_STATUS, failedAt: now.toISOString(),
      };
      await insertOutbox(sql, [eventRow('rechargeRefundFailed', row.billing_account_id, [row.id, 'refundfailed'], now, data)]);
    }
    await followUpCompletedTopups(sql, now, requests.filter((r) => r.status === 'COMPLETED').map((r) => r.id));
    return row;
  });
}

/** Waits (in the background) for the workflow's result and records it; the sync job catches what this misses (restart). */
export function watchRecharge(db: Db, starter: RechargeStarter, row: RechargeRow, clock: () => Date, onSettled?: (row: RechargeRow) => void): void {
  if (!row.workflow_id || !OPEN_RECHARGE_STATUSES.includes(row.status)) return;
  starter
    .outcome(row.workflow_id, true)
    .then(async (outcome) => {
      if (!outcome) return;
      const settled = await settleRecharge(db, row.id, outcome, clock());
      if (settled) onSettled?.(settled);
    })
    .catch(() => undefined); // connection closed or Temporal away: syncRecharges settles it later
}

/**
 * The recharge sync job: asks Temporal about card recharges still open (a watcher lost to a
 * restart, a start that failed after the row was written) and records finished ones; a recharge
 * stuck in STARTING for a minute is started again (idempotent by workflow id). One cancelled while
 * STARTING (auto top-up turned off: cancelStartedRecharges) is not started: it is settled CANCELLED
 * at once (its request is CANCELLED already). Its card cannot have been captured (a capture needs the
 * recharge not cancelled), so a workflow started before the cancel takes no money either.
 */
export async function syncRecharges(db: Db, starter: RechargeStarter, now: Date, limit = 100): Promise<number> {
  const open = await db.query<RechargeRow & { payment_method_token: string | null; cancelled_at: Date | null }>(
    `select * from recharge where method = 'CARD' and status = any($1::text[]) order by created_at limit $2`,
    [OPEN_RECHARGE_STATUSES, limit],
  );
  let settled = 0;
  for (const r of open) {
    if (r.status === 'STARTING' && r.cancelled_at) {
      // settleRecharge records a cancelled recharge that took no money as CANCELLED and leaves its request CANCELLED.
      if (await settleRecharge(db, r.id, { status: 'FAILED', failure: `${RECHARGE_CANCELLED_STATUS}: cancelled before its workflow started (auto top-up turned off)` }, now)) settled++;
      continue;
    }
    if (r.status === 'STARTING') {
      if (now.getTime() - r.created_at.getTime() < 60_000 || !r.payment_method_token) continue;
      await starter.start({ rechargeId: r.id, billingAccountId: r.billing_account_id, amount: r.amount, currency: r.currency, paymentMethodToken: r.payment_method_token, channel: r.channel });
      await db.query(`update recharge set status = 'STARTED', updated_at = $2 where id = $1 and status = 'STARTING'`, [r.id, now]);
      continue;
    }
    const outcome = await starter.outcome(r.workflow_id!, false).catch(() => null);
    if (outcome && (await settleRecharge(db, r.id, outcome, now))) settled++;
  }
  return settled;
}

/**
 * A bank transfer arrived: credit the wallet once (ledger key `TOPUP@<account>:recharge:<id>`). The transfer was
 * announced while the wallet was open, so the customer's money is taken even after the account
 * closed, as long as the closed wallet is not settled: it is then part of the final balance that
 * `billing.wallets.wallet.settled` carries and finance pays out (the customer's refund). Once the
 * wallet is settled nothing moves: the recharge is REFUSED with `failure` = `WALLET_SETTLED: …`
 * (committed; finance refunds the transfer directly) and the caller answers it CONFLICT
 * (`requireConfirmed`). The wallet is locked before its settlement is read, as settlement locks it,
 * so a confirmation is either in the settled balance or refused. Confirming again answers the same.
 */
export async function confirmBankTransfer(sql: Sql, rechargeId: string, bankReference: string, now: Date): Promise<RechargeRow> {
  const r = (await sql.query<RechargeRow>(`select * from recharge where id = $1 for update`, [rechargeId]))[0];
  if (!r) throw notFound('Recharge', rechargeId, 'input.rechargeId');
  if (r.method !== 'BANK_TRANSFER') throw new DomainError('RECHARGE_ILLEGAL_TRANSITION', 'Only bank-transfer recharges are confirmed by hand', { field: 'input.rechargeId' });
  if (r.status === 'COMPLETED' || r.status === RECHARGE_REFUSED) return r;
  // A transfer announced for a postpaid account (before these were refused) is not parked on its
  // wallet: it is a payment of the account's invoice, recorded in invoicing.
  const wallet = await requireWallet(sql, r.billing_account_id, r.currency, 'input.rechargeId');
  requirePrepaid(wallet, 'input.rechargeId');
  if (wallet.settled_at) {
    const reason = walletSettledMessage(wallet.billing_account_id, wallet.currency, wallet.closed_at, wallet.settled_at);
    const refused = (await sql.query<RechargeRow>(`update recharge set status = $2, failure = $3, updated_at = $4 where id = $1 returning *`, [r.id, RECHARGE_REFUSED, `${WALLET_SETTLED}: ${reason} (bank reference ${bankReference})`, now]))[0]!;
    // Finance returns the money to the payer: the event is its to-do, not a status it has to poll for.
    const data: RechargeRefusedData = {
      rechargeId: r.id, billingAccountId: r.billing_account_id, walletId: wallet.id, amount: { amount: r.amount, currency: r.currency },
      method: 'BANK_TRANSFER', bankReference, code: WALLET_SETTLED, reason, refusedAt: now.toISOString(),
    };
    await insertOutbox(sql, [eventRow('rechargeRefused', r.billing_account_id, [r.id, 'refused'], now, data)]);
    return refused;
  }
  await creditWallet(sql, { billingAccountId: r.billing_account_id, amount: { amount: r.amount, currency: r.currency }, idempotencyKey: `recharge:${r.id}`, reference: bankReference, now }, { kind: 'TOPUP', contra: 'PAYMENTS_CLEARING', channel: 'BANK_TRANSFER', untilSettled: true });
  return (await sql.query<RechargeRow>(`update recharge set status = 'COMPLETED', updated_at = $2 where id = $1 returning *`, [r.id, now]))[0]!;
}

/** A bank transfer confirmed after its wallet was settled: nothing was credited (its `failure` says why). */
export const RECHARGE_REFUSED = 'REFUSED';

/** confirmBankTransfer's answer, after its transaction committed: a REFUSED recharge is CONFLICT WALLET_SETTLED. */
export function requireConfirmed(r: RechargeRow): RechargeRow {
  if (r.status !== RECHARGE_REFUSED) return r;
  throw conflict(WALLET_SETTLED, r.failure?.replace(`${WALLET_SETTLED}: `, '') ?? `Recharge ${r.id} was refused`, { field: 'input.rechargeId', rechargeId: r.id, billingAccountId: r.billing_account_id });
}
