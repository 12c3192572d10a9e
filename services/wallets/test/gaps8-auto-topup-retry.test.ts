// Gaps 8: an auto top-up asks again. It used to trigger only when a movement took the balance
// across the threshold: after a request ended LIMIT_REACHED or its card recharge was declined, the
// balance stayed below the threshold and nothing ever asked again (not the next day, when the daily
// limit had reset; not after the customer fixed the card), and the prepaid customer ran dry.
//
// Now: a debit while still below the threshold, or the jobs pass (for a wallet nobody charges any
// more: a balance at 0 refuses every charge), asks again when no request is pending and what
// stopped the last one is over: its limit has reset (a new local day/month of the account), or its
// recharge was declined/failed at least the backoff ago and fewer than the day's cap were declined.
// Once per trigger: the retry's id is derived from the request it retries.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ManualClock, TestService } from '@ledgerline/platform';
import { APPLY, autoTopupRequestedEvents, charge, dbOf, expectInvariants, gql, openPrepaid, startWallets, topup, topupRequestsOf } from './support';
import { runWalletJobs } from '../src/jobs/jobs';
import { startAutoTopup, type AutoTopupRequestedData } from '../src/application/auto-topup-recharge';
import type { RechargeOutcome, RechargeStarter } from '../src/adapters/recharge-starter';
import type { RechargeRow } from '../src/application/recharge';

let svc: TestService;
let clock: ManualClock;
beforeAll(async () => {
  ({ svc, clock } = await startWallets({ WALLETS_AUTO_TOPUP_RETRY_BACKOFF_MS: '3600000', WALLETS_AUTO_TOPUP_RETRY_MAX_PER_DAY: '2' }));
}, 60_000);
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const decliningStarter: RechargeStarter = {
  start: async (input) => ({ workflowId: `recharge-${input.rechargeId}` }),
  outcome: async (): Promise<RechargeOutcome> => ({ status: 'DECLINED', failure: 'PAYMENT_DECLINED' }),
  close: async () => undefined,
};



async function setRule(walletId: string, extra: Record<string, unknown> = {}) {
  await gql(svc, `mutation($i: SetAutoTopupInput!) { setAutoTopup(input: $i) { wallet { id } } }`, {
    i: { walletId, enabled: true, threshold: '10.00', topupAmount: '20.00', paymentMethodToken: 'tok_visa', ...extra },
  });
}

const at = (iso: string) => {
  clock.set(iso);
  return clock.now();
};
const debit = (billingAccountId: string, units: string) => gql(svc, APPLY, { i: charge(billingAccountId, { units, occurredAt: clock.now().toISOString() }) });

/**
 * Declines the request's card recharge, settled at the clock's time. Waits for the settlement and
 * for startAutoTopup itself: a recharge settled before the request was linked to it is written on
 * the request by that link (linkRecharge), after the settlement.
 */
async function decline(event: AutoTopupRequestedData): Promise<void> {
  const now = clock.now();
  let started: Promise<unknown> = Promise.resolve();
  await new Promise<RechargeRow>((resolve, reject) => {
    started = startAutoTopup(dbOf(svc), decliningStarter, event, now, () => now, resolve).catch(reject);
  });
  await started;
}

