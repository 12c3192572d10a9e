/**
 * An online session on a tariff with a fixed-amount EVENT discount (a 2.00 EUR credit per WORLD2
 * call): a session is one call, so the credit is per call, capped at the call's price, as for the
 * same call as one CDR. Before, rating gave a later report nothing of it (214d975: an amount is
 * applied with the first part only), so the first report took what its own price allowed (1.50) and
 * the rest (0.50) was lost. Now a later report takes what the earlier ones left. Real wallets,
 * postpaid: what the records are rated and what the account owes after the session.
 */
import { describe, expect, it } from 'vitest';
import { dec } from '@ledgerline/contracts';
import { askChargingSession, planDocument, RECORD_USAGE, setLine } from './support';
import { onlineCharging } from './session-support';

/** postpaid-20gb whose WORLD2 connection fee is a 2.00 credit instead, at any time of day (the test runs at any hour). */
function callCreditPlan(): Record<string, unknown> {
  const doc = planDocument('postpaid-20gb.json') as { rules: Array<{ name: string; conditions: { all: Array<{ fact: string }> }; event: unknown }> };
  const rule = doc.rules.find((r) => r.name === 'roaming-world-surcharge-peak')!;
  rule.conditions.all = rule.conditions.all.filter((leaf) => leaf.fact !== 'timeBand');
  rule.event = { type: 'discount', params: { amount: '2.00', scope: 'EVENT', label: 'WORLD2 call credit' } };
  return doc;
}

/** Calls roaming in Brazil (WORLD2): roaming-world-voice, 0.025 EUR/s after a 60 s minimum, and the 2.00 credit. */
const WORLD2_CALL = { usageType: 'VOICE', roamingCountry: 'BR', calledNumber: '+4930123456' };

const oc = onlineCharging({ plv_credit: callCreditPlan() });
const run = Math.random().toString(36).slice(2, 8);

describe('an online session on a tariff with a per-call credit', () => {
  it('gives the whole credit over the reports, as the same call as one CDR', async () => {
    const lineId = `lin_cred${run}`;
    const account = `acc_cred${run}`;
    const walletId = await oc.wallets.postpaidWallet(account, lineId);
    await setLine(oc.svc, { lineId, msisdn: `+4915177${String(Date.now()).slice(-6)}`, account, planVersionId: 'plv_credit', paymentMode: 'POSTPAID' });
    const session = `s_cred_${run}`;

    expect(await askChargingSession(oc.nc, session, { operation: 'RESERVE', lineId, ...WORLD2_CALL, requestedUnits: '60' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '60' });
    expect(await askChargingSession(oc.nc, session, { operation: 'UPDATE', invocationSequenceNumber: 1, usedUnits: '60', requestedUnits: '60' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '60' });
    expect(await askChargingSession(oc.nc, session, { operation: 'UPDATE', invocationSequenceNumber: 2, usedUnits: '60', requestedUnits: '60' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '60' });
    expect(await askChargingSession(oc.nc, session, { operation: 'TERMINATE', invocationSequenceNumber: 3, usedUnits: '30' })).toMatchObject({ resultCode: 'SUCCESS' });

    // 150 s: 3.75 EUR less the 2.00 credit, in reports of 0.00 (1.50 of the credit), 1.00 (the 0.50 left) and 0.75.
    const { rows } = await oc.db.query<{ price: string }>(`select price::text from usage_record where source = 'ocs' and (event_id = $1 or event_id like $2) and status = 'RATED' order by occurred_at, event_id`, [session, `${session}#%`]);
    const rated = rows.reduce((sum, r) => sum.plus(r.price), dec('0')).toFixed(2);
    expect({ rated, owed: dec(await oc.wallets.unbilledOf(walletId)).toFixed(2) }).toEqual({ rated: '1.75', owed: '1.75' });

    // The same call as one CDR.
    const cdr = await oc.svc.request(RECORD_USAGE, { input: { source: `cdr-${run}`, records: [{ eventId: `cdr-${lineId}`, lineId, ...WORLD2_CALL, quantity: '150', occurredAt: new Date(Date.now() - 1000).toISOString() }] } });
    expect(cdr.errors, JSON.stringify(cdr.errors)).toBeUndefined();
    const { rows: [one] } = await oc.db.query<{ price: string }>(`select price::text from usage_record where id = $1`, [cdr.data.recordUsage.results[0].id]);
    expect(dec(one.price).toFixed(2)).toBe('1.75');
  });
});
