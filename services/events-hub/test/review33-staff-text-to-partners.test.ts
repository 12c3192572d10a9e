import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCloudEvent, EVENTS, type CloudEvent, type EventName } from '@ledgerline/contracts';
import { signDelivery } from '../src/domain/delivery';
import { api, HUB, startHubForTest, startReceiver, until } from './support';

/**
 * Staff's own text in an event (a REFUND_FAILED recharge's resolution note, a refund's reason, a four-eyes request's
 * reason and decision note) is the operator's, and so are staff's identities (who resolved, refunded, approved, asked,
 * decided, recorded a return) and the system's failure texts: a partner hub that sees only its own customers gets the
 * event without them (same CloudEvent id, signed over the body it is sent); the operator's hub gets it as published.
 * Real PostgreSQL, NATS and receivers. Before the fix the partner got the stored CloudEvent bytes, note and all (and,
 * before the follow-up, every staff identity and failureReason).
 */
const RUN = randomBytes(4).toString('hex');
const A = { role: 'PARTNER' as const, partnerId: `mvno-a-${RUN}` };
const ADMIN = { role: 'ADMIN' as const, subject: 'ops-lead' };
const ACC = `ba_a_${RUN}`;
const ACC_LATE = `ba_late_${RUN}`;
const NOTE = `ticket OPS-${RUN}: refunded by hand, bank ref 99-${RUN}`;

type Receiver = Awaited<ReturnType<typeof startReceiver>>;
let t: Awaited<ReturnType<typeof startHubForTest>>;
let rA: Receiver, rOps: Receiver;
let secretA = '';
let secretOps = '';
let startedAt: Date;

async function publish<T>(name: EventName, data: T, time = new Date()): Promise<CloudEvent<T>> {
  const e = createCloudEvent({ source: 'ledgerline/staff-text-test', type: EVENTS[name].type, subject: RUN, time, data, key: [RUN, name, randomBytes(6).toString('hex')] });
  await t.messaging.js.publish(EVENTS[name].subject, JSON.stringify(e), { msgID: e.id });
  return e;
}

const resolved = (billingAccountId: string) => ({
  rechargeId: `rc_${randomBytes(4).toString('hex')}`,
  billingAccountId,
  walletId: `w_${billingAccountId}`,
  amount: { amount: '20.00', currency: 'EUR' },
  resolution: 'REFUNDED_OUTSIDE',
  note: NOTE,
  resolvedBy: 'agent-7',
  resolvedByRole: 'AGENT',
  resolvedAt: new Date().toISOString(),
  transactionId: null,
});

/** The one POST `r` got of `e`, its signature checked with `secret`. */
function receivedOnce(r: Receiver, e: CloudEvent, secret: string) {
  const got = r.of(e.id);
  expect(got).toHaveLength(1);
  const { headers, body } = got[0]!;
  expect(headers['x-ledgerline-signature']).toBe(signDelivery(secret, Number(headers['x-ledgerline-timestamp']), body));
  return got[0]!;
}

beforeAll(async () => {
  t = await startHubForTest();
  [rA, rOps] = await Promise.all([startReceiver(), startReceiver()]);
  const query = 'subject=billing.subscribers.billingaccount.*,billing.wallets.>,billing.invoicing.>';
  const a = await api(t.hub, 'POST', HUB, A, { callback: rA.url, query });
  secretA = a.body.secret;
  const ops = await api(t.hub, 'POST', HUB, ADMIN, { callback: rOps.url, query });
  expect(ops.status).toBe(201);
  secretOps = ops.body.secret;
  // On the hub's clock: a replay from a later instant is refused as in the future.
  startedAt = new Date(t.clock.now().getTime() - 1000);
  await publish('billingAccountCreated', { billingAccountId: ACC, customerId: `cus_${RUN}`, partnerId: A.partnerId, partnerVersion: 0 }, new Date(Date.now() - 60_000));
});

afterAll(async () => {
  await t?.close();
  await Promise.all([rA, rOps].map((r) => r?.close()));
});

