import { describe, expect, it } from 'vitest';
import { parseBillIssued } from './bill-issued';

const good = { invoiceId: 'inv_1', billingAccountId: 'acc_1', periodStart: '2026-02-01T00:00:00.000Z', periodEnd: '2026-03-01T00:00:00.000Z' };
const time = '2026-03-02T00:00:00Z';

describe('parseBillIssued', () => {
  it('takes a bill invoicing sends', () => {
    expect(parseBillIssued(good, time)).toEqual({ ok: true, bill: { ...good, periodStart: new Date(good.periodStart), periodEnd: new Date(good.periodEnd), issuedAt: new Date(time) } });
  });

  // Each passed the parser before and failed in SQL: the batch was retried for ever.
  it.each([
    ['a NUL in the invoice id', { ...good, invoiceId: 'inv_\u0000' }, time, 'invoiceId', /NUL/],
    ['a NUL in the account id', { ...good, billingAccountId: 'acc\u0000' }, time, 'billingAccountId', /NUL/],
    ['an invoice id over 64 characters', { ...good, invoiceId: `inv_${'x'.repeat(61)}` }, time, 'invoiceId', /longer than 64/],
    ['an account id over 40 characters', { ...good, billingAccountId: `acc_${'x'.repeat(37)}` }, time, 'billingAccountId', /longer than 40/],
    ['a period end in year 275760', { ...good, periodEnd: '+275760-09-13T00:00:00.000Z' }, time, 'periodEnd', /outside the years/],
    ['a period start in year 0', { ...good, periodStart: '0000-01-01T00:00:00.000Z' }, time, 'periodStart', /outside the years/],
    ['an issue time before 1970', good, '1969-12-31T23:00:00Z', 'time', /outside the years/],
    ['an issue time that is no date', good, 'yesterday', 'time', /not a date-time/],
    ['an empty invoice id', { ...good, invoiceId: '' }, time, 'invoiceId', /missing/],
    ['a number as account id', { ...good, billingAccountId: 7 }, time, 'billingAccountId', /not a text/],
    ['a period that ends before it starts', { ...good, periodEnd: new Date(Date.parse(good.periodStart) - 1).toISOString() }, time, 'periodEnd', /not after/],
    ['no data', null, time, 'data', /no data/],
  ])('refuses %s, naming the field', (_what, data, at, field, message) => {
    const parsed = parseBillIssued(data, at);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) {
      expect(parsed.problem.field).toBe(field);
      expect(parsed.problem.message).toMatch(message);
    }
  });

  it('tells a bill of an instant (a replenishment invoice: it bills no usage period) from a refused one', () => {
    expect(parseBillIssued({ ...good, periodEnd: good.periodStart }, time)).toEqual({ ok: 'instant', invoiceId: good.invoiceId });
  });

  it('keeps ids at their column sizes', () => {
    expect(parseBillIssued({ ...good, invoiceId: 'i'.repeat(64), billingAccountId: 'a'.repeat(40) }, time).ok).toBe(true);
  });
});
