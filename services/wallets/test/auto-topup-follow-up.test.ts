// An auto top-up request that COMPLETED with the wallet still below the rule's threshold asks the
// next one at once. Auto top-up was triggered only by a threshold crossing: an "amount" rule whose
// amount is smaller than the gap to the threshold (threshold 25, top up by 10, balance 4) left the
// wallet at 14 after its request completed; the balance never rose over the threshold again, so no
// crossing happened and nothing more was asked: auto top-up was dead for that wallet until a manual
// recharge. A crossing while the request was pending was swallowed too (nothing is asked while one
// is pending), and its money never came.
//
// Now the completion (settleRecharge, or linkRecharge when the recharge was settled first) judges
// the unspent money again under the wallet lock: still below the threshold, it asks again within
// the rule's daily/monthly limits (LIMIT_REACHED + notice past them), at most
// MAX_REQUESTS_PER_CROSSING requests in a row (then a notice, nothing more). The follow-up's id is
// derived from the completed request's: a completion recorded twice asks once. A recharge that
// ended without money (declined, failed) asks nothing at once: the retry's backoff judges it.
//
// The card is a stub starter (no Temporal here) whose "workflow" credits the wallet through the
// service's own topupBalance under the workflow's key, as the Recharge workflow does;
// recharge-workflow.test.ts shows the same on the real workflow.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Decimal, deterministicId } from '@ledgerline/contracts';
import type { ManualClock, TestService } from '@ledgerline/platform';
import { APPLY, autoTopupRequestedEvents, balanceOf, charge, dbOf, expectInvariants, gql, openPrepaid, startWallets, topup, topupRequestsOf } from './support';
import { startAutoTopup, type AutoTopupRequestedData } from '../src/application/auto-topup-recharge';
import { recharge, settleRecharge, type RechargeRow } from '../src/application/recharge';
import { retryAutoTopups } from '../src/application/balance-events';
import { MAX_REQUESTS_PER_CROSSING } from '../src/domain/auto-topup';
import type { RechargeOutcome, RechargeStarter, RechargeWorkflowInput } from '../src/adapters/recharge-starter';

let svc: TestService;
let clock: ManualClock;
beforeAll(async () => {
  ({ svc, clock } = await startWallets());
}, 60_000);
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

/**
 * A card provider: `pays` credits the wallet (key `recharge-<id>:creditWallet`, the Recharge
 * workflow's) and ends COMPLETED; otherwise the card is declined and nothing is credited.
 */
function cardStarter(pays: boolean): RechargeStarter {
  const started = new Map<string, RechargeWorkflowInput>();
  return {
    start: async (input) => {
      started.set(`recharge-${input.rechargeId}`, input);
      return { workflowId: `recharge-${input.rechargeId}` };
    },
    outcome: async (workflowId): Promise<RechargeOutcome> => {
      if (!pays) return { status: 'DECLINED', failure: 'PAYMENT_DECLINED' };
      const input = started.get(workflowId)!;
      await topup(svc, input.billingAccountId, new Decimal(input.amount).toFixed(2), `${workflowId}:creditWallet`);
      return { status: 'COMPLETED', failure: null };
    },
    close: async () => undefined,
  };
}



async function eventOf(walletId: string, requestId: string): Promise<AutoTopupRequestedData> {
  const event = (await autoTopupRequestedEvents(svc, walletId)).find((e) => e.topupRequestId === requestId);
  expect(event, `autoTopupRequested of ${requestId}`).toBeDefined();
  return event!;
}

/** The wallet's one REQUESTED request. */
async function pendingRequest(walletId: string) {
  const pending = (await topupRequestsOf(svc, walletId)).filter((r) => r.status === 'REQUESTED');
  expect(pending, JSON.stringify(await topupRequestsOf(svc, walletId))).toHaveLength(1);
  return pending[0]!;
}

/**
 * The request's card recharge runs as the consumer runs it (startAutoTopup); a minute later on the
 * clock, so the requests it asks sort after it. Waits for the settlement and for the link.
 */
async function settle(walletId: string, requestId: string, pays = true): Promise<RechargeRow> {
  clock.advance(60_000);
  const event = await eventOf(walletId, requestId);
  const now = clock.now();
  let started: Promise<unknown> = Promise.resolve();
  const settled = await new Promise<RechargeRow>((resolve, reject) => {
    started = startAutoTopup(dbOf(svc), cardStarter(pays), event, now, () => clock.now(), resolve).catch(reject);
  });
  await started;
  return settled;
}

