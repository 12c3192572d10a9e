import { Decimal, DomainError, badInput, conflict, decodeCursor, minorUnits, notFound, pageSize, scalarResolvers, toConnection } from '@ledgerline/contracts';
import type { ChargeRequest, WalletReserveRequest } from '@ledgerline/contracts';
import { retryScopeOf, retryTransientFailures, type RequestContext } from '@ledgerline/platform';
import { depsOf } from '../deps';
import type { Db, Sql } from '../persistence/sql';
import { WALLET_BALANCE_FINAL, WALLET_CLOSED, WALLET_COLUMNS, WALLET_JOINS, openWallet, setWalletLimits, walletById, walletOf, type WalletRow } from '../application/wallets';
import { bucketStatusAt, bucketsOf, grantBucket, revokeGrant, type BucketRow } from '../application/buckets';
import { topupBalance, type TopupResult } from '../application/topup-balance';
import { closeTopupKey } from '../application/close-topup-key';
import { closeCharge } from '../application/close-charge';
import { CHARGE_ID_CONFLICT, applyChargesIn, retryingChargeKeyTaken } from '../application/apply-charges';
import { adjustBalance, type AdjustmentRow } from '../application/adjust-balance';
import { payOutWallet, payoutsOf, returnPayout, type WalletPayoutRow } from '../application/pay-out-wallet';
import { approveAdjustment, expiresAt, gateAdjustment, listAdjustmentRequests, rejectAdjustment, type AdjustmentRequestRow, type RequestStatus } from '../application/balance-adjustment-approvals';
import { issueVoucher, redeemVoucher } from '../application/vouchers';
import { confirmBankTransfer, recharge, requireConfirmed, type RechargeRow } from '../application/recharge';
import { resolveRefundFailedRecharge, type ResolvedRechargeRow } from '../application/resolve-refund-failed-recharge';
import { setAutoTopup } from '../application/auto-topup-settings';
import { beginRechargeStep, type RechargeStep } from '../application/begin-recharge-step';
import { closeReservation, reservationById, reserve, type ReservationRow } from '../application/reservations';
import { headroom } from '../domain/charging';
import { budgetOf, setBudget, type BudgetRow } from '../application/budget';
import { subscriptionTermsOf, type SubscriptionTermRow } from '../application/subscription-terms';
import { openDueCharges, type DueChargeRow } from '../application/one-off-charges';
import { periodFee } from '../application/period-fee';
import { isStaff, requireAccount, requireRowAccount, requireStaff } from './authorization';

export type WalletsContext = RequestContext;

const db = (ctx: WalletsContext): Db => depsOf(ctx.runtime).db;
const now = (ctx: WalletsContext): Date => ctx.runtime.clock.now();
const money = (amount: string | Decimal, currency: string) => ({ amount: new Decimal(amount).toFixed(), currency });

/** Runs a use case in one transaction (run again if it is a deadlock or serialization victim: these use cases write only in it), then wakes the outbox relay. */
async function mutate<T>(ctx: WalletsContext, work: (sql: Sql, now: Date) => Promise<T>): Promise<T> {
  if (ctx.caller.role === 'ANONYMOUS') throw new DomainError('UNAUTHENTICATED', 'Sign in to change balances', {}, 'UNAUTHENTICATED');
  const t = now(ctx);
  const result = await retryTransientFailures(retryScopeOf(ctx), () => db(ctx).tx((sql) => work(sql, t)));
  ctx.runtime.relay.nudge();
  return result;
}

const topupPayload = async (ctx: WalletsContext, t: TopupResult) => ({ topupBalance: t, wallet: await walletById(db(ctx), t.walletId) });

/** A ledger cursor is an entry id (a bigint) this service issued; anything else names `after`. */
function entryCursor(after: string | null | undefined): string | null {
  if (!after) return null;
  const id = decodeCursor(after);
  if (!/^\d{1,18}$/.test(id)) throw badInput('after', 'This cursor was not issued by ledgerEntries; pass an edge cursor or pageInfo.endCursor', 'CURSOR_INVALID');
  return id;
}

