// A caller's idempotency key is the caller's within one billing account (CONVENTIONS.md: same key +
// same input → same result, same key + other input → CONFLICT, in the caller's scope).
//
// Found: the keys of recharge (`recharge.idempotency_key`, unique over all accounts), redeemVoucher,
// topupBalance / closeTopupKey, adjustBalance (and its approval requests), payOutWalletBalance and
// returnPayout (ledger `<KIND>:<key>`, unique over all accounts) were global: a customer (or a
// frontend using predictable keys such as "recharge-1") whose key another account had used got
// CONFLICT IDEMPOTENCY_KEY_REUSED for their own first request. Now every one of them is scoped to the
// billing account: two accounts using one key each get their own result; the same account's retry
// replays, other input under the key is CONFLICT, two identical requests at once make one result,
// and rows written before the change (ledger keys `<KIND>:<key>`) still answer their account's retries.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import type { ManualClock, TestService } from '@ledgerline/platform';
import { keyScope, keyScopeSql, scopedCallerKey } from '../src/application/ledger';
import { T0, balanceOf, closedPrepaidWallet, dbOf, expectInvariants, gql, openPrepaid, outcomeOf, startWalletsOnPrivateNats, uniq } from './support';

let svc: TestService;
let clock: ManualClock;
let stop: (() => Promise<void>) | undefined;
beforeAll(async () => {
  ({ svc, clock, stop } = await startWalletsOnPrivateNats({ LEDGERLINE_APPROVAL_LIMITS: '{"EUR":"20.00"}' }));
}, 60_000);
afterAll(async () => stop?.());
afterEach(async () => expectInvariants(svc));

const FINANCE: Caller = { role: 'AGENT', subject: 'finance-fay', scopes: ['billing:approve'] };
const AGENT: Caller = { role: 'AGENT', subject: 'agent-ann', scopes: [] };
const customer = (customerId: string): Caller => ({ role: 'CUSTOMER', subject: customerId, customerId, scopes: [] });

const RECHARGE = `mutation($i: RechargeInput!) { recharge(input: $i) { recharge { id billingAccountId walletId status amount { amount } } } }`;
const CONFIRM = `mutation($i: ConfirmBankTransferInput!) { confirmBankTransfer(input: $i) { recharge { id status } } }`;
const TOPUP = `mutation($i: TopupBalanceInput!) { topupBalance(input: $i) { topupBalance { id billingAccountId walletId } } }`;
const CLOSE_KEY = `mutation($i: CloseTopupKeyInput!) { closeTopupKey(input: $i) { topupBalance { id billingAccountId } } }`;
const ISSUE = `mutation($i: IssueVoucherInput!) { issueVoucher(input: $i) { code } }`;
const REDEEM = `mutation($i: RedeemVoucherInput!) { redeemVoucher(input: $i) { topupBalance { id billingAccountId walletId } } }`;
const ADJUST = `mutation($i: AdjustBalanceInput!) { adjustBalance(input: $i) { adjustment { id walletId transactionId } approvalRequest { id walletId status } } }`;
const APPROVE = `mutation($i: ApproveBalanceAdjustmentInput!) { approveBalanceAdjustment(input: $i) { request { status } adjustment { id walletId } } }`;
const PAY_OUT = `mutation($i: PayOutWalletBalanceInput!) { payOutWalletBalance(input: $i) { payout { id walletId transactionId } } }`;
const RETURN = `mutation($i: ReturnPayoutInput!) { returnPayout(input: $i) { payout { id walletId status } } }`;

type Res = { data?: any; errors?: readonly { extensions?: Record<string, unknown> }[] };

/** A prepaid EUR account owned by a customer of its own (as subscribers' billingaccount.created records it). */
async function customerAccount(balance?: string) {
  const w = await openPrepaid(svc, balance ? { balance } : {});
  const customerId = uniq('cus');
  await dbOf(svc).query(`insert into account_owner (billing_account_id, customer_id, updated_at) values ($1, $2, $3)`, [w.billingAccountId, customerId, T0]);
  return { ...w, caller: customer(customerId) };
}

