import { describe, expect, it } from 'vitest';
import { accountOwnerProblem, billingAccountIdProblem, lineProblem, normalizeMsisdn, subscriptionProblem } from './line-context';

const line = { lineId: 'lin_1', billingAccountId: 'acc_1', status: 'ACTIVE', msisdn: '+4915100000001' };
const subscription = { subscriptionId: 'sub_1', paymentMode: 'PREPAID', currency: 'EUR', planCode: 'P', planVersionId: 'plv_1', startsAt: '2026-01-01T00:00:00Z', endsAt: null, addOns: [] };

describe('what the read model can store of a line', () => {
  it('normalises a number as usage events are matched, and refuses what is not E.164', () => {
    expect([normalizeMsisdn('+49 151 (0000) 0001'), normalizeMsisdn('4915100000001'), normalizeMsisdn(`+49${'1'.repeat(40)}`), normalizeMsisdn('+49\u0000151')]).toEqual(['+4915100000001', '+4915100000001', undefined, undefined]);
  });

  it('names the field at fault: lengths of the columns, NUL, missing ids', () => {
    expect([
      lineProblem(line),
      lineProblem({ ...line, lineId: `lin_${'l'.repeat(40)}` })?.field,
      lineProblem({ ...line, billingAccountId: 'acc_\u0000' })?.field,
      lineProblem({ ...line, msisdn: '+49 1' })?.code,
      lineProblem({ ...line, msisdn: '' }),
      lineProblem({ ...line, lineId: '' })?.message,
    ]).toEqual([undefined, 'lineId', 'billingAccountId', 'MSISDN_INVALID', undefined, 'lineId is missing']);
  });

  it('names a subscription field under its prefix, add-ons by position', () => {
    expect([
      subscriptionProblem(subscription),
      subscriptionProblem({ ...subscription, subscriptionId: `sub_${'s'.repeat(40)}` })?.field,
      subscriptionProblem({ ...subscription, currency: 'EURO' }, '')?.field,
      subscriptionProblem({ ...subscription, startsAt: 'soon' })?.field,
      subscriptionProblem({ ...subscription, addOns: [{ code: 'A', startsAt: '2026-01-01T00:00:00Z' }, { code: 'x'.repeat(65), startsAt: '2026-01-01T00:00:00Z' }] }),
    ]).toEqual([
      undefined,
      'subscription.subscriptionId',
      'currency',
      'subscription.startsAt',
      { field: 'subscription.addOns.1.code', message: 'subscription.addOns.1.code is longer than 64 characters', code: 'LINE_CONTEXT_INVALID' },
    ]);
  });

  it('an account owner needs both ids', () => {
    expect([accountOwnerProblem({ billingAccountId: 'acc_1', customerId: 'cus_1' }), accountOwnerProblem({ billingAccountId: 'acc_1' })?.field]).toEqual([undefined, 'customerId']);
  });

  it('a billing account id alone (what billingaccount.created read again for its terms checks): present, a text, within its column, no NUL', () => {
    expect([billingAccountIdProblem('acc_1'), billingAccountIdProblem(undefined)?.message, billingAccountIdProblem(7)?.message, billingAccountIdProblem(`acc_${'a'.repeat(40)}`)?.message, billingAccountIdProblem('acc_\u0000')?.field])
      .toEqual([undefined, 'billingAccountId is missing', 'billingAccountId is not a text', 'billingAccountId is longer than 40 characters', 'billingAccountId']);
  });
});
