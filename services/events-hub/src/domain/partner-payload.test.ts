import { describe, expect, it } from 'vitest';
import { EVENTS, type EventName } from '@ledgerline/contracts';
import { payloadFor, STAFF_ONLY_FIELDS } from './partner-payload';
import { EVENT_AUDIENCE } from './visibility';

const A = { everything: false as const, partnerId: 'mvno-a' };
const OPS = { everything: true as const };
const body = (data: unknown) => JSON.stringify({ specversion: '1.0', id: 'evt_1', type: EVENTS.rechargeResolved.type, time: '2027-02-01T12:00:00.000Z', data });

describe("staff's text withheld from partner hubs", () => {
  it('names registry events a partner hub can get (ACCOUNT ones)', () => {
    for (const name of Object.keys(STAFF_ONLY_FIELDS)) {
      expect(EVENTS[name as EventName], name).toBeDefined();
      expect(EVENT_AUDIENCE[name as EventName], name).toBe('ACCOUNT');
    }
  });

  it('drops the fields for an OWN_CUSTOMERS partner only, keeping the rest and the id', () => {
    const payload = body({ rechargeId: 'rc1', billingAccountId: 'ba1', note: 'ticket 42', resolvedBy: 'agent-7', amount: { amount: '1.00', currency: 'EUR' } });
    expect(payloadFor(OPS, EVENTS.rechargeResolved.subject, payload)).toBe(payload);
    const forA = JSON.parse(payloadFor(A, EVENTS.rechargeResolved.subject, payload));
    expect(forA).toEqual({ ...JSON.parse(payload), data: { rechargeId: 'rc1', billingAccountId: 'ba1', resolvedBy: 'agent-7', amount: { amount: '1.00', currency: 'EUR' } } });
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
