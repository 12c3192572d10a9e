// Two copies of one charge (same chargeId: a redelivery racing its original on another lane or process, or GraphQL
// applyCharge sent twice at once) arriving while the account's wallet is being opened. The wallet lock serializes the
// copies only once the wallet row exists: a copy that read before the wallet's commit locked nothing and was refused
// USER_UNKNOWN (its decision written under the charge's key), while its twin, reading after that commit, locked the
// new wallet, did not see the uncommitted refusal and applied the charge; the second of the two to write then failed
// on ledger_transaction's unique idempotency_key, failing its whole transaction: every other charge of its batch (a
// consumer's batch is redelivered; GraphQL answers INTERNAL_SERVER_ERROR). Each copy runs in its own transaction on
// its own connection, with the opening in a third; a barrier starts them together, 50 rounds with fresh accounts; one
// copy of each round rides in a batch with a charge of another (open) account. Before the fix all 50 rounds failed one
// copy (duplicate key value violates unique constraint "ledger_transaction_idempotency_key_key"; both copies refused
// USER_UNKNOWN, or one refused and its twin applied), its batch's other charge not written. Fixed by running the
// transaction that lost the key again (apply-charges.ts, retryingChargeKeyTaken, around applyCharges' transaction and
// GraphQL applyCharge's): it finds the stored decision and answers it. The GraphQL case: applyCharge sent twice at
// once while the wallet is opened answered INTERNAL_SERVER_ERROR to one of them.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ChargeRequest, ChargeResult } from '@ledgerline/contracts';
import { scrapeMetrics, type TestService } from '@ledgerline/platform';
import { APPLY, T0, charge, dbOf, expectInvariants, outcomeOf, startWallets, uniq } from './support';
import { applyChargesIn, retryingChargeKeyTaken } from '../src/application/apply-charges';
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

/** A POSTPAID wallet with a credit limit: a charge on it is applied as soon as it exists (nothing to top up). */
const openPostpaid = (sql: Sql, billingAccountId: string) => openWallet(sql, { billingAccountId, currency: 'EUR', paymentMode: 'POSTPAID', creditLimit: '100.00', now: T0 });
const postpaidCharge = (billingAccountId: string) => charge(billingAccountId, { paymentMode: 'POSTPAID' }) as ChargeRequest;

const rowsOf = async (chargeId: string) => (await dbOf(svc).query<{ n: string }>(
  `select count(*) n from ledger_transaction where idempotency_key = $1`, [`CHARGE:${chargeId}`]))[0]!.n;

describe('two copies of a charge while the wallet is being opened', () => {
  it(`get the same answer, fail nothing and move the money once (${ROUNDS} rounds, each copy in its own transaction)`, async () => {
    const other = uniq('acc');
    await dbOf(svc).tx((sql) => openPostpaid(sql, other));
    const split: { round: number; answers: string[]; rows: string; neighbour: string }[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const billingAccountId = uniq('acc');
      const c = postpaidCharge(billingAccountId);
      // Another account's charge in one copy's batch (the first copy's in odd rounds, the second's in even ones).
      const neighbour = postpaidCharge(other);
      const start = barrier(3);
      const answer = (rs: ChargeResult[]) => {
        const r = rs.find((x) => x.chargeId === c.chargeId)!;
        return `${r.outcome}${r.reason ? `:${r.reason}` : ''}`;
      };
      const failed = (e: unknown) => `FAILED:${(e as Error).message}`;
      // The first copy's transaction stays open up to 15 ms more once decided (a copy in a bigger batch, or on a busy
      // machine, commits that much later); the second arrives 0..7 ms after the first.
      let secondDone = false;
      // Each copy's transaction as applyCharges runs it (run again when it lost the key); the barrier only once.
      let firstStarted = false;
      let secondStarted = false;
      const first = retryingChargeKeyTaken(() => dbOf(svc).tx(async (sql) => {
        if (!firstStarted) await start();
        firstStarted = true;
        const rs = await applyChargesIn(sql, round % 2 === 1 ? [{ ...neighbour }, { ...c }] : [{ ...c }], T0);
        for (let waited = 0; waited < 15 && !secondDone; waited++) await sleep(1);
        return answer(rs);
      })).catch(failed);
      const second = retryingChargeKeyTaken(() => dbOf(svc).tx(async (sql) => {
        if (!secondStarted) {
          secondStarted = true;
          await start();
          await sleep(round % 8);
        }
        return answer(await applyChargesIn(sql, round % 2 === 0 ? [{ ...neighbour }, { ...c }] : [{ ...c }], T0));
      })).catch(failed).finally(() => (secondDone = true));
      const opening = dbOf(svc).tx(async (sql) => {
        await start();
        return openPostpaid(sql, billingAccountId);
      });
      const [, a, b] = await Promise.all([opening, first, second]);
      const rows = await rowsOf(c.chargeId);
      const neighbourRows = await rowsOf(neighbour.chargeId);
      if (a !== b || a.startsWith('FAILED') || rows !== '1' || neighbourRows !== '1') split.push({ round, answers: [a, b], rows, neighbour: neighbourRows });
    }
    expect(split, 'rounds whose two copies were decided apart or failed').toEqual([]);
  }, 120_000);

  it(`GraphQL applyCharge sent twice at once: the same answer, never INTERNAL_SERVER_ERROR (${ROUNDS} rounds)`, async () => {
    const retried = async () => (await scrapeMetrics(svc))['ledgerline_wallets_charge_key_retries_total{path="applyCharge"}'] ?? 0;
    const before = await retried();
    const split: { round: number; answers: string[]; rows: string }[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const billingAccountId = uniq('acc');
      const c = postpaidCharge(billingAccountId);
      const send = async () => {
        const r = await svc.request<{ applyCharge: { result: { outcome: string; reason: string | null } } }>(APPLY, { i: c });
        return r.errors ? outcomeOf(r) : `${r.data!.applyCharge.result.outcome}:${r.data!.applyCharge.result.reason ?? ''}`;
      };
      const opening = (async () => {
        await sleep(round % 4);
        await dbOf(svc).tx((sql) => openPostpaid(sql, billingAccountId));
      })();
      const [a, b] = await Promise.all([send(), send(), opening]);
      const rows = await rowsOf(c.chargeId);
      if (a !== b || rows !== '1') split.push({ round, answers: [a!, b!], rows });
    }
    expect(split, 'rounds whose two requests were answered apart').toEqual([]);
    // Each request run again after its twin took the key is counted (before the retry, 49-50 of 50 rounds failed one).
    expect(await retried()).toBeGreaterThan(before);
  }, 120_000);
});
