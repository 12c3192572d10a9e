/**
 * An online session on a tariff with a fixed-amount EVENT surcharge (postpaid-20gb's WORLD2 connection fee, 0.10 EUR a
 * call, after a 60 s minimum at 0.025 EUR/s). A reservation is held at one price per unit, the rated price of the units
 * asked for over those units (rateUnits: a surcharge or discount applied), and wallets committed the units used at that
 * price. With a fixed amount the price is not proportional to the units: the fee was spread over the units asked for,
 * so a call that used fewer paid only that share of it (300 s asked, 60 s used: 1.52 EUR owed, the record rated 1.60,
 * the same call as one CDR 1.60), and a later same-catalog re-rate found 0.08 to charge. Now the units used are committed
 * at their own rated price per unit (the part rated as the call's units after those before it), which wallets charges.
 * Real wallets, postpaid: what the account owes.
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

const oc = onlineCharging({ plv_fee_part: connectionFeePlan() });
const run = Math.random().toString(36).slice(2, 8);
let lines = 0;

async function feeLine(): Promise<{ lineId: string; walletId: string }> {
  const n = ++lines;
  const lineId = `lin_fp${n}${run}`;
  const account = `acc_fp${n}${run}`;
  const walletId = await oc.wallets.postpaidWallet(account, lineId);
  await setLine(oc.svc, { lineId, msisdn: `+4915177${n}${String(Date.now()).slice(-5)}`, account, planVersionId: 'plv_fee_part', paymentMode: 'POSTPAID' });
  return { lineId, walletId };
}

/** The session's records as rated (price) and as the ledger charged them (amount_charged). */
async function sessionRecords(session: string): Promise<{ rated: string; charged: string }> {
  const { rows } = await oc.db.query<{ price: string; amount_charged: string | null }>(
    `select price::text, amount_charged::text from usage_record where source = 'ocs' and (event_id = $1 or event_id like $2) and status = 'RATED'`, [session, `${session}#%`]);
  return {
    rated: rows.reduce((sum, r) => sum.plus(r.price), dec('0')).toFixed(2),
    charged: rows.reduce((sum, r) => sum.plus(r.amount_charged ?? '0'), dec('0')).toFixed(2),
  };
}

/** The price of the same call as one CDR. */
async function asOneCdr(lineId: string, seconds: string): Promise<string> {
  const cdr = await oc.svc.request(RECORD_USAGE, { input: { source: `cdr-${run}`, records: [{ eventId: `cdr-${lineId}`, lineId, ...WORLD2_CALL, quantity: seconds, occurredAt: new Date(Date.now() - 1000).toISOString() }] } });
  expect(cdr.errors, JSON.stringify(cdr.errors)).toBeUndefined();
  const { rows: [one] } = await oc.db.query<{ price: string }>(`select price::text from usage_record where id = $1`, [cdr.data.recordUsage.results[0].id]);
  return dec(one.price).toFixed(2);
}

describe('an online session on a tariff with a connection fee, using less than it asked for', () => {
  it('charges a 60 s call asked as 300 s the whole fee once: 1.60, as the same call as one CDR', async () => {
    const { lineId, walletId } = await feeLine();
    const session = `s_fp1_${run}`;
    expect(await askChargingSession(oc.nc, session, { operation: 'RESERVE', lineId, ...WORLD2_CALL, requestedUnits: '300' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '300' });
    expect(await askChargingSession(oc.nc, session, { operation: 'TERMINATE', invocationSequenceNumber: 1, usedUnits: '60' })).toMatchObject({ resultCode: 'SUCCESS' });
    expect({ ...(await sessionRecords(session)), owed: dec(await oc.wallets.unbilledOf(walletId)).toFixed(2) }).toEqual({ rated: '1.60', charged: '1.60', owed: '1.60' });
    expect(await asOneCdr(lineId, '60')).toBe('1.60');
  });

  it('charges 100 s of a 120 s grant then 20 s more as one 120 s call: 3.10', async () => {
    const { lineId, walletId } = await feeLine();
    const session = `s_fp2_${run}`;
    expect(await askChargingSession(oc.nc, session, { operation: 'RESERVE', lineId, ...WORLD2_CALL, requestedUnits: '120' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '120' });
    const update = { operation: 'UPDATE', invocationSequenceNumber: 1, usedUnits: '100', requestedUnits: '60' };
    const first = await askChargingSession(oc.nc, session, update);
    expect(first).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '60' });
    // A retransmission is answered alike and commits nothing again.
    expect(await askChargingSession(oc.nc, session, update)).toEqual(first);
    expect(await askChargingSession(oc.nc, session, { operation: 'TERMINATE', invocationSequenceNumber: 2, usedUnits: '20' })).toMatchObject({ resultCode: 'SUCCESS' });
    expect({ ...(await sessionRecords(session)), owed: dec(await oc.wallets.unbilledOf(walletId)).toFixed(2) }).toEqual({ rated: '3.10', charged: '3.10', owed: '3.10' });
    expect(await asOneCdr(lineId, '120')).toBe('3.10');
  });
});