async function setRule(walletId: string, rule: Record<string, unknown>) {
  await gql(svc, `mutation($i: SetAutoTopupInput!) { setAutoTopup(input: $i) { wallet { id } } }`, {
    i: { walletId, enabled: true, paymentMethodToken: 'tok_pays', ...rule },
  });
}

const debit = (billingAccountId: string, units: string) => gql(svc, APPLY, { i: charge(billingAccountId, { units, occurredAt: clock.now().toISOString() }) });
const followUpId = (walletId: string, completedId: string) => deterministicId('event', 'AUTO_TOPUP_FOLLOW_UP', walletId, completedId).replace(/^evt_/, 'atu_');

describe('an auto top-up request completed below the threshold asks the next one at once', () => {
  it('an amount rule smaller than the gap: asked again after each completion until the balance is at or above the threshold; a completion recorded twice asks once', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '30.00' });
    await setRule(walletId, { threshold: '25.00', topupAmount: '10.00' });
    await debit(billingAccountId, '26'); // 30 → 4: the crossing asks 10
    const first = await pendingRequest(walletId);

    const firstRecharge = await settle(walletId, first.id); // 4 → 14: still below 25
    expect(firstRecharge.status).toBe('COMPLETED');
    expect(await balanceOf(svc, walletId)).toBe('14');
    expect((await topupRequestsOf(svc, walletId)).map((r) => [r.id, r.status, r.amount])).toEqual([
      [first.id, 'COMPLETED', '10.000000'],
      [followUpId(walletId, first.id), 'REQUESTED', '10.000000'],
    ]);
    expect(await autoTopupRequestedEvents(svc, walletId)).toHaveLength(2);

    // The completion recorded again (the sync job after the watcher, the event redelivered): nothing more.
    expect(await settleRecharge(dbOf(svc), firstRecharge.id, { status: 'COMPLETED', failure: null }, clock.now())).toBeNull();
    await startAutoTopup(dbOf(svc), cardStarter(true), await eventOf(walletId, first.id), clock.now(), () => clock.now());
    expect(await topupRequestsOf(svc, walletId)).toHaveLength(2);
    expect(await autoTopupRequestedEvents(svc, walletId)).toHaveLength(2);

    // The second one's recharge is settled before the request is linked to it (the link completes it).
    const second = await pendingRequest(walletId);
    clock.advance(60_000);
    const event = await eventOf(walletId, second.id);
    const now = clock.now();
    const early = await new Promise<RechargeRow>((resolve, reject) => {
      recharge(dbOf(svc), cardStarter(true), { billingAccountId, amount: event.amount, method: 'CARD', paymentMethodToken: event.paymentMethodToken, channel: 'AUTO_TOPUP', idempotencyKey: second.id, now, clock: () => now, onSettled: resolve }).catch(reject);
    });
    expect(early.status).toBe('COMPLETED');
    // The recharge names its request when it is made (recharge.ts, 2026-11-29): its settlement completed the request and asked the next.
    expect((await topupRequestsOf(svc, walletId)).map((r) => r.status)).toEqual(['COMPLETED', 'COMPLETED', 'REQUESTED']);
    await startAutoTopup(dbOf(svc), cardStarter(true), event, now, () => now); // 14 → 24: still below 25
    expect((await topupRequestsOf(svc, walletId)).map((r) => [r.id, r.status])).toEqual([
      [first.id, 'COMPLETED'],
      [second.id, 'COMPLETED'],
      [followUpId(walletId, second.id), 'REQUESTED'],
    ]);

    const third = await pendingRequest(walletId);
    await settle(walletId, third.id); // 24 → 34: at or above 25, nothing more
    expect(await balanceOf(svc, walletId)).toBe('34');
    expect((await topupRequestsOf(svc, walletId)).map((r) => r.status)).toEqual(['COMPLETED', 'COMPLETED', 'COMPLETED']);
    expect(await autoTopupRequestedEvents(svc, walletId)).toHaveLength(3);
  });

  it('a crossing swallowed while the request was pending: the completion still below the threshold asks again', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '22.00' });
    await setRule(walletId, { threshold: '20.00', topupAmount: '10.00' });
    await debit(billingAccountId, '4'); // 22 → 18: asks 10
    const first = await pendingRequest(walletId);
    await topup(svc, billingAccountId, '10.00'); // 28: over the threshold again before the card pays
    await debit(billingAccountId, '26'); // 28 → 2: a crossing, but 10 is on its way (nothing asked)
    expect(await topupRequestsOf(svc, walletId)).toHaveLength(1);

    await settle(walletId, first.id); // 2 → 12: still below 20
    expect((await topupRequestsOf(svc, walletId)).map((r) => [r.id, r.status])).toEqual([[first.id, 'COMPLETED'], [followUpId(walletId, first.id), 'REQUESTED']]);
    await settle(walletId, followUpId(walletId, first.id)); // 12 → 22
    expect(await balanceOf(svc, walletId)).toBe('22');
    expect(await topupRequestsOf(svc, walletId)).toHaveLength(2);
  });

  it('within the daily limit: the follow-up past it is LIMIT_REACHED with a notice, and the next local day asks again', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '30.00' });
    await setRule(walletId, { threshold: '25.00', topupAmount: '10.00', dailyLimit: '20.00' });
    await debit(billingAccountId, '26'); // 30 → 4: asks 10
    await settle(walletId, (await pendingRequest(walletId)).id); // 14: asks 10 (20 of 20 today)
    await settle(walletId, (await pendingRequest(walletId)).id); // 24: 10 more would be 30 of 20
    expect((await topupRequestsOf(svc, walletId)).map((r) => r.status)).toEqual(['COMPLETED', 'COMPLETED', 'LIMIT_REACHED']);
    expect(await autoTopupRequestedEvents(svc, walletId)).toHaveLength(2);
    const notes = await dbOf(svc).query<{ message: string }>(`select message from notification where wallet_id = $1 and kind = 'AUTO_TOPUP_LIMIT'`, [walletId]);
    expect(notes.map((n) => n.message)).toEqual(['Automatic top-up of 10.00 EUR skipped: your daily limit is reached.']);

    // The next day the jobs pass asks again (the retry of a LIMIT_REACHED request, as before).
    clock.advance(24 * 3600_000);
    expect(await retryAutoTopups(dbOf(svc), clock.now())).toBeGreaterThanOrEqual(1);
    expect((await topupRequestsOf(svc, walletId)).map((r) => r.status)).toEqual(['COMPLETED', 'COMPLETED', 'LIMIT_REACHED', 'REQUESTED']);
  });

  it(`bounded: at most MAX_REQUESTS_PER_CROSSING requests in a row, then a notice and nothing more`, async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '1.00' });
    await setRule(walletId, { threshold: '100.00', topupAmount: '5.00' });
    await debit(billingAccountId, '1'); // 1 → 0: asks 5
    for (let i = 0; i < MAX_REQUESTS_PER_CROSSING; i++) await settle(walletId, (await pendingRequest(walletId)).id);
    const requests = await topupRequestsOf(svc, walletId);
    expect(requests.map((r) => r.status)).toEqual(Array(MAX_REQUESTS_PER_CROSSING).fill('COMPLETED'));
    expect(await balanceOf(svc, walletId)).toBe(String(5 * MAX_REQUESTS_PER_CROSSING));
    const notes = await dbOf(svc).query<{ message: string }>(`select message from notification where wallet_id = $1 and kind = 'AUTO_TOPUP_STOPPED'`, [walletId]);
    expect(notes.map((n) => n.message)).toEqual([
      `Automatic top-up stopped after ${MAX_REQUESTS_PER_CROSSING} top-ups in a row: your balance is ${5 * MAX_REQUESTS_PER_CROSSING}.00 EUR, still below 100.00 EUR. Top up to keep using the service.`,
    ]);
    // The jobs pass does not take it up either (a completed request is not retried).
    await retryAutoTopups(dbOf(svc), clock.now());
    expect(await topupRequestsOf(svc, walletId)).toHaveLength(MAX_REQUESTS_PER_CROSSING);
  });

  it('a declined recharge asks nothing at once (the retry judges it after its backoff)', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '30.00' });
    await setRule(walletId, { threshold: '25.00', topupAmount: '10.00' });
    await debit(billingAccountId, '26'); // 30 → 4: asks 10
    const first = await pendingRequest(walletId);
    expect((await settle(walletId, first.id, false)).status).toBe('DECLINED');
    expect((await topupRequestsOf(svc, walletId)).map((r) => r.status)).toEqual(['RECHARGE_DECLINED']);
    expect(await balanceOf(svc, walletId)).toBe('4');
  });
});
