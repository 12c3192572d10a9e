// A card recharge whose card was captured, whose credit wallets refused and whose refund the provider
// refused for good (card closed, refund window passed) ends RECHARGE_REFUND_FAILED in the workflow.
// Wallets recorded it FAILED, which it defines as "no money taken": the customer had paid and nobody
// was told. Now it is REFUND_FAILED, its auto top-up request RECHARGE_REFUND_FAILED, announced once
// (rechargeRefundFailed) and counted on /metrics for staff to return the money. The workflow end to
// end: recharge-workflow.test.ts; the workflow itself: workflows' recharge.timeskipping.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '@ledgerline/contracts';
import { scrapeMetrics, type TestService } from '@ledgerline/platform';
import { T0, balanceOf, dbOf, expectInvariants, openPrepaid, outboxEventsOf, startWallets, uniq } from './support';
import { outcomeOfFailure } from '../src/adapters/recharge-starter';
import { settleRecharge } from '../src/application/recharge';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets());
});
afterAll(async () => svc?.close());

describe('a recharge whose refund the provider refused', () => {
  it('is REFUND_FAILED with its auto top-up request, announced once for staff and counted on /metrics; nothing credited', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '1.00' });
    const rechargeId = uniq('rch');
    const requestId = uniq('atu');
    await dbOf(svc).query(
      `insert into recharge (id, idempotency_key, request_hash, billing_account_id, wallet_id, amount, currency, channel, method, payment_method_token, status, workflow_id, created_at, capture_started_at)
       values ($1, $2, 'h', $3, $4, 20, 'EUR', 'AUTO_TOPUP', 'CARD', 'tok', 'STARTED', $5, $6, $6)`,
      [rechargeId, requestId, billingAccountId, walletId, `recharge-${rechargeId}`, T0],
    );
    await dbOf(svc).query(
      `insert into topup_request (id, wallet_id, billing_account_id, amount, currency, payment_method_token, status, requested_at, recharge_id) values ($1, $2, $3, 20, 'EUR', 'tok', 'RECHARGE_STARTED', $4, $5)`,
      [requestId, walletId, billingAccountId, T0, rechargeId],
    );

    const outcome = { ...outcomeOfFailure('RECHARGE_REFUND_FAILED'), captureId: 'cap_000002' };
    const settled = await settleRecharge(dbOf(svc), rechargeId, outcome, T0);
    expect(settled).toMatchObject({ status: 'REFUND_FAILED', failure: 'RECHARGE_REFUND_FAILED' });
    // Settled again (the watcher and the sync job both heard): nothing changes, nothing is announced twice.
    expect(await settleRecharge(dbOf(svc), rechargeId, outcome, T0)).toBeNull();

    const [request] = await dbOf(svc).query<{ status: string }>(`select status from topup_request where id = $1`, [requestId]);
    expect(request!.status).toBe('RECHARGE_REFUND_FAILED');
    expect((await outboxEventsOf(svc, EVENTS.rechargeRefundFailed.subject, billingAccountId)).map((e) => e.data)).toEqual([
      {
        rechargeId, billingAccountId, walletId, amount: { amount: '20.000000', currency: 'EUR' }, method: 'CARD', channel: 'AUTO_TOPUP',
        workflowId: `recharge-${rechargeId}`, captureId: 'cap_000002', code: 'RECHARGE_REFUND_FAILED', failedAt: T0.toISOString(),
      },
    ]);
    expect(await balanceOf(svc, walletId)).toBe('1');
    expect((await scrapeMetrics(svc)).ledgerline_wallets_recharges_refund_failed).toBe(1);
    await expectInvariants(svc);
  });
});
