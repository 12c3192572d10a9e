/**
 * What a plan simulation shows a customer for an event partly inside its allowance is what
 * decideCharge takes for it: both price the uncovered units with rating's `ledgerMoneyFor` (the
 * rated price pro rata), not the tariff run again on them (which simulate did: 12.62 against the
 * ledger's 11.34 below). The integration side: test/simulated-charge-matches-ledger.test.ts.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Decimal, dec, type ChargeRequest } from '@ledgerline/contracts';
import { chargeAmountOf, compilePlan, ledgerMoneyFor, simulate, type PlanDocument, type RatingResult, type UsageEvent } from '@ledgerline/rating';
import { decideCharge, toChargeInput, type BucketState, type WalletState } from './charging';

const plan = JSON.parse(readFileSync(new URL('../../../../catalog/plans/postpaid-20gb.json', import.meta.url), 'utf8')) as PlanDocument;
const at = new Date('2026-03-02T10:00:00Z');
const data = (id: string, quantity: string): UsageEvent => ({ id, usageType: 'DATA', direction: 'OUTGOING', quantity, occurredAt: at.toISOString() });

/** The ChargeRequest usage sends for a rated event (usage-pipeline chargeRequestOf). */
const requestOf = (r: RatingResult): ChargeRequest => ({
  chargeId: r.eventId, billingAccountId: 'acc', lineId: 'lin', paymentMode: 'POSTPAID', currency: r.currency, usageType: 'DATA', occurredAt: at.toISOString(),
  units: r.chargedUnits, unit: r.unit!, allowanceIds: r.allowanceId ? [r.allowanceId] : [],
  pricePerUnit: dec(r.price).div(r.chargedUnits).toDecimalPlaces(10).toString(), amount: chargeAmountOf(r.price).toFixed(), allowOverdraft: true,
});

describe('a partly covered event: the simulation and decideCharge take the same money', () => {
  it('POSTPAID_20GB data-allowance, 2000 MB with 500 MB left in the bundle: 11.34 on both sides', async () => {
    const compiled = compilePlan(plan, { version: '1', knownOffers: [] });
    const report = await simulate(compiled, [data('e1', '19980'), data('e2', '2000')], { accountType: 'POSTPAID', customerType: 'INDIVIDUAL', lineStatus: 'ACTIVE', lineCount: 1 });
    const simulated = report.charges[1];

    const wallet: WalletState = { id: 'w', billingAccountId: 'acc', currency: 'EUR', paymentMode: 'POSTPAID', balance: new Decimal(0), unbilled: new Decimal(0), creditLimit: null, overdraftLimit: new Decimal(0) };
    const bucket: BucketState = { id: 'b', billingAccountId: 'acc', lineId: null, allowanceId: 'data', unit: 'MB', priority: 1, validFrom: new Date('2026-03-01'), validTo: new Date('2026-04-01'), carriedFrom: null, initial: new Decimal('20480'), remaining: new Decimal('500') };
    const charged = decideCharge(wallet, [bucket], toChargeInput(requestOf(simulated.result)));

    expect({ covered: charged.unitsFromBuckets.toFixed(), amount: charged.amount.toFixed() }).toEqual({ covered: simulated.coveredUnits, amount: simulated.charge });
    expect(charged.amount.toFixed()).toBe('11.34');
    expect(charged.amount.eq(ledgerMoneyFor(new Decimal('15.12'), new Decimal('2000'), new Decimal('1500')))).toBe(true);
  });
});