/** Pretends a ledger transaction was written before keys were scoped: its key as the old code wrote it. */
async function asWrittenBefore(transactionId: string, legacyKey: string): Promise<void> {
  await dbOf(svc).query(`update ledger_transaction set idempotency_key = $2 where id = $1`, [transactionId, legacyKey]);
}

const voucher = async (amount = '15.00') => (await gql(svc, ISSUE, { i: { idempotencyKey: uniq('vkey'), amount: { amount, currency: 'EUR' }, expiresAt: '2030-01-01T00:00:00Z' } })).issueVoucher.code as string;

describe('recharge (customers): the key is the account\'s', () => {
  it('two customers with one key each get their own recharge; a retry replays, other input is CONFLICT, two at once make one', async () => {
    clock.set(T0);
    const a = await customerAccount();
    const b = await customerAccount();
    const key = uniq('recharge-1');
    const input = (acct: string, amount = '7.00', k = key) => ({ billingAccountId: acct, amount: { amount, currency: 'EUR' }, method: 'BANK_TRANSFER', idempotencyKey: k });
    const ra = await svc.request(RECHARGE, { i: input(a.billingAccountId) }, a.caller) as Res;
    const rb = await svc.request(RECHARGE, { i: input(b.billingAccountId) }, b.caller) as Res;
    const retried = await svc.request(RECHARGE, { i: input(a.billingAccountId) }, a.caller) as Res;
    const other = await svc.request(RECHARGE, { i: input(a.billingAccountId, '8.00') }, a.caller) as Res;
    const key2 = uniq('recharge-2');
    const together = (await Promise.all([0, 1].map(() => svc.request(RECHARGE, { i: input(b.billingAccountId, '3.00', key2) }, b.caller)))) as Res[];
    const idA = ra.data?.recharge.recharge.id;
    const idB = rb.data?.recharge.recharge.id;
    for (const id of [idA, idB, together[0]?.data?.recharge.recharge.id]) if (id) await gql(svc, CONFIRM, { i: { rechargeId: id, bankReference: uniq('bank') } });
    const seen = {
      a: outcomeOf(ra), b: outcomeOf(rb),
      bIsB: rb.data?.recharge.recharge.billingAccountId === b.billingAccountId,
      distinct: !!idA && !!idB && idA !== idB,
      retried: retried.data?.recharge.recharge.id === idA,
      other: outcomeOf(other),
      together: together.map(outcomeOf),
      togetherOne: together[0]?.data?.recharge.recharge.id === together[1]?.data?.recharge.recharge.id,
      rows: Number((await dbOf(svc).query<{ n: string }>(`select count(*) as n from recharge where idempotency_key = any($1::text[])`, [[key, key2]]))[0]!.n),
      balances: [await balanceOf(svc, a.walletId), await balanceOf(svc, b.walletId)],
    };
    expect(seen, JSON.stringify(seen)).toEqual({
      a: 'OK', b: 'OK', bIsB: true, distinct: true, retried: true, other: 'CONFLICT:IDEMPOTENCY_KEY_REUSED',
      together: ['OK', 'OK'], togetherOne: true, rows: 3, balances: ['7', '10'],
    });
  });

  it('a bank transfer credited under the key the old code wrote (TOPUP:recharge:<id>) still counts as its credit', async () => {
    const a = await customerAccount();
    const r = (await svc.request(RECHARGE, { i: { billingAccountId: a.billingAccountId, amount: { amount: '6.00', currency: 'EUR' }, method: 'BANK_TRANSFER', idempotencyKey: uniq('key') } }, a.caller)) as Res;
    const id = r.data!.recharge.recharge.id as string;
    await gql(svc, CONFIRM, { i: { rechargeId: id, bankReference: 'bank-old' } });
    const [credit] = await dbOf(svc).query<{ id: string }>(`select id from ledger_transaction where kind = 'TOPUP' and billing_account_id = $1`, [a.billingAccountId]);
    await asWrittenBefore(credit!.id, `TOPUP:recharge:${id}`);
    const again = await svc.request(CONFIRM, { i: { rechargeId: id, bankReference: 'bank-old' } });
    expect({ again: outcomeOf(again), balance: await balanceOf(svc, a.walletId) }).toEqual({ again: 'OK', balance: '6' });
    // afterEach: the invariants find the completed recharge's one credit under the old key.
  });
});

