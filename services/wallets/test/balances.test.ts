import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RPC, WORK_SUBJECTS, type WalletReserveReply, type WalletSessionReply } from '@ledgerline/contracts';
import type { ManualClock, TestService } from '@ledgerline/platform';
import { APPLY, balanceOf, charge, dbOf, expectInvariants, gql, openPrepaid, startWallets, uniq } from './support';
import { runWalletJobs } from '../src/jobs/jobs';
import { LATE_USAGE_GRACE_MS } from '../src/application/buckets';

let svc: TestService;
let clock: ManualClock;
beforeAll(async () => {
  ({ svc, clock } = await startWallets());
});
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const REDEEM = `mutation($i: RedeemVoucherInput!) { redeemVoucher(input: $i) { topupBalance { id amount { amount } } wallet { balance { amount } } } }`;
const ISSUE = `mutation($i: IssueVoucherInput!) { issueVoucher(input: $i) { code voucher { id } } }`;

describe('online charging over NATS request/reply', () => {
  it('reserves allowance then money, commits what was used, releases the rest; stale reservations expire', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '10.00' });
    await gql(svc, `mutation($i: GrantBucketInput!) { grantBucket(input: $i) { bucket { id } } }`, {
      i: { billingAccountId, allowanceId: 'voice', unit: 'SECOND', quantity: '60', validFrom: '2026-11-01T00:00:00Z', validTo: '2026-12-01T00:00:00Z', grantKey: uniq('g') },
    });
    const nc = svc.runtime.messaging.nc;
    const ask = async <T>(subject: string, body: unknown) => (await nc.request(subject, JSON.stringify(body), { timeout: 5000 })).json<T>();
    const base = { sessionId: 's1', billingAccountId, currency: 'EUR', usageType: 'VOICE', unit: 'SECOND', pricePerUnit: '0.01', allowanceIds: ['voice'] };
    const r = await ask<WalletReserveReply>(RPC.walletReserve, { ...base, requestId: uniq('rq'), requestedUnits: '300', validitySeconds: 120 });
    expect(r).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: { units: '300', unitsFromAllowances: '60', amount: '2.400000' }, validityTime: 120 });
    expect(r.finalUnitIndication).toBeUndefined();
    expect(await balanceOf(svc, walletId)).toBe('7.6');
    const c = await ask<WalletSessionReply>(RPC.walletCommit, { reservationId: r.reservationId, usedUnits: '100' });
    // 60 s from the voice allowance, 40 s at 0.01.
    expect(c).toMatchObject({ resultCode: 'SUCCESS', status: 'COMMITTED', usedUnits: '100', unitsFromAllowances: '60', amountCharged: '0.400000' });
    expect(await balanceOf(svc, walletId)).toBe('9.6');
    // Asking for more than is left grants what is left, with a final unit indication.
    const big = await ask<WalletReserveReply>(RPC.walletReserve, { ...base, requestId: uniq('rq'), requestedUnits: '5000' });
    expect(big).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: { units: '960', unitsFromAllowances: '0' }, finalUnitIndication: { finalUnitAction: 'TERMINATE' } });
    const none = await ask<WalletReserveReply>(RPC.walletReserve, { ...base, requestId: uniq('rq'), requestedUnits: '10' });
    expect(none.resultCode).toBe('QUOTA_LIMIT_REACHED');
    const unknown = await ask<WalletReserveReply>(RPC.walletReserve, { ...base, billingAccountId: 'acc_nobody', requestId: uniq('rq'), requestedUnits: '10' });
    expect(unknown.resultCode).toBe('USER_UNKNOWN');
    clock.advance(301_000);
    expect((await runWalletJobs(dbOf(svc), clock.now())).reservationsExpired).toBeGreaterThanOrEqual(1);
    expect(await balanceOf(svc, walletId)).toBe('9.6');
    const released = await ask<WalletSessionReply>(RPC.walletRelease, { reservationId: big.reservationId });
    expect(released.status).toBe('EXPIRED');
  });
  it('a commit that used units publishes its ChargeResult (invoicing bills a postpaid one from it); a release or a repeat publishes nothing', async () => {
    const { billingAccountId } = await openPrepaid(svc, { paymentMode: 'POSTPAID', creditLimit: '100.00' });
    const nc = svc.runtime.messaging.nc;
    const ask = async <T>(subject: string, body: unknown) => (await nc.request(subject, JSON.stringify(body), { timeout: 5000 })).json<T>();
    const base = { sessionId: uniq('s'), billingAccountId, currency: 'EUR', usageType: 'VOICE', unit: 'SECOND', pricePerUnit: '0.05', allowanceIds: [], allowOverdraft: true, zone: 'ROAMING_WORLD' };
    const used = await ask<WalletReserveReply>(RPC.walletReserve, { ...base, requestId: uniq('rq'), requestedUnits: '120' });
    const unused = await ask<WalletReserveReply>(RPC.walletReserve, { ...base, requestId: uniq('rq'), requestedUnits: '60' });
    expect(await ask<WalletSessionReply>(RPC.walletCommit, { reservationId: used.reservationId, usedUnits: '90' })).toMatchObject({ status: 'COMMITTED', amountCharged: '4.500000' });
    await ask<WalletSessionReply>(RPC.walletCommit, { reservationId: used.reservationId, usedUnits: '90' });
    await ask<WalletSessionReply>(RPC.walletRelease, { reservationId: unused.reservationId });
    const rows = await dbOf(svc).query<{ payload: string }>(`select payload from outbox where subject = $1 and payload like $2`, [WORK_SUBJECTS.chargeApplied, `%${billingAccountId}%`]);
    expect(rows.map((r) => JSON.parse(r.payload))).toEqual([{
      chargeId: used.reservationId, outcome: 'APPLIED', billingAccountId, lineId: '', paymentMode: 'POSTPAID', usageType: 'VOICE', occurredAt: expect.any(String),
      units: '90', unit: 'SECOND', unitsFromAllowances: '0', amountCharged: '4.500000', currency: 'EUR', zone: 'ROAMING_WORLD',
    }]);
  });

  it('a release gives allowance units back to their bucket, or to ALLOWANCE_EXPIRED once the bucket has expired', async () => {
    const { billingAccountId } = await openPrepaid(svc, { balance: '10.00' });
    const grant = async (validTo: string) =>
      (await gql(svc, `mutation($i: GrantBucketInput!) { grantBucket(input: $i) { bucket { id } } }`, {
        i: { billingAccountId, allowanceId: 'data', unit: 'MB', quantity: '100', validFrom: '2026-11-01T00:00:00Z', validTo, grantKey: uniq('g') },
      })).grantBucket.bucket.id as string;
    const bucketId = await grant(new Date(clock.now().getTime() + 60_000).toISOString());
    const units = async (id: string) => (await dbOf(svc).query<{ balance: string }>(`select balance::text from ledger_account where id = $1`, [id]))[0]!.balance;
    const nc = svc.runtime.messaging.nc;
    const ask = async <T>(subject: string, body: unknown) => (await nc.request(subject, JSON.stringify(body), { timeout: 5000 })).json<T>();
    const reserve = () => ask<WalletReserveReply>(RPC.walletReserve, { sessionId: uniq('s'), requestId: uniq('rq'), billingAccountId, currency: 'EUR', usageType: 'DATA', unit: 'MB', requestedUnits: '40', pricePerUnit: '0.01', allowanceIds: ['data'] });
    const first = await reserve();
    expect(first.grantedUnit).toMatchObject({ units: '40', unitsFromAllowances: '40' });
    expect(await units(bucketId)).toBe('60.000000');
    const back = await ask<WalletSessionReply>(RPC.walletCommit, { reservationId: first.reservationId, usedUnits: '15' });
    expect(back).toMatchObject({ status: 'COMMITTED', usedUnits: '15' });
    expect(await units(bucketId)).toBe('85.000000');
    const second = await reserve();
    expect(await units(bucketId)).toBe('45.000000');
    clock.advance(61_000);
    // Forfeited at once (no late-usage grace): the release below finds the bucket closed.
    expect((await runWalletJobs(dbOf(svc), clock.now(), null, null, undefined, { lateUsageGraceMs: 0 })).bucketsExpired).toBeGreaterThanOrEqual(1);
    expect(await units(bucketId)).toBe('0.000000');
    const released = await ask<WalletSessionReply>(RPC.walletRelease, { reservationId: second.reservationId });
    expect(released).toMatchObject({ status: 'RELEASED', usedUnits: '0' });
    expect(await units(bucketId)).toBe('0.000000');
    expect(await units(`${billingAccountId}:ALLOWANCE_EXPIRED:MB`)).toBe('85.000000');
  });
});