describe("staff's text stays with the operator", () => {
  it("a partner's hub gets its customer's recharge resolution, refund and approval events without staff's note and reasons", async () => {
    const recharge = await publish('rechargeResolved', resolved(ACC));
    const refund = await publish('refundCreated', {
      refundId: `rf_${RUN}`,
      paymentId: `pay_${RUN}`,
      invoiceId: `inv_${RUN}`,
      billingAccountId: ACC,
      channel: 'CARD',
      amount: '5.00',
      currency: 'EUR',
      reason: `goodwill after complaint ${RUN}, customer was rude`,
      creditNoteId: null,
      refundedBy: 'agent-7',
      refundedByRole: 'AGENT',
      approvedBy: null,
      approvalRequestId: null,
      refundedAt: new Date().toISOString(),
      providerRef: null,
    });
    const approval = await publish('approvalDecided', {
      approvalRequestId: `apr_${RUN}`,
      kind: 'REFUND',
      subjectId: `pay_${RUN}`,
      billingAccountId: ACC,
      amount: '500.00',
      currency: 'EUR',
      requestedBy: 'agent-7',
      reason: `supervisor please, VIP ${RUN}`,
      status: 'APPROVED',
      decidedBy: 'sup-1',
      decisionNote: `ok, but watch this one ${RUN}`,
      resultId: `rf_${RUN}`,
    });
    const events = [recharge, refund, approval];
    await until('the operator and A get the three events', () => events.every((e) => rOps.of(e.id).length === 1 && rA.of(e.id).length === 1));

    const ops = receivedOnce(rOps, recharge, secretOps);
    expect(ops.event.data).toMatchObject({ note: NOTE });
    for (const e of events) {
      const got = receivedOnce(rA, e, secretA);
      // Same CloudEvent (id, type, time), its other data as published.
      expect(got.event).toMatchObject({ id: e.id, type: e.type, time: e.time, source: e.source });
      expect(got.body).not.toContain('customer was rude');
      expect(got.body).not.toContain(NOTE);
      expect(got.body).not.toContain(`VIP ${RUN}`);
      expect(got.body).not.toContain(`watch this one ${RUN}`);
    }
    expect(rA.of(recharge.id)[0]!.event.data).toEqual(Object.fromEntries(Object.entries(recharge.data as object).filter(([k]) => k !== 'note' && k !== 'resolvedBy')));
    for (const e of events) expect(rA.of(e.id)[0]!.body, e.type).not.toMatch(/agent-7|sup-1/);
    expect(rA.of(refund.id)[0]!.event.data).toMatchObject({ refundId: `rf_${RUN}`, amount: '5.00', refundedByRole: 'AGENT' });
    expect(rA.of(refund.id)[0]!.event.data).not.toHaveProperty('reason');
    expect(rA.of(approval.id)[0]!.event.data).toMatchObject({ status: 'APPROVED', resultId: `rf_${RUN}` });
    expect(rA.of(approval.id)[0]!.event.data).not.toHaveProperty('decisionNote');
  });

  it('the same for an event held until its account is placed, and for a replay', async () => {
    const recharge = await publish('rechargeResolved', resolved(ACC_LATE));
    await until('the operator gets it at once', () => rOps.of(recharge.id).length === 1);
    await publish('billingAccountCreated', { billingAccountId: ACC_LATE, customerId: `cus_late_${RUN}`, partnerId: A.partnerId, partnerVersion: 0 }, new Date(Date.now() - 60_000));
    await until('A gets it once its account is placed', () => rA.of(recharge.id).length === 1);
    expect(receivedOnce(rA, recharge, secretA).body).not.toContain(NOTE);

    const hubA = (await api(t.hub, 'GET', HUB, A)).body[0].id as string;
    expect((await api(t.hub, 'POST', `${HUB}/${hubA}/replay`, A, { from: startedAt.toISOString() })).status).toBe(202);
    await until('the replay re-sends it', () => rA.of(recharge.id).length === 2);
    for (const got of rA.of(recharge.id)) expect(got.body).not.toContain(NOTE);
  });

  it("a partner's hub gets its customer's events without staff's identities and the system's failure text; the operator's with them", async () => {
    const failed = await publish('balanceAdjustmentDecided', {
      requestId: `bar_${RUN}`,
      walletId: `w_${ACC}`,
      billingAccountId: ACC,
      amount: '80.00',
      currency: 'EUR',
      requestedBy: `agent-77-${RUN}`,
      reason: 'goodwill',
      status: 'FAILED',
      decidedBy: `sup-11-${RUN}`,
      decisionNote: null,
      adjustmentId: null,
      failureCode: 'WALLET_CLOSED',
      failureReason: `Wallet w_${ACC} is closed (decided by sup-12-${RUN})`,
    });
    const returned = await publish('walletPayoutReturned', {
      payoutId: `po_${RUN}`,
      walletId: `w_${ACC}`,
      billingAccountId: ACC,
      amount: { amount: '3.00', currency: 'EUR' },
      balanceAfter: { amount: '3.00', currency: 'EUR' },
      payoutReference: `PO-${RUN}`,
      returnReason: 'account closed',
      returnedBy: `fin-5-${RUN}`,
      returnedByRole: 'ADMIN',
      returnedAt: new Date().toISOString(),
    });
    const dispute = await publish('disputeResolved', {
      disputeId: `dsp_${RUN}`,
      invoiceId: `inv_${RUN}`,
      billingAccountId: ACC,
      status: 'REJECTED',
      amount: '4.00',
      currency: 'EUR',
      creditedAmount: null,
      creditNoteId: null,
      decidedBy: `agent-78-${RUN}`,
      decisionNote: 'the usage was yours',
    });
    const events = [failed, returned, dispute];
    await until('the operator and A get the three events', () => events.every((e) => rOps.of(e.id).length === 1 && rA.of(e.id).length === 1));
    for (const e of events) {
      const body = receivedOnce(rA, e, secretA).body;
      expect(body, e.type).not.toMatch(new RegExp(`(agent|sup|fin)-\\d+-${RUN}`));
      expect(receivedOnce(rOps, e, secretOps).body).toMatch(new RegExp(`(agent|sup|fin)-\\d+-${RUN}`));
    }
    expect(rA.of(failed.id)[0]!.event.data).toMatchObject({ status: 'FAILED', failureCode: 'WALLET_CLOSED' });
    expect(rA.of(failed.id)[0]!.event.data).not.toHaveProperty('failureReason');
    expect(rA.of(returned.id)[0]!.event.data).toMatchObject({ returnedByRole: 'ADMIN', returnReason: 'account closed' });
    expect(rA.of(dispute.id)[0]!.event.data).toMatchObject({ status: 'REJECTED', decisionNote: 'the usage was yours' });
  });
});
