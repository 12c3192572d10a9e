/**
 * A session whose subscriber changes country mid-session (3GPP's PLMN-change trigger): the UPDATE reports the units
 * used so far (where they were used: the session's location until then) and gives the new location for the units it
 * asks for. The UPDATE's `roamingCountry` / `visitedMcc` were accepted and ignored: its units were held and charged
 * at the RESERVE's location, so a data session that went on in the US came out of the home allowance (nothing owed,
 * where 100 MB of WORLD1 roaming data is 49.00 EUR on postpaid-20gb), and a session that came home kept its roaming
 * price. Real wallets: what the postpaid account owes after the session.
 */
import { describe, expect, it } from 'vitest';
import { dec } from '@ledgerline/contracts';
import { askChargingSession, setLine } from './support';
import { onlineCharging } from './session-support';

const oc = onlineCharging();
const run = Math.random().toString(36).slice(2, 8);

async function postpaid(tag: string): Promise<{ lineId: string; walletId: string }> {
  const lineId = `lin_loc${tag}${run}`;
  const account = `acc_loc${tag}${run}`;
  const walletId = await oc.wallets.postpaidWallet(account, lineId);
  await setLine(oc.svc, { lineId, msisdn: `+4915177${'abc'.indexOf(tag) + 1}${String(Date.now()).slice(-5)}`, account, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID' });
  return { lineId, walletId };
}

async function recordsOf(session: string): Promise<Record<string, string>> {
  const { rows } = await oc.db.query<{ event_id: string; charged: string | null }>(
    `select event_id, amount_charged::text as charged from usage_record where source = 'ocs' and (event_id = $1 or event_id like $2) order by event_id`,
    [session, `${session}#%`],
  );
  return Object.fromEntries(rows.map((r) => [r.event_id, dec(r.charged ?? '0').toFixed(2)]));
}

describe('a session whose location changes mid-session', () => {
  it('holds and charges the units an UPDATE asks for at the location it gives (home, then WORLD1 roaming)', async () => {
    const { lineId, walletId } = await postpaid('a');
    const session = `s_loc_a_${run}`;
    expect(await askChargingSession(oc.nc, session, { operation: 'RESERVE', lineId, usageType: 'DATA', requestedUnits: '100' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '100' });
    // 100 MB used at home (the allowance); the subscriber is now in the US: the next 100 MB are WORLD1 roaming data.
    expect(await askChargingSession(oc.nc, session, { operation: 'UPDATE', invocationSequenceNumber: 1, usedUnits: '100', requestedUnits: '100', roamingCountry: 'US' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '100' });
    expect(await askChargingSession(oc.nc, session, { operation: 'TERMINATE', invocationSequenceNumber: 2, usedUnits: '100' })).toMatchObject({ resultCode: 'SUCCESS' });

    expect(await recordsOf(session)).toEqual({ [session]: '49.00', [`${session}#1`]: '0.00' });
    expect(dec(await oc.wallets.unbilledOf(walletId)).toFixed(2)).toBe('49.00');
  });

  it('a session that began roaming and comes home is charged at home from then on', async () => {
    const { lineId, walletId } = await postpaid('b');
    const session = `s_loc_b_${run}`;
    expect(await askChargingSession(oc.nc, session, { operation: 'RESERVE', lineId, usageType: 'DATA', visitedMcc: '310', requestedUnits: '100' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '100' });
    // Back in Germany (its home network's MCC): the next units are home data again.
    expect(await askChargingSession(oc.nc, session, { operation: 'UPDATE', invocationSequenceNumber: 1, usedUnits: '100', requestedUnits: '100', visitedMcc: '262' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '100' });
    expect(await askChargingSession(oc.nc, session, { operation: 'TERMINATE', invocationSequenceNumber: 2, usedUnits: '100' })).toMatchObject({ resultCode: 'SUCCESS' });

    expect(await recordsOf(session)).toEqual({ [session]: '0.00', [`${session}#1`]: '49.00' });
    expect(dec(await oc.wallets.unbilledOf(walletId)).toFixed(2)).toBe('49.00');
  });

  it("an UPDATE's malformed location is an input error naming the field (it was ignored), and claims nothing", async () => {
    const { lineId } = await postpaid('c');
    const session = `s_loc_c_${run}`;
    await askChargingSession(oc.nc, session, { operation: 'RESERVE', lineId, usageType: 'DATA', requestedUnits: '100' });
    expect(await askChargingSession(oc.nc, session, { operation: 'UPDATE', invocationSequenceNumber: 1, usedUnits: '10', requestedUnits: '100', roamingCountry: 'Germany' }))
      .toMatchObject({ resultCode: 'RATING_FAILED', message: expect.stringContaining('roamingCountry') });
    expect(await askChargingSession(oc.nc, session, { operation: 'UPDATE', invocationSequenceNumber: 1, usedUnits: '10', requestedUnits: '100', visitedMcc: '31' }))
      .toMatchObject({ resultCode: 'RATING_FAILED', message: expect.stringContaining('visitedMcc') });
    expect(await askChargingSession(oc.nc, session, { operation: 'UPDATE', invocationSequenceNumber: 1, usedUnits: '10', requestedUnits: '100', roamingCountry: 'us' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '100' });
  });
});
