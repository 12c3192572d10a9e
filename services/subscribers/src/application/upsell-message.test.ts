/**
 * Upsell texts print the offer's price in its currency's minor unit, from the stored decimal
 * string (was `Number(price).toFixed(2)`: money through a float, two decimals for every currency).
 */
import { describe, expect, it } from 'vitest';
import { composeMessage } from '../domain/notifications';
import { upsellMessageParams } from './upsell';

const offer = (price: string, currency: string) => ({ offerName: 'Data Boost 5 GB', price, currency, expiresAt: new Date('2026-11-23T09:00:00Z') });

describe('upsell offer texts', () => {
  it('print the price with the currency digits: 2 for EUR, 0 for JPY, 3 for KWD', () => {
    expect(composeMessage('UPSELL_OFFER', upsellMessageParams(offer('5.0000', 'EUR'))).content).toBe('Running low? Add Data Boost 5 GB for 5.00 EUR. Accept it in the app before 2026-11-23 09:00 UTC.');
    expect(composeMessage('UPSELL_REMINDER', upsellMessageParams(offer('500.0000', 'JPY'))).content).toBe('Your offer of Data Boost 5 GB for 500 JPY expires at 2026-11-23 09:00 UTC.');
    expect(composeMessage('UPSELL_FAILED', upsellMessageParams(offer('5.0000', 'EUR')))).toEqual({ subject: 'Data Boost 5 GB was not added', content: 'We could not add Data Boost 5 GB to your line, so you do not have it yet. You can accept the offer again in the app before 2026-11-23 09:00 UTC.' });
    expect(upsellMessageParams(offer('1.5000', 'KWD')).price).toBe('1.500 KWD');
    // A failure told after the offer expired invites no accept (`ended`, set by tellUpsell).
    expect(composeMessage('UPSELL_FAILED', { ...upsellMessageParams(offer('5.0000', 'EUR')), ended: 'true' }).content).toBe('We could not add Data Boost 5 GB to your line, so you do not have it. The offer ended at 2026-11-23 09:00 UTC.');
  });

  it('never go through a JS number', () => {
    // As doubles these are just below the half: Number('2.6750').toFixed(2) is '2.67', and
    // Number('12345678901234.1350').toFixed(2) is '12345678901234.13'. The decimal rounds HALF_EVEN exactly.
    expect(upsellMessageParams(offer('2.6750', 'EUR')).price).toBe('2.68 EUR');
    expect(upsellMessageParams(offer('12345678901234.1350', 'EUR')).price).toBe('12345678901234.14 EUR');
  });
});
