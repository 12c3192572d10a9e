import { DomainError, badInput, conflict, isCurrencyCode, newId, notFound } from '@ledgerline/contracts';
import type { Db, Sql } from '../persistence/sql';
import { requestHash } from './ledger';
import { positiveAmount, requireWallet } from './wallets';
import { checkKey, creditWallet } from './topup-balance';
import { fmt } from '../domain/charging';
import { rechargeUnavailable, rechargeWorkflowId, type RechargeStarter } from '../adapters/recharge-starter';

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
}

export interface RechargeCommand {
  billingAccountId: string;
  amount: { amount: string; currency: string };
  method: 'CARD' | 'BANK_TRANSFER';
  paymentMethodToken?: string | null;
  channel?: string | null;
  idempotencyKey: string;
  now: Date;
}

/**
 * A recharge: by card through the Recharge workflow (authorize → capture → credit → receipt,
 * started with workflow id `recharge-<id>`), or by bank transfer (PENDING until the transfer is
 * confirmed). Same key + same input returns the same recharge; other input is a CONFLICT.
 */
export async function recharge(db: Db, starter: RechargeStarter | null, c: RechargeCommand): Promise<RechargeRow> {
  checkKey(c.idempotencyKey);
  const amount = positiveAmount(c.amount?.amount);
  if (!isCurrencyCode(c.amount?.currency)) throw badInput('input.amount.currency', `"${c.amount?.currency}" is not a supported currency`, 'CURRENCY_INVALID');
  if (c.method === 'CARD' && !c.paymentMethodToken) throw badInput('input.paymentMethodToken', 'A card recharge needs a payment method token', 'PAYMENT_METHOD_REQUIRED');
  const channel = c.channel ?? 'SELF_CARE';
  const hash = requestHash({ b: c.billingAccountId, a: fmt(amount), c: c.amount.currency, m: c.method, t: c.paymentMethodToken ?? null, ch: channel });
  let row = await db.tx(async (sql) => {
    const existing = (await sql.query<RechargeRow & { request_hash: string }>(`select * from recharge where idempotency_key = $1`, [c.idempotencyKey]))[0];
    if (existing) {
      if (existing.request_hash !== hash) throw conflict('IDEMPOTENCY_KEY_REUSED', 'This idempotency key was already used for a different recharge', { field: 'input.idempotencyKey' });
      return existing;
    }
    if (c.method === 'CARD' && !starter) throw rechargeUnavailable('Temporal is not configured for this wallets service (WALLETS_TEMPORAL=off)');
    const wallet = await requireWallet(sql, c.billingAccountId, c.amount.currency);
    const id = newId('payment').replace(/^pay_/, 'rch_');
    return (await sql.query<RechargeRow>(
      `insert into recharge (id, idempotency_key, request_hash, billing_account_id, wallet_id, amount, currency, channel, method, payment_method_token, status, workflow_id, created_at)
       values ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13) returning *`,
      [id, c.idempotencyKey, hash, c.billingAccountId, wallet.id, fmt(amount), c.amount.currency, channel, c.method, c.paymentMethodToken ?? null, c.method === 'CARD' ? 'STARTING' : 'PENDING_TRANSFER', c.method === 'CARD' ? rechargeWorkflowId(id) : null, c.now],
    ))[0]!;
  });
  if (row.method === 'CARD' && row.status === 'STARTING') {
    if (!starter) throw rechargeUnavailable('Temporal is not configured for this wallets service');
    // Starting is idempotent by workflow id, so a retry of this mutation after a failure here is safe.
    await starter.start({ rechargeId: row.id, billingAccountId: row.billing_account_id, amount: row.amount, currency: row.currency, paymentMethodToken: c.paymentMethodToken!, channel: row.channel });
    row = (await db.query<RechargeRow>(`update recharge set status = 'STARTED' where id = $1 returning *`, [row.id]))[0]!;
  }
  return row;
}

/** A bank transfer arrived: credit the wallet once (ledger key = the recharge id). */
export async function confirmBankTransfer(sql: Sql, rechargeId: string, bankReference: string, now: Date): Promise<RechargeRow> {
  const r = (await sql.query<RechargeRow>(`select * from recharge where id = $1 for update`, [rechargeId]))[0];
  if (!r) throw notFound('Recharge', rechargeId, 'input.rechargeId');
  if (r.method !== 'BANK_TRANSFER') throw new DomainError('RECHARGE_ILLEGAL_TRANSITION', 'Only bank-transfer recharges are confirmed by hand', { field: 'input.rechargeId' });
  if (r.status === 'COMPLETED') return r;
  await requireWallet(sql, r.billing_account_id, r.currency);
  await creditWallet(sql, { billingAccountId: r.billing_account_id, amount: { amount: r.amount, currency: r.currency }, idempotencyKey: `recharge:${r.id}`, reference: bankReference, now }, { kind: 'TOPUP', contra: 'PAYMENTS_CLEARING', channel: 'BANK_TRANSFER' });
  return (await sql.query<RechargeRow>(`update recharge set status = 'COMPLETED' where id = $1 returning *`, [r.id]))[0]!;
}
