// Card recharges and auto top-up end to end on a real Temporal dev server: the wallets service
// starts rechargeWorkflow, an in-process worker runs it with the sandbox payment provider and
// credits the wallet through the wallets service's own GraphQL (topupBalance, service caller),
// and the recharge row follows the workflow's result.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NativeConnection } from '@temporalio/worker';
import { BILLING_STREAM, EVENTS } from '@ledgerline/contracts';
import { DEV_INTERNAL_SECRET, SYSTEM_CALLER, callerHeaders, type TestService } from '@ledgerline/platform';
import { APPLY, balanceOf, charge, dbOf, expectInvariants, gql, openPrepaid, outboxEventsOf, startWallets, uniq } from './support';
import { depsOf } from '../src/deps';
import { runWalletJobs } from '../src/jobs/jobs';
import { createActivities } from '../../../workflows/src/activities';
import { GraphqlWalletsClient } from '../../../workflows/src/adapters/graphql';
import { InMemoryBillingPeriodsClient, InMemoryReceiptsClient } from '../../../workflows/src/adapters/in-memory';
import { SandboxPaymentProvider } from '../../../workflows/src/adapters/sandbox-payment-provider';
import { DomainError } from '../../../workflows/src/errors';
import { createWorker } from '../../../workflows/src/worker';
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
/** Accounts whose wallet credit the (test) wallets client refuses: the workflow must refund. */
const refuseCreditFor = new Set<string>();
const taskQueue = `wallets-test-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  quietTemporalLogs();
  const { ensureTemporal, findFreePort } = await temporalScript();
  dataDir = mkdtempSync(join(tmpdir(), 'ledgerline-wallets-temporal-'));
  [server] = await Promise.all([ensureTemporal({ dataDir, port: await findFreePort(), log: () => {} }), workflowBundle()]);
  ({ svc } = await startWallets({ WALLETS_TEMPORAL: 'on', TEMPORAL_ADDRESS: server.address, TEMPORAL_TASK_QUEUE: taskQueue }));
  const graphqlWallets = new GraphqlWalletsClient({ url: svc.url, headers: () => callerHeaders(SYSTEM_CALLER, process.env.LEDGERLINE_INTERNAL_SECRET ?? DEV_INTERNAL_SECRET) });
  const wallets: WalletsClient = {
    creditWallet: async (req, opts) => {
      if (refuseCreditFor.has(req.billingAccountId)) throw new DomainError('WALLET_CLOSED', 'test: this wallet refuses credits');
      return graphqlWallets.creditWallet(req, opts);
    },
    closeCreditKey: (req, opts) => graphqlWallets.closeCreditKey(req, opts),
  };
  native = await NativeConnection.connect({ address: server.address });
  worker = await createWorker({
    connection: native,
    taskQueue,
    activities: createActivities({ payments, wallets, receipts: new InMemoryReceiptsClient(), billingPeriods: new InMemoryBillingPeriodsClient() }, { callTimeoutMs: 300 }),
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
const STATUS = `query($id: ID!) { recharge(id: $id) { status failure workflowId } }`;

async function eventually<T>(probe: () => Promise<T | null | undefined | false>, what: string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function cardRecharge(billingAccountId: string, amount: string, token: string, key = uniq('key')) {
  const d = await gql(svc, RECHARGE, { i: { billingAccountId, amount: { amount, currency: 'EUR' }, method: 'CARD', paymentMethodToken: token, idempotencyKey: key } });
  return d.recharge.recharge as { id: string; status: string; workflowId: string };
}
const settled = (id: string) => eventually(async () => {
  const r = (await gql(svc, STATUS, { id })).recharge;
  return r.status !== 'STARTED' && r.status !== 'STARTING' ? r : null;
}, `recharge ${id} to finish`);
const opsFor = (op: 'authorize' | 'capture' | 'void' | 'refund', workflowId: string) => payments.effective(op).filter((o) => o.idempotencyKey.startsWith(`${workflowId}:`));

/** This service's auto top-up consumer (wallets-<name>-<schema>, consumers.ts). */
const autoTopupConsumer = () => svc.runtime.messaging.jsm.consumers.info(BILLING_STREAM.name, `wallets-autotopup-${svc.schema.replace(/[^a-zA-Z0-9_-]/g, '_')}`);

/**
 * Waits until nothing more is on its way to the wallet's auto top-ups: every event wallets wrote is
 * published, the auto top-up consumer has handled every message it was given (a request's recharge
 * is started before the message is acknowledged), and no recharge of the wallet is still running.
 * Then a second recharge or credit that was going to happen has happened (instead of hoping a fixed
 * sleep was long enough).
 */
async function autoTopupsSettled(walletId: string): Promise<void> {
  await eventually(async () => {
    const [{ unpublished }] = await dbOf(svc).query<{ unpublished: number }>(`select count(*)::int as unpublished from outbox where published_at is null and failed_at is null`);
    if (unpublished > 0) return false;
    const consumer = await autoTopupConsumer();
    if (consumer.num_pending > 0 || consumer.num_ack_pending > 0) return false;
    const [{ open }] = await dbOf(svc).query<{ open: number }>(`select count(*)::int as open from recharge where wallet_id = $1 and status in ('STARTING', 'STARTED')`, [walletId]);
    return open === 0;
  }, `the auto top-ups of wallet ${walletId} to settle`);
}

describe('card recharge: the recharge row follows the workflow', () => {
  it('approved: COMPLETED, the wallet credited once; the same key again is the same recharge', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '1.00' });
    const key = uniq('key');
    const r = await cardRecharge(billingAccountId, '20.00', 'sandbox_approve', key);
    expect(r.status).toBe('STARTED');
    expect(await settled(r.id)).toEqual({ status: 'COMPLETED', failure: null, workflowId: `recharge-${r.id}` });
    const again = await cardRecharge(billingAccountId, '20.00', 'sandbox_approve', key);
    expect(again.id).toBe(r.id);
    expect(await balanceOf(svc, walletId)).toBe('21');
    expect(opsFor('capture', r.workflowId)).toHaveLength(1);
  });

  it('declined: DECLINED, nothing captured, nothing credited', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '1.00' });
    const r = await cardRecharge(billingAccountId, '20.00', 'sandbox_decline');
    expect(await settled(r.id)).toMatchObject({ status: 'DECLINED', failure: 'PAYMENT_DECLINED' });
    expect(opsFor('capture', r.workflowId)).toHaveLength(0);
    expect(await balanceOf(svc, walletId)).toBe('1');
  });

  it('capture times out: FAILED, authorization voided, nothing credited', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '1.00' });
    const r = await cardRecharge(billingAccountId, '20.00', 'sandbox_timeout');
    expect(await settled(r.id)).toMatchObject({ status: 'FAILED', failure: 'PAYMENT_CAPTURE_FAILED' });
    expect(opsFor('capture', r.workflowId)).toHaveLength(0);
    expect(opsFor('void', r.workflowId)).toHaveLength(1);
    expect(await balanceOf(svc, walletId)).toBe('1');
  }, 90_000);

  it('capture answer lost once (fail after capture): COMPLETED with one capture and one credit', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '1.00' });
    const r = await cardRecharge(billingAccountId, '7.50', 'sandbox_fail_after_capture');
    expect(await settled(r.id)).toMatchObject({ status: 'COMPLETED' });
    expect(opsFor('capture', r.workflowId)).toHaveLength(1);
    expect(await balanceOf(svc, walletId)).toBe('8.5');
  }, 90_000);

  it('captured but the wallet refuses the credit: REFUNDED, the capture refunded, nothing credited', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '1.00' });
    refuseCreditFor.add(billingAccountId);
    const r = await cardRecharge(billingAccountId, '20.00', 'sandbox_approve');
    expect(await settled(r.id)).toMatchObject({ status: 'REFUNDED', failure: 'WALLET_CREDIT_FAILED' });
    expect(opsFor('capture', r.workflowId)).toHaveLength(1);
    expect(opsFor('refund', r.workflowId)).toHaveLength(1);
    expect(await balanceOf(svc, walletId)).toBe('1');
  }, 90_000);

  it('captured, the wallet refuses the credit and the provider refuses the refund: REFUND_FAILED, announced for staff, never FAILED (no money taken)', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '1.00' });
    refuseCreditFor.add(billingAccountId);
    const r = await cardRecharge(billingAccountId, '20.00', 'sandbox_refund_refused');
    expect(await settled(r.id)).toMatchObject({ status: 'REFUND_FAILED', failure: 'RECHARGE_REFUND_FAILED' });
    const [capture] = opsFor('capture', r.workflowId);
    expect(capture).toBeDefined();
    expect(opsFor('refund', r.workflowId)).toHaveLength(0);
    expect(await balanceOf(svc, walletId)).toBe('1');
    expect((await outboxEventsOf(svc, EVENTS.rechargeRefundFailed.subject, billingAccountId)).map((e) => e.data)).toEqual([
      expect.objectContaining({ rechargeId: r.id, billingAccountId, walletId, amount: { amount: '20.000000', currency: 'EUR' }, method: 'CARD', workflowId: r.workflowId, captureId: capture!.id, code: 'RECHARGE_REFUND_FAILED' }),
    ]);
    // Settled again (the sync job after a lost watcher): recorded and announced once.
    await dbOf(svc).query(`update recharge set status = 'STARTED', failure = null where id = $1`, [r.id]);
    expect((await runWalletJobs(dbOf(svc), new Date(), depsOf(svc.runtime).rechargeStarter!)).rechargesSettled).toBe(1);
    expect((await gql(svc, STATUS, { id: r.id })).recharge).toMatchObject({ status: 'REFUND_FAILED', failure: 'RECHARGE_REFUND_FAILED' });
    expect(await outboxEventsOf(svc, EVENTS.rechargeRefundFailed.subject, billingAccountId)).toHaveLength(1);
  }, 90_000);
});

describe('recharge sync job', () => {
  it('records the outcome of a workflow whose watcher was lost (a restart), once', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc);
    const r = await cardRecharge(billingAccountId, '3.00', 'sandbox_decline');
    await settled(r.id);
    await dbOf(svc).query(`update recharge set status = 'STARTED', failure = null where id = $1`, [r.id]); // as if the service restarted before it heard
    const starter = depsOf(svc.runtime).rechargeStarter!;
    expect((await runWalletJobs(dbOf(svc), new Date(), starter)).rechargesSettled).toBe(1);
    expect((await gql(svc, STATUS, { id: r.id })).recharge).toMatchObject({ status: 'DECLINED', failure: 'PAYMENT_DECLINED' });
    expect((await runWalletJobs(dbOf(svc), new Date(), starter)).rechargesSettled).toBe(0);
    expect(await balanceOf(svc, walletId)).toBe('0');
  });
});

describe('auto top-up', () => {
  it('charges push the wallet below the threshold: one recharge is started and the wallet is credited exactly once, even when the event is redelivered', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '10.00' });
    await gql(svc, `mutation($i: SetAutoTopupInput!) { setAutoTopup(input: $i) { wallet { id } } }`, {
      i: { walletId, enabled: true, threshold: '5.00', topupAmount: '20.00', paymentMethodToken: 'sandbox_approve', dailyLimit: '30.00' },
    });
    for (let i = 0; i < 3; i++) await gql(svc, APPLY, { i: charge(billingAccountId, { units: '2', pricePerUnit: '1.00' }) }); // 10 → 4: crosses 5 once
    const request = await eventually(async () => {
      const rows = await dbOf(svc).query<{ id: string; status: string; recharge_id: string | null }>(`select id, status, recharge_id from topup_request where wallet_id = $1`, [walletId]);
      return rows.length === 1 && rows[0]!.status === 'COMPLETED' ? rows[0]! : null;
    }, 'the auto top-up recharge to complete');
    expect(await balanceOf(svc, walletId)).toBe('24');
    const rc = (await gql(svc, STATUS, { id: request.recharge_id })).recharge;
    expect(rc).toMatchObject({ status: 'COMPLETED', workflowId: `recharge-${request.recharge_id}` });

    // The same event delivered again (a new message id): no second recharge, no second credit.
    const [outbox] = await dbOf(svc).query<{ payload: string }>(`select payload from outbox where subject = $1 and payload like $2`, [EVENTS.autoTopupRequested.subject, `%${request.id}%`]);
    const again = await svc.runtime.messaging.js.publish(EVENTS.autoTopupRequested.subject, outbox!.payload, { msgID: `${request.id}-again` });
    // Handled (and acknowledged) by the auto top-up consumer, and whatever it started has settled.
    await eventually(async () => (await autoTopupConsumer()).ack_floor.stream_seq >= again.seq, 'the event delivered again to be handled');
    await autoTopupsSettled(walletId);
    expect(await dbOf(svc).query(`select id from recharge where wallet_id = $1`, [walletId])).toHaveLength(1);
    expect(await balanceOf(svc, walletId)).toBe('24');

    // Down again: 24 → 4 crosses the threshold again, but 20 more would pass the daily limit of 30.
    await gql(svc, APPLY, { i: charge(billingAccountId, { units: '20', pricePerUnit: '1.00' }) });
    const limited = await eventually(async () => {
      const rows = await dbOf(svc).query<{ status: string; reason: string }>(`select status, reason from topup_request where wallet_id = $1 order by requested_at, id`, [walletId]);
      return rows.length === 2 ? rows : null;
    }, 'the second request');
    expect(limited.map((r) => r.status).sort()).toEqual(['COMPLETED', 'LIMIT_REACHED']);
    await autoTopupsSettled(walletId);
    expect(await dbOf(svc).query(`select id from recharge where wallet_id = $1`, [walletId])).toHaveLength(1);
    expect(await balanceOf(svc, walletId)).toBe('4');
  }, 90_000);

  it('a top-up amount smaller than the gap: each request completed below the threshold asks the next at once, until the balance is at or above it', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '10.00' });
    await gql(svc, `mutation($i: SetAutoTopupInput!) { setAutoTopup(input: $i) { wallet { id } } }`, {
      i: { walletId, enabled: true, threshold: '25.00', topupAmount: '10.00', paymentMethodToken: 'sandbox_approve' },
    });
    await gql(svc, APPLY, { i: charge(billingAccountId, { units: '6', pricePerUnit: '1.00' }) }); // 10 → 4: asks 10
    // 4 → 14 → 24 → 34: three card recharges. It stopped at 14 (one request, no crossing to come).
    const statuses = async () => (await dbOf(svc).query<{ status: string }>(`select status from topup_request where wallet_id = $1`, [walletId])).map((r) => r.status);
    await eventually(async () => (await statuses()).filter((s) => s === 'COMPLETED').length === 3, 'three completed auto top-ups', 30_000).catch(async (error: Error) => {
      throw new Error(`${error.message}: requests ${JSON.stringify(await statuses())}, balance ${await balanceOf(svc, walletId)}`);
    });
    await autoTopupsSettled(walletId);
    expect(await statuses()).toEqual(['COMPLETED', 'COMPLETED', 'COMPLETED']);
    expect(await balanceOf(svc, walletId)).toBe('34');
    expect(await dbOf(svc).query(`select id from recharge where wallet_id = $1 and status = 'COMPLETED'`, [walletId])).toHaveLength(3);
  }, 90_000);
});
