// Turning auto top-up off cancels a recharge it already started, as long as the card was not captured.
//
// ce68ba9 cancelled a request with no recharge yet; a request whose recharge was made (STARTING /
// STARTED: the workflow authorizing the card) was left to run, so a customer who turned auto top-up
// off and topped up by hand was charged twice. Now turning the rule off also cancels such a recharge
// while its capture has not begun: the recharge workflow's authorize and capture activities ask
// wallets first (beginRechargeStep), the capture claiming the recharge in the same row update that a
// cancel checks. So the card is never captured for a cancelled recharge (the authorization is voided,
// the recharge and its request end CANCELLED), and a recharge whose capture began is never cancelled
// (it is credited, COMPLETED). Turning the rule off at the moment of the capture: exactly one of the two.
//
// Real Temporal dev server, real wallets (GraphQL, PostgreSQL, NATS), the sandbox payment provider
// wrapped so a test can hold the workflow inside authorize or inside the wallet credit.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NativeConnection } from '@temporalio/worker';
import { DEV_INTERNAL_SECRET, SYSTEM_CALLER, callerHeaders, type TestService } from '@ledgerline/platform';
import { APPLY, balanceOf, charge, dbOf, expectInvariants, gql, inRounds, openPrepaid, startWallets, topup, topupRequestsOf } from './support';
import { createActivities } from '../../../workflows/src/activities';
import { GraphqlWalletsClient } from '../../../workflows/src/adapters/graphql';
import { InMemoryBillingPeriodsClient, InMemoryReceiptsClient } from '../../../workflows/src/adapters/in-memory';
import { SandboxPaymentProvider } from '../../../workflows/src/adapters/sandbox-payment-provider';
import { createWorker } from '../../../workflows/src/worker';
import type { PaymentProvider, WalletsClient } from '../../../workflows/src/ports';
import { quietTemporalLogs, workflowBundle } from '../../../workflows/test/support/env';
import { temporalScript, type EnsuredTemporal } from '../../../workflows/test/support/temporal-binaries';

let server: EnsuredTemporal;
let dataDir: string;
let native: NativeConnection;
let svc: TestService;
let worker: Awaited<ReturnType<typeof createWorker>>;
let running: Promise<void>;
const sandbox = new SandboxPaymentProvider();
const taskQueue = `wallets-cancel-test-${randomUUID().slice(0, 8)}`;

/** A point the workflow stops at until the test lets it go on; `reached` resolves when it got there. */
interface Hold {
  reached: Promise<void>;
  release: () => void;
}
function hold(): Hold & { arrive: () => Promise<void> } {
  let arrived!: () => void;
  let release!: () => void;
  const reached = new Promise<void>((r) => (arrived = r));
  const released = new Promise<void>((r) => (release = r));
  return { reached, release, arrive: () => (arrived(), released) };
}
/** Where the next recharge stops: inside authorize (before the provider answers) or inside the wallet credit (the card captured). */
let atAuthorize: ReturnType<typeof hold> | null = null;
let atCredit: ReturnType<typeof hold> | null = null;

const payments: PaymentProvider = {
  authorize: async (req, opts) => {
    const h = atAuthorize;
    atAuthorize = null;
    if (h) await h.arrive();
    return sandbox.authorize(req, opts);
  },
  capture: (req, opts) => sandbox.capture(req, opts),
  void: (req, opts) => sandbox.void(req, opts),
  voidByAuthorizeKey: (req, opts) => sandbox.voidByAuthorizeKey(req, opts),
  refund: (req, opts) => sandbox.refund(req, opts),
};

