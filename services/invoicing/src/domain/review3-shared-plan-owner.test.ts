// Review 3: a shared (family) plan's fee follows only the first line on it. ARCHITECTURE/STATUS: a
// family plan is "one shared fee" per account for the lines on it. When the first line leaves
// mid-period and the other two lines stay on the family plan the whole period, the account still
// had the plan the whole period and owes the whole fee; compose.ts bills it only for the days the
// first line had it (9/30 here), and the other lines "ride along" for free.
import { describe, expect, it } from 'vitest';
import { composeInvoice, type RecurringItem } from './compose';
import { periodEndingOn } from './period';

const period = periodEndingOn('2026-10-01', 1, 'Europe/Berlin'); // 31 Aug 22:00Z – 30 Sep 22:00Z, 30 days
const line = (n: number, over: Partial<RecurringItem> = {}): RecurringItem => ({
  subscriptionId: `sub_${n}`, lineId: `lin_${n}`, msisdn: `+491510000000${n}`, planCode: 'FAMILY_SHARE_50GB', planName: 'Family Share 50 GB', fee: '60.00', feePeriod: 'MONTH', proration: 'DAILY',
  taxCategory: 'TELECOM_STANDARD', from: new Date(`2026-01-0${n}T00:00:00Z`), to: null, shared: true, ...over,
});

describe('review3: shared plan fee when the first line leaves', () => {
  it('bills the whole shared fee while other lines keep the plan for the whole period', () => {
    const inv = composeInvoice({
      currency: 'EUR', jurisdiction: 'DE', roundingMode: 'HALF_EVEN', timeZone: 'Europe/Berlin', period, usage: [], oneOffs: [], discounts: [], taxRules: [],
      // Line 1 (the first on the plan) is terminated on 10 Sep; lines 2 and 3 stay all month.
      recurring: [line(1, { to: new Date('2026-09-09T22:00:00Z') }), line(2), line(3)],
    });
    const fees = inv.lines.filter((l) => l.kind === 'RECURRING').map((l) => [l.description, l.netAmount]);
    expect(inv.netTotal, `the account had the family plan all 30 days: one full 60.00 fee, got ${JSON.stringify(fees)}`).toBe('60.00');
  });
});
