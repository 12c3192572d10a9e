// A settled wallet's sub-minor residue is written off to a rounding account.
//
// Rated usage leaves prepaid balances with more decimals than the currency's minor unit (9.977 EUR).
// payOutWalletBalance pays whole minor units only, so after 9.97 of 9.977 was paid out the 0.007 EUR
// stayed on the closed wallet for ever: no payout can take it (PAYOUT_EXCEEDS_BALANCE, payable 0.00),
// no adjustment may move a settled wallet (WALLET_SETTLED), so the wallet never reached zero. Now the
// payout that leaves less than one minor unit (or the settlement of a wallet already holding less than
// one, either sign) moves that residue, in the same transaction, to the account's ROUNDING ledger
// account (transaction kind ROUNDING_WRITE_OFF, key ROUNDING_WRITE_OFF:<wallet>:<settledAt>): the
// wallet ends at exactly 0, the ledger still sums to zero, a retried payout writes nothing more.
//
// Runs on a private nats-server with its own manual clock (as wallet-payout.test.ts).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS, type Caller } from '@ledgerline/contracts';
import type { ManualClock, TestService } from '@ledgerline/platform';
import { runWalletJobs } from '../src/jobs/jobs';
import { writeOffOldResidues } from '../src/application/settle-closed-wallets';
import { checkLedgerInvariants } from '../src/persistence/invariants';
import { APPLY, CLOSED_AT, FINAL_AT, HOUR, T0, balanceOf, charge, closeAccountAndWait, dbOf, expectInvariants, gql, outboxEventsOf, outcomeOf, startWalletsOnPrivateNats, uniq } from './support';

let svc: TestService;
let clock: ManualClock;
let stop: (() => Promise<void>) | undefined;
beforeAll(async () => {
  ({ svc, clock, stop } = await startWalletsOnPrivateNats());
}, 60_000);
afterAll(async () => stop?.());
afterEach(async () => expectInvariants(svc));

const FINANCE: Caller = { role: 'AGENT', subject: 'finance-fay', scopes: ['billing:approve'] };
const SETTLED_AT = new Date(FINAL_AT.getTime() + 60_000);
const AFTER_SETTLEMENT = new Date(FINAL_AT.getTime() + 2 * HOUR);

const OPEN = `mutation($i: OpenWalletInput!) { openWallet(input: $i) { wallet { id } } }`;
const TOPUP = `mutation($i: TopupBalanceInput!) { topupBalance(input: $i) { wallet { id } } }`;
const PAY_OUT = `mutation($i: PayOutWalletBalanceInput!) { payOutWalletBalance(input: $i) { payout { id } wallet { balance { amount } } } }`;

/**
 * A prepaid wallet in `currency` topped up with `topup`, charged `price` for one unit of rated usage
 * (allowOverdraft when asked), its account closed at CLOSED_AT and settled by a job pass at SETTLED_AT.
 */
async function settledWallet(currency: string, topup: string, price: string, opts: { overdraftLimit?: string } = {}) {
  clock.set(T0);
  const billingAccountId = uniq('acc');
  const walletId = (await gql(svc, OPEN, { i: { billingAccountId, currency, paymentMode: 'PREPAID', overdraftLimit: opts.overdraftLimit } })).openWallet.wallet.id as string;
  await gql(svc, TOPUP, { i: { billingAccountId, amount: { amount: topup, currency }, idempotencyKey: uniq('key') } });
  const rated = await gql(svc, APPLY, { i: charge(billingAccountId, { currency, units: '1', pricePerUnit: price, allowOverdraft: opts.overdraftLimit !== undefined }) });
  expect(rated.applyCharge.result.outcome).toBe('APPLIED');
  await closeAccountAndWait(svc, billingAccountId, walletId, CLOSED_AT);
  clock.set(SETTLED_AT);
  expect((await runWalletJobs(dbOf(svc), clock.now())).walletsSettled).toBeGreaterThanOrEqual(1);
  clock.set(AFTER_SETTLEMENT);
  return { billingAccountId, walletId };
}

const payOut = (walletId: string, amount: string, currency: string, key = uniq('key')) =>
  svc.request(PAY_OUT, { i: { walletId, amount: { amount, currency }, payoutReference: 'SEPA-OUT-1', idempotencyKey: key } }, FINANCE);

