// Recharge against a real Temporal dev server (`temporal server start-dev`, started by
// deploy/local/temporal.mjs on a free port with a throw-away database, or TEMPORAL_ADDRESS if set).
// Real time here: no skipping, real sticky queues, real worker shutdown.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRecharge } from '../src/client';
import { rechargeStatusQuery } from '../src/workflows/recharge';
import { fakeSystems, quietTemporalLogs, startWorker, uniqueId, workflowBundle } from './support/env';
import { temporalScript, type EnsuredTemporal } from './support/temporal-binaries';

let server: EnsuredTemporal;
let dataDir: string;
let connection: Connection;
let nativeConnection: NativeConnection;
let client: Client;

beforeAll(async () => {
  quietTemporalLogs();
  const { ensureTemporal, findFreePort } = await temporalScript();
  dataDir = mkdtempSync(join(tmpdir(), 'ledgerline-temporal-'));
  [server] = await Promise.all([ensureTemporal({ dataDir, port: await findFreePort(), log: () => {} }), workflowBundle()]);
  connection = await Connection.connect({ address: server.address });
  nativeConnection = await NativeConnection.connect({ address: server.address });
  client = new Client({ connection });
});

afterAll(async () => {
  await nativeConnection?.close();
  await connection?.close();
  await server?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('rechargeWorkflow (dev server)', () => {
  it('approve: one capture, one credit, one receipt', async () => {
    const systems = fakeSystems();
    const taskQueue = uniqueId('tq');
    const input = { rechargeId: uniqueId('rch'), billingAccountId: 'ba-3003', amount: '9.99', currency: 'USD', paymentMethodToken: 'sandbox_approve', channel: 'SELF_CARE' };
    const worker = await startWorker(nativeConnection, systems, { taskQueue });

    const result = await worker.runUntil(async () => (await startRecharge(client, input, { taskQueue })).result());

    expect(result).toMatchObject({ rechargeId: input.rechargeId, status: 'COMPLETED', amount: '9.99', currency: 'USD', receiptId: expect.any(String) });
    expect(systems.payments.effective('capture')).toHaveLength(1);
    expect(systems.wallets.credits).toEqual([expect.objectContaining({ amount: '9.99', currency: 'USD', idempotencyKey: `recharge-${input.rechargeId}:creditWallet` })]);
    expect(systems.receipts.receipts).toHaveLength(1);
  });

  it('worker restart mid-credit: the new worker finishes it with one capture and one credit', async () => {
    // 1st credit call: applied, then no answer (as if the network dropped); later calls answer.
    const systems = fakeSystems({ wallets: { script: ['apply-then-hang', 'ok'] } });
    const taskQueue = uniqueId('tq');
    const input = { rechargeId: uniqueId('rch'), billingAccountId: 'ba-2002', amount: '15.50', currency: 'GBP', paymentMethodToken: 'sandbox_approve', channel: 'API' };

    const first = await startWorker(nativeConnection, systems, { taskQueue, shutdownGraceTime: '100 ms' });
    const handle = await startRecharge(client, input, { taskQueue });
    await first.runUntil(async () => {
      await systems.wallets.whenCalled(1); // the credit is in flight: stop the worker now
      expect(await handle.query(rechargeStatusQuery)).toMatchObject({ step: 'creditWallet' });
    });
    expect(first.getState()).toBe('STOPPED');
    expect(systems.wallets.credits).toHaveLength(1); // the wallet did apply it

    const second = await startWorker(nativeConnection, systems, { taskQueue });
    const result = await second.runUntil(handle.result());

    expect(result).toMatchObject({ status: 'COMPLETED', amount: '15.50', currency: 'GBP' });
    expect(systems.wallets.calls).toBe(2);
    expect(systems.wallets.credits).toHaveLength(1);
    expect(systems.wallets.balance('ba-2002', 'GBP')).toBe('15.5');
    expect(systems.payments.calls.capture).toBe(1);
    expect(systems.payments.effective('capture')).toHaveLength(1);
    expect(systems.receipts.receipts).toHaveLength(1);
  });
});