describe('redeemVoucher (customers): the key is the account\'s', () => {
  it('two customers redeeming their own vouchers under one key both get them; retry, other code, two at once', async () => {
    const a = await customerAccount();
    const b = await customerAccount();
    const [va, vb, vb2] = [await voucher(), await voucher(), await voucher('5.00')];
    const key = uniq('redeem-1');
    const redeem = (acct: { billingAccountId: string; caller: Caller }, code: string, k = key) => svc.request(REDEEM, { i: { billingAccountId: acct.billingAccountId, code, idempotencyKey: k } }, acct.caller) as Promise<Res>;
    const ra = await redeem(a, va);
    const rb = await redeem(b, vb);
    const retried = await redeem(a, va);
    const other = await redeem(a, vb2);
    const key2 = uniq('redeem-2');
    const together = await Promise.all([redeem(b, vb2, key2), redeem(b, vb2, key2)]);
    const seen = {
      a: outcomeOf(ra), b: outcomeOf(rb),
      bIsB: rb.data?.redeemVoucher.topupBalance.billingAccountId === b.billingAccountId,
      retried: retried.data?.redeemVoucher.topupBalance.id === ra.data?.redeemVoucher.topupBalance.id,
      other: outcomeOf(other),
      together: together.map(outcomeOf),
      togetherOne: together[0]?.data?.redeemVoucher.topupBalance.id === together[1]?.data?.redeemVoucher.topupBalance.id,
      balances: [await balanceOf(svc, a.walletId), await balanceOf(svc, b.walletId)],
    };
    expect(seen, JSON.stringify(seen)).toEqual({
      a: 'OK', b: 'OK', bIsB: true, retried: true, other: 'CONFLICT:IDEMPOTENCY_KEY_REUSED', together: ['OK', 'OK'], togetherOne: true, balances: ['15', '20'],
    });
  });

  it('a redemption written before (VOUCHER:<key>) answers its account\'s retry; another account redeems under the key', async () => {
    const a = await customerAccount();
    const b = await customerAccount();
    const [va, vb] = [await voucher(), await voucher()];
    const key = uniq('redeem-old');
    const first = (await svc.request(REDEEM, { i: { billingAccountId: a.billingAccountId, code: va, idempotencyKey: key } }, a.caller)) as Res;
    await asWrittenBefore(first.data!.redeemVoucher.topupBalance.id, `VOUCHER:${key}`);
    const retried = (await svc.request(REDEEM, { i: { billingAccountId: a.billingAccountId, code: va, idempotencyKey: key } }, a.caller)) as Res;
    const other = (await svc.request(REDEEM, { i: { billingAccountId: a.billingAccountId, code: vb, idempotencyKey: key } }, a.caller)) as Res;
    const rb = (await svc.request(REDEEM, { i: { billingAccountId: b.billingAccountId, code: vb, idempotencyKey: key } }, b.caller)) as Res;
    const seen = {
      retried: retried.data?.redeemVoucher.topupBalance.id === first.data!.redeemVoucher.topupBalance.id,
      other: outcomeOf(other), b: outcomeOf(rb),
      balances: [await balanceOf(svc, a.walletId), await balanceOf(svc, b.walletId)],
    };
    expect(seen, JSON.stringify(seen)).toEqual({ retried: true, other: 'CONFLICT:IDEMPOTENCY_KEY_REUSED', b: 'OK', balances: ['15', '15'] });
  });
});

