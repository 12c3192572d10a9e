// Paying out a settled closed wallet (payOutWalletBalance).
//
// wallet.settled gives finance the final balance to pay back; until now nothing in wallets recorded
// that payout: finance was told to use an adjustBalance debit, which also moved a settled wallet in
// any other way (a credit paid due one-off charges behind the settled figure). Now the payout is its
// own ledger transaction (− wallet, + payments clearing), row and event, only on a settled wallet,
// never more than it holds, by an approver or the system; adjustBalance refuses a settled wallet.
// A bank transfer confirmed after the settlement is refused (as before) and now says so by event.
//
// Runs on a private nats-server with its own manual clock (as wallet-closed-grace.test.ts).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS, type Caller } from '@ledgerline/contracts';
import type { ManualClock, TestService } from '@ledgerline/platform';
import { CLOSED_AT, FINAL_AT, HOUR, T0, closedPrepaidWallet, balanceOf, dbOf, expectInvariants, gql, openPrepaid, outboxEventsOf, outcomeOf, startWalletsOnPrivateNats, uniq } from './support';

let svc: TestService;
let clock: ManualClock;
let stop: (() => Promise<void>) | undefined;
beforeAll(async () => {
  ({ svc, clock, stop } = await startWalletsOnPrivateNats({ LEDGERLINE_APPROVAL_LIMITS: '{"EUR":"20.00"}' }));
}, 60_000);
afterAll(async () => stop?.());
afterEach(async () => expectInvariants(svc));

const AFTER_SETTLEMENT = new Date(FINAL_AT.getTime() + 2 * HOUR);

const FINANCE: Caller = { role: 'AGENT', subject: 'finance-fay', scopes: ['billing:approve'] };
const ADMIN: Caller = { role: 'ADMIN', subject: 'ops-adam', scopes: [] };
const AGENT: Caller = { role: 'AGENT', subject: 'agent-ann', scopes: [] };

const PAY_OUT = `mutation($i: PayOutWalletBalanceInput!) { payOutWalletBalance(input: $i) {
  payout { id walletId billingAccountId amount { amount currency } payoutReference paidOutBy paidOutByRole transactionId }
  wallet { balance { amount } } } }`;
const ADJUST = `mutation($i: AdjustBalanceInput!) { adjustBalance(input: $i) { adjustment { id } approvalRequest { id } wallet { balance { amount } } } }`;
const PAYOUTS = `query($id: ID!) { wallet(id: $id) { balance { amount } payouts { id amount { amount } payoutReference } } }`;

const payOut = (walletId: string, amount: string, key = uniq('key'), reference = 'SEPA-OUT-1', caller: Caller = FINANCE) =>
  svc.request(PAY_OUT, { i: { walletId, amount: { amount, currency: 'EUR' }, payoutReference: reference, idempotencyKey: key } }, caller);

/** A prepaid wallet with `balance`, its account closed at CLOSED_AT; settled by a job pass unless `settle` is false. */
async function closedWallet(balance: string, settle = true) {
  const w = await closedPrepaidWallet(svc, clock, balance, settle);
  clock.set(AFTER_SETTLEMENT);
  return w;
}

const payoutTransactions = async (walletId: string) =>
  dbOf(svc).query<{ kind: string; moved: string }>(
    `select t.kind, sum(e.amount) filter (where e.account_id = $1)::text as moved from ledger_transaction t join ledger_entry e on e.transaction_id = t.id
      where t.kind = 'PAYOUT' and t.id in (select transaction_id from wallet_payout where wallet_id = $1) group by t.id, t.kind order by t.id`,
    [walletId],
  );

