// Money credited to a POSTPAID account. Its charges accrue on what it owes (UNBILLED_RECEIVABLE,
// which invoicing bills from the ChargeResults); nothing draws on a postpaid wallet's cash account,
// so a credit parked there would lower nothing owed, raise nothing `available` and reach no invoice.
// - An agent's adjustment (goodwill credit, or a debit) changes what the account owes, within its
//   credit limit, and reaches the next invoice as a line: a ChargeResult of its own (usage type
//   ADJUSTMENT, negative for a credit), as a rerate's correction does.
// - A voucher, a top-up and a recharge (card or bank transfer) are refused with WALLET_NOT_PREPAID
//   before any money moves: the voucher stays unused, the card is never charged. A postpaid account
//   pays its invoices (invoicing's recordPayment).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WORK_SUBJECTS, type Caller, type ChargeResult } from '@ledgerline/contracts';
import type { TestService } from '@ledgerline/platform';
import { recharge } from '../src/application/recharge';
import { chargeResultMessageId } from '../src/application/apply-charges';
import type { RechargeStarter, RechargeWorkflowInput } from '../src/adapters/recharge-starter';
import { APPLY, charge, dbOf, expectInvariants, gql, openPrepaid, startWallets, uniq } from './support';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets({ LOG_LEVEL: 'fatal' }));
});
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const WALLET = `query($w: ID!) { wallet(id: $w) { balance { amount } unbilled { amount } available { amount } } }`;
const ADJUST = `mutation($i: AdjustBalanceInput!) { adjustBalance(input: $i) { adjustment { id amount { amount } } wallet { unbilled { amount } } } }`;
const OWING_30 = { balance: { amount: '0' }, unbilled: { amount: '30' }, available: { amount: '70' } };

/** A POSTPAID account (limit 100) that owes 30 (unbilled), owned by `customerId`. */
async function postpaidOwing30(customerId = uniq('cus')) {
  const w = await openPrepaid(svc, { paymentMode: 'POSTPAID', creditLimit: '100.00' });
  await dbOf(svc).query(`insert into account_owner (billing_account_id, customer_id, updated_at) values ($1, $2, now())`, [w.billingAccountId, customerId]);
  await gql(svc, APPLY, { i: charge(w.billingAccountId, { paymentMode: 'POSTPAID', units: '30', pricePerUnit: '1.00' }) });
  expect(await walletOf(w.walletId)).toEqual(OWING_30);
  const customer: Caller = { role: 'CUSTOMER', subject: 'pat', customerId, scopes: [] };
  return { ...w, customer };
}

const walletOf = async (walletId: string) => (await gql(svc, WALLET, { w: walletId })).wallet;

/** The ChargeResults wallets queued for invoicing with this chargeId. */
async function chargeResultsOf(chargeId: string): Promise<ChargeResult[]> {
  const rows = await dbOf(svc).query<{ payload: string }>(`select payload from outbox where subject = $1 and id = $2`, [WORK_SUBJECTS.chargeApplied, chargeResultMessageId(chargeId)]);
  return rows.map((r) => JSON.parse(r.payload) as ChargeResult);
}

const errorOf = (res: { errors?: { message: string; extensions?: Record<string, unknown> }[] }) => {
  const e = res.errors?.[0];
  return e ? { code: e.extensions?.code, reason: e.extensions?.reason, field: e.extensions?.field, message: e.message } : 'accepted';
};

const NOT_PREPAID = { code: 'BAD_USER_INPUT', reason: 'WALLET_NOT_PREPAID', field: 'input.billingAccountId', message: expect.stringContaining('pays its invoices') };

