import { describe, expect, it } from 'vitest';
import { EVENTS, type EventName } from '@ledgerline/contracts';
import { payloadFor, STAFF_ONLY_FIELDS, STAFF_ONLY_VALUES } from './partner-payload';
import { EVENT_AUDIENCE } from './visibility';

const A = { everything: false as const, partnerId: 'mvno-a' };
const OPS = { everything: true as const };
const body = (data: unknown) => JSON.stringify({ specversion: '1.0', id: 'evt_1', type: EVENTS.rechargeResolved.type, time: '2027-02-01T12:00:00.000Z', data });

describe("staff's text withheld from partner hubs", () => {
  it('names registry events a partner hub can get (ACCOUNT ones)', () => {
    for (const name of [...Object.keys(STAFF_ONLY_FIELDS), ...Object.keys(STAFF_ONLY_VALUES)]) {
      expect(EVENTS[name as EventName], name).toBeDefined();
      expect(EVENT_AUDIENCE[name as EventName], name).toBe('ACCOUNT');
    }
  });

  it('drops the fields for an OWN_CUSTOMERS partner only, keeping the rest and the id', () => {
    const payload = body({ rechargeId: 'rc1', billingAccountId: 'ba1', note: 'ticket 42', resolvedBy: 'agent-7', amount: { amount: '1.00', currency: 'EUR' } });
    expect(payloadFor(OPS, EVENTS.rechargeResolved.subject, payload)).toBe(payload);
    const forA = JSON.parse(payloadFor(A, EVENTS.rechargeResolved.subject, payload));
    expect(forA).toEqual({ ...JSON.parse(payload), data: { rechargeId: 'rc1', billingAccountId: 'ba1', amount: { amount: '1.00', currency: 'EUR' } } });
    const refund = JSON.stringify({ id: 'evt_2', data: { refundId: 'rf', reason: 'goodwill', billingAccountId: 'ba1' } });
    expect(JSON.parse(payloadFor(A, EVENTS.refundCreated.subject, refund)).data).toEqual({ refundId: 'rf', billingAccountId: 'ba1' });
    const decided = JSON.stringify({ id: 'evt_3', data: { requestId: 'r', reason: 'why', decisionNote: 'ok', status: 'APPROVED', billingAccountId: 'ba1' } });
    expect(JSON.parse(payloadFor(A, EVENTS.balanceAdjustmentDecided.subject, decided)).data).toEqual({ requestId: 'r', status: 'APPROVED', billingAccountId: 'ba1' });
  });

  it('sends the published bytes when there is nothing to withhold', () => {
    // Other events (a dispute's decision note is the customer's to read), and these without the fields.
    const dispute = JSON.stringify({ id: 'evt_4', data: { disputeId: 'd', decisionNote: 'we credited you', billingAccountId: 'ba1' } });
    expect(payloadFor(A, EVENTS.disputeResolved.subject, dispute)).toBe(dispute);
    const spaced = '{ "id": "evt_5", "data": { "rechargeId": "rc1", "billingAccountId": "ba1" } }';
    expect(payloadFor(A, EVENTS.rechargeResolved.subject, spaced)).toBe(spaced);
    for (const odd of ['not json', '{"id":"x","data":null}', '{"id":"x","data":["note"]}', 'null'])
      expect(payloadFor(A, EVENTS.rechargeResolved.subject, odd)).toBe(odd);
  });
});

describe("staff's identities withheld from partner hubs", () => {
  const ev = (data: unknown) => JSON.stringify({ id: 'evt_9', data });
  const forA = (name: EventName, data: unknown) => JSON.parse(payloadFor(A, EVENTS[name].subject, ev(data))).data;

  it("drops who among the operator's staff resolved, refunded, approved, asked, decided, adjusted, paid out or recorded a return", () => {
    expect(forA('rechargeResolved', { rechargeId: 'rc1', billingAccountId: 'ba1', resolvedBy: 'agent-7', resolvedByRole: 'AGENT' })).toEqual({ rechargeId: 'rc1', billingAccountId: 'ba1', resolvedByRole: 'AGENT' });
    expect(forA('refundCreated', { refundId: 'rf', billingAccountId: 'ba1', refundedBy: 'agent-7', refundedByRole: 'AGENT', approvedBy: 'sup-1', approvalRequestId: 'apr1' })).toEqual({ refundId: 'rf', billingAccountId: 'ba1', refundedByRole: 'AGENT', approvalRequestId: 'apr1' });
    for (const name of ['approvalRequested', 'approvalDecided', 'approvalExpired', 'balanceAdjustmentRequested', 'balanceAdjustmentDecided', 'balanceAdjustmentExpired'] as const)
      expect(forA(name, { billingAccountId: 'ba1', requestedBy: 'agent-7', decidedBy: 'sup-1', status: 'FAILED', failureCode: 'DISPUTE_ALREADY_DECIDED', failureReason: 'Dispute d1 is REJECTED already (decided by agent-9)' }), name).toEqual({ billingAccountId: 'ba1', status: 'FAILED', failureCode: 'DISPUTE_ALREADY_DECIDED' });
    expect(forA('balanceAdjusted', { adjustmentId: 'adj', billingAccountId: 'ba1', reason: 'goodwill, angry caller', agent: 'agent-7' })).toEqual({ adjustmentId: 'adj', billingAccountId: 'ba1' });
    expect(forA('walletPaidOut', { payoutId: 'po', billingAccountId: 'ba1', paidOutBy: 'fin-2', paidOutByRole: 'ADMIN' })).toEqual({ payoutId: 'po', billingAccountId: 'ba1', paidOutByRole: 'ADMIN' });
    expect(forA('walletPayoutReturned', { payoutId: 'po', billingAccountId: 'ba1', returnedBy: 'fin-2', returnedByRole: 'ADMIN', returnReason: 'account closed' })).toEqual({ payoutId: 'po', billingAccountId: 'ba1', returnedByRole: 'ADMIN', returnReason: 'account closed' });
  });

  it("a dispute's decidedBy: kept when it names how (auto:, rerate:, creditNote:, regenerateInvoice), dropped when it names who", () => {
    for (const how of ['auto:goodwill', 'rerate:adj_rr1', 'creditNote:CN-2026-000004', 'regenerateInvoice'])
      expect(forA('disputeResolved', { disputeId: 'd', billingAccountId: 'ba1', decidedBy: how, decisionNote: 'we credited you' })).toEqual({ disputeId: 'd', billingAccountId: 'ba1', decidedBy: how, decisionNote: 'we credited you' });
    for (const who of ['agent-7', 'resolveDispute:agent-7', 'cus_123'])
      expect(forA('disputeResolved', { disputeId: 'd', billingAccountId: 'ba1', decidedBy: who, status: 'REJECTED' }), who).toEqual({ disputeId: 'd', billingAccountId: 'ba1', status: 'REJECTED' });
    const kept = ev({ disputeId: 'd', billingAccountId: 'ba1', decidedBy: 'rerate:adj_rr1' });
    expect(payloadFor(A, EVENTS.disputeResolved.subject, kept)).toBe(kept);
  });
});
