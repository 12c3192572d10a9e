// The invariant checker on vouchers and recharges (twentieth session): it only asked that a REDEEMED voucher had
// some ledger transaction. Now it checks the amounts: a redeemed voucher was credited exactly once, its face value
// in its currency to the wallet it names; a completed recharge exactly its amount once; a pending or failed one
// nothing; a completed auto top-up request's recharge is completed for its amount. Each corruption below is made
// with SQL on this file's schema and must be reported naming the row; healthy data passes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ManualClock, TestService } from '@ledgerline/platform';
import { dbOf, gql, openPrepaid, startWallets, uniq } from './support';
import { checkLedgerInvariants } from '../src/persistence/invariants';

let svc: TestService;
let clock: ManualClock;
beforeAll(async () => {
  ({ svc, clock } = await startWallets());
});
afterAll(async () => svc?.close());

const REDEEM = `mutation($i: RedeemVoucherInput!) { redeemVoucher(input: $i) { topupBalance { id } } }`;
const ISSUE = `mutation($i: IssueVoucherInput!) { issueVoucher(input: $i) { code voucher { id } } }`;
const RECHARGE = `mutation($i: RechargeInput!) { recharge(input: $i) { recharge { id status } } }`;
const CONFIRM = `mutation($i: ConfirmBankTransferInput!) { confirmBankTransfer(input: $i) { recharge { status } } }`;
const problems = async () => (await checkLedgerInvariants(dbOf(svc))).join('\n');
const sql = (text: string, params: unknown[] = []) => dbOf(svc).query(text, params);

async function redeemed(amount = '15.00') {
  const { billingAccountId, walletId } = await openPrepaid(svc);
  const later = new Date(clock.now().getTime() + 86_400_000).toISOString();
  const v = await gql(svc, ISSUE, { i: { idempotencyKey: uniq('vkey'), amount: { amount, currency: 'EUR' }, expiresAt: later } });
  const r = await gql(svc, REDEEM, { i: { billingAccountId, code: v.issueVoucher.code, idempotencyKey: uniq('key') } });
  return { billingAccountId, walletId, voucherId: v.issueVoucher.voucher.id as string, transactionId: r.redeemVoucher.topupBalance.id as string };
}

async function bankRecharge(confirm: boolean) {
  const { billingAccountId, walletId } = await openPrepaid(svc);
  const r = await gql(svc, RECHARGE, { i: { billingAccountId, amount: { amount: '10.00', currency: 'EUR' }, method: 'BANK_TRANSFER', idempotencyKey: uniq('key') } });
  const rechargeId = r.recharge.recharge.id as string;
  if (confirm) await gql(svc, CONFIRM, { i: { rechargeId, bankReference: 'SEPA-1' } });
  return { billingAccountId, walletId, rechargeId };
}

