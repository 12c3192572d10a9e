/**
 * An online session on a tariff with increments (`first` / `next`, e.g. a 60 s minimum then per
 * started minute): a session is one call, so the increments apply to the session's running total,
 * as offline rating applies them to one CDR of the same total. Before, wallets committed the used
 * units x price (a 10 s call on `first: 60` was 10 s online, 60 s as a CDR), and the session's
 * records were rated each on its own (a 5 s interim report rated as a 60 s call): the record's price
 * and what it was charged (amount_charged) disagreed.
 *
 * Real wallets (child process, own schema), postpaid: what the account owes after the session, the
 * session's records (quantity = units used, charged units and price as rated, amount_charged as the
 * ledger took it), and a CDR of the same total quantity, rated offline, for comparison.
 */
import { describe, expect, it } from 'vitest';
import { dec } from '@ledgerline/contracts';
import { askChargingSession, planDocument, RECORD_USAGE, RERATE, setLine, storedChargeRequests, waitFor } from './support';
import { onlineCharging } from './session-support';

/**
 * postpaid-20gb with calls to German mobiles while roaming in WORLD1 (the US) at 0.01 EUR per
 * started minute (`first: 60, next: 60`). Other calls roaming in WORLD1 keep the plan's
 * `roaming-world-voice`: 0.025 EUR/s, a 60 s minimum then per second (`first: 60, next: 1`). No allowance.
 */
function incrementsPlan(): Record<string, unknown> {
  const doc = planDocument('postpaid-20gb.json') as { rules: unknown[] };
  doc.rules.push({
    name: 'world1-calls-home-per-started-minute', priority: 25,
    conditions: { all: [
      { fact: 'usageType', operator: 'equal', value: 'VOICE' }, { fact: 'direction', operator: 'equal', value: 'OUTGOING' },
      { fact: 'roamingZone', operator: 'equal', value: 'WORLD1' }, { fact: 'destinationZone', operator: 'equal', value: 'NATIONAL_MOBILE' },
    ] },
    event: { type: 'rate', params: { unit: 'SECOND', pricePerUnit: '0.0100', increments: { first: 60, next: 60 } } },
  });
  return doc;
}

/** Per started minute (first 60, next 60). */
const PER_MINUTE = { usageType: 'VOICE', roamingCountry: 'US', calledNumber: '+4915112345678' };
/** 60 s minimum, then per second (first 60, next 1). */
const PER_SECOND_AFTER_MINUTE = { usageType: 'VOICE', roamingCountry: 'US', calledNumber: '+4930123456' };

const oc = onlineCharging({ plv_incr: incrementsPlan() });
const run = Math.random().toString(36).slice(2, 8);
let lines = 0;

/** A postpaid line on plv_incr with its wallet: the line id and what its account owes (normalised decimal string). */
async function newLine(): Promise<{ lineId: string; account: string; owed: () => Promise<string> }> {
  const n = ++lines;
  const lineId = `lin_inc${n}${run}`;
  const account = `acc_inc${n}${run}`;
  const walletId = await oc.wallets.postpaidWallet(account, lineId);
  await setLine(oc.svc, { lineId, msisdn: `+491517${n}${String(Date.now()).slice(-6)}`, account, planVersionId: 'plv_incr', paymentMode: 'POSTPAID' });
  return { lineId, account, owed: async () => dec(await oc.wallets.unbilledOf(walletId)).toFixed(2) };
}

/** The session's records, summed: units used, charged units and price as rated, what the ledger took for them (as usage knows it: a commit's). */
async function sessionTotals(sessionId: string): Promise<{ used: string; chargedUnits: string; price: string; amountCharged: string }> {
  const { rows } = await oc.db.query<{ quantity: string; charged_units: string | null; price: string | null; amount_charged: string | null }>(
    `select u.quantity::text, u.charged_units::text, u.price::text, coalesce(o.amount_charged, u.amount_charged)::text as amount_charged
       from usage_record u left join charge_outcome o on o.usage_record_id = u.id
      where u.source = 'ocs' and (u.event_id = $1 or u.event_id like $2) and u.status = 'RATED'`,
    [sessionId, `${sessionId}#%`],
  );
  const sum = (f: (r: (typeof rows)[number]) => string | null) => rows.reduce((s, r) => s.plus(f(r) ?? '0'), dec('0'));
  return { used: sum((r) => r.quantity).toFixed(), chargedUnits: sum((r) => r.charged_units).toFixed(), price: sum((r) => r.price).toFixed(2), amountCharged: sum((r) => r.amount_charged).toFixed(2) };
}

