// A threshold crossing while an auto top-up request is still waiting for its money (its card
// recharge not settled yet) asked the card a second time: decideTopup judged the crossing alone,
// though the retry and the rule-set paths already stopped while a request is pending ("it brings the
// money"). It happens when some other credit (a top-up, a voucher, a refund) lifts the balance over
// the threshold before the card recharge lands and a charge takes it below again: two card payments
// for one low balance; with an "up to target" rule both topped up to the target (5 → 195 for a
// target of 100). Now a crossing asks only when no request is pending; once the pending one has
// ended, the next crossing asks as before.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ManualClock, TestService } from '@ledgerline/platform';
import { APPLY, autoTopupRequestedEvents, charge, dbOf, expectInvariants, gql, openPrepaid, startWallets, topup, topupRequestsOf } from './support';

let svc: TestService;
let clock: ManualClock;
beforeAll(async () => {
  ({ svc, clock } = await startWallets());
}, 60_000);
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));



const debit = (billingAccountId: string, units: string) => gql(svc, APPLY, { i: charge(billingAccountId, { units, occurredAt: clock.now().toISOString() }) });

describe('auto top-up while a request is pending', () => {
  it('a second crossing before the first request got its money asks nothing more; after it ended the next crossing asks', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '20.00' });
    await gql(svc, `mutation($i: SetAutoTopupInput!) { setAutoTopup(input: $i) { wallet { id } } }`, {
      i: { walletId, enabled: true, threshold: '10.00', targetBalance: '100.00', paymentMethodToken: 'tok_visa' },
    });
    await debit(billingAccountId, '15'); // 20 → 5: asks 95 (up to 100)
    expect((await topupRequestsOf(svc, walletId)).map((r) => [r.status, r.amount])).toEqual([['REQUESTED', '95.000000']]);

    // Another credit lands before the card recharge does, and a charge takes the balance below again.
    await topup(svc, billingAccountId, '10.00'); // 15
    await debit(billingAccountId, '7'); // 15 → 8: a crossing, but 95 is on its way
    expect((await topupRequestsOf(svc, walletId)).map((r) => r.status)).toEqual(['REQUESTED']);
    expect(await autoTopupRequestedEvents(svc, walletId)).toHaveLength(1);

    // The first request got its money: the next crossing asks again.
    const [first] = await topupRequestsOf(svc, walletId);
    await dbOf(svc).query(`update topup_request set status = 'COMPLETED' where id = $1`, [first!.id]);
    await topup(svc, billingAccountId, '95.00'); // 103 (as the recharge's credit would)
    // A minute later: the requests are listed by requested_at (the same instant left their order to their ids).
    clock.advance(60_000);
    await debit(billingAccountId, '100'); // 103 → 3: asks 97
    expect((await topupRequestsOf(svc, walletId)).map((r) => [r.status, r.amount])).toEqual([['COMPLETED', '95.000000'], ['REQUESTED', '97.000000']]);
    expect(await autoTopupRequestedEvents(svc, walletId)).toHaveLength(2);
  });
});