describe('payOutWalletBalance', () => {
  it('pays out the settled balance once: ledger, payout row, event; a retry answers the same payout', async () => {
    const { billingAccountId, walletId } = await closedWallet('42.50');
    const key = uniq('key');
    const first = await payOut(walletId, '42.50', key, 'SEPA-OUT-42');
    const retried = await payOut(walletId, '42.50', key, 'SEPA-OUT-42');
    const otherInput = await payOut(walletId, '40.00', key, 'SEPA-OUT-42');
    const payout = (first.data as any)?.payOutWalletBalance.payout;
    const events = await outboxEventsOf(svc, EVENTS.walletPaidOut.subject, billingAccountId);
    const seen = {
      first: outcomeOf(first),
      payout: payout && { ...payout, id: payout.id.slice(0, 4), transactionId: typeof payout.transactionId },
      balanceAfter: (first.data as any)?.payOutWalletBalance.wallet.balance.amount,
      retried: (retried.data as any)?.payOutWalletBalance.payout.id === payout?.id,
      otherInput: outcomeOf(otherInput),
      wallet: (await gql(svc, PAYOUTS, { id: walletId })).wallet,
      ledger: await payoutTransactions(walletId),
      events: events.map((e) => ({ ...e.data, payoutId: e.data.payoutId === payout?.id, paidOutAt: e.data.paidOutAt })),
    };
    expect(seen, JSON.stringify(seen)).toEqual({
      first: 'OK',
      payout: { id: 'pyo_', walletId, billingAccountId, amount: { amount: '42.5', currency: 'EUR' }, payoutReference: 'SEPA-OUT-42', paidOutBy: 'finance-fay', paidOutByRole: 'AGENT', transactionId: 'string' },
      balanceAfter: '0',
      retried: true,
      otherInput: 'CONFLICT:IDEMPOTENCY_KEY_REUSED',
      wallet: { balance: { amount: '0' }, payouts: [{ id: payout.id, amount: { amount: '42.5' }, payoutReference: 'SEPA-OUT-42' }] },
      ledger: [{ kind: 'PAYOUT', moved: '-42.500000' }],
      events: [{
        payoutId: true, walletId, billingAccountId, amount: { amount: '42.500000', currency: 'EUR' }, balanceAfter: { amount: '0.000000', currency: 'EUR' },
        payoutReference: 'SEPA-OUT-42', paidOutBy: 'finance-fay', paidOutByRole: 'AGENT', paidOutAt: AFTER_SETTLEMENT.toISOString(),
      }],
    });
  }, 45_000);

  it('refuses an open wallet and a closed one inside its grace (WALLET_NOT_SETTLED), more than the balance (PAYOUT_EXCEEDS_BALANCE), and callers who may not pay out', async () => {
    clock.set(T0);
    const open = await openPrepaid(svc, { balance: '15.00' });
    const notYet = await closedWallet('25.00', false);
    clock.set(new Date(CLOSED_AT.getTime() + HOUR)); // inside the 72 h grace: late usage may still move it
    const openAnswer = await payOut(open.walletId, '15.00');
    const graceAnswer = await payOut(notYet.walletId, '25.00');
    const settled = await closedWallet('25.00');
    const seen = {
      open: outcomeOf(openAnswer),
      openField: (openAnswer.errors?.[0]?.extensions as any)?.field,
      inGrace: outcomeOf(graceAnswer),
      tooMuch: outcomeOf(await payOut(settled.walletId, '25.01')),
      agent: outcomeOf(await payOut(settled.walletId, '25.00', uniq('key'), 'SEPA-OUT-2', AGENT)),
      customer: outcomeOf(await payOut(settled.walletId, '25.00', uniq('key'), 'SEPA-OUT-2', { role: 'CUSTOMER', subject: 'c', scopes: [], customerId: 'cus_x' } as Caller)),
      noReference: outcomeOf(await payOut(settled.walletId, '25.00', uniq('key'), ' ')),
      balances: [await balanceOf(svc, open.walletId), await balanceOf(svc, notYet.walletId), await balanceOf(svc, settled.walletId)],
      payoutRows: (await dbOf(svc).query(`select id from wallet_payout where wallet_id = any($1::text[])`, [[open.walletId, notYet.walletId, settled.walletId]])).length,
    };
    expect(seen, JSON.stringify(seen)).toEqual({
      open: 'CONFLICT:WALLET_NOT_SETTLED',
      openField: 'input.walletId',
      inGrace: 'CONFLICT:WALLET_NOT_SETTLED',
      tooMuch: 'CONFLICT:PAYOUT_EXCEEDS_BALANCE',
      agent: 'FORBIDDEN:FORBIDDEN',
      customer: 'FORBIDDEN:FORBIDDEN',
      noReference: 'BAD_USER_INPUT:PAYOUT_REFERENCE_REQUIRED',
      balances: ['15', '25', '25'],
      payoutRows: 0,
    });
  }, 60_000);

  it('pays out in parts up to the balance; two concurrent payouts of the whole balance: exactly one', async () => {
    const parts = await closedWallet('30.00');
    const a = await payOut(parts.walletId, '10.00', uniq('key'), 'SEPA-OUT-A', ADMIN);
    const b = await payOut(parts.walletId, '20.00', uniq('key'), 'SEPA-OUT-B', ADMIN);
    const c = await payOut(parts.walletId, '0.01', uniq('key'), 'SEPA-OUT-C', ADMIN);
    const raced = await closedWallet('18.00');
    const race = await Promise.all([1, 2, 3].map((i) => payOut(raced.walletId, '18.00', uniq('key'), `SEPA-RACE-${i}`)));
    const seen = {
      parts: [a, b, c].map(outcomeOf),
      partsBalance: await balanceOf(svc, parts.walletId),
      partsLedger: (await payoutTransactions(parts.walletId)).map((t) => t.moved),
      race: race.map(outcomeOf).sort(),
      raceBalance: await balanceOf(svc, raced.walletId),
      raceLedger: (await payoutTransactions(raced.walletId)).length,
    };
    expect(seen, JSON.stringify(seen)).toEqual({
      parts: ['OK', 'OK', 'CONFLICT:PAYOUT_EXCEEDS_BALANCE'],
      partsBalance: '0',
      partsLedger: ['-10.000000', '-20.000000'],
      race: ['CONFLICT:PAYOUT_EXCEEDS_BALANCE', 'CONFLICT:PAYOUT_EXCEEDS_BALANCE', 'OK'],
      raceBalance: '0',
      raceLedger: 1,
    });
  }, 60_000);

  it('adjustBalance no longer moves a settled wallet (CONFLICT WALLET_SETTLED, no approval request); it still moves one inside its grace', async () => {
    const settled = await closedWallet('20.00');
    const credit = await svc.request(ADJUST, { i: { walletId: settled.walletId, amount: { amount: '5.00', currency: 'EUR' }, reason: 'goodwill after close', idempotencyKey: uniq('key') } }, ADMIN);
    const debit = await svc.request(ADJUST, { i: { walletId: settled.walletId, amount: { amount: '-20.00', currency: 'EUR' }, reason: 'paid out by bank', idempotencyKey: uniq('key') } }, ADMIN);
    const aboveLimit = await svc.request(ADJUST, { i: { walletId: settled.walletId, amount: { amount: '-20.00', currency: 'EUR' }, reason: 'paid out by bank', idempotencyKey: uniq('key') } }, AGENT);
    const inGrace = await closedWallet('20.00', false);
    clock.set(new Date(CLOSED_AT.getTime() + HOUR));
    const graceCredit = await svc.request(ADJUST, { i: { walletId: inGrace.walletId, amount: { amount: '5.00', currency: 'EUR' }, reason: 'goodwill before final', idempotencyKey: uniq('key') } }, ADMIN);
    const seen = {
      credit: outcomeOf(credit),
      creditField: (credit.errors?.[0]?.extensions as any)?.field,
      saysPayOut: /payOutWalletBalance/.test(credit.errors?.[0]?.message ?? ''),
      debit: outcomeOf(debit),
      aboveLimit: outcomeOf(aboveLimit),
      requests: (await dbOf(svc).query(`select id from balance_adjustment_request where wallet_id = $1`, [settled.walletId])).length,
      settledBalance: await balanceOf(svc, settled.walletId),
      graceCredit: outcomeOf(graceCredit),
      graceBalance: await balanceOf(svc, inGrace.walletId),
    };
    expect(seen, JSON.stringify(seen)).toEqual({
      credit: 'CONFLICT:WALLET_SETTLED',
      creditField: 'input.walletId',
      saysPayOut: true,
      debit: 'CONFLICT:WALLET_SETTLED',
      aboveLimit: 'CONFLICT:WALLET_SETTLED',
      requests: 0,
      settledBalance: '20',
      graceCredit: 'OK',
      graceBalance: '25',
    });
  }, 60_000);
});