/** The account's ROUNDING_WRITE_OFF transactions: key and what each moved per ledger account. */
async function writeOffs(billingAccountId: string) {
  const rows = await dbOf(svc).query<{ key: string; account: string; amount: string }>(
    `select t.idempotency_key as key, e.account_id as account, e.amount::text as amount from ledger_transaction t join ledger_entry e on e.transaction_id = t.id
      where t.billing_account_id = $1 and t.kind = 'ROUNDING_WRITE_OFF' order by t.id, e.amount`,
    [billingAccountId],
  );
  return rows;
}

const ledgerRows = async (billingAccountId: string) =>
  (await dbOf(svc).query<{ n: string }>(`select count(*)::text as n from ledger_transaction t join ledger_entry e on e.transaction_id = t.id where t.billing_account_id = $1`, [billingAccountId]))[0]!.n;

const roundingBalance = async (billingAccountId: string, currency: string) =>
  (await dbOf(svc).query<{ balance: string }>(`select balance::text from ledger_account where id = $1`, [`${billingAccountId}:ROUNDING:${currency}`]))[0]?.balance ?? null;

/** Pays `payable` out of a settled wallet holding `held`, retries it with the same key: what the ledger and the events say. */
async function payOutLeavingResidue(w: { billingAccountId: string; walletId: string }, currency: string, payable: string) {
  const key = uniq('key');
  const first = await payOut(w.walletId, payable, currency, key);
  const rowsAfterFirst = await ledgerRows(w.billingAccountId);
  const retried = await payOut(w.walletId, payable, currency, key);
  const paidOut = await outboxEventsOf(svc, EVENTS.walletPaidOut.subject, w.billingAccountId);
  return {
    first: outcomeOf(first),
    balanceInAnswer: (first.data as any)?.payOutWalletBalance.wallet.balance.amount,
    retried: outcomeOf(retried),
    samePayout: (retried.data as any)?.payOutWalletBalance.payout.id === (first.data as any)?.payOutWalletBalance.payout.id,
    retryWroteNothing: (await ledgerRows(w.billingAccountId)) === rowsAfterFirst,
    balance: await balanceOf(svc, w.walletId),
    writeOffs: await writeOffs(w.billingAccountId),
    rounding: await roundingBalance(w.billingAccountId, currency),
    paidOutEvents: paidOut.map((e) => ({ balanceAfter: e.data.balanceAfter, roundingWrittenOff: e.data.roundingWrittenOff })),
  };
}

