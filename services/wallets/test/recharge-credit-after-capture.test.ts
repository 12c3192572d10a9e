// Card recharge: the wallet credit after the capture. What the card paid is what the wallet got.
//
// Once the card is charged, rechargeWorkflow retries the credit (idempotent by key,
// `recharge-<id>:creditWallet`) until wallets gives a definite answer: a credit that committed but
// whose answers were lost (wallets slow or restarting right after its commit: a timeout, a 502
// from a proxy, a pod killed between its commit and its reply; here for its first 5 tries, all the
// tries the workflow used to make before it refunded) is replayed by a later try and the
// recharge COMPLETES; it is never refunded while the money stays on the wallet. Only a coded
// refusal from wallets ends the retries, and even then the workflow first closes the credit's key
// (`closeTopupKey`): it answers a credit an earlier try had made (the recharge stands, no refund),
// or makes sure none can land any more (then the card is refunded: REFUNDED, the wallet untouched,
// a late credit under the key refused).
//
// Real Temporal dev server, the real workflow, the sandbox provider and the wallets GraphQL as the
// worker's wallet, as in recharge-workflow.test.ts; only the wallet client loses its answers or
// refuses. A lost answer asks Temporal for the next try after 100 ms (the failure's nextRetryDelay;
// the dev server makes it about a second) instead of the credit's real back-off (1, 2, 4, 8, then
// 16 s: 31 s to the 6th try): only the wait between tries changes; the workflow's retry policy still
// decides whether there is another try (a policy with maximumAttempts still stops at that many tries
// with nextRetryDelay set: checked on the dev server with authorizePayment, maximumAttempts 5).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import { NativeConnection } from '@temporalio/worker';
import { Decimal } from '@ledgerline/contracts';
import { DEV_INTERNAL_SECRET, SYSTEM_CALLER, callerHeaders, type TestService } from '@ledgerline/platform';
import { balanceOf, dbOf, expectInvariants, gql, openPrepaid, startWallets, uniq } from './support';
import { scopedCallerKey } from '../src/application/ledger';
import { createActivities } from '../../../workflows/src/activities';
import { GraphqlWalletsClient } from '../../../workflows/src/adapters/graphql';
import { InMemoryBillingPeriodsClient, InMemoryReceiptsClient } from '../../../workflows/src/adapters/in-memory';
import { SandboxPaymentProvider } from '../../../workflows/src/adapters/sandbox-payment-provider';
import { createWorker } from '../../../workflows/src/worker';
import { DomainError } from '../../../workflows/src/errors';
import type { WalletsClient } from '../../../workflows/src/ports';
import { quietTemporalLogs, workflowBundle } from '../../../workflows/test/support/env';
import { temporalScript, type EnsuredTemporal } from '../../../workflows/test/support/temporal-binaries';

let server: EnsuredTemporal;
let dataDir: string;
let native: NativeConnection;
let svc: TestService;
let worker: Awaited<ReturnType<typeof createWorker>>;
let running: Promise<void>;
const payments = new SandboxPaymentProvider();
/** Accounts whose credits commit in wallets but whose answers are lost for the first LOST_ANSWERS calls (wallets restarting). */
const answerLostFor = new Set<string>();
const LOST_ANSWERS = 5;
/**
 * A lost answer, as the activity would see it (a plain, retryable failure of type Error), retried
 * after 100 ms instead of the retry policy's back-off (see the top of the file).
 */
