import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import { startHarness, type Harness } from './support';
import type { BucketGrant, PurchaseCharge, WalletsPort } from '../src/ports/wallets-client';

/**
 * The UPSELL_FAILED notice tells the customer an accepted offer's add-on was not added. It
 * always ended "You can accept the offer again in the app before <expiresAt>", also when the
 * order failed after the offer had expired (accepted in its last minutes, the order settled
 * later): the customer was invited to do something no longer possible, before a time already
 * past (accepting then is refused OFFER_NOT_OPEN). Now such a notice says the offer has ended.
 */
class Wallets implements WalletsPort {
  /** Run while the charge is asked for (the clock moving on while the order is being settled). */
  onCharge: () => void = () => {};
  async chargePurchase(_c: PurchaseCharge) {
    this.onCharge();
    return { outcome: 'DENIED' as const, reason: 'WALLET_INSUFFICIENT_BALANCE' };
  }
  async grantBucket(_g: BucketGrant) {}
  async closeCharge() {
    return { taken: false, outcome: null };
  }
  async revokeGrant() {}
  async allowancePeriod() {
    return null;
  }
}

let h: Harness;
const wallets = new Wallets();
let n = 0;

const OFFER = `offer { id state reason expiresAt }`;
const PRESENT = `mutation($i: PresentUpsellOfferInput!) { presentUpsellOffer(input: $i) { ${OFFER} } }`;
const RESPOND = `mutation($i: RespondToUpsellOfferInput!) { respondToUpsellOffer(input: $i) { ${OFFER} order { id status failureCode } } }`;

async function prepaidLine(): Promise<{ lineId: string; owner: Caller }> {
  n += 1;
  const c = await h.ok(`mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`, { i: { name: `Late Failure ${n}`, kind: 'INDIVIDUAL' } });
  const customerId = c.createCustomer.customer.id as string;
  const a = await h.ok(`mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }`, { i: { customerId, paymentMode: 'PREPAID', currency: 'EUR' } });
  const l = await h.ok(`mutation($i: AddLineInput!) { addLine(input: $i) { line { id } } }`, { i: { billingAccountId: a.openBillingAccount.billingAccount.id, msisdn: `+4917011277${String(n).padStart(2, '0')}`, planCode: 'PREPAID_PAYG' } });
  return { lineId: l.addLine.line.id, owner: { role: 'CUSTOMER', subject: 'owner', customerId, scopes: [] } };
}

const failedNotices = async (lineId: string) => h.rows<{ subject: string; content: string }>(`select subject, content from communication_message where line_id = $1 and template = 'UPSELL_FAILED'`, [lineId]);

beforeAll(async () => {
  h = await startHarness({ now: '2026-11-20T09:00:00Z', wallets });
});
afterAll(() => h?.close());

describe('UPSELL_FAILED for an order that fails after its offer expired', () => {
  it('says the offer has ended instead of inviting an accept before a time already past', async () => {
    const { lineId, owner } = await prepaidLine();
    const offer = (await h.ok(PRESENT, { i: { lineId, offerCode: 'DATA_BOOST_5GB', period: '2026-11-20', rule: 'offer-data-boost-at-80' } })).presentUpsellOffer.offer;
    expect(offer.expiresAt).toBe('2026-11-23T09:00:00.000Z');

    // Accepted a minute before it ends; the order fails (balance too low) two minutes after it ended.
    h.clock.set('2026-11-23T08:59:00Z');
    wallets.onCharge = () => h.clock.set('2026-11-23T09:02:00Z');
    const answer = (await h.ok(RESPOND, { i: { offerId: offer.id, accept: true } }, owner)).respondToUpsellOffer;
    wallets.onCharge = () => {};
    expect(answer.order).toMatchObject({ status: 'FAILED', failureCode: 'ADDON_PAYMENT_DENIED' });

    const notices = await failedNotices(lineId);
    expect(notices).toHaveLength(1);
    expect(notices[0]).toEqual({ subject: 'Data Boost 5 GB was not added', content: 'We could not add Data Boost 5 GB to your line, so you do not have it. The offer ended at 2026-11-23 09:00 UTC.' });
    // Indeed no longer possible:
    const again = await h.subscribers.request<any>(RESPOND, { i: { offerId: offer.id, accept: true } }, owner);
    expect(again.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'OFFER_NOT_OPEN' });
  });

  it('still invites a new accept when the order fails while the offer is open', async () => {
    h.clock.set('2026-11-20T09:00:00Z');
    const { lineId, owner } = await prepaidLine();
    const offer = (await h.ok(PRESENT, { i: { lineId, offerCode: 'DATA_BOOST_5GB', period: '2026-11-20', rule: 'offer-data-boost-at-80' } })).presentUpsellOffer.offer;
    h.clock.set('2026-11-22T09:00:00Z');
    expect((await h.ok(RESPOND, { i: { offerId: offer.id, accept: true } }, owner)).respondToUpsellOffer.order.status).toBe('FAILED');
    expect((await failedNotices(lineId)).map((m) => m.content)).toEqual(['We could not add Data Boost 5 GB to your line, so you do not have it yet. You can accept the offer again in the app before 2026-11-23 09:00 UTC.']);
  });
});