describe('a settled wallet holds no sub-minor residue', () => {
  it('EUR: 9.977 settled (kept: more than a minor unit), 9.97 paid out: the 0.007 goes to ROUNDING in the same transaction, the wallet ends at 0; a retry writes nothing more', async () => {
    const w = await settledWallet('EUR', '10.00', '0.023'); // rated usage: 10 → 9.977
    const atSettlement = { balance: await balanceOf(svc, w.walletId), writeOffs: await writeOffs(w.billingAccountId) };
    const seen = { atSettlement, ...(await payOutLeavingResidue(w, 'EUR', '9.97')) };
    const wallet = w.walletId;
    const rounding = `${w.billingAccountId}:ROUNDING:EUR`;
    expect(seen, JSON.stringify(seen)).toEqual({
      atSettlement: { balance: '9.977', writeOffs: [] },
      first: 'OK',
      balanceInAnswer: '0',
      retried: 'OK',
      samePayout: true,
      retryWroteNothing: true,
      balance: '0',
      writeOffs: [
        { key: `ROUNDING_WRITE_OFF:${wallet}:${SETTLED_AT.toISOString()}`, account: wallet, amount: '-0.007000' },
        { key: `ROUNDING_WRITE_OFF:${wallet}:${SETTLED_AT.toISOString()}`, account: rounding, amount: '0.007000' },
      ],
      rounding: '0.007000',
      paidOutEvents: [{ balanceAfter: { amount: '0.000000', currency: 'EUR' }, roundingWrittenOff: { amount: '0.007000', currency: 'EUR' } }],
    });
  }, 60_000);

  it('EUR paid out in parts: a part leaving a minor unit or more writes nothing off; the last part leaving 0.007 does', async () => {
    const w = await settledWallet('EUR', '10.00', '0.023');
    const part = await payOut(w.walletId, '9.00', 'EUR');
    const afterPart = { answer: outcomeOf(part), balance: await balanceOf(svc, w.walletId), writeOffs: (await writeOffs(w.billingAccountId)).length };
    const last = await payOut(w.walletId, '0.97', 'EUR');
    const seen = { afterPart, last: outcomeOf(last), balance: await balanceOf(svc, w.walletId), writtenOff: (await writeOffs(w.billingAccountId)).map((r) => r.amount) };
    expect(seen, JSON.stringify(seen)).toEqual({
      afterPart: { answer: 'OK', balance: '0.977', writeOffs: 0 },
      last: 'OK',
      balance: '0',
      writtenOff: ['-0.007000', '0.007000'],
    });
  }, 60_000);

  it.each([
    ['BHD (3 decimals): 12.3456 settled, 12.345 paid out: 0.0006 written off', { currency: 'BHD', topup: '12.346', price: '0.0004', held: '12.3456', payable: '12.345', residue: '0.000600' }],
    ['JPY (no decimals): 999.5 settled, 999 paid out: 0.5 written off', { currency: 'JPY', topup: '1000', price: '0.5', held: '999.5', payable: '999', residue: '0.500000' }],
  ] as const)('%s', async (_name, { currency, topup, price, held, payable, residue }) => {
    const w = await settledWallet(currency, topup, price);
    const seen = { atSettlement: await balanceOf(svc, w.walletId), ...(await payOutLeavingResidue(w, currency, payable)) };
    expect(seen, JSON.stringify(seen)).toMatchObject({
      atSettlement: held,
      first: 'OK',
      balanceInAnswer: '0',
      samePayout: true,
      retryWroteNothing: true,
      balance: '0',
      writeOffs: [{ account: w.walletId, amount: `-${residue}` }, { account: `${w.billingAccountId}:ROUNDING:${currency}`, amount: residue }],
      rounding: residue,
      paidOutEvents: [{ balanceAfter: { amount: '0.000000', currency }, roundingWrittenOff: { amount: residue, currency } }],
    });
  }, 60_000);

  it('a wallet settled owing less than a minor unit (-0.004 EUR in overdraft) is written off at settlement, the other way; the settled event says so', async () => {
    const w = await settledWallet('EUR', '1.00', '1.004', { overdraftLimit: '5.00' });
    const settled = await outboxEventsOf(svc, EVENTS.walletSettled.subject, w.billingAccountId);
    const again = await runWalletJobs(dbOf(svc), clock.now());
    const seen = {
      balance: await balanceOf(svc, w.walletId),
      writeOffs: await writeOffs(w.billingAccountId),
      rounding: await roundingBalance(w.billingAccountId, 'EUR'),
      settled: settled.map((e) => e.data.wallets.map((x: any) => ({ balance: x.balance, roundingWrittenOff: x.roundingWrittenOff }))),
      secondPass: { settled: again.walletsSettled, writeOffs: (await writeOffs(w.billingAccountId)).length },
    };
    const key = `ROUNDING_WRITE_OFF:${w.walletId}:${SETTLED_AT.toISOString()}`;
    expect(seen, JSON.stringify(seen)).toEqual({
      balance: '0',
      writeOffs: [
        { key, account: `${w.billingAccountId}:ROUNDING:EUR`, amount: '-0.004000' },
        { key, account: w.walletId, amount: '0.004000' },
      ],
      rounding: '-0.004000',
      settled: [[{ balance: { amount: '0.000000', currency: 'EUR' }, roundingWrittenOff: { amount: '-0.004000', currency: 'EUR' } }]],
      secondPass: { settled: 0, writeOffs: 2 },
    });
  }, 60_000);

  it('a settled wallet owing a minor unit or more keeps its debt (nothing written off); a postpaid wallet writes nothing off', async () => {
    const owing = await settledWallet('EUR', '1.00', '1.014', { overdraftLimit: '5.00' });
    clock.set(T0);
    const postpaidAccount = uniq('acc');
    const postpaidWallet = (await gql(svc, OPEN, { i: { billingAccountId: postpaidAccount, currency: 'EUR', paymentMode: 'POSTPAID', creditLimit: '50.00' } })).openWallet.wallet.id as string;
    await gql(svc, APPLY, { i: charge(postpaidAccount, { paymentMode: 'POSTPAID', units: '1', pricePerUnit: '0.004' }) });
    await closeAccountAndWait(svc, postpaidAccount, postpaidWallet, CLOSED_AT);
    clock.set(SETTLED_AT);
    await runWalletJobs(dbOf(svc), clock.now());
    const seen = {
      owing: { balance: await balanceOf(svc, owing.walletId), writeOffs: (await writeOffs(owing.billingAccountId)).length },
      postpaid: { balance: await balanceOf(svc, postpaidWallet), writeOffs: (await writeOffs(postpaidAccount)).length },
    };
    expect(seen, JSON.stringify(seen)).toEqual({
      owing: { balance: '-0.014', writeOffs: 0 },
      postpaid: { balance: '0', writeOffs: 0 },
    });
  }, 60_000);

  it('the invariants report a settled wallet holding a sub-minor residue, and a write-off that is not of its settlement; the settlement of a wallet at 0.007 writes it off', async () => {
    clock.set(T0);
    const billingAccountId = uniq('acc');
    const walletId = (await gql(svc, OPEN, { i: { billingAccountId, currency: 'EUR', paymentMode: 'PREPAID' } })).openWallet.wallet.id as string;
    await gql(svc, TOPUP, { i: { billingAccountId, amount: { amount: '1.00', currency: 'EUR' }, idempotencyKey: uniq('key') } });
    await gql(svc, APPLY, { i: charge(billingAccountId, { units: '1', pricePerUnit: '0.993' }) });
    await closeAccountAndWait(svc, billingAccountId, walletId, CLOSED_AT);
    const problems = async () => (await checkLedgerInvariants(dbOf(svc))).join('\n');
    // Settled by hand, without the write-off: what the ledger looked like before.
    await dbOf(svc).query(`update wallet set settled_at = $2 where id = $1`, [walletId, SETTLED_AT]);
    const residue = await problems();
    await dbOf(svc).query(`update wallet set settled_at = null where id = $1`, [walletId]);
    clock.set(SETTLED_AT);
    await runWalletJobs(dbOf(svc), clock.now());
    const settled = { balance: await balanceOf(svc, walletId), writeOffs: (await writeOffs(billingAccountId)).map((r) => r.amount) };
    await dbOf(svc).query(`update wallet set settled_at = settled_at + interval '1 second' where id = $1`, [walletId]);
    const otherSettlement = await problems();
    await dbOf(svc).query(`update wallet set settled_at = $2 where id = $1`, [walletId, SETTLED_AT]);
    expect(residue).toMatch(new RegExp(`a settled wallet holds no sub-minor residue.*${walletId}`));
    expect(settled).toEqual({ balance: '0', writeOffs: ['-0.007000', '0.007000'] });
    expect(otherSettlement).toMatch(new RegExp(`every rounding write-off moved less than a minor unit.*${walletId}`));
    expect(await problems()).toBe('');
  }, 60_000);

  it('a wallet settled with a residue before write-offs existed is written off once by the jobs, under its settlement key', async () => {
    clock.set(T0);
    const billingAccountId = uniq('acc');
    const walletId = (await gql(svc, OPEN, { i: { billingAccountId, currency: 'EUR', paymentMode: 'PREPAID' } })).openWallet.wallet.id as string;
    await gql(svc, TOPUP, { i: { billingAccountId, amount: { amount: '1.00', currency: 'EUR' }, idempotencyKey: uniq('key') } });
    await gql(svc, APPLY, { i: charge(billingAccountId, { units: '1', pricePerUnit: '0.993' }) });
    await closeAccountAndWait(svc, billingAccountId, walletId, CLOSED_AT);
    // Settled as the code before write-offs did: 0.007 left on the wallet.
    await dbOf(svc).query(`update wallet set settled_at = $2 where id = $1`, [walletId, SETTLED_AT]);
    clock.set(AFTER_SETTLEMENT);
    const first = await writeOffOldResidues(dbOf(svc), clock.now());
    const again = await writeOffOldResidues(dbOf(svc), clock.now());
    expect({ first: first >= 1, again, balance: await balanceOf(svc, walletId), writeOffs: await writeOffs(billingAccountId) }).toEqual({
      first: true,
      again: 0,
      balance: '0',
      writeOffs: [
        { key: `ROUNDING_WRITE_OFF:${walletId}:${SETTLED_AT.toISOString()}`, account: walletId, amount: '-0.007000' },
        { key: `ROUNDING_WRITE_OFF:${walletId}:${SETTLED_AT.toISOString()}`, account: `${billingAccountId}:ROUNDING:EUR`, amount: '0.007000' },
      ],
    });
  }, 60_000);
});
