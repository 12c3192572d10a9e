/**
 * The one rule for the money of a usage charge (wallets' decideCharge takes it, usage estimates it,
 * simulation shows it): the rated price pro rata of the units no allowance covered.
 */
import { describe, expect, it } from 'vitest';
import { Decimal } from '@ledgerline/contracts';
import { chargeAmountOf, ledgerMoneyFor, uncoveredMoney } from './ledger-money';

const d = (v: string) => new Decimal(v);

describe('ledgerMoneyFor', () => {
  it('a tiered price is taken exactly as rated; pro rata of the rated amount when an allowance covers part', () => {
    expect(ledgerMoneyFor(d('12.6215'), d('1500.3'), d('1500.3')).toFixed()).toBe('12.6215');
    // A bucket covers 500.1 MB: two thirds of the rated price, half-even at 6 places.
    expect(ledgerMoneyFor(d('12.6215'), d('1500.3'), d('1000.2')).toFixed()).toBe('8.414333');
    // A charge cut short (PARTIAL): the units granted, pro rata, rounded down.
    expect(ledgerMoneyFor(d('12.6215'), d('1500.3'), d('594.3'), Decimal.ROUND_DOWN).toFixed()).toBe('4.999638');
  });

  it('a per-event price (graduated per event, a flat fee) is shared pro rata, never priced again on the uncovered units', () => {
    expect(ledgerMoneyFor(d('20'), d('10'), d('2'), Decimal.ROUND_DOWN).toFixed()).toBe('4');
    // POSTPAID_20GB's data-allowance: 2000 MB rated 15.12 over per-event tiers, 500 MB from the bundle.
    // Its share, 15.12 x 1500 / 2000; the tiers again from tier 0 on 1500 MB would be 12.62.
    expect(ledgerMoneyFor(d('15.12'), d('2000'), d('1500')).toFixed()).toBe('11.34');
    expect(ledgerMoneyFor(d('0.09'), d('60'), d('7')).toFixed()).toBe('0.0105');
    expect(ledgerMoneyFor(d('1'), d('3'), d('1')).toFixed()).toBe('0.333333');
    expect(ledgerMoneyFor(d('1'), d('3'), d('2')).toFixed()).toBe('0.666667');
  });

  it('nothing for no units, or for a charge of no units', () => {
    expect(ledgerMoneyFor(d('1.5'), d('10'), d('0')).toFixed()).toBe('0');
    expect(ledgerMoneyFor(d('1.5'), d('0'), d('0')).toFixed()).toBe('1.5');
    expect(ledgerMoneyFor(d('1.5'), d('0'), d('1')).toFixed()).toBe('0');
  });

  it('the ChargeRequest amount is the rated price at the ledger scale, half-even', () => {
    expect(chargeAmountOf('0.90').toFixed()).toBe('0.9');
    expect(chargeAmountOf('0.12345650').toFixed()).toBe('0.123456');
    expect(chargeAmountOf('0.12345750').toFixed()).toBe('0.123458');
  });

  it('uncoveredMoney: a rated price (any tariff scale) to the money the ledger takes for its uncovered units', () => {
    expect(uncoveredMoney('15.1200', '2000', d('1500')).toFixed()).toBe('11.34');
    expect(uncoveredMoney('15.1200', '2000', d('2000')).toFixed()).toBe('15.12');
    expect(uncoveredMoney('15.1200', '2000', d('0')).toFixed()).toBe('0');
    // A tariff scale past the ledger's 6 places: the ChargeRequest's amount first, then its share.
    expect(uncoveredMoney('0.1234567500', '3', d('3')).toFixed()).toBe('0.123457');
    expect(uncoveredMoney('0.1234567500', '3', d('1')).toFixed()).toBe('0.041152');
  });
});