describe('topupBalance and closeTopupKey: the key is the account\'s', () => {
  const credit = (billingAccountId: string, key: string, amount = '10.00') => ({ billingAccountId, amount: { amount, currency: 'EUR' }, idempotencyKey: key, reference: 'scope' });

  it('two accounts, one key: each credited; retry replays, other amount CONFLICT, two at once credit once', async () => {
    const a = await openPrepaid(svc);
    const b = await openPrepaid(svc);
    const key = uniq('topup-1');
    const ra = (await svc.request(TOPUP, { i: credit(a.billingAccountId, key) })) as Res;
    const rb = (await svc.request(TOPUP, { i: credit(b.billingAccountId, key) })) as Res;
    const retried = (await svc.request(TOPUP, { i: credit(a.billingAccountId, key) })) as Res;
    const other = (await svc.request(TOPUP, { i: credit(a.billingAccountId, key, '11.00') })) as Res;
    const key2 = uniq('topup-2');
    const together = (await Promise.all([0, 1].map(() => svc.request(TOPUP, { i: credit(b.billingAccountId, key2, '1.00') })))) as Res[];
    const seen = {
      a: outcomeOf(ra), b: outcomeOf(rb),
      bIsB: rb.data?.topupBalance.topupBalance.billingAccountId === b.billingAccountId,
      retried: retried.data?.topupBalance.topupBalance.id === ra.data?.topupBalance.topupBalance.id,
      other: outcomeOf(other),
      together: together.map(outcomeOf),
      togetherOne: together[0]?.data?.topupBalance.topupBalance.id === together[1]?.data?.topupBalance.topupBalance.id,
      balances: [await balanceOf(svc, a.walletId), await balanceOf(svc, b.walletId)],
    };
    expect(seen, JSON.stringify(seen)).toEqual({ a: 'OK', b: 'OK', bIsB: true, retried: true, other: 'CONFLICT:IDEMPOTENCY_KEY_REUSED', together: ['OK', 'OK'], togetherOne: true, balances: ['10', '11'] });
  });

  it('closing a key on one account leaves another account\'s top-up under it alone', async () => {
    const a = await openPrepaid(svc);
    const b = await openPrepaid(svc);
    const key = uniq('topup-close');
    const made = await gql(svc, TOPUP, { i: credit(a.billingAccountId, key) });
    const closedB = (await svc.request(CLOSE_KEY, { i: { billingAccountId: b.billingAccountId, idempotencyKey: key } })) as Res;
    const closedA = (await svc.request(CLOSE_KEY, { i: { billingAccountId: a.billingAccountId, idempotencyKey: key } })) as Res;
    const lateB = (await svc.request(TOPUP, { i: credit(b.billingAccountId, key) })) as Res;
    const retryA = (await svc.request(TOPUP, { i: credit(a.billingAccountId, key) })) as Res;
    const seen = {
      closedB: closedB.errors ? outcomeOf(closedB) : closedB.data?.closeTopupKey.topupBalance,
      closedA: closedA.data?.closeTopupKey.topupBalance?.id === made.topupBalance.topupBalance.id,
      lateB: outcomeOf(lateB),
      retryA: retryA.data?.topupBalance.topupBalance.id === made.topupBalance.topupBalance.id,
      balances: [await balanceOf(svc, a.walletId), await balanceOf(svc, b.walletId)],
    };
    expect(seen, JSON.stringify(seen)).toEqual({ closedB: null, closedA: true, lateB: 'CONFLICT:IDEMPOTENCY_KEY_REUSED', retryA: true, balances: ['10', '0'] });
  });

  it('a top-up written before (TOPUP:<key>) answers its account\'s retry and close, never credits twice; another account tops up under the key', async () => {
    const a = await openPrepaid(svc);
    const b = await openPrepaid(svc);
    const key = uniq('topup-old');
    const made = await gql(svc, TOPUP, { i: credit(a.billingAccountId, key) });
    const id = made.topupBalance.topupBalance.id as string;
    await asWrittenBefore(id, `TOPUP:${key}`);
    const retried = (await svc.request(TOPUP, { i: credit(a.billingAccountId, key) })) as Res;
    const other = (await svc.request(TOPUP, { i: credit(a.billingAccountId, key, '12.00') })) as Res;
    const closedA = (await svc.request(CLOSE_KEY, { i: { billingAccountId: a.billingAccountId, idempotencyKey: key } })) as Res;
    const rb = (await svc.request(TOPUP, { i: credit(b.billingAccountId, key) })) as Res;
    const seen = {
      retried: retried.data?.topupBalance.topupBalance.id === id,
      other: outcomeOf(other),
      closedA: closedA.data?.closeTopupKey.topupBalance?.id === id,
      b: outcomeOf(rb),
      balances: [await balanceOf(svc, a.walletId), await balanceOf(svc, b.walletId)],
    };
    expect(seen, JSON.stringify(seen)).toEqual({ retried: true, other: 'CONFLICT:IDEMPOTENCY_KEY_REUSED', closedA: true, b: 'OK', balances: ['10', '10'] });
  });
});

