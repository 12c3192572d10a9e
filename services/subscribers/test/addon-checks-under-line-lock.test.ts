// addAddOn checked the line (ACTIVE) and its subscription (the add-on not already valid) before it
// took the line's lock, and never again under it: the lock (`assertNoOpenOrder`) only refused
// another order still open. A request that read the line, then waited (here: on the catalog, a
// network call), placed its order after a concurrent one had completed: a second purchase of a
// non-stackable add-on (charged twice, two `subscriptionChanged`), or an add-on bought and charged
// on a line suspended meanwhile. Real PostgreSQL and NATS (outbox), in-process orders; the catalog is
// the plan files (FileCatalog) with its `offer` answer held back for the first request.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import type { CatalogClient } from '../src/ports/catalog-client';
import { startHarness, type Harness } from './support';

let h: Harness;
let customerId = '';
let n = 0;

const BUY = `mutation($i: AddAddOnInput!) { addAddOn(input: $i) { line { status } order { id kind status } } }`;
const SUSPEND = `mutation($i: LineChangeInput!) { suspendLine(input: $i) { line { status } order { status } } }`;
const owner = (): Caller => ({ role: 'CUSTOMER', subject: 'owner', customerId, scopes: [] });

async function newLine(): Promise<string> {
  n += 1;
  const accountId = (await h.ok(`mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }`, { i: { customerId, paymentMode: 'POSTPAID', currency: 'EUR', creditLimit: '100.00' } })).openBillingAccount.billingAccount.id;
  const l = await h.ok(`mutation($i: AddLineInput!) { addLine(input: $i) { line { id status } } }`, { i: { billingAccountId: accountId, msisdn: `+4917012377${String(n).padStart(2, '0')}`, planCode: 'POSTPAID_20GB' } });
  expect(l.addLine.line.status).toBe('ACTIVE');
  return l.addLine.line.id;
}

/**
 * Holds the catalog's next `offer` answer until released: the request asking it has read the line and
 * its subscription by then (addAddOn asks the catalog after those reads).
 */
function holdNextOfferLookup(catalog: CatalogClient): { reached: Promise<void>; release: () => void } {
  const original = catalog.offer.bind(catalog);
  let release!: () => void;
  let reached!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const reachedP = new Promise<void>((r) => (reached = r));
  catalog.offer = async (code: string) => {
    catalog.offer = original; // only the first request waits
    reached();
    await released;
    return original(code);
  };
  return { reached: reachedP, release };
}

const purchases = (lineId: string) => h.rows<{ amount: string }>(`select amount::text from one_off_charge where line_id = $1 and reason = 'ADD_ON_PURCHASE'`, [lineId]);
const addOnsOf = async (lineId: string) =>
  (await h.rows<{ add_ons: string }>(`select add_ons from subscription where line_id = $1 and status = 'ACTIVE'`, [lineId])).map((r) => JSON.parse(r.add_ons) as { code: string }[]);

beforeAll(async () => {
  h = await startHarness({ now: '2026-11-20T09:00:00Z' });
  customerId = (await h.ok(`mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`, { i: { name: 'Lara Lock', kind: 'INDIVIDUAL' } })).createCustomer.customer.id;
});
afterAll(() => h?.close());

describe('addAddOn: the line is checked under its lock', () => {
  it('two purchases of one add-on with different keys, the second completing while the first waits: one order, one charge', async () => {
    const lineId = await newLine();
    const held = holdNextOfferLookup(h.catalogClient);
    const first = h.subscribers.request<any>(BUY, { i: { lineId, offerCode: 'DATA_BOOST_5GB', idempotencyKey: 'boost-tab-1' } }, owner());
    await held.reached;
    const second = await h.ok(BUY, { i: { lineId, offerCode: 'DATA_BOOST_5GB', idempotencyKey: 'boost-tab-2' } }, owner());
    expect(second.addAddOn.order).toMatchObject({ kind: 'ADD_ON', status: 'COMPLETED' });
    held.release();
    const late = await first;
    // Before: COMPLETED, a second DATA_BOOST_5GB on the line and 5.00 charged twice.
    expect(late.errors?.[0]?.extensions, JSON.stringify(late.data)).toMatchObject({ code: 'CONFLICT', reason: 'ADDON_ALREADY_ACTIVE', field: 'input.offerCode' });
    expect(await purchases(lineId)).toEqual([{ amount: '5.0000' }]);
    expect(await addOnsOf(lineId)).toEqual([[expect.objectContaining({ code: 'DATA_BOOST_5GB' })]]);
    expect(await h.rows(`select id from product_order where line_id = $1 and kind = 'ADD_ON'`, [lineId])).toHaveLength(1);
    const changed = await h.rows(`select seq from outbox where subject = 'billing.subscribers.subscription.changed' and payload like $1 and payload like '%DATA_BOOST_5GB%'`, [`%${lineId}%`]);
    expect(changed).toHaveLength(1);
  });

  it('a purchase whose line is suspended while it waits is refused, and nothing is charged', async () => {
    const lineId = await newLine();
    const held = holdNextOfferLookup(h.catalogClient);
    const buying = h.subscribers.request<any>(BUY, { i: { lineId, offerCode: 'ROAM_WORLD_PASS_7D', idempotencyKey: 'roam-1' } }, owner());
    await held.reached;
    const suspended = await h.ok(SUSPEND, { i: { lineId, reason: 'phone lost' } }, owner());
    expect(suspended.suspendLine).toMatchObject({ line: { status: 'SUSPENDED' }, order: { status: 'COMPLETED' } });
    held.release();
    const late = await buying;
    // Before: COMPLETED on the SUSPENDED line, 9.99 charged for a pass the customer could not use.
    expect(late.errors?.[0]?.extensions, JSON.stringify(late.data)).toMatchObject({ code: 'CONFLICT', reason: 'LINE_NOT_ACTIVE_CONFLICT', field: 'input.lineId' });
    expect(await purchases(lineId)).toEqual([]);
    expect(await h.rows(`select id from product_order where line_id = $1 and kind = 'ADD_ON'`, [lineId])).toEqual([]);
    expect(await addOnsOf(lineId)).toEqual([[]]);
  });
});