async function ledgerEntries(ctx: WalletsContext, where: string, param: string, args: { first?: number | null; after?: string | null }) {
  const limit = pageSize(args);
  const after = entryCursor(args.after);
  const rows = await db(ctx).query(
    `select e.id::text as id, e.transaction_id, t.kind as transaction_kind, e.account_id, a.kind as account_kind, e.unit, e.amount, t.reference, e.created_at
     from ledger_entry e join ledger_account a on a.id = e.account_id join ledger_transaction t on t.id = e.transaction_id
     where ${where} ${after ? 'and e.id < $3' : ''} order by e.id desc limit $2`,
    after ? [param, limit + 1, after] : [param, limit + 1],
  );
  return toConnection(rows, limit, (r) => String(r.id), !!after);
}

export const resolvers = {
  ...scalarResolvers,
  Query: {
    wallet: async (_: unknown, a: { id: string }, ctx: WalletsContext) => requireRowAccount(db(ctx), ctx.caller, await walletById(db(ctx), a.id), 'read this wallet'),
    walletOf: async (_: unknown, a: { billingAccountId: string; currency: string }, ctx: WalletsContext) => {
      await requireAccount(db(ctx), ctx.caller, a.billingAccountId, 'read the wallets of this account');
      return walletOf(db(ctx), a.billingAccountId, a.currency);
    },
    buckets: async (_: unknown, a: { billingAccountId: string; includeExpired?: boolean }, ctx: WalletsContext) => {
      await requireAccount(db(ctx), ctx.caller, a.billingAccountId, 'read the buckets of this account');
      return bucketsOf(db(ctx), a.billingAccountId, !!a.includeExpired, now(ctx));
    },
    reservation: async (_: unknown, a: { id: string }, ctx: WalletsContext) => requireRowAccount(db(ctx), ctx.caller, await reservationById(db(ctx), a.id), 'read this reservation'),
    recharge: async (_: unknown, a: { id: string }, ctx: WalletsContext) => requireRowAccount(db(ctx), ctx.caller, (await db(ctx).query<RechargeRow>(`select * from recharge where id = $1`, [a.id]))[0] ?? null, 'read this recharge'),
    ledgerEntries: async (_: unknown, a: { billingAccountId: string; first?: number; after?: string }, ctx: WalletsContext) => {
      await requireAccount(db(ctx), ctx.caller, a.billingAccountId, 'read the ledger of this account');
      return ledgerEntries(ctx, 'a.billing_account_id = $1', a.billingAccountId, a);
    },
    balanceAdjustmentRequests: async (_: unknown, a: { status?: RequestStatus | null; first?: number; after?: string }, ctx: WalletsContext) => {
      requireStaff(ctx.caller, 'read balance adjustment requests');
      return listAdjustmentRequests(db(ctx), a);
    },
  },
  Mutation: {
    setBudget: async (_: unknown, { input }: any, ctx: WalletsContext) => {
      requireStaff(ctx.caller, 'set a committed-spend budget');
      const row = await mutate(ctx, (sql, t) => setBudget(sql, { billingAccountId: input.billingAccountId, currency: input.committed?.currency, committed: input.committed?.amount, threshold: input.threshold, enabled: input.enabled, updatedBy: `${ctx.caller.role}:${ctx.caller.subject}`, now: t }));
      return { budget: (await budgetOf(db(ctx), row.billing_account_id)).find((b) => b.id === row.id) };
    },
    openWallet: async (_: unknown, { input }: any, ctx: WalletsContext) => {
      requireStaff(ctx.caller, 'open wallets');
      return { wallet: await mutate(ctx, (sql, t) => openWallet(sql, { ...input, limitsEntered: true, now: t })) };
    },
    setWalletLimits: async (_: unknown, { input }: any, ctx: WalletsContext) => {
      requireStaff(ctx.caller, 'change wallet limits');
      return { wallet: await mutate(ctx, (sql) => setWalletLimits(sql, input)) };
    },
    grantBucket: async (_: unknown, { input }: any, ctx: WalletsContext) => {
      requireStaff(ctx.caller, 'grant allowances');
      return { bucket: await mutate(ctx, (sql, t) => grantBucket(sql, { ...input, now: t })) };
    },
    topupBalance: async (_: unknown, { input }: any, ctx: WalletsContext) => {
      requireStaff(ctx.caller, 'credit wallets directly');
      return topupPayload(ctx, await mutate(ctx, (sql, t) => topupBalance(sql, { ...input, now: t })));
    },
    closeTopupKey: async (_: unknown, { input }: any, ctx: WalletsContext) => {
      requireStaff(ctx.caller, 'close top-up keys');
      return { topupBalance: await mutate(ctx, (sql, t) => closeTopupKey(sql, { billingAccountId: input.billingAccountId, idempotencyKey: input.idempotencyKey, now: t })) };
    },
    applyCharge: async (_: unknown, { input }: { input: ChargeRequest & { occurredAt: Date } }, ctx: WalletsContext) => {
      requireStaff(ctx.caller, 'apply charges');
      // Run again when a copy sent at once took the chargeId first (retryingChargeKeyTaken): answered its decision.
      const [r] = await retryingChargeKeyTaken(
        () => mutate(ctx, (sql, t) => applyChargesIn(sql, [{ ...input, occurredAt: new Date(input.occurredAt).toISOString(), allowOverdraft: !!input.allowOverdraft }], t)),
        () => depsOf(ctx.runtime).chargeKeyRetries.inc({ path: 'applyCharge' }),
      );
      // Same key, other input: a CONFLICT, as every idempotency key here (nothing was written).
      if (r!.outcome === 'REJECTED') throw conflict(CHARGE_ID_CONFLICT, r!.reason!.slice(CHARGE_ID_CONFLICT.length + 2), { field: 'input.chargeId' });
      // A closed account's wallet (usage at or after its closedAt): a CONFLICT, as its other refusals here.
      if (r!.outcome === 'DENIED' && r!.reason?.startsWith(`${WALLET_CLOSED}:`)) throw conflict(WALLET_CLOSED, r!.reason.slice(WALLET_CLOSED.length + 2), { field: 'input.billingAccountId' });
      // Late usage once a closed wallet's balance is final (after its grace): a CONFLICT as well.
      if (r!.outcome === 'DENIED' && r!.reason?.startsWith(`${WALLET_BALANCE_FINAL}:`)) throw conflict(WALLET_BALANCE_FINAL, r!.reason.slice(WALLET_BALANCE_FINAL.length + 2), { field: 'input.billingAccountId' });
      return { result: { ...r!, amountCharged: money(r!.amountCharged, r!.currency) } };
    },
    closeCharge: async (_: unknown, { input }: { input: { chargeId: string; billingAccountId: string } }, ctx: WalletsContext) => {
      requireStaff(ctx.caller, 'close charges');
      const r = await mutate(ctx, (sql, t) => closeCharge(sql, { chargeId: input.chargeId, billingAccountId: input.billingAccountId, now: t }));
      return { taken: r.taken, outcome: r.outcome, reason: r.reason, amountCharged: r.amountCharged === null || r.currency === null ? null : money(r.amountCharged, r.currency) };
    },
    revokeBucketGrant: async (_: unknown, { input }: { input: { grantKey: string; billingAccountId: string } }, ctx: WalletsContext) => {
      requireStaff(ctx.caller, 'revoke allowances');
      return mutate(ctx, (sql, t) => revokeGrant(sql, { grantKey: input.grantKey, billingAccountId: input.billingAccountId, now: t }));
    },
    adjustBalance: async (_: unknown, { input }: any, ctx: WalletsContext) => {
      // An AGENT above the approval limit: a pending request, the balance unchanged (balance-adjustment-approvals.ts).
      const r = await mutate(ctx, async (sql, t): Promise<{ pending: AdjustmentRequestRow } | { adjustment: AdjustmentRow }> => {
        const pending = await gateAdjustment(sql, depsOf(ctx.runtime).approvalLimits, depsOf(ctx.runtime).approvalDailyLimits, { ...input, caller: ctx.caller, now: t });
        return pending ? { pending } : { adjustment: await adjustBalance(sql, { ...input, caller: ctx.caller, now: t }) };
      });
      if ('pending' in r) return { adjustment: null, wallet: await walletById(db(ctx), r.pending.wallet_id), approvalRequest: r.pending };
      return { adjustment: r.adjustment, wallet: await walletById(db(ctx), r.adjustment.wallet_id), approvalRequest: null };
    },
    payOutWalletBalance: async (_: unknown, { input }: any, ctx: WalletsContext) => {
      const payout = await mutate(ctx, (sql, t) => payOutWallet(sql, { ...input, caller: ctx.caller, now: t }));
      return { payout, wallet: await walletById(db(ctx), payout.wallet_id) };
    },
    returnPayout: async (_: unknown, { input }: any, ctx: WalletsContext) => {
      const payout = await mutate(ctx, (sql, t) => returnPayout(sql, { ...input, caller: ctx.caller, now: t }));
      return { payout, wallet: await walletById(db(ctx), payout.wallet_id) };
    },
    approveBalanceAdjustment: async (_: unknown, { input }: { input: { id: string } }, ctx: WalletsContext) => {
      const r = await mutate(ctx, (sql, t) => approveAdjustment(sql, { id: input.id, caller: ctx.caller, now: t, ttlHours: depsOf(ctx.runtime).approvalTtlHours }));
      return { request: r.row, adjustment: r.adjustment, wallet: await walletById(db(ctx), r.row.wallet_id) };
    },
    rejectBalanceAdjustment: async (_: unknown, { input }: { input: { id: string; reason: string } }, ctx: WalletsContext) => {
      const row = await mutate(ctx, (sql, t) => rejectAdjustment(sql, { ...input, caller: ctx.caller, now: t, ttlHours: depsOf(ctx.runtime).approvalTtlHours }));
      return { request: row, adjustment: null, wallet: await walletById(db(ctx), row.wallet_id) };
    },
    issueVoucher: async (_: unknown, { input }: any, ctx: WalletsContext) => {
      const v = await mutate(ctx, (sql, t) => issueVoucher(sql, { ...input, caller: ctx.caller, now: t, secret: ctx.runtime.config.internalSecret }));
      return { code: v.code, voucher: { id: v.id, amount: money(v.amount, v.currency), expiresAt: v.expiresAt, status: v.status } };
    },
    redeemVoucher: async (_: unknown, { input }: any, ctx: WalletsContext) => {
      await requireAccount(db(ctx), ctx.caller, input.billingAccountId, 'redeem a voucher on this account');
      const deps = depsOf(ctx.runtime);
      const t = await redeemVoucher(db(ctx), {
        ...input,
        now: now(ctx),
        caller: `${ctx.caller.role}:${ctx.caller.subject}`,
        limits: deps.voucherLimits,
        onRefused: (limit) => deps.voucherAttemptsRefused.inc({ limit }),
      });
      ctx.runtime.relay.nudge();
      return topupPayload(ctx, t);
    },
    recharge: async (_: unknown, { input }: any, ctx: WalletsContext) => {
      await requireAccount(db(ctx), ctx.caller, input.billingAccountId, 'recharge this account');
      return { recharge: await recharge(db(ctx), depsOf(ctx.runtime).rechargeStarter, { ...input, now: now(ctx), clock: () => now(ctx) }) };
    },
    beginRechargeStep: async (_: unknown, { input }: { input: { rechargeId: string; step: RechargeStep } }, ctx: WalletsContext) => {
      requireStaff(ctx.caller, 'begin recharge steps');
      return { recharge: await mutate(ctx, (sql, t) => beginRechargeStep(sql, { rechargeId: input.rechargeId, step: input.step, now: t })) };
    },
    confirmBankTransfer: async (_: unknown, { input }: any, ctx: WalletsContext) => {
      requireStaff(ctx.caller, 'confirm bank transfers');
      // A refusal (wallet settled) is committed first: the recharge keeps why, for finance to refund the transfer.
      return { recharge: requireConfirmed(await mutate(ctx, (sql, t) => confirmBankTransfer(sql, input.rechargeId, input.bankReference, t))) };
    },
    resolveRefundFailedRecharge: async (_: unknown, { input }: any, ctx: WalletsContext) => {
      requireStaff(ctx.caller, 'resolve refund-failed recharges');
      return { recharge: await mutate(ctx, (sql, t) => resolveRefundFailedRecharge(sql, { ...input, caller: ctx.caller, now: t })) };
    },
    setAutoTopup: async (_: unknown, { input }: any, ctx: WalletsContext) => {
      await requireRowAccount(db(ctx), ctx.caller, await walletById(db(ctx), input.walletId), 'change auto top-up of this wallet', () => notFound('Wallet', input.walletId, 'input.walletId'));
      await mutate(ctx, (sql, t) => setAutoTopup(sql, { ...input, now: t }));
      return { wallet: await walletById(db(ctx), input.walletId) };
    },
    reserveBalance: async (_: unknown, { input }: { input: WalletReserveRequest }, ctx: WalletsContext) => {
      requireStaff(ctx.caller, 'reserve balances');
      const r = await mutate(ctx, (sql, t) => reserve(sql, input, t));
      if (r.error?.code === WALLET_CLOSED) throw conflict(WALLET_CLOSED, r.error.message, { field: 'input.billingAccountId' });
      const reservation = r.reservationId ? await reservationById(db(ctx), r.reservationId) : null;
      return { ...r, reservation, grantedUnit: r.grantedUnit && { ...r.grantedUnit, amount: money(r.grantedUnit.amount, r.grantedUnit.currency) } };
    },
    commitReservation: async (_: unknown, { input }: any, ctx: WalletsContext) => {
      requireStaff(ctx.caller, 'commit reservations');
      const r = await mutate(ctx, (sql, t) => closeReservation(sql, input.reservationId, input.usedUnits, t, 'COMMITTED'));
      return { ...r, reservation: await reservationById(db(ctx), input.reservationId) };
    },
    releaseReservation: async (_: unknown, { input }: any, ctx: WalletsContext) => {
      requireStaff(ctx.caller, 'release reservations');
      const r = await mutate(ctx, (sql, t) => closeReservation(sql, input.reservationId, '0', t, 'RELEASED'));
      return { ...r, reservation: await reservationById(db(ctx), input.reservationId) };
    },
  },
  BillingAccount: {
    __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
    wallets: async (account: { id: string }, _: unknown, ctx: WalletsContext) => (await requireAccount(db(ctx), ctx.caller, account.id, 'read the wallets of this account'), db(ctx).query(`select ${WALLET_COLUMNS} from wallet w ${WALLET_JOINS} where w.billing_account_id = $1 order by w.currency`, [account.id])),
    buckets: async (account: { id: string }, a: { includeExpired?: boolean }, ctx: WalletsContext) => (await requireAccount(db(ctx), ctx.caller, account.id, 'read the buckets of this account'), bucketsOf(db(ctx), account.id, !!a.includeExpired, now(ctx))),
    reservations: async (account: { id: string }, a: { status?: string }, ctx: WalletsContext) =>
      (await requireAccount(db(ctx), ctx.caller, account.id, 'read the reservations of this account'), db(ctx).query(`select * from reservation where billing_account_id = $1 ${a.status ? 'and status = $2' : ''} order by created_at desc limit 200`, a.status ? [account.id, a.status] : [account.id])),
    balanceNotifications: async (account: { id: string }, a: { first?: number }, ctx: WalletsContext) =>
      (await requireAccount(db(ctx), ctx.caller, account.id, 'read the notifications of this account'), db(ctx).query(`select * from notification where billing_account_id = $1 order by created_at desc, id limit $2`, [account.id, pageSize(a)])),
    budget: async (account: { id: string }, _: unknown, ctx: WalletsContext) => {
      await requireAccount(db(ctx), ctx.caller, account.id, 'read the budget of this account');
      return (await budgetOf(db(ctx), account.id))[0] ?? null;
    },
    allowancePeriods: async (account: { id: string }, _: unknown, ctx: WalletsContext) =>
      (await requireAccount(db(ctx), ctx.caller, account.id, 'read the allowance periods of this account'), subscriptionTermsOf(db(ctx), account.id)),
    dueCharges: async (account: { id: string }, _: unknown, ctx: WalletsContext) =>
      (await requireAccount(db(ctx), ctx.caller, account.id, 'read the due charges of this account'), openDueCharges(db(ctx), account.id)),
  },
  DueCharge: {
    lineId: (d: DueChargeRow) => d.line_id,
    amount: (d: DueChargeRow) => money(d.amount, d.currency),
    createdAt: (d: DueChargeRow) => d.created_at,
  },
  AllowancePeriod: {
    subscriptionId: (t: SubscriptionTermRow) => t.subscription_id,
    lineId: (t: SubscriptionTermRow) => t.line_id,
    planVersionId: (t: SubscriptionTermRow) => t.plan_version_id,
    periodStart: (t: SubscriptionTermRow) => t.period_start,
    periodEnd: (t: SubscriptionTermRow) => t.period_end,
    feeDue: (t: SubscriptionTermRow) => t.fee_state === 'DUE',
    endsAt: (t: SubscriptionTermRow) => t.ends_at,
    // What the period's fee transaction took (the fee its unused days are refunded from); null: none taken.
    feeTaken: async (t: SubscriptionTermRow, _: unknown, ctx: WalletsContext) => {
      const paid = await periodFee(db(ctx), t, t.period_start);
      return paid ? money(paid.taken, t.currency) : null;
    },
    // The terms that fee was taken under (whether its unused days come back); null: none taken, or taken before they were recorded.
    feeProration: async (t: SubscriptionTermRow, _: unknown, ctx: WalletsContext) => (await periodFee(db(ctx), t, t.period_start))?.proration ?? null,
  },
  Wallet: {
    __resolveReference: async (ref: { id: string }, ctx: WalletsContext) => requireRowAccount(db(ctx), ctx.caller, await walletById(db(ctx), ref.id), 'read this wallet'),
    billingAccountId: (w: WalletRow) => w.billing_account_id,
    paymentMode: (w: WalletRow) => w.payment_mode,
    closedAt: (w: WalletRow) => w.closed_at,
    finalAt: (w: WalletRow) => w.final_at,
    settledAt: (w: WalletRow) => w.settled_at,
    balance: (w: WalletRow) => money(w.balance, w.currency),
    unbilled: (w: WalletRow) => money(w.unbilled, w.currency),
    reserved: (w: WalletRow) => money(w.reserved, w.currency),
    creditLimit: (w: WalletRow) => (w.credit_limit === null ? null : money(w.credit_limit, w.currency)),
    overdraftLimit: (w: WalletRow) => money(w.overdraft_limit, w.currency),
    lowBalanceThreshold: (w: WalletRow) => (w.low_balance_threshold === null ? null : money(w.low_balance_threshold, w.currency)),
    available: (w: WalletRow) => {
      const room = headroom({ id: w.id, billingAccountId: w.billing_account_id, currency: w.currency, paymentMode: w.payment_mode, balance: new Decimal(w.balance), unbilled: new Decimal(w.unbilled), creditLimit: w.credit_limit === null ? null : new Decimal(w.credit_limit), overdraftLimit: new Decimal(w.overdraft_limit) }, true);
      return room === null ? null : money(room, w.currency);
    },
    autoTopup: async (w: WalletRow, _: unknown, ctx: WalletsContext) => {
      const r = (await db(ctx).query(`select * from auto_topup_rule where wallet_id = $1`, [w.id]))[0];
      return r && { enabled: r.enabled, threshold: r.threshold, topupAmount: r.topup_amount, targetBalance: r.target_balance, dailyLimit: r.daily_limit, monthlyLimit: r.monthly_limit };
    },
    topupRequests: async (w: WalletRow, _: unknown, ctx: WalletsContext) =>
      (await db(ctx).query(`select * from topup_request where wallet_id = $1 order by requested_at desc limit 100`, [w.id])).map((r) => ({ id: r.id, amount: money(r.amount, r.currency), status: r.status, reason: r.reason, rechargeId: r.recharge_id, requestedAt: r.requested_at })),
    ledgerEntries: (w: WalletRow, a: { first?: number; after?: string }, ctx: WalletsContext) => ledgerEntries(ctx, 'e.account_id = $1', w.id, a),
    payouts: (w: WalletRow, _: unknown, ctx: WalletsContext) => payoutsOf(db(ctx), w.id),
    createdAt: (w: WalletRow) => w.created_at,
  },
  WalletPayout: {
    walletId: (p: WalletPayoutRow) => p.wallet_id,
    billingAccountId: (p: WalletPayoutRow) => p.billing_account_id,
    amount: (p: WalletPayoutRow) => money(p.amount, p.currency),
    payoutReference: (p: WalletPayoutRow) => p.payout_reference,
    paidOutBy: (p: WalletPayoutRow) => p.paid_out_by,
    paidOutByRole: (p: WalletPayoutRow) => p.paid_out_by_role,
    transactionId: (p: WalletPayoutRow) => p.transaction_id,
    createdAt: (p: WalletPayoutRow) => p.created_at,
    status: (p: WalletPayoutRow) => (p.returned_at ? 'RETURNED' : 'PAID_OUT'),
    returnedAt: (p: WalletPayoutRow) => p.returned_at,
    returnReason: (p: WalletPayoutRow) => p.return_reason,
    returnedBy: (p: WalletPayoutRow) => p.returned_by,
    returnTransactionId: (p: WalletPayoutRow) => p.return_transaction_id,
  },
  Bucket: {
    billingAccountId: (b: BucketRow) => b.billing_account_id,
    lineId: (b: BucketRow) => b.line_id,
    shared: (b: BucketRow) => b.line_id === null,
    allowanceId: (b: BucketRow) => b.allowance_id,
    initialQuantity: (b: BucketRow) => new Decimal(b.initial_quantity).toFixed(),
    remaining: (b: BucketRow) => new Decimal(b.remaining).toFixed(),
    usedPercent: (b: BucketRow) => new Decimal(b.initial_quantity).minus(b.remaining).dividedBy(b.initial_quantity).times(100).toDecimalPlaces(2).toFixed(),
    validFrom: (b: BucketRow) => b.valid_from,
    validTo: (b: BucketRow) => b.valid_to,
    rolloverPercent: (b: BucketRow) => b.rollover_percent,
    status: (b: BucketRow, _a: unknown, ctx: WalletsContext) => bucketStatusAt(b, now(ctx)),
  },
  LedgerEntry: {
    transactionId: (e: any) => e.transaction_id,
    transactionKind: (e: any) => e.transaction_kind,
    accountId: (e: any) => e.account_id,
    accountKind: (e: any) => e.account_kind,
    amount: (e: any) => new Decimal(e.amount).toFixed(),
    createdAt: (e: any) => e.created_at,
  },
  Reservation: {
    sessionId: (r: ReservationRow) => r.session_id,
    billingAccountId: (r: ReservationRow) => r.billing_account_id,
    walletId: (r: ReservationRow) => r.wallet_id,
    lineId: (r: ReservationRow) => r.line_id,
    requestedUnits: (r: ReservationRow) => new Decimal(r.requested_units).toFixed(),
    grantedUnits: (r: ReservationRow) => new Decimal(r.granted_units).toFixed(),
    unitsFromAllowances: (r: ReservationRow) => new Decimal(r.units_from_buckets).toFixed(),
    moneyReserved: async (r: ReservationRow, _: unknown, ctx: WalletsContext) => money(r.money_reserved, (await walletById(db(ctx), r.wallet_id))!.currency),
    usedUnits: (r: ReservationRow) => (r.used_units === null ? null : new Decimal(r.used_units).toFixed()),
    expiresAt: (r: ReservationRow) => r.expires_at,
    createdAt: (r: ReservationRow) => r.created_at,
  },
  TopupBalance: { amount: (t: TopupResult) => money(t.amount, t.currency) },
  BalanceAdjustmentRequest: {
    walletId: (r: AdjustmentRequestRow) => r.wallet_id,
    billingAccountId: (r: AdjustmentRequestRow) => r.billing_account_id,
    amount: (r: AdjustmentRequestRow) => ({ amount: new Decimal(r.amount).toFixed(minorUnits(r.currency)), currency: r.currency }),
    requestedBy: (r: AdjustmentRequestRow) => r.requested_by,
    input: (r: AdjustmentRequestRow) => (typeof r.input === 'string' ? JSON.parse(r.input) : r.input),
    decidedBy: (r: AdjustmentRequestRow) => r.decided_by,
    decisionNote: (r: AdjustmentRequestRow) => r.decision_note,
    adjustmentId: (r: AdjustmentRequestRow) => r.adjustment_id,
    failureCode: (r: AdjustmentRequestRow) => r.failure_code,
    failureReason: (r: AdjustmentRequestRow) => r.failure_reason,
    createdAt: (r: AdjustmentRequestRow) => r.created_at,
    expiresAt: (r: AdjustmentRequestRow, _: unknown, ctx: WalletsContext) => expiresAt(r, depsOf(ctx.runtime).approvalTtlHours),
    decidedAt: (r: AdjustmentRequestRow) => r.decided_at,
  },
  BalanceAdjustment: {
    walletId: (a: AdjustmentRow) => a.wallet_id,
    amount: async (a: AdjustmentRow, _: unknown, ctx: WalletsContext) => money(a.amount, (await walletById(db(ctx), a.wallet_id))!.currency),
    agentRole: (a: AdjustmentRow) => a.agent_role,
    transactionId: (a: AdjustmentRow) => a.transaction_id,
    createdAt: (a: AdjustmentRow) => a.created_at,
  },
  Recharge: {
    billingAccountId: (r: RechargeRow) => r.billing_account_id,
    walletId: (r: RechargeRow) => r.wallet_id,
    amount: (r: RechargeRow) => money(r.amount, r.currency),
    workflowId: (r: RechargeRow) => r.workflow_id,
    createdAt: (r: RechargeRow) => r.created_at,
    updatedAt: (r: RechargeRow) => r.updated_at,
    // Staff's note and name are the audit record: a customer reading their recharge sees how and when only.
    resolution: (r: Partial<ResolvedRechargeRow>, _: unknown, ctx: WalletsContext) =>
      r.resolved_at
        ? { resolution: r.resolution, note: isStaff(ctx.caller) ? r.resolution_note : null, resolvedBy: isStaff(ctx.caller) ? r.resolved_by : null, resolvedByRole: r.resolved_by_role, resolvedAt: r.resolved_at, transactionId: r.resolution_transaction_id }
        : null,
  },
  Budget: {
    billingAccountId: (b: BudgetRow) => b.billing_account_id,
    walletId: (b: BudgetRow) => b.wallet_id,
    committed: (b: BudgetRow) => money(b.committed, b.currency),
    threshold: (b: BudgetRow) => money(b.threshold, b.currency),
    remaining: (b: BudgetRow & { balance: string }) => money(b.balance, b.currency),
    replenishmentCount: (b: BudgetRow) => b.replenishments,
    replenishments: (b: BudgetRow, a: { first?: number }, ctx: WalletsContext) =>
      db(ctx).query(`select * from budget_replenishment where budget_id = $1 order by sequence desc limit $2`, [b.id, pageSize(a, 20)]),
    updatedAt: (b: BudgetRow) => b.updated_at,
  },
  BudgetReplenishment: {
    amount: (r: any) => money(r.amount, r.currency),
    remaining: (r: any) => money(r.remaining, r.currency),
    transactionId: (r: any) => r.transaction_id,
    createdAt: (r: any) => r.created_at,
  },
  BalanceNotification: {
    walletId: (n: any) => n.wallet_id,
    bucketId: (n: any) => n.bucket_id,
    createdAt: (n: any) => n.created_at,
  },
};