beforeAll(async () => {
  quietTemporalLogs();
  const { ensureTemporal, findFreePort } = await temporalScript();
  dataDir = mkdtempSync(join(tmpdir(), 'ledgerline-wallets-temporal-'));
  [server] = await Promise.all([ensureTemporal({ dataDir, port: await findFreePort(), log: () => {} }), workflowBundle()]);
  ({ svc } = await startWallets({ WALLETS_TEMPORAL: 'on', TEMPORAL_ADDRESS: server.address, TEMPORAL_TASK_QUEUE: taskQueue }));
  const graphqlWallets = new GraphqlWalletsClient({ url: svc.url, headers: () => callerHeaders(SYSTEM_CALLER, process.env.LEDGERLINE_INTERNAL_SECRET ?? DEV_INTERNAL_SECRET) });
  // The production wallets client, with the credit held where a test asks.
  const wallets = Object.assign(Object.create(graphqlWallets) as WalletsClient, {
    creditWallet: async (req: Parameters<WalletsClient['creditWallet']>[0], opts?: Parameters<WalletsClient['creditWallet']>[1]) => {
      const h = atCredit;
      atCredit = null;
      if (h) await h.arrive();
      return graphqlWallets.creditWallet(req, opts);
    },
  });
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

const SET_RULE = `mutation($i: SetAutoTopupInput!) { setAutoTopup(input: $i) { wallet { id } } }`;
const rule = (walletId: string, enabled: boolean) => ({ i: { walletId, enabled, threshold: '5.00', topupAmount: '20.00', paymentMethodToken: 'sandbox_approve' } });

async function until<T>(probe: () => Promise<T | null | undefined | false>, what: string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A wallet with a rule, pushed below it (10 → 4): its auto top-up recharge is started; returns when the workflow stopped at `at`. */
async function lowWithRechargeHeld(at: 'authorize' | 'credit') {
  const h = hold();
  if (at === 'authorize') atAuthorize = h;
  else atCredit = h;
  const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '10.00' });
  await gql(svc, SET_RULE, rule(walletId, true));
  await gql(svc, APPLY, { i: charge(billingAccountId, { units: '6', pricePerUnit: '1.00' }) });
  await Promise.race([h.reached, new Promise((_, reject) => setTimeout(() => reject(new Error(`the recharge never reached ${at}`)), 60_000))]);
  const [request] = await topupRequestsOf(svc, walletId);
  return { billingAccountId, walletId, requestId: request!.id, release: h.release };
}

/** The recharge of the wallet once it has ended, with what the card and the wallet saw. */
async function endOf(walletId: string) {
  const r = await until(async () => {
    const [row] = await dbOf(svc).query<{ id: string; status: string; workflow_id: string }>(`select id, status, workflow_id from recharge where wallet_id = $1`, [walletId]);
    return row && row.status !== 'STARTING' && row.status !== 'STARTED' ? row : null;
  }, `the recharge of wallet ${walletId} to end`);
  const ops = (op: 'authorize' | 'capture' | 'void') => sandbox.effective(op).filter((o) => o.idempotencyKey.startsWith(`${r.workflow_id}:`)).length;
  const [request] = await topupRequestsOf(svc, walletId);
  return { recharge: r.status, request: request!.status, balance: await balanceOf(svc, walletId), authorized: ops('authorize'), captured: ops('capture'), voided: ops('void') };
}

describe('turning auto top-up off while its recharge runs', () => {
  it('before the capture: the recharge is cancelled, its authorization voided, nothing captured or credited; a manual top-up then funds the wallet once', async () => {
    const { billingAccountId, walletId, release } = await lowWithRechargeHeld('authorize');
    await gql(svc, SET_RULE, rule(walletId, false));
    release();
    const end = await endOf(walletId);
    expect(end, JSON.stringify(end)).toEqual({ recharge: 'CANCELLED', request: 'CANCELLED', balance: '4', authorized: 1, captured: 0, voided: 1 });
    await topup(svc, billingAccountId, '20.00');
    expect(await balanceOf(svc, walletId)).toBe('24');
  }, 90_000);

  it('after the capture (the credit on its way): the recharge stands, the wallet is credited once and the request reports COMPLETED', async () => {
    const { walletId, release } = await lowWithRechargeHeld('credit');
    await gql(svc, SET_RULE, rule(walletId, false));
    await gql(svc, SET_RULE, rule(walletId, false));
    release();
    const end = await endOf(walletId);
    expect(end, JSON.stringify(end)).toEqual({ recharge: 'COMPLETED', request: 'COMPLETED', balance: '24', authorized: 1, captured: 1, voided: 0 });
  }, 90_000);

  it('turned off as the capture begins: exactly one of "cancelled, nothing taken" or "captured and credited once"', async () => {
    // Turned off a little later each round after the authorize is let go (its capture follows within
    // tens of ms): the early rounds cancel, the late ones find the capture begun.
    const lags = [0, 20, 40, 60, 100, 200];
    let round = 0;
    const rounds = await inRounds(lags.length, async () => {
      const { walletId, release } = await lowWithRechargeHeld('authorize');
      const lag = lags[round++]!;
      release();
      await new Promise((r) => setTimeout(r, lag));
      await gql(svc, SET_RULE, rule(walletId, false));
      return endOf(walletId);
    });
    for (const end of rounds) {
      expect([
        { recharge: 'CANCELLED', request: 'CANCELLED', balance: '4', authorized: 1, captured: 0, voided: 1 },
        { recharge: 'COMPLETED', request: 'COMPLETED', balance: '24', authorized: 1, captured: 1, voided: 0 },
      ], JSON.stringify(rounds)).toContainEqual(end);
    }
  }, 300_000);
});