describe('adjustBalance and its approval requests: the key is the account\'s', () => {
  const adjust = (walletId: string, key: string, amount = '2.00') => ({ walletId, amount: { amount, currency: 'EUR' }, reason: 'goodwill', idempotencyKey: key });

  it('two wallets, one key: each adjusted; retry replays, other amount CONFLICT, two at once adjust once', async () => {
    const a = await openPrepaid(svc);
    const b = await openPrepaid(svc);
    const key = uniq('adjust-1');
    const ra = (await svc.request(ADJUST, { i: adjust(a.walletId, key) })) as Res;
    const rb = (await svc.request(ADJUST, { i: adjust(b.walletId, key) })) as Res;
    const retried = (await svc.request(ADJUST, { i: adjust(a.walletId, key) })) as Res;
    const other = (await svc.request(ADJUST, { i: adjust(a.walletId, key, '3.00') })) as Res;
    const key2 = uniq('adjust-2');
    const together = (await Promise.all([0, 1].map(() => svc.request(ADJUST, { i: adjust(b.walletId, key2, '1.00') })))) as Res[];
    const seen = {
      a: outcomeOf(ra), b: outcomeOf(rb),
      bIsB: rb.data?.adjustBalance.adjustment?.walletId === b.walletId,
      retried: retried.data?.adjustBalance.adjustment?.id === ra.data?.adjustBalance.adjustment?.id,
      other: outcomeOf(other),
      together: together.map(outcomeOf),
      togetherOne: together[0]?.data?.adjustBalance.adjustment?.id === together[1]?.data?.adjustBalance.adjustment?.id,
      balances: [await balanceOf(svc, a.walletId), await balanceOf(svc, b.walletId)],
    };
    expect(seen, JSON.stringify(seen)).toEqual({ a: 'OK', b: 'OK', bIsB: true, retried: true, other: 'CONFLICT:IDEMPOTENCY_KEY_REUSED', together: ['OK', 'OK'], togetherOne: true, balances: ['2', '3'] });
  });

  it('an agent above the limit on two wallets with one key: two pending requests, each approved onto its own wallet', async () => {
    const a = await openPrepaid(svc);
    const b = await openPrepaid(svc);
    const key = uniq('adjust-big');
    const pa = (await svc.request(ADJUST, { i: adjust(a.walletId, key, '25.00') }, AGENT)) as Res;
    const pb = (await svc.request(ADJUST, { i: adjust(b.walletId, key, '25.00') }, AGENT)) as Res;
    const again = (await svc.request(ADJUST, { i: adjust(a.walletId, key, '25.00') }, AGENT)) as Res;
    const other = (await svc.request(ADJUST, { i: adjust(a.walletId, key, '26.00') }, AGENT)) as Res;
    const reqA = pa.data?.adjustBalance.approvalRequest;
    const reqB = pb.data?.adjustBalance.approvalRequest;
    const approved = [];
    for (const r of [reqA, reqB]) if (r) approved.push(outcomeOf((await svc.request(APPROVE, { i: { id: r.id } }, FINANCE)) as Res));
    const seen = {
      a: outcomeOf(pa), b: outcomeOf(pb),
      pending: [reqA?.status, reqB?.status, reqB?.walletId === b.walletId, !!reqA && reqA.id !== reqB?.id],
      again: again.data?.adjustBalance.approvalRequest?.id === reqA?.id,
      other: outcomeOf(other),
      approved,
      balances: [await balanceOf(svc, a.walletId), await balanceOf(svc, b.walletId)],
    };
    expect(seen, JSON.stringify(seen)).toEqual({
      a: 'OK', b: 'OK', pending: ['PENDING', 'PENDING', true, true], again: true, other: 'CONFLICT:IDEMPOTENCY_KEY_REUSED', approved: ['OK', 'OK'], balances: ['25', '25'],
    });
  });

  it('an adjustment written before (ADJUST:<key>) answers its wallet\'s retry; another wallet adjusts under the key', async () => {
    const a = await openPrepaid(svc);
    const b = await openPrepaid(svc);
    const key = uniq('adjust-old');
    const made = (await gql(svc, ADJUST, { i: adjust(a.walletId, key) })).adjustBalance.adjustment;
    await asWrittenBefore(made.transactionId, `ADJUST:${key}`);
    const retried = (await svc.request(ADJUST, { i: adjust(a.walletId, key) })) as Res;
    const retriedByAgent = (await svc.request(ADJUST, { i: adjust(a.walletId, key) }, AGENT)) as Res;
    const other = (await svc.request(ADJUST, { i: adjust(a.walletId, key, '3.00') })) as Res;
    const rb = (await svc.request(ADJUST, { i: adjust(b.walletId, key) })) as Res;
    const seen = {
      retried: retried.data?.adjustBalance.adjustment?.id === made.id,
      retriedByAgent: retriedByAgent.data?.adjustBalance.adjustment?.id === made.id,
      other: outcomeOf(other), b: outcomeOf(rb),
      balances: [await balanceOf(svc, a.walletId), await balanceOf(svc, b.walletId)],
    };
    expect(seen, JSON.stringify(seen)).toEqual({ retried: true, retriedByAgent: true, other: 'CONFLICT:IDEMPOTENCY_KEY_REUSED', b: 'OK', balances: ['2', '2'] });
  });
});