describe('vouchers', () => {
  it('redeem once; used, expired and unknown codes are refused; guessing is limited', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc);
    const later = new Date(clock.now().getTime() + 86_400_000).toISOString();
    const v = await gql(svc, ISSUE, { i: { idempotencyKey: uniq('vkey'), amount: { amount: '15.00', currency: 'EUR' }, expiresAt: later } });
    expect(v.issueVoucher.code).toMatch(/^([A-Z2-9]{4}-){4}[A-Z2-9]{4}$/);
    const key = uniq('key');
    const ok = await gql(svc, REDEEM, { i: { billingAccountId, code: v.issueVoucher.code.toLowerCase(), idempotencyKey: key } });
    expect(ok.redeemVoucher.wallet.balance.amount).toBe('15');
    const replay = await gql(svc, REDEEM, { i: { billingAccountId, code: v.issueVoucher.code, idempotencyKey: key } });
    expect(replay.redeemVoucher.topupBalance.id).toBe(ok.redeemVoucher.topupBalance.id);
    const used = await svc.request(REDEEM, { i: { billingAccountId, code: v.issueVoucher.code, idempotencyKey: uniq('key') } });
    expect(used.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'VOUCHER_ALREADY_USED' });
    const soon = await gql(svc, ISSUE, { i: { idempotencyKey: uniq('vkey'), amount: { amount: '5.00', currency: 'EUR' }, expiresAt: new Date(clock.now().getTime() + 1000).toISOString() } });
    clock.advance(2000);
    const expired = await svc.request(REDEEM, { i: { billingAccountId, code: soon.issueVoucher.code, idempotencyKey: uniq('key') } });
    expect(expired.errors?.[0]?.extensions?.reason).toBe('VOUCHER_EXPIRED');
    for (let i = 0; i < 3; i++) {
      const r = await svc.request(REDEEM, { i: { billingAccountId, code: 'AAAA-BBBB-CCCC-DDDD-EEEE', idempotencyKey: uniq('key') } });
      expect(r.errors?.[0]?.extensions?.reason).toBe('VOUCHER_NOT_FOUND');
    }
    const good = await gql(svc, ISSUE, { i: { idempotencyKey: uniq('vkey'), amount: { amount: '1.00', currency: 'EUR' }, expiresAt: later } });
    const blocked = await svc.request(REDEEM, { i: { billingAccountId, code: good.issueVoucher.code, idempotencyKey: uniq('key') } });
    expect(blocked.errors?.[0]?.extensions?.reason).toBe('VOUCHER_ATTEMPTS_EXCEEDED');
    expect(await balanceOf(svc, walletId)).toBe('15');
  });
});

