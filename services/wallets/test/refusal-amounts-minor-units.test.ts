// Refusals that name money (bug hunt, 2027-01): payOutWalletBalance's PAYOUT_EXCEEDS_BALANCE and
// adjustBalance's WALLET_INSUFFICIENT_BALANCE / CREDIT_LIMIT_EXCEEDED printed their figures with two
// decimals, rounded half-even, whatever the currency and whatever the balance held. A balance rated
// charges left at 9.977 EUR read "holds 9.98 EUR", so finance paid out 9.98 and was refused again with
// the same text; "at most 9.98 EUR may still be debited" refused a debit of 9.98; a 3-decimal BHD
// balance of 12.345 read 12.34 and a JPY one 1000.00. They now print the stored figures exactly and the
// most that can be paid out / debited in the currency's minor unit, rounded down: an amount that is
// accepted.
//
// Runs on a private nats-server with its own manual clock (as wallet-payout.test.ts).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ManualClock, TestService } from '@ledgerline/platform';
import { runWalletJobs } from '../src/jobs/jobs';
import { APPLY, CLOSED_AT, FINAL_AT, HOUR, T0, balanceOf, charge, closeAccountAndWait, dbOf, expectInvariants, gql, openPrepaid, startWalletsOnPrivateNats, uniq } from './support';

let svc: TestService;
let clock: ManualClock;
let stop: (() => Promise<void>) | undefined;
beforeAll(async () => {
  ({ svc, clock, stop } = await startWalletsOnPrivateNats());
}, 60_000);
afterAll(async () => stop?.());
afterEach(async () => expectInvariants(svc));

const OPEN = `mutation($i: OpenWalletInput!) { openWallet(input: $i) { wallet { id } } }`;
const TOPUP = `mutation($i: TopupBalanceInput!) { topupBalance(input: $i) { wallet { id } } }`;
const PAY_OUT = `mutation($i: PayOutWalletBalanceInput!) { payOutWalletBalance(input: $i) { wallet { balance { amount } } } }`;
const ADJUST = `mutation($i: AdjustBalanceInput!) { adjustBalance(input: $i) { adjustment { id } } }`;

type Answer = { errors?: readonly { message: string; extensions?: Record<string, unknown> }[] };
const refusal = (r: Answer) => (r.errors ? { reason: r.errors[0]!.extensions?.reason, message: r.errors[0]!.message, payable: r.errors[0]!.extensions?.payable } : 'OK');

const payOut = (walletId: string, amount: string, currency: string) =>
  svc.request(PAY_OUT, { i: { walletId, amount: { amount, currency }, payoutReference: 'SEPA-OUT-1', idempotencyKey: uniq('key') } });
const adjust = (walletId: string, amount: string, currency = 'EUR') =>
  svc.request(ADJUST, { i: { walletId, amount: { amount, currency }, reason: 'correction', idempotencyKey: uniq('key') } });

/** Closes the wallet's account at CLOSED_AT and settles it (a job pass after FINAL_AT). */
async function settle(billingAccountId: string, walletId: string) {
  await closeAccountAndWait(svc, billingAccountId, walletId, CLOSED_AT);
  clock.set(new Date(FINAL_AT.getTime() + 60_000));
  expect((await runWalletJobs(dbOf(svc), clock.now())).walletsSettled).toBeGreaterThanOrEqual(1);
  clock.set(new Date(FINAL_AT.getTime() + 2 * HOUR));
}

