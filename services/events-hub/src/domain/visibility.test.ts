import { describe, expect, it } from 'vitest';
import { EVENTS, type EventName } from '@ledgerline/contracts';
import { assignmentOf, audienceOfSubject, decide, EVENT_AUDIENCE, factsOf, ownerAt, viewerOf, type Assignment } from './visibility';

const at = (iso: string) => new Date(iso);
const NOW = at('2027-02-01T12:00:00Z');
const A = { everything: false as const, partnerId: 'mvno-a' };
const B = { everything: false as const, partnerId: 'mvno-b' };
const OPS = { everything: true as const };

describe('who may see an event', () => {
  it('classifies every event of the registry; the catalog is public, nothing else is', () => {
    expect(Object.keys(EVENT_AUDIENCE).sort()).toEqual(Object.keys(EVENTS).sort());
    for (const [name, def] of Object.entries(EVENTS)) {
      // Names sharing a subject share an audience (the hub decides by subject).
      const same = Object.entries(EVENTS).filter(([, d]) => d.subject === def.subject).map(([n]) => EVENT_AUDIENCE[n as EventName]);
      expect(new Set(same).size, def.subject).toBe(1);
      expect(EVENT_AUDIENCE[name as EventName] === 'PUBLIC', name).toBe(def.subject.startsWith('billing.catalog.'));
    }
    expect(audienceOfSubject('billing.nosuch.thing.happened')).toBe('OPERATOR');
  });

  it('reads the account from data.billingAccountId; without one an account event is nobody’s (operator only)', () => {
    expect(factsOf(EVENTS.customerBillCreated.subject, { billingAccountId: 'ba1' }, '2027-01-31T00:00:00Z', NOW)).toEqual({ audience: 'ACCOUNT', billingAccountId: 'ba1', at: at('2027-01-31T00:00:00Z') });
    expect(factsOf(EVENTS.balanceLow.subject, { walletId: 'w' }, '2027-01-31T00:00:00Z', NOW)).toEqual({ audience: 'OPERATOR' });
    expect(factsOf(EVENTS.balanceLow.subject, { billingAccountId: 42 }, undefined, NOW)).toEqual({ audience: 'OPERATOR' });
    expect(factsOf(EVENTS.balanceLow.subject, null, undefined, NOW)).toEqual({ audience: 'OPERATOR' });
    // No usable time: the time it is read.
    expect(factsOf(EVENTS.balanceLow.subject, { billingAccountId: 'ba1' }, 'yesterday', NOW)).toMatchObject({ at: NOW });
    expect(factsOf(EVENTS.planPublished.subject, { billingAccountId: 'ba1' }, undefined, NOW)).toEqual({ audience: 'PUBLIC' });
    expect(factsOf(EVENTS.customerCreated.subject, { customerId: 'c' }, undefined, NOW)).toEqual({ audience: 'OPERATOR' });
  });

  it('sets aside an account event whose data PostgreSQL cannot hold (its batch would fail on every redelivery)', () => {
    const unplaceable = (subject: string, data: unknown, time: unknown = '2027-01-31T00:00:00Z') => {
      const f = factsOf(subject, data, time, NOW);
      return f.audience === 'OPERATOR' ? f.unplaceable?.reason : f.audience;
    };
    const bill = EVENTS.customerBillCreated.subject;
    const opened = EVENTS.billingAccountCreated.subject;
    expect(unplaceable(bill, { billingAccountId: 'ba\u00001' })).toBe('billing_account_id_invalid');
    expect(unplaceable(bill, { billingAccountId: 'b'.repeat(101) })).toBe('billing_account_id_invalid');
    expect(unplaceable(bill, { billingAccountId: 'b'.repeat(100) })).toBe('ACCOUNT');
    expect(unplaceable(bill, { billingAccountId: 'ba1' }, '-004713-06-01T00:00:00Z')).toBe('time_out_of_range');
    expect(unplaceable(bill, { billingAccountId: 'ba1' }, '-004712-01-01T00:00:00Z')).toBe('ACCOUNT');
    expect(unplaceable(opened, { billingAccountId: 'ba1', partnerId: 'p\u0000', partnerVersion: 0 })).toBe('partner_id_invalid');
    expect(unplaceable(opened, { billingAccountId: 'ba1', partnerId: 'p'.repeat(101), partnerVersion: 0 })).toBe('partner_id_invalid');
    expect(unplaceable(opened, { billingAccountId: 'ba1', partnerId: 'p', partnerVersion: 2 ** 31 })).toBe('partner_version_invalid');
    expect(unplaceable(opened, { billingAccountId: 'ba1', partnerId: 'p', partnerVersion: 2 ** 31 - 1 })).toBe('ACCOUNT');
    // Fields the hub neither stores nor locks on are not looked at.
    expect(unplaceable(bill, { billingAccountId: 'ba1', note: 'x\u0000y', partnerId: 'p'.repeat(200) })).toBe('ACCOUNT');
  });

  it('takes the assignment a billingaccount event carries, as usage does (old events without a partner: none or the operator)', () => {
    const t = at('2027-01-30T00:00:00Z');
    expect(assignmentOf(EVENTS.billingAccountCreated.subject, { partnerId: 'mvno-a', partnerVersion: 0 }, t)).toEqual({ version: 0, partnerId: 'mvno-a', since: t, partnerChanged: false });
    // Opened before partners were recorded: the operator's own, version 0.
    expect(assignmentOf(EVENTS.billingAccountCreated.subject, { billingAccountId: 'x' }, t)).toEqual({ version: 0, partnerId: null, since: t, partnerChanged: false });
    expect(assignmentOf(EVENTS.billingAccountChanged.subject, { creditLimit: '5' }, t)).toBeUndefined();
    expect(assignmentOf(EVENTS.billingAccountChanged.subject, { partnerId: 'mvno-b', partnerVersion: 2, changed: ['partnerId'] }, t)).toEqual({ version: 2, partnerId: 'mvno-b', since: t, partnerChanged: true });
    expect(assignmentOf(EVENTS.billingAccountChanged.subject, { partnerId: null, partnerVersion: 2, changed: ['creditLimit'] }, t)).toMatchObject({ partnerId: null, partnerChanged: false });
    expect(assignmentOf(EVENTS.billingAccountChanged.subject, { partnerId: 'x', partnerVersion: -1 }, t)).toBeUndefined();
    expect(assignmentOf(EVENTS.billingAccountClosed.subject, { partnerId: 'x' }, t)).toBeUndefined();
  });

  const history: Assignment[] = [
    { version: 0, partnerId: 'mvno-a', since: at('2027-01-01T00:00:00Z') },
    { version: 1, partnerId: 'mvno-b', since: at('2027-01-20T00:00:00Z') },
    // Two changes at one instant: the higher version holds.
    { version: 2, partnerId: null, since: at('2027-01-25T00:00:00Z') },
    { version: 3, partnerId: 'mvno-b', since: at('2027-01-25T00:00:00Z') },
  ];

  it("places an event with the account's partner at the event's time (highest version since then)", () => {
    expect(ownerAt(history, at('2027-01-10T00:00:00Z'))).toEqual({ known: true, partnerId: 'mvno-a' });
    expect(ownerAt(history, at('2027-01-20T00:00:00Z'))).toEqual({ known: true, partnerId: 'mvno-b' });
    expect(ownerAt(history, at('2027-01-26T00:00:00Z'))).toEqual({ known: true, partnerId: 'mvno-b' });
    // A little before the opening (another service's clock): the opening partner's.
    expect(ownerAt(history, at('2026-12-31T23:59:59Z'))).toEqual({ known: true, partnerId: 'mvno-a' });
    // Order of the rows does not matter (redelivered, read by two consumers).
    expect(ownerAt([...history].reverse(), at('2027-01-26T00:00:00Z'))).toEqual({ known: true, partnerId: 'mvno-b' });
    expect(ownerAt([], NOW)).toEqual({ known: false });
    // Only a later change read (the opening not yet): an earlier event cannot be placed.
    expect(ownerAt([history[1]!], at('2027-01-10T00:00:00Z'))).toEqual({ known: false });
  });

  it('delivers to the owner, everything-seeing hubs and everyone for the catalog; holds an unplaced account; never guesses', () => {
    const bill = (iso: string) => factsOf(EVENTS.customerBillCreated.subject, { billingAccountId: 'ba1' }, iso, NOW);
    expect(decide(A, bill('2027-01-10T00:00:00Z'), history)).toBe('DELIVER');
    expect(decide(B, bill('2027-01-10T00:00:00Z'), history)).toBe('SKIP');
    expect(decide(A, bill('2027-01-21T00:00:00Z'), history)).toBe('SKIP');
    expect(decide(B, bill('2027-01-21T00:00:00Z'), history)).toBe('DELIVER');
    expect(decide(OPS, bill('2027-01-21T00:00:00Z'), history)).toBe('DELIVER');
    expect(decide(A, bill('2027-01-21T00:00:00Z'), [])).toBe('HOLD');
    expect(decide(OPS, bill('2027-01-21T00:00:00Z'), [])).toBe('DELIVER');
    // The operator's own account: no partner's.
    expect(decide(A, bill('2027-01-21T00:00:00Z'), [{ version: 0, partnerId: null, since: at('2027-01-01T00:00:00Z') }])).toBe('SKIP');
    expect(decide(A, { audience: 'PUBLIC' }, [])).toBe('DELIVER');
    expect(decide(A, { audience: 'OPERATOR' }, [])).toBe('SKIP');
    expect(decide(OPS, { audience: 'OPERATOR' }, [])).toBe('DELIVER');
  });

  it('a billingaccount event places itself; a change of partner is told to the partner the account leaves too', () => {
    const move = factsOf(EVENTS.billingAccountChanged.subject, { billingAccountId: 'ba1', partnerId: 'mvno-b', partnerVersion: 1, changed: ['partnerId'] }, '2027-01-20T00:00:00Z', NOW);
    const c = { everything: false as const, partnerId: 'mvno-c' };
    expect(decide(B, move, [])).toBe('DELIVER');
    expect(decide(A, move, history)).toBe('DELIVER');
    expect(decide(c, move, history)).toBe('SKIP');
    // The partner before not known: only the new one.
    expect(decide(A, move, [])).toBe('SKIP');
    const limit = factsOf(EVENTS.billingAccountChanged.subject, { billingAccountId: 'ba1', partnerId: 'mvno-b', partnerVersion: 1, changed: ['creditLimit'] }, '2027-01-21T00:00:00Z', NOW);
    expect(decide(A, limit, history)).toBe('SKIP');
    const opened = factsOf(EVENTS.billingAccountCreated.subject, { billingAccountId: 'ba9', partnerId: 'mvno-a', partnerVersion: 0 }, '2027-01-21T00:00:00Z', NOW);
    expect(decide(A, opened, [])).toBe('DELIVER');
    expect(decide(B, opened, [])).toBe('SKIP');
  });

  it('a hub without a partner (an ADMIN’s) or of a partner granted ALL sees everything', () => {
    expect(viewerOf({ partnerId: null }, new Set())).toEqual({ everything: true });
    expect(viewerOf({ partnerId: 'dwh' }, new Set(['dwh']))).toEqual({ everything: true });
    expect(viewerOf({ partnerId: 'mvno-a' }, new Set(['dwh']))).toEqual(A);
  });
});
