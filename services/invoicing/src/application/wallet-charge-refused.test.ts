// The invoice line of a charge a closed prepaid wallet refused. Since d65bfba a settlement pays a due
// charge in part from what the wallet held and refuses only the rest (`amount`), with `chargeAmount` and
// `collected` on the event; the line still said "not collected" of a charge the wallet had paid 3.00 of.
import { describe, expect, it } from 'vitest';
import type { ChargeRefusedData } from '@ledgerline/contracts';
import { refusedChargeDescription, refusedChargeIn } from './wallet-charge-refused';

const refused = (over: Partial<ChargeRefusedData> = {}): ChargeRefusedData => ({
  chargeId: 'chg_1', billingAccountId: 'acc_1', walletId: 'wal_1', lineId: null, reason: 'SIM_REPLACEMENT_FEE', description: 'SIM replacement',
  amount: { amount: '5.00', currency: 'EUR' }, refusal: 'WALLET_SETTLED', refusedBecause: 'The EUR wallet was settled', dueSince: '2026-10-21T10:00:00.000Z',
  transactionId: 'wtx_1', closedAt: '2026-10-20T08:00:00.000Z', settledAt: '2026-10-23T08:00:00.000Z', refusedAt: '2026-10-23T08:00:00.000Z', ...over,
});

describe('refusedChargeDescription', () => {
  it('a charge the wallet paid nothing of: not collected (events before d65bfba carry no collected)', () => {
    expect(refusedChargeDescription(refused())).toBe('SIM replacement (SIM_REPLACEMENT_FEE, charge chg_1: not collected from the settled prepaid wallet)');
    expect(refusedChargeDescription(refused({ chargeAmount: { amount: '5', currency: 'EUR' }, collected: { amount: '0', currency: 'EUR' } })))
      .toBe('SIM replacement (SIM_REPLACEMENT_FEE, charge chg_1: not collected from the settled prepaid wallet)');
    expect(refusedChargeDescription(refused({ refusal: 'WALLET_CLOSED', settledAt: null }))).toBe('SIM replacement (SIM_REPLACEMENT_FEE, charge chg_1: not collected from the closed prepaid wallet)');
  });

  it('a charge the settlement paid in part: what was collected of the whole charge, and what is billed', () => {
    const d = refused({ amount: { amount: '2', currency: 'EUR' }, chargeAmount: { amount: '5', currency: 'EUR' }, collected: { amount: '3', currency: 'EUR' } });
    expect(refusedChargeDescription(d)).toBe('SIM replacement (SIM_REPLACEMENT_FEE, charge chg_1: 3.00 of 5.00 collected from the settled prepaid wallet, 2.00 billed)');
    // In the currency's minor units (JPY none); without chargeAmount the charge is what was collected and what is left.
    const yen = refused({ amount: { amount: '250', currency: 'JPY' }, collected: { amount: '750', currency: 'JPY' } });
    expect(refusedChargeDescription(yen)).toBe('SIM replacement (SIM_REPLACEMENT_FEE, charge chg_1: 750 of 1000 collected from the settled prepaid wallet, 250 billed)');
  });

  it('a collected it cannot read (not a decimal, another currency, too large) says nothing of it', () => {
    const plain = 'SIM replacement (SIM_REPLACEMENT_FEE, charge chg_1: not collected from the settled prepaid wallet)';
    expect(refusedChargeDescription(refused({ collected: { amount: 'lots', currency: 'EUR' } }))).toBe(plain);
    expect(refusedChargeDescription(refused({ collected: { amount: '3', currency: 'USD' } }))).toBe(plain);
    expect(refusedChargeDescription(refused({ collected: null as never }))).toBe(plain);
    expect(refusedChargeDescription(refused({ collected: { amount: '1'.repeat(200), currency: 'EUR' } }))).toBe(plain);
  });

  it('a long description is cut so the line fits its 300 characters, the collected part kept whole', () => {
    const d = refused({ description: 'x'.repeat(400), amount: { amount: '2', currency: 'EUR' }, chargeAmount: { amount: '5', currency: 'EUR' }, collected: { amount: '3', currency: 'EUR' } });
    const text = refusedChargeDescription(d);
    expect([...text]).toHaveLength(300);
    expect(text).toMatch(/… \(SIM_REPLACEMENT_FEE, charge chg_1: 3\.00 of 5\.00 collected from the settled prepaid wallet, 2\.00 billed\)$/);
  });
});

// A message held not_a_cloud_event names the charge it carried, so billing that charge from a corrected event settles it.
describe('refusedChargeIn of a message that is not a CloudEvent', () => {
  const event = { specversion: '1.0', id: 'evt_1', type: 'billing.wallets.charge.refused', time: '2026-10-23T08:00:00.000Z', data: refused() };
  const named = (text: string) => {
    const m = refusedChargeIn(text, 7);
    return [m.key, m.problem?.reason, m.chargeId, m.billingAccountId];
  };
  it("names its data's charge and account (here without a source)", () => {
    expect(named(JSON.stringify(event))).toEqual(['message:7', 'not_a_cloud_event', 'chg_1', 'acc_1']);
  });
  it('cut short (not JSON): the ids its text still holds, whole', () => {
    const text = JSON.stringify({ data: { chargeId: 'chg_1', billingAccountId: 'acc_1', amount: { amount: '5.00' } } });
    expect(named(text.slice(0, text.indexOf('"amount"')))).toEqual(['message:7', 'not_a_cloud_event', 'chg_1', 'acc_1']);
    expect(named(text.slice(0, text.indexOf('acc_1') + 3))).toEqual(['message:7', 'not_a_cloud_event', 'chg_1', null]);
  });
  it('names nothing it could not match as a readable event would carry it', () => {
    expect(named('not json')).toEqual(['message:7', 'not_a_cloud_event', null, null]);
    expect(named(JSON.stringify({ ...event, data: refused({ chargeId: 'c'.repeat(81) }) }))[2]).toBeNull();
    expect(named('{"chargeId":"chg_\\"1"')[2]).toBeNull();
  });
});
