// An auto top-up request follows its recharge to the end, also when the recharge was settled
// before the request knew of it.
//
// startAutoTopup makes the recharge (key = the request id) and then writes `recharge_id` on the
// request; settleRecharge finds the request by that `recharge_id`. When the recharge is settled
// first (the process stopped between the two steps and the sync job settled the recharge before the
// event came back, or the watcher was faster than the update), the request takes the recharge's
// final status when it is linked (RECHARGE_DECLINED here), instead of staying RECHARGE_STARTED for
// ever and counting against the daily/monthly limits: a declined payment takes no money, so the
// customer's next low balance asks for a top-up again.
//
// The recharge workflow is replaced by a starter whose workflow is declined at once (no Temporal).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TestService } from '@ledgerline/platform';
import { APPLY, charge, dbOf, expectInvariants, gql, openPrepaid, startWallets, topupRequestsOf } from './support';
import { recharge, type RechargeRow } from '../src/application/recharge';
import { startAutoTopup, type AutoTopupRequestedData } from '../src/application/auto-topup-recharge';
import type { RechargeOutcome, RechargeStarter } from '../src/adapters/recharge-starter';
import { EVENTS } from '@ledgerline/contracts';

let svc: TestService;
beforeAll(async () => {
  // WALLETS_TEMPORAL=off: the service's own consumer leaves auto top-up requests alone (REQUESTED).
  ({ svc } = await startWallets());
});
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

/** A card payment provider that declines every recharge, as the Recharge workflow reports it. */
const decliningStarter: RechargeStarter = {
  start: async (input) => ({ workflowId: `recharge-${input.rechargeId}` }),
  outcome: async (): Promise<RechargeOutcome> => ({ status: 'DECLINED', failure: 'PAYMENT_DECLINED' }),
  close: async () => undefined,
};


async function requestedEvent(requestId: string): Promise<AutoTopupRequestedData> {
  const [row] = await dbOf(svc).query<{ payload: string }>(`select payload from outbox where subject = $1 and payload like $2`, [EVENTS.autoTopupRequested.subject, `%${requestId}%`]);
  return JSON.parse(row!.payload).data as AutoTopupRequestedData;
}

describe('auto top-up request and its declined recharge', () => {
  it('a request whose recharge was declined before the request heard of it ends RECHARGE_DECLINED and does not count against the daily limit', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '10.00' });
    await gql(svc, `mutation($i: SetAutoTopupInput!) { setAutoTopup(input: $i) { wallet { id } } }`, {
      i: { walletId, enabled: true, threshold: '5.00', topupAmount: '20.00', paymentMethodToken: 'tok_declines', dailyLimit: '30.00' },
    });
    await gql(svc, APPLY, { i: charge(billingAccountId, { units: '6', pricePerUnit: '1.00' }) }); // 10 → 4: below 5
    const [request] = await topupRequestsOf(svc, walletId);
    expect(request).toMatchObject({ status: 'REQUESTED' });
    const event = await requestedEvent(request!.id);
    const now = new Date();

    // First delivery: the recharge is made (key = the request id) and its workflow started; the
    // process stops before the request is updated. The recharge is settled meanwhile (DECLINED).
    const declined = await new Promise<RechargeRow>((resolve, reject) => {
      recharge(dbOf(svc), decliningStarter, {
        billingAccountId: event.billingAccountId, amount: event.amount, method: 'CARD', paymentMethodToken: event.paymentMethodToken,
        channel: 'AUTO_TOPUP', idempotencyKey: event.topupRequestId, now, clock: () => now, onSettled: resolve,
      }).catch(reject);
    });
    expect(declined.status).toBe('DECLINED');

    // The event comes back (not acknowledged): the same recharge is found.
    await startAutoTopup(dbOf(svc), decliningStarter, event, now, () => now);
    await new Promise((r) => setTimeout(r, 300));
    const after = (await topupRequestsOf(svc, walletId)).find((r) => r.id === request!.id)!;
    expect.soft(after, JSON.stringify(after)).toMatchObject({ recharge_id: declined.id, status: 'RECHARGE_DECLINED' });

    // No money was taken: a second low balance today asks for a top-up again (20 of the 30 allowed).
    await gql(svc, `mutation($i: TopupBalanceInput!) { topupBalance(input: $i) { wallet { id } } }`, { i: { billingAccountId, amount: { amount: '10.00', currency: 'EUR' }, idempotencyKey: `topup-${request!.id}` } });
    await gql(svc, APPLY, { i: charge(billingAccountId, { units: '10', pricePerUnit: '1.00' }) }); // 14 → 4: below 5 again
    const second = (await topupRequestsOf(svc, walletId)).find((r) => r.id !== request!.id);
    expect(second, JSON.stringify(await topupRequestsOf(svc, walletId))).toMatchObject({ status: 'REQUESTED' });
  });
});
