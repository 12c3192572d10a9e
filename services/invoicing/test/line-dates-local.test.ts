// Through the bill run against real PostgreSQL: the dates an invoice line names (the days a
// prorated fee covers, the period a late-usage adjustment is for) are the account's local dates,
// like the document's billing period. They were printed as UTC dates: a Europe/Berlin line
// activated on 16 Sep read "2026-09-15–2026-09-30" and September's late usage "2026-08-31–2026-09-30"
// (local midnight is 22:00Z the day before); an America/New_York line ended a day late
// ("…–2026-10-01"), across the November DST change too.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { account, charges, invoicesOf, runBillRun, startHarness, subscribe, type Harness } from './support';

let h: Harness;
const descriptions = (inv: any) => inv.lines.map((l: any) => [l.kind, l.description]);

beforeAll(async () => {
  // No NATS consumer: this file's data comes through GraphQL, and a consumer would take in other runs' accounts from
  // the shared stream, which its bill runs would bill too (one with a plan version unknown here stalls the run).
  h = await startHarness('2026-10-02T10:00:00Z', { consume: false });
  // Activated 16 Sep local: 15 of September's 30 days.
  await account(h, 'acc_dates_ber');
  await subscribe(h, 'acc_dates_ber', 'sub_dber', 'postpaid20', '2026-09-15T22:00:00Z');
  await account(h, 'acc_dates_nyc', { timezone: 'America/New_York' });
  await subscribe(h, 'acc_dates_nyc', 'sub_dnyc', 'postpaid20', '2026-09-16T04:00:00Z');
  // November in New York has 30 days with the fall-back on 1 Nov; activated 10 Nov local: 21 days.
  await account(h, 'acc_dates_nyc_dst', { timezone: 'America/New_York' });
  await subscribe(h, 'acc_dates_nyc_dst', 'sub_dnycdst', 'postpaid20', '2026-11-10T05:00:00Z');
  expect(await runBillRun(h, '2026-10-01')).toMatchObject({ state: 'COMPLETED' });
});

afterAll(async () => {
  await h?.svc.close();
});

describe('invoice lines name local dates', () => {
  it('a fee prorated from mid-period names its local days (Europe/Berlin, America/New_York)', async () => {
    const [ber] = await invoicesOf(h, 'acc_dates_ber');
    expect(descriptions(ber)).toEqual([['RECURRING', expect.stringMatching(/, 15\/30 days 2026-09-16–2026-09-30$/)]]);
    const [nyc] = await invoicesOf(h, 'acc_dates_nyc');
    expect(descriptions(nyc)).toEqual([['RECURRING', expect.stringMatching(/, 15\/30 days 2026-09-16–2026-09-30$/)]]);
  });

  it('late usage names the local days of the period it adjusts', async () => {
    const [sep] = await invoicesOf(h, 'acc_dates_ber');
    // September usage of the Berlin line arrives after September was billed.
    await charges(h, [{ chargeId: 'chg_dates_late', billingAccountId: 'acc_dates_ber', lineId: 'lin_sub_dber', usageType: 'DATA', zone: 'NATIONAL', units: '10', unit: 'MB', amount: '1.00', currency: 'EUR', occurredAt: '2026-09-29T12:00:00Z' }]);
    h.clock.set(new Date('2026-11-02T10:00:00Z'));
    expect(await runBillRun(h, '2026-11-01')).toMatchObject({ state: 'COMPLETED' });
    const oct = (await invoicesOf(h, 'acc_dates_ber')).find((i: any) => i.id !== sep.id);
    expect(descriptions(oct)).toEqual([
      ['RECURRING', expect.not.stringContaining('days')],
      ['ADJUSTMENT', `Late usage for 2026-09-01–2026-09-30, invoice ${sep.number ?? sep.id}: DATA NATIONAL (1 record)`],
    ]);
  });

  it('across the DST change (America/New_York, November)', async () => {
    h.clock.set(new Date('2026-12-02T10:00:00Z'));
    expect(await runBillRun(h, '2026-12-01')).toMatchObject({ state: 'COMPLETED' });
    const nov = (await invoicesOf(h, 'acc_dates_nyc_dst')).find((i: any) => i.periodStart === '2026-11-01T04:00:00.000Z');
    expect(descriptions(nov)).toEqual([['RECURRING', expect.stringMatching(/, 21\/30 days 2026-11-10–2026-11-30$/)]]);
  });
});