describe('a refusal names money exactly, and what it allows in the minor unit', () => {
  it('PAYOUT_EXCEEDS_BALANCE: the settled balance as held (9.977 EUR, 12.345 BHD) and the most that can be paid out, which is then paid out', async () => {
    clock.set(T0);
    const eur = await openPrepaid(svc, { balance: '10.00' });
    await gql(svc, APPLY, { i: charge(eur.billingAccountId, { units: '23', pricePerUnit: '0.001' }) }); // rated usage: 10 → 9.977
    await settle(eur.billingAccountId, eur.walletId);

    clock.set(T0);
    const bhdAccount = uniq('acc');
    const bhdWallet = (await gql(svc, OPEN, { i: { billingAccountId: bhdAccount, currency: 'BHD', paymentMode: 'PREPAID' } })).openWallet.wallet.id as string;
    await gql(svc, TOPUP, { i: { billingAccountId: bhdAccount, amount: { amount: '12.345', currency: 'BHD' }, idempotencyKey: uniq('key') } });
    await settle(bhdAccount, bhdWallet);

    const seen = {
      eurTooMuch: refusal(await payOut(eur.walletId, '9.98', 'EUR')),
      eurAllowed: refusal(await payOut(eur.walletId, '9.97', 'EUR')),
      eurLeft: await balanceOf(svc, eur.walletId),
      bhdTooMuch: refusal(await payOut(bhdWallet, '12.346', 'BHD')),
      bhdAllowed: refusal(await payOut(bhdWallet, '12.345', 'BHD')),
      bhdLeft: await balanceOf(svc, bhdWallet),
    };
    expect(seen, JSON.stringify(seen)).toEqual({
      // Before: "holds 9.98 EUR: a payout of 9.98 EUR is more than that", and "holds 12.34 BHD".
      eurTooMuch: { reason: 'PAYOUT_EXCEEDS_BALANCE', message: `Wallet ${eur.walletId} holds 9.977 EUR: a payout of 9.98 EUR is more than that; at most 9.97 EUR can be paid out`, payable: '9.97' },
      eurAllowed: 'OK',
      eurLeft: '0', // the 0.007 no payout can take is written off to ROUNDING (wallet-rounding-write-off.test.ts)
      bhdTooMuch: { reason: 'PAYOUT_EXCEEDS_BALANCE', message: `Wallet ${bhdWallet} holds 12.345 BHD: a payout of 12.346 BHD is more than that; at most 12.345 BHD can be paid out`, payable: '12.345' },
      bhdAllowed: 'OK',
      bhdLeft: '0',
    });
  }, 60_000);

  it('WALLET_INSUFFICIENT_BALANCE and CREDIT_LIMIT_EXCEEDED: the balance / what is owed as held, and the most that may be debited, which is then debited', async () => {
    clock.set(T0);
    const prepaid = await openPrepaid(svc, { balance: '10.00' });
    await gql(svc, APPLY, { i: charge(prepaid.billingAccountId, { units: '23', pricePerUnit: '0.001' }) }); // 10 → 9.977
    const postpaid = await openPrepaid(svc, { paymentMode: 'POSTPAID', creditLimit: '100.00' });
    await gql(svc, APPLY, { i: charge(postpaid.billingAccountId, { paymentMode: 'POSTPAID', units: '90023', pricePerUnit: '0.001' }) }); // owes 90.023

    const seen = {
      prepaidTooMuch: refusal(await adjust(prepaid.walletId, '-9.98')),
      prepaidAllowed: refusal(await adjust(prepaid.walletId, '-9.97')),
      prepaidLeft: await balanceOf(svc, prepaid.walletId),
      postpaidTooMuch: refusal(await adjust(postpaid.walletId, '-9.98')),
      postpaidAllowed: refusal(await adjust(postpaid.walletId, '-9.97')),
    };
    expect(seen, JSON.stringify(seen)).toEqual({
      // Before: "(balance 9.98)".
      prepaidTooMuch: { reason: 'WALLET_INSUFFICIENT_BALANCE', message: 'A debit of 9.98 EUR would take the balance below its overdraft limit (balance 9.977 EUR, overdraft limit 0.00 EUR: at most 9.97 EUR can be debited)', payable: undefined },
      prepaidAllowed: 'OK',
      prepaidLeft: '0.007',
      // Before: "owes to 100.00 EUR, beyond its credit limit of 100.00 EUR (at most 9.98 EUR may still be debited)".
      postpaidTooMuch: { reason: 'CREDIT_LIMIT_EXCEEDED', message: 'A debit of 9.98 EUR would take what the account owes to 100.003 EUR, beyond its credit limit of 100.00 EUR (at most 9.97 EUR may still be debited)', payable: undefined },
      postpaidAllowed: 'OK',
    });
  }, 60_000);
});
