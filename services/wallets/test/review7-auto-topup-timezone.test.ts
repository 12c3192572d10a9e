// Review 7: an auto top-up's daily limit is a day of the CUSTOMER (the billing account's time
// zone, which subscribers sends in billingaccount.created), not a UTC day.
//
// A customer in Tokyo sets "top up 20, at most 20 a day". 01:00 and 10:00 JST on 26 November are
// the same day for them, but 2026-11-25T16:00Z and 2026-11-26T01:00Z are two UTC days: wallets
// (startOfUtcDay in domain/auto-topup.ts) asks the card for 20 twice in the customer's one day.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS, createCloudEvent } from '@ledgerline/contracts';
import type { ManualClock, TestService } from '@ledgerline/platform';
import { APPLY, T0, charge, dbOf, expectInvariants, gql, startWallets, topup, uniq } from './support';

let svc: TestService;
let clock: ManualClock;
beforeAll(async () => {
  ({ svc, clock } = await startWallets());
}, 60_000);
afterAll(async () => {
  await svc?.close();
});

async function accountIn(timezone: string): Promise<{ billingAccountId: string; walletId: string }> {
  const billingAccountId = uniq('acc');
  const data = { billingAccountId, customerId: uniq('cus'), parentAccountId: null, paymentMode: 'PREPAID', currency: 'EUR', billCycleDay: 1, paymentTermsDays: 14, timezone, creditLimit: null, autopay: false };
  await svc.runtime.messaging.js.publish(EVENTS.billingAccountCreated.subject, JSON.stringify(createCloudEvent({ source: 'ledgerline/subscribers', type: EVENTS.billingAccountCreated.type, subject: billingAccountId, time: T0, key: [billingAccountId], data })));
  let walletId: string | undefined;
  for (let i = 0; i < 100 && !walletId; i++) {
    walletId = (await gql(svc, `query($a: ID!) { walletOf(billingAccountId: $a, currency: "EUR") { id } }`, { a: billingAccountId })).walletOf?.id;
    if (!walletId) await new Promise((r) => setTimeout(r, 100));
  }
  expect(walletId).toBeDefined();
  return { billingAccountId, walletId: walletId! };
}

describe('auto top-up limits per day of the account', () => {
  it('two top-ups in one Tokyo day (across UTC midnight) are held to a daily limit of one', async () => {
    const { billingAccountId, walletId } = await accountIn('Asia/Tokyo');
    await topup(svc, billingAccountId, '30.00');
    await gql(svc, `mutation($i: SetAutoTopupInput!) { setAutoTopup(input: $i) { wallet { id } } }`, {
      i: { walletId, enabled: true, threshold: '10.00', topupAmount: '20.00', paymentMethodToken: 'tok_visa', dailyLimit: '20.00' },
    });
    clock.set('2026-11-25T16:00:00Z'); // 26 Nov 01:00 in Tokyo
    await gql(svc, APPLY, { i: charge(billingAccountId, { units: '25', occurredAt: clock.now().toISOString() }) }); // 30 → 5: below 10
    await topup(svc, billingAccountId, '25.00'); // back to 30 (as the card top-up would)
    await dbOf(svc).query(`update topup_request set status = 'COMPLETED' where wallet_id = $1`, [walletId]); // its request got its money
    clock.set('2026-11-26T01:00:00Z'); // 26 Nov 10:00 in Tokyo: the same day for the customer
    await gql(svc, APPLY, { i: charge(billingAccountId, { units: '25', occurredAt: clock.now().toISOString() }) }); // 30 → 5 again
    const requests = await dbOf(svc).query<{ amount: string; status: string; requested_at: Date }>(`select amount::text, status, requested_at from topup_request where wallet_id = $1 order by requested_at`, [walletId]);
    // The customer's card may be asked for 20 on 26 November (Tokyo), not 40.
    expect(requests.map((r) => [r.amount, r.status])).toEqual([['20.000000', 'COMPLETED'], ['20.000000', 'LIMIT_REACHED']]);
    await expectInvariants(svc);
  }, 60_000);
});