describe("an agent's adjustment on a POSTPAID account", () => {
  it('a goodwill credit lowers what the account owes and reaches the next invoice as a credit line (a ChargeResult of -10); a retry changes nothing', async () => {
    const { billingAccountId, walletId } = await postpaidOwing30();
    const input = { walletId, amount: { amount: '10.00', currency: 'EUR' }, reason: 'goodwill: outage on 3 Nov', idempotencyKey: uniq('key') };
    const { adjustment } = (await gql(svc, ADJUST, { i: input })).adjustBalance;
    expect(await walletOf(walletId)).toEqual({ balance: { amount: '0' }, unbilled: { amount: '20' }, available: { amount: '80' } });
    expect(await chargeResultsOf(adjustment.id)).toEqual([{
      chargeId: adjustment.id, outcome: 'APPLIED', billingAccountId, lineId: '', paymentMode: 'POSTPAID', usageType: 'ADJUSTMENT', occurredAt: expect.any(String),
      units: '1', unit: 'ITEM', unitsFromAllowances: '0', amountCharged: '-10.000000', currency: 'EUR',
    }]);
    // In the ledger: what is owed (UNBILLED_RECEIVABLE, minus what is owed) +10, against ADJUSTMENTS.
    const entries = await dbOf(svc).query<{ account_id: string; amount: string }>(
      `select e.account_id, e.amount::text as amount from ledger_entry e join balance_adjustment a on a.transaction_id = e.transaction_id where a.id = $1 order by e.amount`, [adjustment.id]);
    expect(entries).toEqual([
      { account_id: `${billingAccountId}:ADJUSTMENTS:EUR`, amount: '-10.000000' },
      { account_id: `${billingAccountId}:UNBILLED_RECEIVABLE:EUR`, amount: '10.000000' },
    ]);
    // Audited and announced as before.
    const [audit] = await dbOf(svc).query(`select amount::text as amount, reason, agent from balance_adjustment where id = $1`, [adjustment.id]);
    expect(audit).toMatchObject({ amount: '10.000000', reason: 'goodwill: outage on 3 Nov' });
    expect(await dbOf(svc).query(`select 1 from outbox where payload like $1 and payload like '%"adjustmentId"%'`, [`%${adjustment.id}%`])).toHaveLength(1);

    // The same request again: the same adjustment, nothing moves twice, one ChargeResult.
    expect((await gql(svc, ADJUST, { i: input })).adjustBalance.adjustment.id).toBe(adjustment.id);
    expect(await walletOf(walletId)).toEqual({ balance: { amount: '0' }, unbilled: { amount: '20' }, available: { amount: '80' } });
    expect(await chargeResultsOf(adjustment.id)).toHaveLength(1);
    const reused = await svc.request(ADJUST, { i: { ...input, amount: { amount: '11.00', currency: 'EUR' } } });
    expect(errorOf(reused)).toMatchObject({ code: 'CONFLICT', reason: 'IDEMPOTENCY_KEY_REUSED' });
  });

  it('a debit raises what the account owes within its credit limit (a ChargeResult of +15); beyond the limit it is refused naming the amount', async () => {
    const { walletId } = await postpaidOwing30();
    const debit = (await gql(svc, ADJUST, { i: { walletId, amount: { amount: '-15.00', currency: 'EUR' }, reason: 'missed roaming fee', idempotencyKey: uniq('key') } })).adjustBalance;
    expect(debit.wallet).toEqual({ unbilled: { amount: '45' } });
    expect(await walletOf(walletId)).toEqual({ balance: { amount: '0' }, unbilled: { amount: '45' }, available: { amount: '55' } });
    expect((await chargeResultsOf(debit.adjustment.id)).map((r) => r.amountCharged)).toEqual(['15.000000']);

    const beyond = await svc.request(ADJUST, { i: { walletId, amount: { amount: '-60.00', currency: 'EUR' }, reason: 'missed roaming fee', idempotencyKey: uniq('key') } });
    expect(errorOf(beyond)).toEqual({ code: 'BAD_USER_INPUT', reason: 'CREDIT_LIMIT_EXCEEDED', field: 'input.amount.amount', message: expect.stringMatching(/debit of 60 EUR.*credit limit of 100\.00 EUR.*55\.00 EUR/) });
    expect(await walletOf(walletId)).toEqual({ balance: { amount: '0' }, unbilled: { amount: '45' }, available: { amount: '55' } });
    // Up to the limit exactly is accepted.
    await gql(svc, ADJUST, { i: { walletId, amount: { amount: '-55.00', currency: 'EUR' }, reason: 'missed roaming fee', idempotencyKey: uniq('key') } });
    expect(await walletOf(walletId)).toEqual({ balance: { amount: '0' }, unbilled: { amount: '100' }, available: { amount: '0' } });
  });
});

