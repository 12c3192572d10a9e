/**
 * An online session on a tariff with a fixed-amount EVENT surcharge (postpaid-20gb's WORLD2
 * connection fee, 0.10 EUR a call): a session is one call, so the fee is paid once, as for the same
 * call as one CDR. Before, rating applied the amount again to every later report (rated with
 * precedingQuantity), so each reservation after the first was held and committed with one more fee.
 * Real wallets, postpaid: what the account owes after the session.
 */
import { describe, expect, it } from 'vitest';
import { dec } from '@ledgerline/contracts';
import { askChargingSession, planDocument, RECORD_USAGE, setLine } from './support';
import { onlineCharging } from './session-support';

/** postpaid-20gb with its WORLD2 connection fee at any time of day (the shipped rule is for PEAK only; the test runs at any hour). */
function connectionFeePlan(): Record<string, unknown> {
  const doc = planDocument('postpaid-20gb.json') as { rules: Array<{ name: string; conditions: { all: Array<{ fact: string }> } }> };
  const fee = doc.rules.find((rule) => rule.name === 'roaming-world-surcharge-peak')!;
  fee.conditions.all = fee.conditions.all.filter((leaf) => leaf.fact !== 'timeBand');
  return doc;
}

/** Calls roaming in Brazil (WORLD2): roaming-world-voice, 0.025 EUR/s after a 60 s minimum, and the 0.10 fee. */
const WORLD2_CALL = { usageType: 'VOICE', roamingCountry: 'BR', calledNumber: '+4930123456' };

const oc = onlineCharging({ plv_fee: connectionFeePlan() });
const run = Math.random().toString(36).slice(2, 8);

describe('an online session on a tariff with a connection fee', () => {
  it('charges the fee once per call over several reports, as the same call as one CDR', async () => {
    const lineId = `lin_fee${run}`;
    const account = `acc_fee${run}`;
    const walletId = await oc.wallets.postpaidWallet(account, lineId);
    await setLine(oc.svc, { lineId, msisdn: `+4915179${String(Date.now()).slice(-6)}`, account, planVersionId: 'plv_fee', paymentMode: 'POSTPAID' });
    const session = `s_fee_${run}`;

    expect(await askChargingSession(oc.nc, session, { operation: 'RESERVE', lineId, ...WORLD2_CALL, requestedUnits: '60' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '60' });
    expect(await askChargingSession(oc.nc, session, { operation: 'UPDATE', invocationSequenceNumber: 1, usedUnits: '60', requestedUnits: '60' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '60' });
    expect(await askChargingSession(oc.nc, session, { operation: 'UPDATE', invocationSequenceNumber: 2, usedUnits: '60', requestedUnits: '60' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '60' });
    expect(await askChargingSession(oc.nc, session, { operation: 'TERMINATE', invocationSequenceNumber: 3, usedUnits: '30' })).toMatchObject({ resultCode: 'SUCCESS' });

    // 150 s: 3.75 EUR and one 0.10 fee.
    const { rows } = await oc.db.query<{ price: string }>(`select price::text from usage_record where source = 'ocs' and (event_id = $1 or event_id like $2) and status = 'RATED'`, [session, `${session}#%`]);
    const rated = rows.reduce((sum, r) => sum.plus(r.price), dec('0')).toFixed(2);
    expect({ rated, owed: dec(await oc.wallets.unbilledOf(walletId)).toFixed(2) }).toEqual({ rated: '3.85', owed: '3.85' });

    // The same call as one CDR.
    const cdr = await oc.svc.request(RECORD_USAGE, { input: { source: `cdr-${run}`, records: [{ eventId: `cdr-${lineId}`, lineId, ...WORLD2_CALL, quantity: '150', occurredAt: new Date(Date.now() - 1000).toISOString() }] } });
    expect(cdr.errors, JSON.stringify(cdr.errors)).toBeUndefined();
    const { rows: [one] } = await oc.db.query<{ price: string }>(`select price::text from usage_record where id = $1`, [cdr.data.recordUsage.results[0].id]);
    expect(dec(one.price).toFixed(2)).toBe('3.85');
  });
});