describe('payOutWalletBalance and returnPayout: the key is the account\'s', () => {
  const payOut = (walletId: string, key: string, amount = '5.00') => svc.request(PAY_OUT, { i: { walletId, amount: { amount, currency: 'EUR' }, payoutReference: 'SEPA-OUT-1', idempotencyKey: key } }, FINANCE) as Promise<Res>;
  const returnIt = (payoutId: string, key: string, reason = 'AC04 account closed') => svc.request(RETURN, { i: { payoutId, reason, idempotencyKey: key } }, FINANCE) as Promise<Res>;

  it('two settled wallets paid out and returned under one key: each its own payout and return; retries replay, other input CONFLICT', async () => {
    const a = await closedPrepaidWallet(svc, clock, '20.00');
    const b = await closedPrepaidWallet(svc, clock, '20.00');
    const key = uniq('payout-1');
    const pa = await payOut(a.walletId, key);
    const pb = await payOut(b.walletId, key);
    const retried = await payOut(a.walletId, key);
    const other = await payOut(a.walletId, key, '6.00');
    const key2 = uniq('payout-2');
    const together = await Promise.all([payOut(b.walletId, key2, '1.00'), payOut(b.walletId, key2, '1.00')]);
    const rkey = uniq('return-1');
    const payoutA = pa.data?.payOutWalletBalance.payout.id as string;
    const payoutB = pb.data?.payOutWalletBalance.payout.id as string;
    const ra = payoutA ? await returnIt(payoutA, rkey) : null;
    const rb = payoutB ? await returnIt(payoutB, rkey) : null;
    const rRetried = payoutA ? await returnIt(payoutA, rkey) : null;
    const seen = {
      a: outcomeOf(pa), b: outcomeOf(pb),
      bIsB: pb.data?.payOutWalletBalance.payout.walletId === b.walletId,
      retried: retried.data?.payOutWalletBalance.payout.id === payoutA,
      other: outcomeOf(other),
      together: together.map(outcomeOf),
      togetherOne: together[0]?.data?.payOutWalletBalance.payout.id === together[1]?.data?.payOutWalletBalance.payout.id,
      returned: [ra && outcomeOf(ra), rb && outcomeOf(rb), rb?.data?.returnPayout.payout.id === payoutB],
      returnRetried: rRetried?.data?.returnPayout.payout.id === payoutA,
      balances: [await balanceOf(svc, a.walletId), await balanceOf(svc, b.walletId)],
    };
    expect(seen, JSON.stringify(seen)).toEqual({
      a: 'OK', b: 'OK', bIsB: true, retried: true, other: 'CONFLICT:IDEMPOTENCY_KEY_REUSED', together: ['OK', 'OK'], togetherOne: true,
      returned: ['OK', 'OK', true], returnRetried: true, balances: ['20', '19'],
    });
  });

  it('a payout written before (PAYOUT:<key>) answers its wallet\'s retry; another wallet is paid out under the key', async () => {
    const a = await closedPrepaidWallet(svc, clock, '20.00');
    const b = await closedPrepaidWallet(svc, clock, '20.00');
    const key = uniq('payout-old');
    const made = (await payOut(a.walletId, key)).data!.payOutWalletBalance.payout;
    await asWrittenBefore(made.transactionId, `PAYOUT:${key}`);
    const retried = await payOut(a.walletId, key);
    const other = await payOut(a.walletId, key, '6.00');
    const pb = await payOut(b.walletId, key);
    const seen = {
      retried: retried.data?.payOutWalletBalance.payout.id === made.id,
      other: outcomeOf(other), b: outcomeOf(pb),
      balances: [await balanceOf(svc, a.walletId), await balanceOf(svc, b.walletId)],
    };
    expect(seen, JSON.stringify(seen)).toEqual({ retried: true, other: 'CONFLICT:IDEMPOTENCY_KEY_REUSED', b: 'OK', balances: ['15', '15'] });
  });
});

describe('the scoped ledger key', () => {
  it('escapes the account id so no two (account, key) pairs share a key, in TypeScript and in SQL alike', async () => {
    const ids = ['acc_1', 'a:b', 'a%3Ab', 'a%b', '%:%'];
    const [row] = await dbOf(svc).query<{ scopes: string[] }>(`select array(select ${keyScopeSql('id')} from unnest($1::text[]) with ordinality as t(id, n) order by n) as scopes`, [ids]);
    expect(row!.scopes).toEqual(ids.map(keyScope));
    // ("a", "b:k") and ("a:b", "k") were one key if the account id were written as it is.
    expect(scopedCallerKey('TOPUP', 'a', 'b:k')).not.toBe(scopedCallerKey('TOPUP', 'a:b', 'k'));
    expect(new Set(ids.map((id) => scopedCallerKey('TOPUP', id, 'k'))).size).toBe(ids.length);
  });
});
