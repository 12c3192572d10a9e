import { describe, expect, it } from 'vitest';
import { Decimal } from '@ledgerline/contracts';
import { chargeAmountOf, ledgerMoneyFor } from './ledger-money';

const d = (v: string) => new Decimal(v);

// The cases of wallets' decideCharge tests (services/wallets/src/domain/charging.test.ts): usage's
// estimate is the money wallets' moneyFor takes (both rating's ledgerMoneyFor now).
describe('ledgerMoneyFor (rating\'s, as wallets moneyFor takes it)', () => {
  it('a tiered price is taken exactly as rated; pro rata of the rated amount when an allowance covers part', () => {
    expect(ledgerMoneyFor(d('12.6215'), d('1500.3'), d('1500.3')).toFixed()).toBe('12.6215');
    // A bucket covers 500.1 MB: two thirds of the rated price, half-even at 6 places.
    expect(ledgerMoneyFor(d('12.6215'), d('1500.3'), d('1000.2')).toFixed()).toBe('8.414333');
    // A charge cut short (PARTIAL): the units granted, pro rata, rounded down.
    expect(ledgerMoneyFor(d('12.6215'), d('1500.3'), d('594.3'), Decimal.ROUND_DOWN).toFixed()).toBe('4.999638');
  });

  it('a per-event price (graduated per event, a flat fee) is shared pro rata, never priced again on the uncovered units', () => {
    expect(ledgerMoneyFor(d('20'), d('10'), d('2'), Decimal.ROUND_DOWN).toFixed()).toBe('4');
    // 2000 MB rated 15.12 over per-event tiers, 480 MB from the bundle: 15.12 x 1520 / 2000.
    expect(ledgerMoneyFor(d('15.12'), d('2000'), d('1520')).toFixed()).toBe('11.4912');
    expect(ledgerMoneyFor(d('0.09'), d('60'), d('7')).toFixed()).toBe('0.0105');
    expect(ledgerMoneyFor(d('1'), d('3'), d('1')).toFixed()).toBe('0.333333');
    expect(ledgerMoneyFor(d('1'), d('3'), d('2')).toFixed()).toBe('0.666667');
  });

  it('nothing for no units, or for a charge of no units', () => {
    expect(ledgerMoneyFor(d('1.5'), d('10'), d('0')).toFixed()).toBe('0');
    expect(ledgerMoneyFor(d('1.5'), d('0'), d('0')).toFixed()).toBe('1.5');
    expect(ledgerMoneyFor(d('1.5'), d('0'), d('1')).toFixed()).toBe('0');
  });

  it('the ChargeRequest amount is the rated price at the ledger scale', () => {
    expect(chargeAmountOf('0.90').toFixed()).toBe('0.9');
    expect(chargeAmountOf('0.12345650').toFixed()).toBe('0.123456');
    expect(chargeAmountOf('0.12345750').toFixed()).toBe('0.123458');
  });
});
