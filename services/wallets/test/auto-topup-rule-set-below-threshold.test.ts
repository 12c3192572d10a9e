// An auto top-up rule set while the wallet is already below its threshold. A request was asked
// only when a movement took the unspent money (balance + held) across the threshold, or (the retry)
// after an earlier request ended without money: a customer at 5.00 who set "below 10.00, top up
// 20.00" got nothing until the balance went back above 10.00 and fell again, which a used-up
// prepaid balance never does by itself.
//
// Now setting (or changing) the rule asks at once when the unspent money is below its threshold,
// within its daily and monthly limits, and once: while a request is pending nothing asks again
// (setting the same rule twice asks once), and an earlier request that ended without money is left
// to the retry's rules (backoff, the day's cap, a limit still reached).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '@ledgerline/contracts';
import type { ManualClock, TestService } from '@ledgerline/platform';
import { APPLY, charge, dbOf, expectInvariants, gql, openPrepaid, startWallets, uniq } from './support';

let svc: TestService;
let clock: ManualClock;
beforeAll(async () => {
  ({ svc, clock } = await startWallets());
}, 60_000);
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const SET = `mutation($i: SetAutoTopupInput!) { setAutoTopup(input: $i) { wallet { id } } }`;
async function setRule(walletId: string, extra: Record<string, unknown> = {}) {
  await gql(svc, SET, { i: { walletId, enabled: true, threshold: '10.00', topupAmount: '20.00', paymentMethodToken: 'tok_visa', ...extra } });
}

async function requestsOf(walletId: string) {
  return dbOf(svc).query<{ status: string; amount: string; reason: string | null }>(`select status, amount::text, reason from topup_request where wallet_id = $1 order by requested_at, id`, [walletId]);
}
async function requestedEvents(walletId: string) {
  const rows = await dbOf(svc).query<{ payload: string }>(`select payload from outbox where subject = $1 and payload like $2`, [EVENTS.autoTopupRequested.subject, `%${walletId}%`]);
  return rows.map((r) => JSON.parse(r.payload).data as { amount: { amount: string }; paymentMethodToken: string });
}

describe('an auto top-up rule set while the wallet is below its threshold', () => {
  it('asks once at once; setting it again, or changing it while that request is pending, asks nothing more', async () => {
    clock.set('2026-12-01T09:00:00Z');
    const { walletId } = await openPrepaid(svc, { balance: '5.00' });
    await setRule(walletId);
    expect(await requestsOf(walletId)).toEqual([{ status: 'REQUESTED', amount: '20.000000', reason: null }]);
    expect(await requestedEvents(walletId)).toMatchObject([{ amount: { amount: '20.000000' }, paymentMethodToken: 'tok_visa' }]);

    await setRule(walletId);
    await Promise.all([setRule(walletId), setRule(walletId)]);
    await setRule(walletId, { topupAmount: '25.00' });
    expect(await requestsOf(walletId)).toHaveLength(1);
    expect(await requestedEvents(walletId)).toHaveLength(1);
  });

  it('a wallet at or above the threshold asks nothing; the next crossing does', async () => {
    clock.set('2026-12-01T09:00:00Z');
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '10.00' });
    await setRule(walletId);
    expect(await requestsOf(walletId)).toEqual([]);
    await gql(svc, APPLY, { i: charge(billingAccountId, { units: '1', occurredAt: clock.now().toISOString() }) }); // 10 → 9
    expect(await requestsOf(walletId)).toEqual([{ status: 'REQUESTED', amount: '20.000000', reason: null }]);
  });

  it('judges the unspent money (balance + held), as a crossing does: a reservation does not make it ask', async () => {
    clock.set('2026-12-01T09:00:00Z');
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '15.00' });
    const held = await gql(svc, `mutation($i: ReserveBalanceInput!) { reserveBalance(input: $i) { resultCode } }`, {
      i: { requestId: uniq('rq'), sessionId: uniq('s'), billingAccountId, currency: 'EUR', usageType: 'DATA', unit: 'MB', requestedUnits: '10', pricePerUnit: '1.00', allowanceIds: [] },
    });
    expect(held.reserveBalance.resultCode).toBe('SUCCESS'); // cash 5, held 10: 15 unspent
    await setRule(walletId);
    expect(await requestsOf(walletId)).toEqual([]);
  });

  it('up to a target: asks for what reaches it; a disabled rule asks nothing', async () => {
    clock.set('2026-12-01T09:00:00Z');
    const { walletId } = await openPrepaid(svc, { balance: '4.50' });
    await setRule(walletId, { enabled: false });
    expect(await requestsOf(walletId)).toEqual([]);
    await setRule(walletId, { topupAmount: null, targetBalance: '30.00' });
    expect(await requestsOf(walletId)).toEqual([{ status: 'REQUESTED', amount: '25.500000', reason: null }]);
  });

  it("respects the rule's limits: an earlier request today counts, a limit reached is told once and not asked again the same day", async () => {
    clock.set('2026-12-01T09:00:00Z');
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '30.00' });
    await setRule(walletId, { dailyLimit: '30.00' });
    await gql(svc, APPLY, { i: charge(billingAccountId, { units: '25', occurredAt: clock.now().toISOString() }) }); // 30 → 5: asks 20
    const [first] = await dbOf(svc).query<{ id: string }>(`select id from topup_request where wallet_id = $1`, [walletId]);
    // Its card recharge completed (its money is not credited here: the balance stays at 5).
    await dbOf(svc).query(`update topup_request set status = 'COMPLETED' where id = $1`, [first!.id]);

    clock.set('2026-12-01T10:00:00Z');
    await setRule(walletId, { dailyLimit: '30.00', paymentMethodToken: 'tok_mastercard' }); // 20 + 20 > 30
    expect(await requestsOf(walletId)).toEqual([
      { status: 'COMPLETED', amount: '20.000000', reason: null },
      { status: 'LIMIT_REACHED', amount: '20.000000', reason: 'DAILY_LIMIT_REACHED' },
    ]);
    const notes = await dbOf(svc).query<{ message: string }>(`select message from notification where wallet_id = $1 and kind = 'AUTO_TOPUP_LIMIT'`, [walletId]);
    expect(notes).toHaveLength(1);
    await setRule(walletId, { dailyLimit: '30.00', paymentMethodToken: 'tok_mastercard' });
    expect(await requestsOf(walletId)).toHaveLength(2);
    expect(await requestedEvents(walletId)).toHaveLength(1);

    // The limit raised: asked now (the retry of the limited request).
    clock.set('2026-12-01T10:05:00Z');
    await setRule(walletId, { dailyLimit: '40.00', paymentMethodToken: 'tok_mastercard' });
    expect((await requestsOf(walletId)).map((r) => r.status)).toEqual(['COMPLETED', 'LIMIT_REACHED', 'REQUESTED']);
    expect(await requestedEvents(walletId)).toHaveLength(2);
  });

  it('a postpaid wallet asks nothing', async () => {
    clock.set('2026-12-01T09:00:00Z');
    const { walletId } = await openPrepaid(svc, { paymentMode: 'POSTPAID', creditLimit: '100.00' });
    await setRule(walletId);
    expect(await requestsOf(walletId)).toEqual([]);
  });
});
