import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createSubscribersService } from '../src/service';
import { InlineOrderDispatcher } from '../src/ports/order-dispatcher';
import { SandboxProvisioning } from '../src/ports/provisioning';
import { FileCatalog } from './support';

/**
 * Review 18: a collections BAR the network refuses once. The BAR order FAILS; the placement
 * answers with the hold placed, no line waiting (the dunning's activity takes it as done and
 * marks the account suspended), and a retry of the placement with the same key replays the
 * FAILED bar (its key `<placedKey>:<lineId>`), so the line is never barred: it stays ACTIVE for
 * the whole dunning although the invoice is unpaid (and the hold blocks nothing but a resume).
 */
let svc: TestService;
const sandbox = new SandboxProvisioning();
const clock = new ManualClock(new Date('2026-11-16T10:00:00Z'));
beforeAll(async () => {
  const catalog = new FileCatalog();
  svc = await startServiceForTest(
    createSubscribersService({
      catalog,
      provisioning: sandbox,
      dispatcher: new InlineOrderDispatcher(sandbox, { attempts: 2, callTimeoutMs: 300, backoffMs: 10 }, { wallets: null, catalog }),
      sweepIntervalMs: 0,
      wallets: null,
      notifications: false,
    }),
    { clock },
  );
});
afterAll(() => svc?.close());

async function ok(q: string, v: Record<string, unknown> = {}) {
  clock.advance(1000);
  const r = await svc.request<any>(q, v);
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  return r.data;
}

const PAYLOAD = `holds { holder line { id } barOrder { id kind status } } lines { id status } waiting { id }`;

describe('review18: a collections bar refused by the network', () => {
  // Fixed (review 18): the refused bar is answered as not done (`waiting`, the hold's barOrder FAILED) and tried again on the retry.
  it('is barred on the dunning activity retry, or reported as not done — never left in service with the hold answered as placed', async () => {
    const customerId = (await ok(`mutation { createCustomer(input: { name: "Rita Refused", kind: INDIVIDUAL }) { customer { id } } }`)).createCustomer.customer.id;
    const accountId = (await ok(`mutation($c: ID!) { openBillingAccount(input: { customerId: $c, paymentMode: POSTPAID, currency: "EUR" }) { billingAccount { id } } }`, { c: customerId }))
      .openBillingAccount.billingAccount.id;
    const lineId = (await ok(`mutation($a: ID!) { addLine(input: { billingAccountId: $a, msisdn: "+4915123980001" }) { line { id } } }`, { a: accountId })).addLine.line.id;
    expect((await ok(`query($id: ID!) { line(id: $id) { status } }`, { id: lineId })).line.status).toBe('ACTIVE');

    const input = { billingAccountId: accountId, holder: 'dunning-inv_r18', reason: 'unpaid', idempotencyKey: 'dunning-inv_r18:suspend' };
    sandbox.behave('BAR', '*', { mode: 'reject', code: 'HLR_BUSY' });
    const first = (await ok(`mutation($i: CollectionsHoldInput!) { placeCollectionsHold(input: $i) { ${PAYLOAD} } }`, { i: input })).placeCollectionsHold;
    expect(first.holds.map((h: any) => h.barOrder?.status)).toEqual(['FAILED']);

    // The network is back; the dunning's activity is retried with its key (if it was told anything was left to do).
    sandbox.behave('BAR', '*', null);
    const second = (await ok(`mutation($i: CollectionsHoldInput!) { placeCollectionsHold(input: $i) { ${PAYLOAD} } }`, { i: input })).placeCollectionsHold;
    const status = (await ok(`query($id: ID!) { line(id: $id) { status } }`, { id: lineId })).line.status;
    expect({ firstWaiting: first.waiting.map((l: any) => l.id), status, second: second.waiting.length }).toEqual({ firstWaiting: [lineId], status: 'BARRED', second: 0 });
  });

  // Fixed (review 18): the refused resumption is answered as not done (`waiting`) and tried again on the retry of the lift.
  it('a RESUME refused once when the debt is paid: the line is resumed on the retry of the lift, not left BARRED after payment', async () => {
    const customerId = (await ok(`mutation { createCustomer(input: { name: "Paul Paid", kind: INDIVIDUAL }) { customer { id } } }`)).createCustomer.customer.id;
    const accountId = (await ok(`mutation($c: ID!) { openBillingAccount(input: { customerId: $c, paymentMode: POSTPAID, currency: "EUR" }) { billingAccount { id } } }`, { c: customerId }))
      .openBillingAccount.billingAccount.id;
    const lineId = (await ok(`mutation($a: ID!) { addLine(input: { billingAccountId: $a, msisdn: "+4915123980002" }) { line { id } } }`, { a: accountId })).addLine.line.id;
    const hold = { billingAccountId: accountId, holder: 'dunning-inv_r18b', reason: 'unpaid' };
    await ok(`mutation($i: CollectionsHoldInput!) { placeCollectionsHold(input: $i) { ${PAYLOAD} } }`, { i: { ...hold, idempotencyKey: 'dunning-inv_r18b:suspend' } });
    expect((await ok(`query($id: ID!) { line(id: $id) { status } }`, { id: lineId })).line.status).toBe('BARRED');

    // Paid: the dunning lifts its hold; the network refuses the RESUME once.
    const restore = { ...hold, reason: 'paid', idempotencyKey: 'dunning-inv_r18b:restore' };
    sandbox.behave('RESUME', '*', { mode: 'reject', code: 'HLR_BUSY' });
    const first = (await ok(`mutation($i: CollectionsHoldInput!) { liftCollectionsHold(input: $i) { ${PAYLOAD} } }`, { i: restore })).liftCollectionsHold;
    sandbox.behave('RESUME', '*', null);
    const second = (await ok(`mutation($i: CollectionsHoldInput!) { liftCollectionsHold(input: $i) { ${PAYLOAD} } }`, { i: restore })).liftCollectionsHold;
    const status = (await ok(`query($id: ID!) { line(id: $id) { status collectionsHolds { holder } } }`, { id: lineId })).line;
    expect({ firstWaiting: first.waiting.map((l: any) => l.id), status: status.status, holds: status.collectionsHolds, second: second.waiting.length }).toEqual({
      firstWaiting: [lineId],
      status: 'ACTIVE',
      holds: [],
      second: 0,
    });
  });
});