const answerLost = () => ApplicationFailure.create({ message: `${svc.url}: the answer to topupBalance was lost`, type: 'Error', nextRetryDelay: '100 ms' });
/** Accounts whose first credit commits and loses its answer, and whose later tries wallets refuses. */
const committedThenRefused = new Set<string>();
/** Accounts whose every credit wallets refuses (nothing committed). */
const refused = new Set<string>();
const creditCalls = new Map<string, number>();
const taskQueue = `wallets-credit-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  quietTemporalLogs();
  const { ensureTemporal, findFreePort } = await temporalScript();
  dataDir = mkdtempSync(join(tmpdir(), 'ledgerline-wallets-credit-'));
  [server] = await Promise.all([ensureTemporal({ dataDir, port: await findFreePort(), log: () => {} }), workflowBundle()]);
  ({ svc } = await startWallets({ WALLETS_TEMPORAL: 'on', TEMPORAL_ADDRESS: server.address, TEMPORAL_TASK_QUEUE: taskQueue }));
  const graphqlWallets = new GraphqlWalletsClient({ url: svc.url, headers: () => callerHeaders(SYSTEM_CALLER, process.env.LEDGERLINE_INTERNAL_SECRET ?? DEV_INTERNAL_SECRET) });
  const wallets: WalletsClient = {
    creditWallet: async (req, opts) => {
      const call = (creditCalls.get(req.billingAccountId) ?? 0) + 1;
      creditCalls.set(req.billingAccountId, call);
      if (refused.has(req.billingAccountId) || (committedThenRefused.has(req.billingAccountId) && call > 1)) {
        throw new DomainError('WALLET_CLOSED', 'test: this wallet refuses credits');
      }
      const credited = await graphqlWallets.creditWallet(req, opts);
      if (committedThenRefused.has(req.billingAccountId)) throw answerLost();
      // wallets committed the credit; for the first LOST_ANSWERS calls its answers are lost on the way back (timeout, 502, restart).
      if (answerLostFor.has(req.billingAccountId) && call <= LOST_ANSWERS) throw answerLost();
      return credited;
    },
    closeCreditKey: (req, opts) => graphqlWallets.closeCreditKey(req, opts),
  };
  native = await NativeConnection.connect({ address: server.address });
  worker = await createWorker({
    connection: native,
    taskQueue,
    activities: createActivities({ payments, wallets, receipts: new InMemoryReceiptsClient(), billingPeriods: new InMemoryBillingPeriodsClient() }, { callTimeoutMs: 10_000 }),
    workflowBundle: await workflowBundle(),
    shutdownGraceTime: '1 second',
  });
  running = worker.run();
}, 120_000);

afterAll(async () => {
  worker?.shutdown();
  await running?.catch(() => undefined);
  await svc?.close();
  await native?.close();
  await server?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
}, 60_000);
afterEach(async () => expectInvariants(svc));

const RECHARGE = `mutation($i: RechargeInput!) { recharge(input: $i) { recharge { id status workflowId } } }`;
const STATUS = `query($id: ID!) { recharge(id: $id) { status failure } }`;

async function settled(id: string, timeoutMs = 150_000): Promise<{ status: string; failure: string | null }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = (await gql(svc, STATUS, { id })).recharge;
    if (r.status !== 'STARTED' && r.status !== 'STARTING') return r;
    if (Date.now() > deadline) throw new Error(`recharge ${id} did not finish`);
    await new Promise((res) => setTimeout(res, 250));
  }
}

async function cardRecharge(billingAccountId: string) {
  const d = await gql(svc, RECHARGE, { i: { billingAccountId, amount: { amount: '20.00', currency: 'EUR' }, method: 'CARD', paymentMethodToken: 'sandbox_approve', idempotencyKey: uniq('key') } });
  return d.recharge.recharge as { id: string; workflowId: string };
}

/** The settled recharge next to the money: what the card paid (captured − refunded) and what the wallet got (balance − 1). */
async function moneyOf(r: { id: string; workflowId: string }, billingAccountId: string, walletId: string) {
  const outcome = await settled(r.id);
  const ops = (op: 'capture' | 'refund') => payments.effective(op).filter((o) => o.idempotencyKey.startsWith(`${r.workflowId}:`));
  const sum = (rows: { amount?: string }[]) => rows.reduce((s, o) => s.plus(o.amount ?? '0'), new Decimal(0));
  const paidByCard = sum(ops('capture')).minus(sum(ops('refund')));
  const credited = new Decimal(await balanceOf(svc, walletId)).minus('1');
  return { status: outcome.status, failure: outcome.failure, creditAttempts: creditCalls.get(billingAccountId), paidByCard: paidByCard.toFixed(2), creditedOnWallet: credited.toFixed(2) };
}

describe('card recharge: the wallet credit after the capture', () => {
  it('what the card paid is what the wallet got: a credit that committed is never refunded while it stays on the wallet', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '1.00' });
    answerLostFor.add(billingAccountId);
    const r = await cardRecharge(billingAccountId);
    const summary = await moneyOf(r, billingAccountId, walletId);

    // What the card paid is what the wallet got: 20/20 (COMPLETED) or 0/0 (refunded and not credited).
    expect(summary.paidByCard, JSON.stringify(summary)).toBe(summary.creditedOnWallet);
    if (summary.status === 'REFUNDED') expect(summary.creditedOnWallet, JSON.stringify(summary)).toBe('0.00');
    // Wallets answered in the end (its first 5 answers were lost): the credit was retried until then, and stands.
    expect(summary, JSON.stringify(summary)).toMatchObject({ status: 'COMPLETED', paidByCard: '20.00', creditedOnWallet: '20.00' });
    expect(summary.creditAttempts).toBeGreaterThan(LOST_ANSWERS);
  }, 180_000);

  it('an earlier try committed, the next one is refused: the closed key answers that credit, the recharge stands and nothing is refunded', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '1.00' });
    committedThenRefused.add(billingAccountId);
    const r = await cardRecharge(billingAccountId);
    const summary = await moneyOf(r, billingAccountId, walletId);

    expect(summary, JSON.stringify(summary)).toMatchObject({ status: 'COMPLETED', failure: null, creditAttempts: 2, paidByCard: '20.00', creditedOnWallet: '20.00' });
    expect(payments.effective('refund').filter((o) => o.idempotencyKey.startsWith(`${r.workflowId}:`))).toHaveLength(0);
  }, 120_000);

  it('refused and nothing credited: the key is closed, then the card refunded; a credit arriving late under the key is refused', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '1.00' });
    refused.add(billingAccountId);
    const r = await cardRecharge(billingAccountId);
    const summary = await moneyOf(r, billingAccountId, walletId);

    expect(summary, JSON.stringify(summary)).toMatchObject({ status: 'REFUNDED', failure: 'WALLET_CREDIT_FAILED', creditAttempts: 1, paidByCard: '0.00', creditedOnWallet: '0.00' });
    // A credit of an earlier try still on its way (its request outlived its answer) can no longer land.
    const lateCredit = { billingAccountId, amount: { amount: '20.00', currency: 'EUR' }, idempotencyKey: `${r.workflowId}:creditWallet`, reference: r.id };
    await expect(gql(svc, `mutation($i: TopupBalanceInput!) { topupBalance(input: $i) { topupBalance { id } } }`, { i: lateCredit })).rejects.toThrow(/IDEMPOTENCY_KEY_REUSED/);
    expect(await balanceOf(svc, walletId)).toBe('1');
    const [closed] = await dbOf(svc).query<{ kind: string; entries: string }>(
      `select t.kind, (select count(*) from ledger_entry e where e.transaction_id = t.id)::text as entries from ledger_transaction t where t.idempotency_key = $1`,
      [scopedCallerKey('TOPUP', billingAccountId, `${r.workflowId}:creditWallet`)],
    );
    expect(closed).toEqual({ kind: 'TOPUP_KEY_CLOSED', entries: '0' });
  }, 120_000);
});
