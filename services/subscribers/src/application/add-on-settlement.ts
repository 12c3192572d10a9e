import { DomainError, type Money } from '@ledgerline/contracts';
import type { BillingAccount, Line } from '../persistence/entities';
import type { CatalogClient } from '../ports/catalog-client';
import type { WalletsPort } from '../ports/wallets-client';

/** What completing an order may need outside this service. */
export interface OrderEffects {
  /** Null without a wallets service (development): add-ons then grant and charge nothing there. */
  wallets: WalletsPort | null;
  catalog: CatalogClient;
}

const DAY = 86_400_000;

/**
 * Settles a purchased add-on in wallets before the order completes: a prepaid account pays from
 * its balance (refused in full when it cannot: the order fails, nothing is granted), then the
 * add-on's allowances become buckets of the line. Both calls are idempotent (charge id, grant
 * keys), so a retried order step changes nothing twice. Postpaid add-ons are billed by invoicing
 * from the one-off charge.
 */
export async function settleAddOn(
  effects: OrderEffects,
  c: { orderId: string; chargeId: string; line: Line; account: BillingAccount; offerCode: string; price: Money; startsAt: Date; endsAt: Date },
): Promise<void> {
  const wallets = effects.wallets;
  if (!wallets) return;
  if (c.account.paymentMode === 'PREPAID') {
    const paid = await wallets.chargePurchase({ chargeId: c.chargeId, billingAccountId: c.account.id, lineId: c.line.id, amount: c.price.amount, currency: c.price.currency, occurredAt: c.startsAt });
    if (paid.outcome !== 'APPLIED') {
      throw new DomainError('ADDON_PAYMENT_DENIED', `The prepaid balance does not cover ${c.offerCode} (${c.price.amount} ${c.price.currency})${paid.reason ? `: ${paid.reason}` : ''}`, { field: 'input.offerCode', retryable: false }, 'CONFLICT');
    }
  }
  const offer = await effects.catalog.offer(c.offerCode);
  for (const a of offer?.allowances ?? []) {
    const validTo = a.days ? new Date(Math.min(c.endsAt.getTime(), c.startsAt.getTime() + a.days * DAY)) : c.endsAt;
    await wallets.grantBucket({ billingAccountId: c.account.id, lineId: c.line.id, allowanceId: a.id, name: a.name ?? `${offer!.name}: ${a.id}`, unit: a.unit, quantity: a.quantity, validFrom: c.startsAt, validTo, grantKey: addOnGrantKey(c.orderId, a.id) });
  }
}

/** The key an ADD_ON order's allowance is granted under in wallets (one bucket per order and allowance). */
export const addOnGrantKey = (orderId: string, allowanceId: string): string => `addon:${orderId}:${allowanceId}`;

/**
 * Takes back in wallets what a FAILED ADD_ON's completion may have granted: every allowance of the
 * offer (as `settleAddOn` reads it from the catalog) by its grant key. A bucket granted is REVOKED
 * (what is left of it gone: the customer keeps no free allowance of an order that failed); a key no
 * grant was made under is closed, so a grant still on its way is refused. Prepaid and postpaid alike.
 * Idempotent; throws while wallets or the catalog cannot be reached (the caller retries later).
 */
export async function revokeAddOnGrants(effects: { wallets: WalletsPort; catalog: CatalogClient }, c: { orderId: string; billingAccountId: string; offerCode: string }): Promise<void> {
  const offer = await effects.catalog.offer(c.offerCode);
  for (const a of offer?.allowances ?? []) await effects.wallets.revokeGrant(addOnGrantKey(c.orderId, a.id), c.billingAccountId);
}

/**
 * Whether wallets took the ADD_ON's charge (`chargeId`), settled by closing the charge id there
 * (wallets' `closeCharge`): a charge it took is answered (APPLIED: to be refunded), one it refused
 * is answered so (nothing to give back), and one that never reached it is refused from then on, so
 * a request still in flight from a stalled runner can no longer take the money after this answer,
 * and nothing is taken only to be given back (before, the charge was sent again to find out, and a
 * charge that had never arrived was taken then refunded: the balance dipped, low-balance notices
 * and auto top-ups could fire). Throws while wallets cannot be reached (the caller retries later).
 */
export async function addOnChargeTaken(wallets: WalletsPort, c: { chargeId: string; account: BillingAccount }): Promise<boolean> {
  if (c.account.paymentMode !== 'PREPAID') return false; // postpaid: invoicing bills the one-off, wallets took nothing
  const closed = await wallets.closeCharge(c.chargeId, c.account.id);
  // `taken` too: wallets answers a one-off credit under the id APPLIED with a negative amount, money given, not taken.
  return closed.taken && closed.outcome === 'APPLIED';
}
