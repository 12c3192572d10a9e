// An auto top-up whose card recharge ended REFUND_FAILED (captured, credit refused, refund refused for good) leaves its
// request RECHARGE_REFUND_FAILED: money taken, so it counts toward the rule's daily/monthly limits. Once staff resolve
// the recharge (resolveRefundFailedRecharge) the request must follow what was decided, as it follows a recharge the
// workflow settles. Before, it stayed RECHARGE_REFUND_FAILED: after REFUNDED_OUTSIDE (the money given back) it still
// counted as money taken, so the next crossing within the day was LIMIT_REACHED; after CREDITED (the top-up happened,
// late) with the wallet still below the threshold, nothing was asked, as after a request COMPLETED it would be. Now
// REFUNDED_OUTSIDE makes the request RECHARGE_REFUNDED (not counted, not retried, as a refunded capture) and CREDITED
// makes it COMPLETED (counted; a follow-up asked when the credit left the wallet below the threshold), both in the
// resolution's transaction, with the reason saying so.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { deterministicId, type Caller } from '@ledgerline/contracts';
import type { ManualClock, TestService } from '@ledgerline/platform';
import { APPLY, autoTopupRequestedEvents, balanceOf, charge, expectInvariants, dbOf, gql, openPrepaid, startWallets, topup, topupRequestsOf, uniq } from './support';
import { startAutoTopup, type AutoTopupRequestedData } from '../src/application/auto-topup-recharge';
import type { RechargeRow } from '../src/application/recharge';
import { outcomeOfFailure, type RechargeOutcome, type RechargeStarter } from '../src/adapters/recharge-starter';

let svc: TestService;
let clock: ManualClock;
beforeAll(async () => {
  ({ svc, clock } = await startWallets());
}, 60_000);
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const RESOLVE = `mutation($i: ResolveRefundFailedRechargeInput!) { resolveRefundFailedRecharge(input: $i) { recharge { id status } } }`;
const agent = (): Caller => ({ role: 'AGENT', subject: uniq('agent'), scopes: [] });

/** A card whose capture is taken, whose credit is refused and whose refund the provider refuses for good. */
const refundFails: RechargeStarter = {
  start: async (input) => ({ workflowId: `recharge-${input.rechargeId}` }),
  outcome: async (): Promise<RechargeOutcome> => ({ ...outcomeOfFailure('RECHARGE_REFUND_FAILED'), captureId: 'cap_1' }),
  close: async () => undefined,
};

async function setRule(walletId: string, rule: Record<string, unknown>) {
  await gql(svc, `mutation($i: SetAutoTopupInput!) { setAutoTopup(input: $i) { wallet { id } } }`, {
    i: { walletId, enabled: true, paymentMethodToken: 'tok_pays', ...rule },
  });
}

const debit = (billingAccountId: string, units: string) => gql(svc, APPLY, { i: charge(billingAccountId, { units, occurredAt: clock.now().toISOString() }) });
const followUpId = (walletId: string, completedId: string) => deterministicId('event', 'AUTO_TOPUP_FOLLOW_UP', walletId, completedId).replace(/^evt_/, 'atu_');

/** The wallet's one REQUESTED request, its card recharge run as the consumer runs it (startAutoTopup): REFUND_FAILED. */
async function requestRefundFails(walletId: string) {
  const pending = (await topupRequestsOf(svc, walletId)).filter((r) => r.status === 'REQUESTED');
  expect(pending, JSON.stringify(await topupRequestsOf(svc, walletId))).toHaveLength(1);
  const request = pending[0]!;
  clock.advance(60_000);
  const event = (await autoTopupRequestedEvents(svc, walletId)).find((e) => e.topupRequestId === request.id) as AutoTopupRequestedData;
  const now = clock.now();
  let started: Promise<unknown> = Promise.resolve();
  const settled = await new Promise<RechargeRow>((resolve, reject) => {
    started = startAutoTopup(dbOf(svc), refundFails, event, now, () => clock.now(), resolve).catch(reject);
  });
  await started;
  expect(settled.status).toBe('REFUND_FAILED');
  expect((await topupRequestsOf(svc, walletId)).find((r) => r.id === request.id)).toMatchObject({ status: 'RECHARGE_REFUND_FAILED', recharge_id: settled.id });
  return { requestId: request.id, rechargeId: settled.id };
}