describe('adjustments, thresholds, auto top-up, expiry', () => {
  it('adjustBalance is audited with the agent and reason; customers may not adjust', async () => {
    const { walletId } = await openPrepaid(svc, { balance: '5.00' });
    const a = await gql(svc, `mutation($i: AdjustBalanceInput!) { adjustBalance(input: $i) { adjustment { amount { amount } reason agent agentRole transactionId } wallet { balance { amount } } } }`, {
      i: { walletId, amount: { amount: '2.50', currency: 'EUR' }, reason: 'goodwill: dropped calls', idempotencyKey: uniq('key') },
    });
    expect(a.adjustBalance).toMatchObject({ adjustment: { amount: { amount: '2.5' }, reason: 'goodwill: dropped calls', agent: 'ledgerline-system', agentRole: 'SYSTEM' }, wallet: { balance: { amount: '7.5' } } });
    const byCustomer = await svc.request(`mutation($i: AdjustBalanceInput!) { adjustBalance(input: $i) { adjustment { id } } }`, { i: { walletId, amount: { amount: '100', currency: 'EUR' }, reason: 'me', idempotencyKey: uniq('key') } }, { role: 'CUSTOMER', subject: 'c1', scopes: [] });
    expect(byCustomer.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(await balanceOf(svc, walletId)).toBe('7.5');
  });

  it('a low balance emits the event and notification and an auto top-up request within its limits', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '10.00', lowBalanceThreshold: '5.00' });
    await gql(svc, `mutation($i: SetAutoTopupInput!) { setAutoTopup(input: $i) { wallet { id } } }`, {
      i: { walletId, enabled: true, threshold: '5.00', targetBalance: '20.00', paymentMethodToken: 'tok_visa', dailyLimit: '20.00' },
    });
    await gql(svc, APPLY, { i: charge(billingAccountId, { units: '6' }) }); // 10 → 4: below 5
    // The first request got its money (a crossing while one is pending asks nothing: auto-topup-pending-crossing.test.ts).
    await dbOf(svc).query(`update topup_request set status = 'COMPLETED' where wallet_id = $1`, [walletId]);
    await gql(svc, `mutation($i: AdjustBalanceInput!) { adjustBalance(input: $i) { adjustment { id } } }`, { i: { walletId, amount: { amount: '6.00', currency: 'EUR' }, reason: 'test refill', idempotencyKey: uniq('key') } });
    await gql(svc, APPLY, { i: charge(billingAccountId, { units: '7' }) }); // 10 → 3: below 5 again, but 16 + 17 > daily 20
    const w = await gql(svc, `query($id: ID!) { wallet(id: $id) { topupRequests { amount { amount } status reason } } }`, { id: walletId });
    expect(w.wallet.topupRequests.map((t: any) => [t.amount.amount, t.status]).sort()).toEqual([['16', 'COMPLETED'], ['17', 'LIMIT_REACHED']]);
    const kinds = (await dbOf(svc).query(`select kind from notification where wallet_id = $1 order by kind`, [walletId])).map((n) => n.kind);
    expect(kinds).toEqual(['AUTO_TOPUP_LIMIT', 'LOW_BALANCE', 'LOW_BALANCE']);
    const events = await dbOf(svc).query(`select subject from outbox where payload like $1 order by seq`, [`%${walletId}%`]);
    expect(events.map((e) => e.subject)).toEqual(expect.arrayContaining(['billing.wallets.balance.low', 'billing.wallets.autotopup.requested']));
  });

  it('a reservation that holds the balance below the threshold requests nothing (a hold spends nothing); its commit does; a disabled rule requests nothing', async () => {
    const nc = svc.runtime.messaging.nc;
    const reserve = async (billingAccountId: string) =>
      (await nc.request(RPC.walletReserve, JSON.stringify({ requestId: uniq('rq'), sessionId: uniq('s'), billingAccountId, currency: 'EUR', usageType: 'DATA', unit: 'MB', requestedUnits: '700', pricePerUnit: '0.01', allowanceIds: [] }), { timeout: 5000 })).json<WalletReserveReply>();
    const requests = async (walletId: string) => (await dbOf(svc).query(`select amount::text, status from topup_request where wallet_id = $1`, [walletId])).map((r) => [r.amount, r.status]);
    const on = await openPrepaid(svc, { balance: '10.00' });
    const off = await openPrepaid(svc, { balance: '10.00' });
    for (const [w, enabled] of [[on, true], [off, false]] as const) {
      await gql(svc, `mutation($i: SetAutoTopupInput!) { setAutoTopup(input: $i) { wallet { id } } }`, { i: { walletId: w.walletId, enabled, threshold: '5.00', topupAmount: '15.00', paymentMethodToken: 'tok_visa' } });
    }
    const held = await reserve(on.billingAccountId);
    expect(held.grantedUnit?.amount).toBe('7.000000'); // 10 → 3 available, 10 unspent
    const heldOff = await reserve(off.billingAccountId);
    expect(heldOff.grantedUnit?.amount).toBe('7.000000');
    expect(await requests(on.walletId)).toEqual([]);
    for (const r of [held, heldOff]) await nc.request(RPC.walletCommit, JSON.stringify({ reservationId: r.reservationId, usedUnits: '700' }), { timeout: 5000 }); // 3 unspent: below 5
    expect(await requests(on.walletId)).toEqual([['15.000000', 'REQUESTED']]);
    expect(await requests(off.walletId)).toEqual([]);
  });

  it('setWalletLimits sets the overdraft and the warning threshold (staff); the credit limit is the account\'s, not settable here', async () => {
    const LIMITS = `mutation($i: SetWalletLimitsInput!) { setWalletLimits(input: $i) { wallet { overdraftLimit { amount } lowBalanceThreshold { amount } creditLimit { amount } } } }`;
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '1.00' });
    const set = await gql(svc, LIMITS, { i: { walletId, overdraftLimit: '5.00', lowBalanceThreshold: '2.00' } });
    expect(set.setWalletLimits.wallet).toEqual({ overdraftLimit: { amount: '5' }, lowBalanceThreshold: { amount: '2' }, creditLimit: null });
    // A plan that allows overdraft may now take the balance down to -5, not further.
    const over = await gql(svc, APPLY, { i: charge(billingAccountId, { units: '8', allowOverdraft: true }) });
    expect(over.applyCharge.result).toMatchObject({ outcome: 'PARTIAL', units: '6' });
    expect(await balanceOf(svc, walletId)).toBe('-5');
    // Bad input names its field and changes nothing; a customer may not set limits.
    const post = await openPrepaid(svc, { paymentMode: 'POSTPAID', creditLimit: '100' });
    const credit = await svc.request(LIMITS, { i: { walletId: post.walletId, creditLimit: '500' } });
    expect(credit.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(credit.errors?.[0]?.message).toContain('creditLimit');
    const negative = await svc.request(LIMITS, { i: { walletId, overdraftLimit: '-1' } });
    expect(negative.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.overdraftLimit' });
    const customer = await svc.request(LIMITS, { i: { walletId, overdraftLimit: '50' } }, { role: 'CUSTOMER', subject: 'c1', customerId: 'cus_x', scopes: [] });
    expect(customer.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const after = await gql(svc, `query($id: ID!) { wallet(id: $id) { overdraftLimit { amount } creditLimit { amount } } }`, { id: post.walletId });
    expect(after.wallet.creditLimit).toEqual({ amount: '100' });
    expect((await gql(svc, `query($id: ID!) { wallet(id: $id) { overdraftLimit { amount } } }`, { id: walletId })).wallet.overdraftLimit).toEqual({ amount: '5' });
  });

  it('the expiry job warns before expiry; the bucket shows as expired at its end and forfeits what is left after the late-usage grace', async () => {
    const { billingAccountId } = await openPrepaid(svc);
    const validTo = new Date(clock.now().getTime() + 2 * 86_400_000);
    await gql(svc, `mutation($i: GrantBucketInput!) { grantBucket(input: $i) { bucket { id } } }`, {
      i: { billingAccountId, allowanceId: 'data', unit: 'MB', quantity: '500', validFrom: clock.now().toISOString(), validTo: validTo.toISOString(), grantKey: uniq('g') },
    });
    expect((await runWalletJobs(dbOf(svc), clock.now())).bucketsWarned).toBeGreaterThanOrEqual(1);
    const seen = async () => (await gql(svc, `query($a: ID!) { buckets(billingAccountId: $a, includeExpired: true) { status remaining } }`, { a: billingAccountId })).buckets;
    const current = async () => (await gql(svc, `query($a: ID!) { buckets(billingAccountId: $a) { id } }`, { a: billingAccountId })).buckets;
    const kinds = async () => (await dbOf(svc).query(`select kind from notification where billing_account_id = $1 order by kind`, [billingAccountId])).map((n) => n.kind);
    clock.set(new Date(validTo.getTime() + 1000));
    await runWalletJobs(dbOf(svc), clock.now());
    // Expired for the customer, but what is left waits for late usage of its period.
    expect(await seen()).toEqual([{ status: 'EXPIRED', remaining: '500' }]);
    expect(await current()).toEqual([]);
    expect(await kinds()).toEqual(['BUCKET_EXPIRING']);
    clock.set(new Date(validTo.getTime() + LATE_USAGE_GRACE_MS + 1000));
    await runWalletJobs(dbOf(svc), clock.now());
    expect(await seen()).toEqual([{ status: 'EXPIRED', remaining: '0' }]);
    expect(await kinds()).toEqual(['BUCKET_EXPIRED', 'BUCKET_EXPIRING']);
  });

  it('a card recharge without Temporal says so clearly; a bank transfer credits once on confirmation', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc);
    const card = await svc.request(`mutation($i: RechargeInput!) { recharge(input: $i) { recharge { id } } }`, { i: { billingAccountId, amount: { amount: '10.00', currency: 'EUR' }, method: 'CARD', paymentMethodToken: 'tok', idempotencyKey: uniq('key') } });
    expect(card.errors?.[0]?.extensions?.reason).toBe('RECHARGE_UNAVAILABLE');
    const bank = await gql(svc, `mutation($i: RechargeInput!) { recharge(input: $i) { recharge { id status } } }`, { i: { billingAccountId, amount: { amount: '10.00', currency: 'EUR' }, method: 'BANK_TRANSFER', idempotencyKey: uniq('key') } });
    expect(bank.recharge.recharge.status).toBe('PENDING_TRANSFER');
    for (let i = 0; i < 2; i++) await gql(svc, `mutation($i: ConfirmBankTransferInput!) { confirmBankTransfer(input: $i) { recharge { status } } }`, { i: { rechargeId: bank.recharge.recharge.id, bankReference: 'SEPA-1' } });
    expect(await balanceOf(svc, walletId)).toBe('10');
  });
});