describe('auto top-up asks again', () => {
  it('after a daily LIMIT_REACHED: the next debit of the next day asks, once', async () => {
    at('2026-12-01T09:00:00Z');
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '30.00' });
    await setRule(walletId, { dailyLimit: '20.00' });
    await debit(billingAccountId, '25'); // 30 → 5: REQUESTED
    const [first] = await topupRequestsOf(svc, walletId);
    expect(first).toMatchObject({ status: 'REQUESTED' });
    // The card paid it (as the recharge would), and the customer spends it again the same day.
    await dbOf(svc).query(`update topup_request set status = 'COMPLETED' where id = $1`, [first!.id]);
    await topup(svc, billingAccountId, '20.00'); // 25
    at('2026-12-01T09:10:00Z');
    await debit(billingAccountId, '20'); // 25 → 5: LIMIT_REACHED
    expect((await topupRequestsOf(svc, walletId)).map((r) => r.status)).toEqual(['COMPLETED', 'LIMIT_REACHED']);

    await debit(billingAccountId, '1'); // same day, still below, limit not reset: nothing
    expect(await topupRequestsOf(svc, walletId)).toHaveLength(2);

    at('2026-12-02T08:00:00Z'); // the next day (UTC: the account has no zone)
    await debit(billingAccountId, '1'); // 4 → 3: asks again
    await debit(billingAccountId, '1'); // 3 → 2: that request is pending, nothing more
    await runWalletJobs(dbOf(svc), clock.now()); // nor the job
    const requests = await topupRequestsOf(svc, walletId);
    expect(requests.map((r) => r.status)).toEqual(['COMPLETED', 'LIMIT_REACHED', 'REQUESTED']);
    const events = await autoTopupRequestedEvents(svc, walletId);
    expect(events.map((e) => e.topupRequestId).sort()).toEqual([first!.id, requests[2]!.id].sort());
  }, 60_000);

  it('a wallet nobody charges (balance used up) is asked for by the jobs pass the next day, once', async () => {
    at('2026-12-03T09:00:00Z');
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '30.00' });
    await setRule(walletId, { dailyLimit: '20.00' });
    await debit(billingAccountId, '25'); // 5: REQUESTED
    const [first] = await topupRequestsOf(svc, walletId);
    await dbOf(svc).query(`update topup_request set status = 'COMPLETED' where id = $1`, [first!.id]);
    await topup(svc, billingAccountId, '20.00'); // 25
    at('2026-12-03T09:10:00Z');
    await debit(billingAccountId, '25'); // 0: LIMIT_REACHED, and charges are refused from now on
    await runWalletJobs(dbOf(svc), clock.now()); // the same day: the limit holds
    expect((await topupRequestsOf(svc, walletId)).map((r) => r.status)).toEqual(['COMPLETED', 'LIMIT_REACHED']);

    at('2026-12-04T00:30:00Z');
    await Promise.all([runWalletJobs(dbOf(svc), clock.now()), runWalletJobs(dbOf(svc), clock.now())]); // two replicas
    await runWalletJobs(dbOf(svc), clock.now());
    const requests = await topupRequestsOf(svc, walletId);
    expect(requests.map((r) => [r.status, r.amount])).toEqual([['COMPLETED', '20.000000'], ['LIMIT_REACHED', '20.000000'], ['REQUESTED', '20.000000']]);
    expect(await autoTopupRequestedEvents(svc, walletId)).toHaveLength(2);
  }, 60_000);

  it('after a declined card: asks again after the backoff, at most the day\'s cap of declines', async () => {
    at('2026-12-05T09:00:00Z');
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '30.00' });
    await setRule(walletId);
    await debit(billingAccountId, '25'); // 5: REQUESTED
    const declineLast = async () => {
      const events = await autoTopupRequestedEvents(svc, walletId);
      const pending = (await topupRequestsOf(svc, walletId)).find((r) => r.status === 'REQUESTED')!;
      await decline(events.find((e) => e.topupRequestId === pending.id)!);
    };
    await declineLast();
    expect((await topupRequestsOf(svc, walletId)).map((r) => r.status)).toEqual(['RECHARGE_DECLINED']);

    at('2026-12-05T09:30:00Z'); // within the backoff: neither a debit nor the job asks
    await debit(billingAccountId, '1');
    await runWalletJobs(dbOf(svc), clock.now());
    expect(await topupRequestsOf(svc, walletId)).toHaveLength(1);

    at('2026-12-05T10:05:00Z'); // past it: the job asks again, once
    await runWalletJobs(dbOf(svc), clock.now());
    await debit(billingAccountId, '1');
    expect((await topupRequestsOf(svc, walletId)).map((r) => r.status)).toEqual(['RECHARGE_DECLINED', 'REQUESTED']);
    await declineLast(); // second decline today: the cap

    at('2026-12-05T12:00:00Z');
    await runWalletJobs(dbOf(svc), clock.now());
    await debit(billingAccountId, '1');
    expect((await topupRequestsOf(svc, walletId)).map((r) => r.status)).toEqual(['RECHARGE_DECLINED', 'RECHARGE_DECLINED']);

    at('2026-12-06T09:00:00Z'); // a new day: the card is tried again (the customer may have fixed it)
    await runWalletJobs(dbOf(svc), clock.now());
    expect((await topupRequestsOf(svc, walletId)).map((r) => r.status)).toEqual(['RECHARGE_DECLINED', 'RECHARGE_DECLINED', 'REQUESTED']);
  }, 60_000);
});
