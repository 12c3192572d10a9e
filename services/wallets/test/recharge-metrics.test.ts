// Card recharges still running are visible on /metrics: the Recharge workflow retries the wallet
// credit without limit once the card is charged, so an outage shows as a recharge that ages
// (alert LedgerlineRechargeStuck), not as a failure.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scrapeMetrics, type TestService } from '@ledgerline/platform';
import { T0, dbOf, openPrepaid, startWallets, uniq } from './support';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets());
});
afterAll(async () => svc?.close());

describe('open recharges on /metrics', () => {
  it('counts the recharges whose workflow has not ended and says how long the oldest has run', async () => {
    const before = await scrapeMetrics(svc);
    expect(before).toMatchObject({ ledgerline_wallets_recharges_open: 0, ledgerline_wallets_oldest_open_recharge_seconds: 0 });
    const { billingAccountId: acc, walletId } = await openPrepaid(svc);
    const ago = (minutes: number) => new Date(T0.getTime() - minutes * 60_000);
    const recharge = (status: string, createdAt: Date) =>
      dbOf(svc).query(
        `insert into recharge (id, idempotency_key, request_hash, billing_account_id, wallet_id, amount, currency, channel, method, payment_method_token, status, workflow_id, created_at)
         values ($1, $2, 'h', $3, $4, 20, 'EUR', 'APP', 'CARD', 'tok', $5, $6, $7)`,
        [uniq('rch'), uniq('key'), acc, walletId, status, uniq('wf'), createdAt],
      );
    await recharge('COMPLETED', ago(60)); // ended: not open, however old
    await recharge('STARTED', ago(20)); // the card charged, the credit still retried
    await recharge('STARTING', ago(1));
    const after = await scrapeMetrics(svc);
    expect(after.ledgerline_wallets_recharges_open).toBe(2);
    expect(after.ledgerline_wallets_oldest_open_recharge_seconds).toBe(1200);
  });
});
