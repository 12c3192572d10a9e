// A payout the bank sent back (returnPayout).
//
// payOutWalletBalance moves a settled wallet's money to payments clearing, on its way to the
// customer's bank. When the bank returns the transfer (the account was closed, the name did not
// match), that money had no owner: nothing could put it back on the wallet, so finance could not
// pay it out again. Now the return is recorded once per payout: the ledger moves the whole payout
// back (+ wallet, − payments clearing), the payout row is RETURNED, an event says so, and the money
// can be paid out again. Retries answer the same; concurrent returns move the money once.
//
// Runs on a private nats-server with its own manual clock (as wallet-payout.test.ts).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS, type Caller } from '@ledgerline/contracts';
import type { ManualClock, TestService } from '@ledgerline/platform';
import { FINAL_AT, HOUR, closedPrepaidWallet, balanceOf, dbOf, expectInvariants, gql, outboxEventsOf, outcomeOf, startWalletsOnPrivateNats, uniq } from './support';

let svc: TestService;
let clock: ManualClock;
let stop: (() => Promise<void>) | undefined;
beforeAll(async () => {
  ({ svc, clock, stop } = await startWalletsOnPrivateNats());
}, 60_000);
afterAll(async () => stop?.());
afterEach(async () => expectInvariants(svc));

const PAID_OUT_AT = new Date(FINAL_AT.getTime() + 2 * HOUR);
const RETURNED_AT = new Date(PAID_OUT_AT.getTime() + 48 * HOUR);

const FINANCE: Caller = { role: 'AGENT', subject: 'finance-fay', scopes: ['billing:approve'] };
const AGENT: Caller = { role: 'AGENT', subject: 'agent-ann', scopes: [] };

const PAY_OUT = `mutation($i: PayOutWalletBalanceInput!) { payOutWalletBalance(input: $i) { payout { id } wallet { balance { amount } } } }`;
const RETURN = `mutation($i: ReturnPayoutInput!) { returnPayout(input: $i) {
  payout { id status returnedAt returnReason returnedBy returnTransactionId amount { amount } } wallet { balance { amount } } } }`;
const PAYOUTS = `query($id: ID!) { wallet(id: $id) { balance { amount } payouts { payoutReference status returnReason } } }`;

const payOut = async (walletId: string, amount: string, reference: string): Promise<string> => {
  const r = await svc.request(PAY_OUT, { i: { walletId, amount: { amount, currency: 'EUR' }, payoutReference: reference, idempotencyKey: uniq('key') } }, FINANCE);
  expect(outcomeOf(r), JSON.stringify(r.errors)).toBe('OK');
  return (r.data as any).payOutWalletBalance.payout.id as string;
};
const returnIt = (payoutId: string, key = uniq('key'), reason = 'AC04 account closed', caller: Caller = FINANCE) =>
  svc.request(RETURN, { i: { payoutId, reason, idempotencyKey: key } }, caller);

/** A settled closed prepaid wallet holding `balance`, the clock just after its settlement. */
async function settledWallet(balance: string) {
  const w = await closedPrepaidWallet(svc, clock, balance);
  clock.set(PAID_OUT_AT);
  return w;
}

/** What the ledger moved on the wallet by each payout and return, in order. */
const moves = async (walletId: string) =>
  (
    await dbOf(svc).query<{ kind: string; moved: string }>(
      `select t.kind, e.amount::text as moved from ledger_transaction t join ledger_entry e on e.transaction_id = t.id
        where e.account_id = $1 and t.kind in ('PAYOUT', 'PAYOUT_RETURN') order by t.created_at, t.id`,
      [walletId],
    )
  ).map((m) => `${m.kind} ${m.moved}`);

