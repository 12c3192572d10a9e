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
    await wallets.grantBucket({ billingAccountId: c.account.id, lineId: c.line.id, allowanceId: a.id, name: a.name ?? `${offer!.name}: ${a.id}`, unit: a.unit, quantity: a.quantity, validFrom: c.startsAt, validTo, grantKey: `addon:${c.orderId}:${a.id}` });
  }
}

/**
 * Whether wallets holds the ADD_ON's charge (`chargeId`), asked by sending it again: wallets keys a
 * charge by its id, so a charge it took answers APPLIED again without taking anything, and one it
 * refused answers DENIED. One that never reached it is decided now (taken or refused), so a request
 * still in flight from a stalled runner can no longer take the money after this answer: the key is
 * settled before the money goes back (as wallets' `closeTopupKey` does for top-ups). Throws while
 * wallets cannot be reached (the caller retries later).
 */
export async function addOnChargeTaken(wallets: WalletsPort, c: { chargeId: string; account: BillingAccount; lineId: string; price: Money; at: Date }): Promise<boolean> {
  if (c.account.paymentMode !== 'PREPAID') return false; // postpaid: invoicing bills the one-off, wallets took nothing
  const paid = await wallets.chargePurchase({ chargeId: c.chargeId, billingAccountId: c.account.id, lineId: c.lineId, amount: c.price.amount, currency: c.price.currency, occurredAt: c.at });
  return paid.outcome === 'APPLIED';
}
