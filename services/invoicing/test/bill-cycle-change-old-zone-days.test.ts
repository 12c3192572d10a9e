// A change of time zone takes effect at the end of the account's current period (bill-cycle.ts):
// that period is still the old zone's (its bounds are the old zone's midnights), and so are its days.
// The bill run (and closeBillingPeriod, and the preview) composed it in the account's new zone:
// a Europe/Berlin line activated on 16 Sep local (15 of September's 30 days), whose account asked on
// 20 Sep for America/New_York, was billed 16/30 days "2026-09-15–2026-09-30" (29.99 × 16/30 = 15.99
// instead of 15.00): Berlin's midnight is 18:00 the day before in New York, so each change inside the
// period was counted from the New York day before. Real PostgreSQL, through the bill run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dec } from '@ledgerline/contracts';
import { account, invoicesOf, runBillRun, startHarness, subscribe, type Harness } from './support';

let h: Harness;
const recurring = (inv: any) => inv.lines.filter((l: any) => l.kind === 'RECURRING').map((l: any) => [dec(l.netAmount.amount).toFixed(2), l.description]);

beforeAll(async () => {
  // No NATS consumer: this file's data comes through GraphQL, and a consumer would take in other runs' accounts from
  // the shared stream, which its bill runs would bill too (one with a plan version unknown here stalls the run).
  h = await startHarness('2026-09-01T10:00:00Z', { consume: false });
  // Both activated 16 Sep 00:00 in Berlin (15 Sep 22:00Z); one asks for New York on 20 Sep, from 1 Oct (Berlin).
  for (const id of ['acc_oldzone_kept', 'acc_oldzone_moved']) {
    await account(h, id);
    await subscribe(h, id, `sub_${id}`, 'postpaid20', '2026-09-15T22:00:00Z');
  }
  h.clock.set(new Date('2026-09-20T09:00:00Z'));
  await account(h, 'acc_oldzone_moved', { timezone: 'America/New_York' });
  h.clock.set(new Date('2026-10-01T10:00:00Z'));
  expect(await runBillRun(h, '2026-10-01')).toMatchObject({ state: 'COMPLETED' });
});

afterAll(async () => {
  await h?.svc.close();
});

describe('the last period before a change of time zone', () => {
  it('is prorated by the days of the zone it was billed in (15 of 30 Berlin days), as without the change', async () => {
    const [row] = await h.svc.runtime.orm.em.fork().getConnection().execute(`select timezone, prev_timezone, bill_cycle_changes_at from billing_account where id = 'acc_oldzone_moved'`);
    expect(row).toMatchObject({ timezone: 'America/New_York', prev_timezone: 'Europe/Berlin' });
    expect(new Date(row.bill_cycle_changes_at).toISOString()).toBe('2026-09-30T22:00:00.000Z');

    const [kept] = await invoicesOf(h, 'acc_oldzone_kept');
    expect(recurring(kept)).toEqual([['15.00', expect.stringMatching(/, 15\/30 days 2026-09-16–2026-09-30$/)]]);
    const [moved] = await invoicesOf(h, 'acc_oldzone_moved');
    expect(moved).toMatchObject({ periodStart: '2026-08-31T22:00:00.000Z', periodEnd: '2026-09-30T22:00:00.000Z' });
    expect(recurring(moved)).toEqual(recurring(kept));
  });

  it('closeBillingPeriod (the bill-cycle workflow) bills it the same way', async () => {
    h.clock.set(new Date('2026-09-20T09:00:00Z'));
    await account(h, 'acc_oldzone_wf');
    await subscribe(h, 'acc_oldzone_wf', 'sub_acc_oldzone_wf', 'postpaid20', '2026-09-15T22:00:00Z');
    await account(h, 'acc_oldzone_wf', { timezone: 'America/New_York' });
    h.clock.set(new Date('2026-10-01T10:00:00Z'));
    await h.gql('mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { id } } }', {
      i: { billingAccountId: 'acc_oldzone_wf', periodStart: '2026-08-31T22:00:00Z', periodEnd: '2026-09-30T22:00:00Z' },
    });
    const [inv] = await invoicesOf(h, 'acc_oldzone_wf');
    expect(recurring(inv)).toEqual([['15.00', expect.stringMatching(/, 15\/30 days 2026-09-16–2026-09-30$/)]]);
  });

  it("its document names the period's days in that zone too (1 to 30 Sep, not 31 Aug to 30 Sep)", async () => {
    const d = await h.gql<any>('query { invoices(billingAccountId: "acc_oldzone_moved") { edges { node { documents { kind url } } } } }');
    const html = Buffer.from(d.invoices.edges[0].node.documents.find((x: any) => x.kind === 'HTML').url.split(',')[1], 'base64').toString('utf8');
    expect(html).toContain('Billing period 2026-09-01 to 2026-09-30');
  });

  it('previewNextInvoice of the period still in the old zone counts its days the same way', async () => {
    h.clock.set(new Date('2026-09-25T10:00:00Z'));
    await account(h, 'acc_oldzone_preview');
    await subscribe(h, 'acc_oldzone_preview', 'sub_acc_oldzone_preview', 'postpaid20', '2026-09-15T22:00:00Z');
    await account(h, 'acc_oldzone_preview', { timezone: 'America/New_York' });
    const d = await h.gql<any>('query($a: ID!) { previewNextInvoice(billingAccountId: $a) { periodStart periodEnd lines { kind description netAmount } } }', { a: 'acc_oldzone_preview' });
    expect(d.previewNextInvoice).toMatchObject({ periodStart: '2026-08-31T22:00:00.000Z', periodEnd: '2026-09-30T22:00:00.000Z' });
    expect(d.previewNextInvoice.lines.map((l: any) => [dec(l.netAmount).toFixed(2), l.description])).toEqual([['15.00', expect.stringMatching(/, 15\/30 days 2026-09-16–2026-09-30$/)]]);
  });
});