describe('vouchers, top-ups and recharges on a POSTPAID account are refused before any money moves', () => {
  it("a customer's voucher is refused (WALLET_NOT_PREPAID) and stays unused, not counted as a failed try", async () => {
    const { billingAccountId, walletId, customer } = await postpaidOwing30();
    const issued = await gql(svc, `mutation($i: IssueVoucherInput!) { issueVoucher(input: $i) { code voucher { id } } }`, { i: { idempotencyKey: uniq('vkey'), amount: { amount: '10.00', currency: 'EUR' }, expiresAt: new Date(Date.now() + 86_400_000).toISOString() } });
    const res = await svc.request(`mutation($i: RedeemVoucherInput!) { redeemVoucher(input: $i) { topupBalance { id } } }`, { i: { billingAccountId, code: issued.issueVoucher.code, idempotencyKey: uniq('key') } }, customer);
    expect(errorOf(res)).toEqual(NOT_PREPAID);
    expect(await walletOf(walletId)).toEqual(OWING_30);
    const [v] = await dbOf(svc).query<{ status: string }>(`select status from voucher where id = $1`, [issued.issueVoucher.voucher.id]);
    expect(v!.status).toBe('ACTIVE');
    expect(await dbOf(svc).query(`select 1 from voucher_attempt where billing_account_id = $1`, [billingAccountId])).toEqual([]);
  });

  it("a customer's bank-transfer recharge is refused when it is asked for, and a staff top-up too", async () => {
    const { billingAccountId, walletId, customer } = await postpaidOwing30();
    const made = await svc.request(`mutation($i: RechargeInput!) { recharge(input: $i) { recharge { id status } } }`, {
      i: { billingAccountId, amount: { amount: '10.00', currency: 'EUR' }, method: 'BANK_TRANSFER', idempotencyKey: uniq('key') },
    }, customer);
    expect(errorOf(made)).toEqual(NOT_PREPAID);
    expect(await dbOf(svc).query(`select 1 from recharge where billing_account_id = $1`, [billingAccountId])).toEqual([]);
    const topup = await svc.request(`mutation($i: TopupBalanceInput!) { topupBalance(input: $i) { topupBalance { id } } }`, {
      i: { billingAccountId, amount: { amount: '10.00', currency: 'EUR' }, idempotencyKey: uniq('key'), reference: 'staff' },
    });
    expect(errorOf(topup)).toEqual(NOT_PREPAID);
    expect(await walletOf(walletId)).toEqual(OWING_30);
  });

  it('a card recharge is refused before the Recharge workflow starts: the card is never charged', async () => {
    const { billingAccountId, walletId } = await postpaidOwing30();
    const started: RechargeWorkflowInput[] = [];
    const starter: RechargeStarter = {
      start: async (input) => (started.push(input), { workflowId: `recharge-${input.rechargeId}` }),
      outcome: async () => ({ status: 'COMPLETED', failure: null }),
      close: async () => undefined,
    };
    const now = new Date();
    const refused = await recharge(dbOf(svc), starter, { billingAccountId, amount: { amount: '10.00', currency: 'EUR' }, method: 'CARD', paymentMethodToken: 'tok_visa', idempotencyKey: uniq('key'), now }).then(
      () => 'accepted',
      (e: { code?: string; details?: { field?: string } }) => ({ reason: e.code, field: e.details?.field }),
    );
    expect(refused).toEqual({ reason: 'WALLET_NOT_PREPAID', field: 'input.billingAccountId' });
    expect(started).toEqual([]);
    expect(await dbOf(svc).query(`select 1 from recharge where billing_account_id = $1`, [billingAccountId])).toEqual([]);
    expect(await walletOf(walletId)).toEqual(OWING_30);
  });

  it('a bank transfer announced for a postpaid account before these were refused is not credited to its wallet on confirmation', async () => {
    const { billingAccountId, walletId } = await postpaidOwing30();
    const rechargeId = uniq('rch').slice(0, 40);
    await dbOf(svc).query(
      `insert into recharge (id, idempotency_key, request_hash, billing_account_id, wallet_id, amount, currency, channel, method, status, created_at)
       values ($1, $2, 'h', $3, $4, 10, 'EUR', 'SELF_CARE', 'BANK_TRANSFER', 'PENDING_TRANSFER', now())`,
      [rechargeId, uniq('key'), billingAccountId, walletId],
    );
    const res = await svc.request(`mutation($i: ConfirmBankTransferInput!) { confirmBankTransfer(input: $i) { recharge { status } } }`, { i: { rechargeId, bankReference: 'SEPA-1' } });
    expect(errorOf(res)).toEqual({ ...NOT_PREPAID, field: 'input.rechargeId' });
    expect(await walletOf(walletId)).toEqual(OWING_30);
    const [r] = await dbOf(svc).query<{ status: string }>(`select status from recharge where id = $1`, [rechargeId]);
    expect(r!.status).toBe('PENDING_TRANSFER');
  });
});
