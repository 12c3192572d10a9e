/**
 * Review 5: customer notifications print every currency with two decimals.
 *
 * What is wrong: subscribers' notification texts (`money()` in domain/notifications.ts, used for
 * LOW_BALANCE, BALANCE_DEPLETED, BUNDLE_FEE_DUE and CHARGE_DUE) format amounts with `toFixed(2)`,
 * whatever the currency. Today's ISO 4217 table (contracts money.ts) makes every List One currency
 * billable end to end — 3-decimal ones (KWD, BHD, and newly JOD, OMR, TND, IQD, LYD) and 0-decimal
 * ones (JPY, KRW, CLP, VND…) — and says "a currency one service accepts, every other can round".
 * The notifications do not: a Jordanian prepaid customer whose balance fell to 4.995 JOD, below a
 * 5 JOD threshold, is told by SMS "Your balance is 5.00 JOD, below 5.00 JOD" (rounded up to the
 * threshold it is below, and in the wrong precision); a Japanese customer reads "480.00 JPY".
 *
 * How a user meets it: a wallet in JOD/KWD/JPY crosses its low-balance threshold (wallets emits
 * billing.wallets.balance.low with the exact amounts) and subscribers sends the SMS/e-mail.
 *
 * What the fix should make true: amounts in notification texts use the currency's minor unit
 * (`minorUnits(currency)` from @ledgerline/contracts, as invoice documents already do): 4.995 JOD,
 * 5.000 JOD, 480 JPY. (Same toFixed(2) in wallets' own LOW_BALANCE / AUTO_TOPUP_LIMIT notification
 * messages, application/balance-events.ts, and `Number(price).toFixed(2)` in application/upsell.ts.)
 */
import { describe, expect, it } from 'vitest';
import { composeMessage, triggerFromEvent } from './notifications';

const lowBalance = (currency: string, balance: string, threshold: string) => {
  const r = triggerFromEvent('balanceLow', { id: 'evt_low', type: 'BalanceThresholdEvent', data: { billingAccountId: 'acc_1', walletId: 'wal_1', balance: { amount: balance, currency }, threshold: { amount: threshold, currency } } });
  if (!('trigger' in r)) throw new Error(r.invalid);
  return composeMessage(r.trigger.template, r.trigger.params).content;
};

describe('notification amounts in the currency minor unit', () => {
  it('a 3-decimal currency (JOD) keeps its fils: 4.995 is not rounded up to the 5.000 threshold it fell below', () => {
    expect(lowBalance('JOD', '4.995000', '5.000000')).toBe('Your balance is 4.995 JOD, below 5.000 JOD. Top up to keep using the service.');
  });

  it('a 0-decimal currency (JPY) has no decimals', () => {
    expect(lowBalance('JPY', '480.000000', '500.000000')).toBe('Your balance is 480 JPY, below 500 JPY. Top up to keep using the service.');
  });
});