describe('invariants: vouchers', () => {
  it('healthy redemptions, an unused voucher and recharges pass', async () => {
    await redeemed();
    await gql(svc, ISSUE, { i: { idempotencyKey: uniq('vkey'), amount: { amount: '5.00', currency: 'EUR' }, expiresAt: new Date(clock.now().getTime() + 86_400_000).toISOString() } });
    await bankRecharge(true);
    await bankRecharge(false);
    expect(await problems()).toBe('');
  });

  it("a voucher whose face value is not what was credited is reported, naming the voucher", async () => {
    const { voucherId } = await redeemed();
    await sql(`update voucher set amount = 150 where id = $1`, [voucherId]);
    const found = await problems();
    await sql(`update voucher set amount = 15 where id = $1`, [voucherId]);
    expect(found).toMatch(new RegExp(`"voucher":"${voucherId}".*amount credited to its wallet is not its face value`));
    expect(await problems()).toBe('');
  });

  it('a voucher in another currency than its credit, or naming another wallet, is reported', async () => {
    const { voucherId, walletId } = await redeemed();
    const other = await openPrepaid(svc);
    await sql(`update voucher set redeemed_wallet_id = $2 where id = $1`, [voucherId, other.walletId]);
    expect(await problems()).toMatch(new RegExp(`"voucher":"${voucherId}".*credited wallet is not a wallet of its currency of the redeeming account`));
    await sql(`update voucher set redeemed_wallet_id = $2, currency = 'USD' where id = $1`, [voucherId, walletId]);
    expect(await problems()).toMatch(new RegExp(`"voucher":"${voucherId}".*credited wallet is not a wallet of its currency`));
    await sql(`update voucher set currency = 'EUR' where id = $1`, [voucherId]);
    expect(await problems()).toBe('');
  });

  it('a voucher redeemed twice (a second VOUCHER transaction naming it) is reported', async () => {
    const { voucherId, billingAccountId } = await redeemed();
    const extra = uniq('tx');
    await sql(`insert into ledger_transaction (id, idempotency_key, kind, billing_account_id, reference, created_at) values ($1, $2, 'VOUCHER', $3, $4, now())`, [extra, `VOUCHER:${extra}`, billingAccountId, voucherId]);
    const found = await problems();
    // Transactions cannot be deleted: make it a closed top-up key (no entries, no money) again.
    await sql(`update ledger_transaction set kind = 'TOPUP_KEY_CLOSED', reference = null where id = $1`, [extra]);
    expect(found).toMatch(new RegExp(`"voucher":"${voucherId}".*"transactions":"?2"?.*redeemed more than once`));
    expect(await problems()).toBe('');
  });

  it('a REDEEMED voucher put back to ACTIVE (could be redeemed again) is reported', async () => {
    const { voucherId } = await redeemed();
    await sql(`update voucher set status = 'ACTIVE' where id = $1`, [voucherId]);
    const found = await problems();
    await sql(`update voucher set status = 'REDEEMED' where id = $1`, [voucherId]);
    expect(found).toMatch(new RegExp(`"voucher":"${voucherId}".*credited but not marked REDEEMED`));
  });
});

describe('invariants: recharges', () => {
  it('a completed recharge whose amount is not what was credited is reported, naming the recharge', async () => {
    const { rechargeId } = await bankRecharge(true);
    await sql(`update recharge set amount = 100 where id = $1`, [rechargeId]);
    const found = await problems();
    await sql(`update recharge set amount = 10 where id = $1`, [rechargeId]);
    expect(found).toMatch(new RegExp(`"recharge":"${rechargeId}".*amount credited to its wallet is not its amount`));
    expect(await problems()).toBe('');
  });

  it('a recharge marked COMPLETED without a credit, or FAILED with one, is reported', async () => {
    const pending = await bankRecharge(false);
    await sql(`update recharge set status = 'COMPLETED' where id = $1`, [pending.rechargeId]);
    expect(await problems()).toMatch(new RegExp(`"recharge":"${pending.rechargeId}".*COMPLETED without a credit`));
    await sql(`update recharge set status = 'PENDING_TRANSFER' where id = $1`, [pending.rechargeId]);
    const done = await bankRecharge(true);
    await sql(`update recharge set status = 'FAILED' where id = $1`, [done.rechargeId]);
    expect(await problems()).toMatch(new RegExp(`"recharge":"${done.rechargeId}".*FAILED but credited`));
    await sql(`update recharge set status = 'COMPLETED' where id = $1`, [done.rechargeId]);
    expect(await problems()).toBe('');
  });

  it("a completed top-up request whose recharge is not completed, or of another amount, is reported", async () => {
    const { rechargeId, walletId, billingAccountId } = await bankRecharge(false);
    const id = uniq('tur');
    await sql(`insert into topup_request (id, wallet_id, billing_account_id, amount, currency, payment_method_token, status, requested_at, recharge_id) values ($1,$2,$3,10,'EUR','tok','COMPLETED',now(),$4)`, [id, walletId, billingAccountId, rechargeId]);
    expect(await problems()).toMatch(new RegExp(`"topup_request":"${id}".*"recharge_status":"PENDING_TRANSFER"`));
    await gql(svc, CONFIRM, { i: { rechargeId, bankReference: 'SEPA-2' } });
    expect(await problems()).toBe('');
    await sql(`update topup_request set amount = 12 where id = $1`, [id]);
    expect(await problems()).toMatch(new RegExp(`"topup_request":"${id}"`));
    await sql(`update topup_request set amount = 10 where id = $1`, [id]);
    expect(await problems()).toBe('');
  });
});
