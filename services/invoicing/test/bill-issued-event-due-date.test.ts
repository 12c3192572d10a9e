// What subscribers needs to tell the customer their bill is ready (services/subscribers,
// bill-notifications.test.ts): customerBillCreated carries, besides the number, period and totals, the
// invoice's due date and the reference a bank transfer pays it by (added 2027-01-28). Real PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { account, startHarness, subscribe, type Harness } from './support';
import { disputeCalls } from './dispute-support';

let h: Harness;
const { outbox } = disputeCalls(() => h);

beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false });
});
afterAll(async () => h?.svc.close());

describe('customerBillCreated', () => {
  it('carries the due date (issue + payment terms) and the payment reference of the issued invoice', async () => {
    await account(h, 'acc_bill_due', { paymentTermsDays: 21 });
    await subscribe(h, 'acc_bill_due', 'sub_bill_due', 'postpaid20', '2026-08-01T00:00:00Z');
    const r = await h.gql<any>('mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { invoice { id number paymentReference dueDate total { amount currency } } } } }', {
      i: { billingAccountId: 'acc_bill_due', periodStart: '2026-08-31T22:00:00Z', periodEnd: '2026-09-30T22:00:00Z' },
    });
    const inv = r.closeBillingPeriod.billingPeriod.invoice;
    expect(inv.number).toBeTruthy();
    expect(new Date(inv.dueDate).toISOString()).toBe('2026-10-22T08:00:00.000Z');
    const [issued, ...more] = (await outbox('billing.invoicing.customerbill.created')).filter((e: any) => e.data.invoiceId === inv.id);
    expect(more).toEqual([]);
    expect(issued.data).toMatchObject({
      invoiceId: inv.id,
      number: inv.number,
      billingAccountId: 'acc_bill_due',
      state: 'SENT',
      currency: 'EUR',
      total: inv.total.amount,
      dueDate: '2026-10-22T08:00:00.000Z',
      paymentReference: inv.paymentReference,
    });
  });
});