describe('returnPayout', () => {
  it('puts a returned payout back on the wallet once (ledger, RETURNED row, event), and it is paid out again', async () => {
    const { billingAccountId, walletId } = await settledWallet('42.50');
    const payoutId = await payOut(walletId, '42.50', 'SEPA-OUT-42');
    clock.set(RETURNED_AT);
    const key = uniq('key');
    const first = await returnIt(payoutId, key);
    const retried = await returnIt(payoutId, key);
    const otherInput = await returnIt(payoutId, key, 'MS03 reason not specified');
    const secondKey = await returnIt(payoutId);
    const returned = (first.data as any)?.returnPayout;
    const afterReturn = await balanceOf(svc, walletId);
    const again = await payOut(walletId, '42.50', 'SEPA-OUT-42-CORRECTED-IBAN');
    const events = await outboxEventsOf(svc, EVENTS.walletPayoutReturned.subject, billingAccountId);
    const seen = {
      first: outcomeOf(first),
      payout: returned && { ...returned.payout, returnTransactionId: typeof returned.payout.returnTransactionId },
      balanceInAnswer: returned?.wallet.balance.amount,
      retried: (retried.data as any)?.returnPayout.payout.returnTransactionId === returned?.payout.returnTransactionId,
      otherInput: outcomeOf(otherInput),
      secondKey: outcomeOf(secondKey),
      secondKeyField: (secondKey.errors?.[0]?.extensions as any)?.field,
      afterReturn,
      paidAgain: typeof again,
      wallet: (await gql(svc, PAYOUTS, { id: walletId })).wallet,
      ledger: await moves(walletId),
      events: events.map((e) => ({ ...e.data, payoutId: e.data.payoutId === payoutId })),
    };
    expect(seen, JSON.stringify(seen)).toEqual({
      first: 'OK',
      payout: { id: payoutId, status: 'RETURNED', returnedAt: RETURNED_AT.toISOString(), returnReason: 'AC04 account closed', returnedBy: 'finance-fay', returnTransactionId: 'string', amount: { amount: '42.5' } },
      balanceInAnswer: '42.5',
      retried: true,
      otherInput: 'CONFLICT:IDEMPOTENCY_KEY_REUSED',
      secondKey: 'CONFLICT:PAYOUT_ALREADY_RETURNED',
      secondKeyField: 'input.payoutId',
      afterReturn: '42.5',
      paidAgain: 'string',
      wallet: {
        balance: { amount: '0' },
        payouts: [
          { payoutReference: 'SEPA-OUT-42', status: 'RETURNED', returnReason: 'AC04 account closed' },
          { payoutReference: 'SEPA-OUT-42-CORRECTED-IBAN', status: 'PAID_OUT', returnReason: null },
        ],
      },
      ledger: ['PAYOUT -42.500000', 'PAYOUT_RETURN 42.500000', 'PAYOUT -42.500000'],
      events: [{
        payoutId: true, walletId, billingAccountId, amount: { amount: '42.500000', currency: 'EUR' }, balanceAfter: { amount: '42.500000', currency: 'EUR' },
        payoutReference: 'SEPA-OUT-42', returnReason: 'AC04 account closed', returnedBy: 'finance-fay', returnedByRole: 'AGENT', returnedAt: RETURNED_AT.toISOString(),
      }],
    });
  }, 60_000);

  it('concurrent returns of one payout under different keys move its money once; beside a payout of the same wallet, both hold', async () => {
    const { walletId } = await settledWallet('30.00');
    const first = await payOut(walletId, '10.00', 'SEPA-OUT-A');
    clock.set(RETURNED_AT);
    // Five returns of the first payout racing a payout of the 20.00 still on the wallet.
    const [payout, ...returns] = await Promise.all([
      svc.request(PAY_OUT, { i: { walletId, amount: { amount: '20.00', currency: 'EUR' }, payoutReference: 'SEPA-OUT-B', idempotencyKey: uniq('key') } }, FINANCE),
      ...[1, 2, 3, 4, 5].map(() => returnIt(first)),
    ]);
    const seen = {
      payout: outcomeOf(payout),
      returns: returns.map(outcomeOf).sort(),
      balance: await balanceOf(svc, walletId),
      returnTransactions: (await moves(walletId)).filter((m) => m.startsWith('PAYOUT_RETURN')),
    };
    expect(seen, JSON.stringify(seen)).toEqual({
      payout: 'OK',
      returns: ['CONFLICT:PAYOUT_ALREADY_RETURNED', 'CONFLICT:PAYOUT_ALREADY_RETURNED', 'CONFLICT:PAYOUT_ALREADY_RETURNED', 'CONFLICT:PAYOUT_ALREADY_RETURNED', 'OK'],
      balance: '10',
      returnTransactions: ['PAYOUT_RETURN 10.000000'],
    });
  }, 60_000);

  it('refuses callers who may not pay out, an unknown payout, a blank reason; nothing moves', async () => {
    const { walletId } = await settledWallet('12.00');
    const payoutId = await payOut(walletId, '12.00', 'SEPA-OUT-C');
    const unknown = await returnIt('pyo_nope');
    const blank = await returnIt(payoutId, uniq('key'), '  ');
    const seen = {
      agent: outcomeOf(await returnIt(payoutId, uniq('key'), 'AC04 account closed', AGENT)),
      customer: outcomeOf(await returnIt(payoutId, uniq('key'), 'AC04 account closed', { role: 'CUSTOMER', subject: 'c', scopes: [], customerId: 'cus_x' } as Caller)),
      unknown: outcomeOf(unknown),
      unknownField: (unknown.errors?.[0]?.extensions as any)?.field,
      blank: outcomeOf(blank),
      blankField: (blank.errors?.[0]?.extensions as any)?.field,
      balance: await balanceOf(svc, walletId),
      ledger: await moves(walletId),
    };
    expect(seen, JSON.stringify(seen)).toEqual({
      agent: 'FORBIDDEN:FORBIDDEN',
      customer: 'FORBIDDEN:FORBIDDEN',
      unknown: 'NOT_FOUND:PAYOUT_NOT_FOUND',
      unknownField: 'input.payoutId',
      blank: 'BAD_USER_INPUT:RETURN_REASON_REQUIRED',
      blankField: 'input.reason',
      balance: '0',
      ledger: ['PAYOUT -12.000000'],
    });
  }, 60_000);
});
