/**
 * An online session on a tariff with an EVENT-scope discount (or surcharge): rateUnits
 * (charging-session.ts) held the units at the rating's `pricePerUnit`, the tariff's flat price
 * before adjustments, so the discount was never applied online - the customer paid the full price
 * for what the same megabytes cost at half price as a CDR (chargeRequestOf prices an adjusted event
 * from its rated price). Real wallets: what the postpaid account owes after the session.
 */
import { describe, expect, it } from 'vitest';
import { dec } from '@ledgerline/contracts';
import { askChargingSession, planDocument, setLine } from './support';
import { onlineCharging } from './session-support';

/** postpaid-20gb with half-price data roaming in WORLD1 (0.49/MB flat, so 0.245/MB after the discount). */
function discountedPlan(): Record<string, unknown> {
  const doc = planDocument('postpaid-20gb.json') as { rules: unknown[] };
  doc.rules.push({
    name: 'world1-data-half-price', priority: 20,
    conditions: { all: [{ fact: 'usageType', operator: 'equal', value: 'DATA' }, { fact: 'roamingZone', operator: 'equal', value: 'WORLD1' }] },
    event: { type: 'discount', params: { percent: '50', scope: 'EVENT', label: 'WORLD1 data half price' } },
  });
  return doc;
}

const oc = onlineCharging({ plv_disc: discountedPlan() });
const run = Math.random().toString(36).slice(2, 8);

describe('an online session on a discounted tariff', () => {
  it('holds and charges the units at the discounted price, as the same usage offline is rated', async () => {
    const lineId = `lin_disc${run}`;
    const account = `acc_disc${run}`;
    const walletId = await oc.wallets.postpaidWallet(account, lineId);
    await setLine(oc.svc, { lineId, msisdn: `+4915178${String(Date.now()).slice(-6)}`, account, planVersionId: 'plv_disc', paymentMode: 'POSTPAID' });
    const session = `s_disc_${run}`;

    const reserved = await askChargingSession(oc.nc, session, { operation: 'RESERVE', lineId, usageType: 'DATA', roamingCountry: 'US', requestedUnits: '100' });
    expect(reserved).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '100' });
    const done = await askChargingSession(oc.nc, session, { operation: 'TERMINATE', invocationSequenceNumber: 1, usedUnits: '100' });
    expect(done.resultCode).toBe('SUCCESS');

    // The session's record as rated (the discounted price) and as committed (what wallets took).
    const { rows: [rec] } = await oc.db.query(`select price::text as price, amount_charged::text as charged from usage_record where source = 'ocs' and event_id = $1`, [session]);
    const unbilled = await oc.wallets.unbilledOf(walletId);
    expect({ rated: dec(rec.price).toFixed(2), charged: dec(rec.charged).toFixed(2), owed: dec(unbilled).toFixed(2) }).toEqual({ rated: '24.50', charged: '24.50', owed: '24.50' });
  });
});
