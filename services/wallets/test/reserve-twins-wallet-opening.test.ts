// Two copies of one reserve (same requestId: a network element's retransmission, or usage's retry racing its twin)
// arriving together while the account's wallet is being opened. The wallet lock serializes the copies only once the
// wallet row exists: a copy that read before the wallet's commit locked nothing and was refused WALLET_NOT_FOUND (kept
// in reservation_refusal), while its twin, reading after that commit, locked the new wallet, did not see the uncommitted
// refusal and was granted (a reservation holding money): two decisions for one key. Each copy runs in its own
// transaction on its own connection, with the opening in a third; a barrier starts them together, 50 rounds with fresh
// accounts. Fixed by holding the requestIds first (reservations.ts, requestKeyLock): the second copy waits for the
// first's commit and reads its decision. Commits and releases racing their twins on a fresh wallet are checked alike
// (they were right already: the reservation exists, so its wallet does, and the wallet lock serializes them).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { WalletReserveReply, WalletReserveRequest, WalletSessionReply } from '@ledgerline/contracts';
import type { TestService } from '@ledgerline/platform';
import { T0, dbOf, expectInvariants, startWallets, uniq } from './support';
import { closeMany, reserveMany } from '../src/application/reservations';
import { openWallet } from '../src/application/wallets';
import type { Sql } from '../src/persistence/sql';
import { barrier, sleep } from './concurrency';

const ROUNDS = 50;

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets());
});
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const request = (billingAccountId: string): WalletReserveRequest => ({
  requestId: uniq('req'), sessionId: uniq('ses'), billingAccountId, lineId: 'lin_1', currency: 'EUR', usageType: 'DATA', unit: 'MB', requestedUnits: '5', pricePerUnit: '1', allowanceIds: [], allowOverdraft: false,
});

/** A POSTPAID wallet with a credit limit: a reserve on it is granted as soon as it exists (nothing to top up). */
const openPostpaid = (sql: Sql, billingAccountId: string) => openWallet(sql, { billingAccountId, currency: 'EUR', paymentMode: 'POSTPAID', creditLimit: '100.00', now: T0 });

const decisionsOf = async (requestId: string) => (await dbOf(svc).query<{ holds: string; refusals: string }>(
  `select (select count(*) from reservation where request_key = $1) holds, (select count(*) from reservation_refusal where request_key = $1) refusals`, [requestId]))[0]!;

describe('two copies of a reserve while the wallet is being opened', () => {
  it(`get the same answer and hold at most once (${ROUNDS} rounds, each copy in its own transaction)`, async () => {
    const split: { round: number; answers: string[]; holds: string; refusals: string }[] = [];
    const granted: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const billingAccountId = uniq('acc');
      const req = request(billingAccountId);
      const start = barrier(3);
      // The first copy's transaction stays open up to 15 ms more once decided (a copy in a group batch of many
      // requests, or on a busy machine, commits that much later); the second arrives 0..7 ms after the first.
      let secondDone = false;
      const first = dbOf(svc).tx(async (sql) => {
        await start();
        const reply = (await reserveMany(sql, [{ ...req }], T0))[0]!;
        for (let waited = 0; waited < 15 && !secondDone; waited++) await sleep(1);
        return reply;
      });
      const second = dbOf(svc).tx(async (sql) => {
        await start();
        await sleep(round % 8);
        return (await reserveMany(sql, [{ ...req }], T0))[0]!;
      }).finally(() => (secondDone = true));
      const opening = dbOf(svc).tx(async (sql) => {
        await start();
        return openPostpaid(sql, billingAccountId);
      });
      const [, a, b] = await Promise.all([opening, first, second]);
      const { holds, refusals } = await decisionsOf(req.requestId);
      const answer = (r: WalletReserveReply) => `${r.resultCode}${r.error ? `:${r.error.code}` : ''}${r.reservationId ? `:${r.reservationId}` : ''}`;
      if (answer(a) !== answer(b) || Number(holds) + Number(refusals) !== 1) split.push({ round, answers: [answer(a), answer(b)], holds, refusals });
      if (a.reservationId) granted.push(a.reservationId);
    }
    expect(split, 'rounds whose two copies were decided apart').toEqual([]);
    // Give the holds back (the invariants after the test hold either way).
    if (granted.length > 0) await dbOf(svc).tx((sql) => closeMany(sql, granted.map((reservationId) => ({ reservationId, usedUnits: '0', closing: 'RELEASED' as const })), T0));
  }, 120_000);

  it(`a commit and a release racing their twins on a fresh wallet: one close, the same answer (${ROUNDS} rounds)`, async () => {
    const split: { round: number; closing: string; answers: string[]; closes: string }[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const billingAccountId = uniq('acc');
      await dbOf(svc).tx((sql) => openPostpaid(sql, billingAccountId));
      const reserved = (await dbOf(svc).tx((sql) => reserveMany(sql, [request(billingAccountId)], T0)))[0]!;
      expect(reserved).toMatchObject({ resultCode: 'SUCCESS' });
      const closing = round % 2 === 0 ? 'COMMITTED' as const : 'RELEASED' as const;
      const item = { reservationId: reserved.reservationId!, usedUnits: closing === 'COMMITTED' ? '3' : '0', closing };
      const start = barrier(2);
      const copy = () => dbOf(svc).tx(async (sql) => {
        await start();
        return (await closeMany(sql, [{ ...item }], T0))[0]!;
      });
      const [a, b] = await Promise.all([copy(), copy()]);
      const closes = (await dbOf(svc).query<{ n: string }>(`select count(*) n from ledger_transaction where idempotency_key = $1`, [`CLOSE:${item.reservationId}`]))[0]!.n;
      const answer = (r: WalletSessionReply) => JSON.stringify(r);
      if (answer(a) !== answer(b) || closes !== '1') split.push({ round, closing, answers: [answer(a), answer(b)], closes });
    }
    expect(split, 'rounds whose two copies were decided apart').toEqual([]);
  }, 120_000);
});