/** The same call as one CDR, rated offline (recordUsage): its charged units and price. */
async function asOneCdr(lineId: string, facts: Record<string, string>, quantity: string): Promise<{ chargedUnits: string; price: string }> {
  const res = await oc.svc.request(RECORD_USAGE, { input: { source: `cdr-${run}`, records: [{ eventId: `cdr-${lineId}`, lineId, ...facts, quantity, occurredAt: new Date(Date.now() - 1000).toISOString() }] } });
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  expect(res.data.recordUsage.results[0]).toMatchObject({ status: 'RATED' });
  const { rows: [r] } = await oc.db.query(`select charged_units::text, price::text from usage_record where id = $1`, [res.data.recordUsage.results[0].id]);
  return { chargedUnits: dec(r.charged_units).toFixed(), price: dec(r.price).toFixed(2) };
}

describe('an online session on a tariff with increments', () => {
  it('charges a 10 s call on first: 60 as 60 s, as the same call as a CDR', async () => {
    const { lineId, owed } = await newLine();
    const session = `s_inc_10_${run}`;
    // 30 s asked: 60 s held and granted (the first increment).
    expect(await askChargingSession(oc.nc, session, { operation: 'RESERVE', lineId, ...PER_MINUTE, requestedUnits: '30' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '60' });
    expect(await askChargingSession(oc.nc, session, { operation: 'TERMINATE', invocationSequenceNumber: 1, usedUnits: '10' })).toMatchObject({ resultCode: 'SUCCESS' });

    expect(await sessionTotals(session)).toEqual({ used: '10', chargedUnits: '60', price: '0.60', amountCharged: '0.60' });
    expect(await owed()).toBe('0.60');
    expect(await asOneCdr(lineId, PER_MINUTE, '10')).toEqual({ chargedUnits: '60', price: '0.60' });
  });

  it('charges a 61 s call with interim reports on first: 60, next: 60 as 120 s, once under retries', async () => {
    const { lineId, owed } = await newLine();
    const session = `s_inc_61_${run}`;
    expect(await askChargingSession(oc.nc, session, { operation: 'RESERVE', lineId, ...PER_MINUTE, requestedUnits: '60' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '60' });
    // 30 s used (the first minute charged); 60 s more asked: the next minute held, so 90 s more are covered.
    const update1 = { operation: 'UPDATE', invocationSequenceNumber: 1, usedUnits: '30', requestedUnits: '60' };
    expect(await askChargingSession(oc.nc, session, update1)).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '90' });
    expect(await askChargingSession(oc.nc, session, update1), 'a retransmission').toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '90' });
    // 25 s more (55 s: still the first minute, nothing more charged).
    expect(await askChargingSession(oc.nc, session, { operation: 'UPDATE', invocationSequenceNumber: 2, usedUnits: '25', requestedUnits: '60' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '65' });
    const terminate = { operation: 'TERMINATE', invocationSequenceNumber: 3, usedUnits: '6' };
    expect(await askChargingSession(oc.nc, session, terminate)).toMatchObject({ resultCode: 'SUCCESS' });
    expect(await askChargingSession(oc.nc, session, terminate), 'a retransmission').toMatchObject({ resultCode: 'SUCCESS' });

    expect(await sessionTotals(session)).toEqual({ used: '61', chargedUnits: '120', price: '1.20', amountCharged: '1.20' });
    expect(await owed()).toBe('1.20');
    expect(await asOneCdr(lineId, PER_MINUTE, '61')).toEqual({ chargedUnits: '120', price: '1.20' });
  });

  it('rates interim reports on first: 60, next: 1 as parts of one call (15 s: 60 s, not 10 s + 5 s nor 60 s + 60 s), also when re-rated', async () => {
    const { lineId, account, owed } = await newLine();
    const session = `s_inc_15_${run}`;
    expect(await askChargingSession(oc.nc, session, { operation: 'RESERVE', lineId, ...PER_SECOND_AFTER_MINUTE, requestedUnits: '60' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '60' });
    // 10 s used: the 60 s minimum charged; 60 s more asked: 10 s held (70 s), 60 s more covered.
    expect(await askChargingSession(oc.nc, session, { operation: 'UPDATE', invocationSequenceNumber: 1, usedUnits: '10', requestedUnits: '60' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '60' });
    expect(await askChargingSession(oc.nc, session, { operation: 'TERMINATE', invocationSequenceNumber: 2, usedUnits: '5' })).toMatchObject({ resultCode: 'SUCCESS' });

    const { rows } = await oc.db.query<{ event_id: string; quantity: string; charged_units: string; price: string }>(
      `select event_id, quantity::text, charged_units::text, price::text from usage_record where source = 'ocs' and (event_id = $1 or event_id like $2) order by event_id`, [session, `${session}#%`]);
    expect(rows.map((r) => [r.event_id, dec(r.quantity).toFixed(), dec(r.charged_units).toFixed(), dec(r.price).toFixed(2)])).toEqual([[session, '5', '0', '0.00'], [`${session}#1`, '10', '60', '1.50']]);
    expect(await sessionTotals(session)).toEqual({ used: '15', chargedUnits: '60', price: '1.50', amountCharged: '1.50' });
    expect(await owed()).toBe('1.50');
    // A re-rate of the month with the same catalog rates the 5 s as the call's seconds 11 to 15 again: nothing to adjust.
    const rerated = await oc.svc.request(RERATE, { i: { billingAccountId: account, period: new Date().toISOString().slice(0, 7) } });
    expect(rerated.errors, JSON.stringify(rerated.errors)).toBeUndefined();
    expect(rerated.data.rerate).toEqual({ recordsRerated: 0, adjustments: [] });
    expect(await asOneCdr(lineId, PER_SECOND_AFTER_MINUTE, '15')).toEqual({ chargedUnits: '60', price: '1.50' });
  });

  it('charges units used past the grant as the rest of the same call (90 s on first: 60, next: 1: 90 s, not 60 s + 60 s)', async () => {
    const { lineId, owed } = await newLine();
    const session = `s_inc_90_${run}`;
    expect(await askChargingSession(oc.nc, session, { operation: 'RESERVE', lineId, ...PER_SECOND_AFTER_MINUTE, requestedUnits: '30' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '60' });
    // The network went 30 s past the grant: those are charged as usage (a ChargeRequest), as the call's seconds 61 to 90.
    expect(await askChargingSession(oc.nc, session, { operation: 'TERMINATE', invocationSequenceNumber: 1, usedUnits: '90' })).toMatchObject({ resultCode: 'SUCCESS' });

    // Committed through the reservation: 60 s, 1.50 EUR; the 30 s past it: one ChargeRequest of 30 s, 0.75 EUR.
    expect(await storedChargeRequests(oc.db, `id in (select id from usage_record where source = 'ocs' and event_id = $1)`, [`${session}#1:unreserved`])).toMatchObject([{ units: '30', amount: '0.75' }]);
    await waitFor(async () => (await owed()) !== '1.50', 30_000, 'oc.wallets applying the charge of the units past the grant');
    expect(await sessionTotals(session)).toMatchObject({ used: '90', chargedUnits: '90', price: '2.25' });
    expect(await owed()).toBe('2.25');
    expect(await asOneCdr(lineId, PER_SECOND_AFTER_MINUTE, '90')).toEqual({ chargedUnits: '90', price: '2.25' });
  });
});