async function resolve(rechargeId: string, resolution: 'REFUNDED_OUTSIDE' | 'CREDITED', idempotencyKey = uniq('resolve')) {
  clock.advance(60_000);
  const res = await svc.request<any>(RESOLVE, { i: { rechargeId, resolution, note: 'ticket 4711', idempotencyKey } }, agent());
  expect(res.errors).toBeUndefined();
  expect(res.data.resolveRefundFailedRecharge.recharge).toEqual({ id: rechargeId, status: 'RESOLVED' });
}

describe("a REFUND_FAILED auto top-up's request once staff resolve its recharge", () => {
  it('REFUNDED_OUTSIDE: the request is RECHARGE_REFUNDED and no longer counts toward the daily limit', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '30.00' });
    await setRule(walletId, { threshold: '25.00', topupAmount: '10.00', dailyLimit: '10.00' });
    await debit(billingAccountId, '26'); // 30 → 4: the crossing asks 10 (the whole day's limit)
    const { requestId, rechargeId } = await requestRefundFails(walletId);

    await resolve(rechargeId, 'REFUNDED_OUTSIDE');
    expect((await topupRequestsOf(svc, walletId)).map((r) => [r.id, r.status, r.reason])).toEqual([
      [requestId, 'RECHARGE_REFUNDED', 'RECHARGE_REFUND_FAILED, resolved REFUNDED_OUTSIDE: the money was given back'],
    ]);
    // The same day, a new crossing: the 10 were given back, so the day's limit has room for 10.
    await topup(svc, billingAccountId, '26.00'); // 4 → 30
    clock.advance(60_000);
    await debit(billingAccountId, '26'); // 30 → 4
    expect((await topupRequestsOf(svc, walletId)).map((r) => [r.status, r.amount])).toEqual([
      ['RECHARGE_REFUNDED', '10.000000'],
      ['REQUESTED', '10.000000'],
    ]);
  });

  it('CREDITED: the request is COMPLETED, counted, and the wallet still below the threshold asks the next one', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '30.00' });
    await setRule(walletId, { threshold: '25.00', topupAmount: '10.00' });
    await debit(billingAccountId, '26'); // 30 → 4: asks 10
    const { requestId, rechargeId } = await requestRefundFails(walletId);

    const key = uniq('resolve');
    await resolve(rechargeId, 'CREDITED', key); // 4 → 14: still below 25
    expect(await balanceOf(svc, walletId)).toBe('14');
    const after = [
      [requestId, 'COMPLETED', 'RECHARGE_REFUND_FAILED, resolved CREDITED: the wallet was credited'],
      [followUpId(walletId, requestId), 'REQUESTED', null],
    ];
    expect((await topupRequestsOf(svc, walletId)).map((r) => [r.id, r.status, r.reason])).toEqual(after);
    // Staff's retry under the key: the same answer, nothing more asked.
    const again = await svc.request<any>(RESOLVE, { i: { rechargeId, resolution: 'CREDITED', note: 'ticket 4711', idempotencyKey: key } }, agent());
    expect(again.errors).toBeUndefined();
    expect((await topupRequestsOf(svc, walletId)).map((r) => [r.id, r.status, r.reason])).toEqual(after);
    expect(await autoTopupRequestedEvents(svc, walletId)).toHaveLength(2);
  });

  it('CREDITED with the wallet at or above the threshold after the credit: COMPLETED, nothing more asked', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '30.00' });
    await setRule(walletId, { threshold: '25.00', topupAmount: '30.00' });
    await debit(billingAccountId, '26'); // 30 → 4: asks 30
    const { requestId, rechargeId } = await requestRefundFails(walletId);
    await resolve(rechargeId, 'CREDITED'); // 4 → 34
    expect(await balanceOf(svc, walletId)).toBe('34');
    expect((await topupRequestsOf(svc, walletId)).map((r) => [r.id, r.status])).toEqual([[requestId, 'COMPLETED']]);
  });
});
