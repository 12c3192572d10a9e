// Credit limits from subscribers' events, and events wallets refuses.
//
// A limit in billingaccount.created / .changed with more places than the ledger's 6 (subscribers
// sent limits as typed, "2500.1234567", before it checked them on entry) is taken rounded DOWN to
// 6 places: the wallet opens with its owner recorded, a later limit replaces the one charging uses,
// and the event is acknowledged (refused, it was redelivered every second for ever: no wallet, the
// customer FORBIDDEN on their own account). An event refused with a coded error (here: a currency
// wallets does not know) is logged, counted (ledgerline_wallets_subscriber_events_dropped_total) and
// acknowledged, and the events after it (in its batch or not) are applied.
//
// Runs on a private nats-server: a poison event on the shared BILLING stream would reach every
// other wallets service running on this machine.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BILLING_STREAM, EVENTS, createCloudEvent } from '@ledgerline/contracts';
import type { TestService } from '@ledgerline/platform';
import { APPLY, charge, dbOf, eventually, gql, startWalletsOnPrivateNats, T0, uniq } from './support';

let svc: TestService;
let stop: (() => Promise<void>) | undefined;
beforeAll(async () => {
  ({ svc, stop } = await startWalletsOnPrivateNats());
}, 60_000);
afterAll(async () => stop?.());

const WALLET_OF = `query($a: ID!) { walletOf(billingAccountId: $a, currency: "EUR") { id paymentMode creditLimit { amount } } }`;

async function created(billingAccountId: string, creditLimit: string | null, customerId = uniq('cus')) {
  const data = { billingAccountId, customerId, paymentMode: 'POSTPAID', currency: 'EUR', creditLimit };
  await svc.runtime.messaging.js.publish(EVENTS.billingAccountCreated.subject, JSON.stringify(createCloudEvent({ source: 'ledgerline/subscribers', type: EVENTS.billingAccountCreated.type, subject: billingAccountId, time: T0, key: [billingAccountId], data })));
}

async function changed(billingAccountId: string, creditLimit: string | null) {
  const data = { billingAccountId, paymentMode: 'POSTPAID', currency: 'EUR', creditLimit, autopay: false, changed: ['creditLimit'] };
  await svc.runtime.messaging.js.publish(EVENTS.billingAccountChanged.subject, JSON.stringify(createCloudEvent({ source: 'ledgerline/subscribers', type: EVENTS.billingAccountChanged.type, subject: billingAccountId, time: T0, key: [billingAccountId, String(creditLimit), 'creditLimit'], data })));
}

/** The subscribers consumer's messages delivered and not acknowledged (a poison event stays here for ever). */
async function subscribersPending(): Promise<number> {
  const durable = `wallets-subscribers-${svc.schema.replace(/[^a-zA-Z0-9_-]/g, '_')}`;
  return (await svc.runtime.messaging.jsm.consumers.info(BILLING_STREAM.name, durable)).num_ack_pending;
}

describe("credit limits from subscribers' events", () => {
  it('billingaccount.created with a 7-place credit limit (as subscribers sends it) opens the wallet with that limit and is acknowledged', async () => {
    const billingAccountId = uniq('acc');
    await created(billingAccountId, '2500.1234567');
    const wallet = await eventually(async () => (await gql(svc, WALLET_OF, { a: billingAccountId })).walletOf);
    const owner = await dbOf(svc).query(`select customer_id from account_owner where billing_account_id = $1`, [billingAccountId]);
    const pending = await eventually(async () => ((await subscribersPending()) === 0 ? 'none' : null), 5_000);
    const seen = { wallet, owners: owner.length, pending: pending ?? await subscribersPending() };
    // Rounded down (half-even would give 2500.123457): a limit is only ever made stricter.
    expect(seen.wallet, JSON.stringify(seen)).toMatchObject({ paymentMode: 'POSTPAID', creditLimit: { amount: '2500.123456' } });
    expect(seen.owners, JSON.stringify(seen)).toBe(1);
    expect(seen.pending, JSON.stringify(seen)).toBe('none');
  }, 30_000);

  it('billingaccount.changed with a 7-place credit limit replaces the limit charging uses', async () => {
    const billingAccountId = uniq('acc');
    await created(billingAccountId, '100.00');
    expect(await eventually(async () => (await gql(svc, WALLET_OF, { a: billingAccountId })).walletOf?.creditLimit?.amount === '100' ? true : null)).toBe(true);
    await changed(billingAccountId, '800.1234567');
    const limit = await eventually(async () => {
      const amount = (await gql(svc, WALLET_OF, { a: billingAccountId })).walletOf.creditLimit?.amount as string | undefined;
      return amount?.startsWith('800.12') ? amount : null;
    });
    // 500 EUR of usage is within the new limit of 800.12: charging must apply it in full.
    const r = await gql(svc, APPLY, { i: charge(billingAccountId, { paymentMode: 'POSTPAID', units: '500', pricePerUnit: '1.00' }) });
    const seen = { limit: limit ?? (await gql(svc, WALLET_OF, { a: billingAccountId })).walletOf.creditLimit?.amount, charge: r.applyCharge.result };
    expect(seen.limit, JSON.stringify(seen)).toBe('800.123456');
    expect(seen.charge, JSON.stringify(seen)).toMatchObject({ outcome: 'APPLIED', units: '500' });
  }, 30_000);

  it('an event refused with a coded error is counted and acknowledged, and holds back no event after it', async () => {
    const refused = uniq('acc');
    const good = uniq('acc');
    const dropped = async () => (await svc.runtime.metrics.getSingleMetric('ledgerline_wallets_subscriber_events_dropped_total')?.get())?.values.filter((v) => v.labels.reason === 'CURRENCY_INVALID').reduce((n, v) => n + v.value, 0) ?? 0;
    const before = await dropped();
    // XXX is no currency wallets knows: openWallet refuses it (CURRENCY_INVALID) whenever it comes.
    const data = { billingAccountId: refused, customerId: uniq('cus'), paymentMode: 'POSTPAID', currency: 'XXX', creditLimit: '100' };
    await svc.runtime.messaging.js.publish(EVENTS.billingAccountCreated.subject, JSON.stringify(createCloudEvent({ source: 'ledgerline/subscribers', type: EVENTS.billingAccountCreated.type, subject: refused, time: T0, key: [refused], data })));
    await created(good, '250.00');
    const wallet = await eventually(async () => (await gql(svc, WALLET_OF, { a: good })).walletOf);
    const pending = await eventually(async () => ((await subscribersPending()) === 0 ? 'none' : null), 5_000);
    const seen = { wallet, pending: pending ?? await subscribersPending(), dropped: (await dropped()) - before, refusedWallets: (await dbOf(svc).query(`select id from wallet where billing_account_id = $1`, [refused])).length };
    expect(seen, JSON.stringify(seen)).toEqual({ wallet: expect.objectContaining({ creditLimit: { amount: '250' } }), pending: 'none', dropped: 1, refusedWallets: 0 });
  }, 30_000);
});
