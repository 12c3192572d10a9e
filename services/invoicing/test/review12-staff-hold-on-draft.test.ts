// Review 12: a staff hold (disputeInvoice) on a draft.
// 1. The customer was told about it: dispute.opened ("We received your dispute of 5.00 EUR." — no
//    invoice number, for an invoice they have never been sent and a dispute they never opened), and
//    dispute.resolved when it closed while the invoice was still a draft — "was upheld: 5.00 EUR is
//    credited to that invoice" when regenerating closed it (no credit note exists), "not upheld, the
//    amount is due again" when resolveDispute closed it. A held draft cannot be issued, so such a
//    dispute opens and closes on an invoice the customer never saw: no customer event either way.
// 2. A regenerated draft whose total leaves the carried disputes nothing (they are closed) was put
//    ON_HOLD anyway with nothing disputed: it could not be issued (INVOICE_ON_HOLD) until someone
//    "resolved" a dispute that no longer exists.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { account, charges, invoicesOf, runBillRun, startHarness, subscribe, type Harness } from './support';
import { NO_DISPUTE_WORKFLOW, agent, disputeCalls } from './dispute-support';

let h: Harness;
const AGENT = agent('agent-r12');
const HOLD = 'mutation($i: DisputeInvoiceInput!) { disputeInvoice(input: $i) { invoice { id state } } }';
const INVOICE = 'query($id: ID!) { invoice(id: $id) { id state total { amount } amountDisputed { amount } disputes { id status } } }';
const REGEN = 'mutation($i: InvoiceIdInput!) { regenerateInvoice(input: $i) { invoice { id state } } }';

const { as, db } = disputeCalls(() => h);
async function disputeEvents(accountId: string): Promise<{ subject: string; status?: string }[]> {
  const found = await db().execute(`select subject, payload from outbox where subject like 'billing.invoicing.dispute.%' order by subject`);
  return found
    .map((r: any) => ({ subject: r.subject as string, data: (typeof r.payload === 'string' ? JSON.parse(r.payload) : r.payload).data }))
    .filter((e: any) => e.data?.billingAccountId === accountId)
    .map((e: any) => ({ subject: e.subject, ...(e.data.status ? { status: e.data.status } : {}) }));
}

const ACCOUNTS = ['acc_r12_dn1', 'acc_r12_dn2', 'acc_r12_dn3'];

async function draftOf(acc: string): Promise<any> {
  const [draft] = (await invoicesOf(h, acc)).filter((i: any) => i.state !== 'VOIDED');
  expect(draft.state).toBe('NEW');
  return draft;
}

beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, disputes: NO_DISPUTE_WORKFLOW });
  for (const acc of ACCOUNTS) {
    await account(h, acc, { customerId: `cus_${acc}` });
    await subscribe(h, acc, `sub_${acc}`, 'postpaid20', '2026-08-01T00:00:00Z');
    await charges(h, [{ chargeId: `chg_${acc}`, billingAccountId: acc, lineId: `lin_sub_${acc}`, usageType: 'DATA', zone: 'ROAMING_WORLD', units: '100', unit: 'MB', amount: '5.00', currency: 'EUR', occurredAt: '2026-09-10T12:00:00Z' }]);
  }
  await runBillRun(h, '2026-10-01', { autoIssue: false });
});
afterAll(async () => h?.svc.close());

describe('review 12: a staff hold on a draft', () => {
  it('tells the customer nothing: not when it opens, nor when resolveDispute closes it', async () => {
    const draft = await draftOf('acc_r12_dn1');
    await as(AGENT, HOLD, { i: { invoiceId: draft.id, amount: '5.00', reason: 'Roaming check' } });
    await h.gql('mutation($i: InvoiceIdInput!) { resolveDispute(input: $i) { invoice { state } } }', { i: { invoiceId: draft.id } });
    expect(await disputeEvents('acc_r12_dn1')).toEqual([]);
  });

  it('regenerated to a draft that bills nothing: the disputes close without telling the customer "credited", and the new draft is not held', async () => {
    const draft = await draftOf('acc_r12_dn2');
    await as(AGENT, HOLD, { i: { invoiceId: draft.id, amount: '5.00', reason: 'Roaming check' } });
    // A credit that outweighs the period's charges: the regenerated draft's total is below zero.
    await h.gql('mutation($i: AddOneOffChargeInput!) { addOneOffCharge(input: $i) { ok } }', {
      i: { id: 'crd_r12_dn2', billingAccountId: 'acc_r12_dn2', code: 'GOODWILL', description: 'Goodwill', amount: { amount: '-100.00', currency: 'EUR' }, occurredAt: '2026-09-20T10:00:00Z' },
    });
    const regen = (await h.gql<any>(REGEN, { i: { invoiceId: draft.id } })).regenerateInvoice.invoice;
    const fresh = (await h.gql<any>(INVOICE, { id: regen.id })).invoice;
    expect(Number(fresh.total.amount)).toBeLessThan(0);
    expect({ state: fresh.state, amountDisputed: fresh.amountDisputed.amount, disputes: fresh.disputes }).toEqual({ state: 'NEW', amountDisputed: '0', disputes: [] });
    expect(await disputeEvents('acc_r12_dn2')).toEqual([]);
  });

  it('on an issued invoice a staff hold still tells the customer (their invoice is held: the amount is not asked for)', async () => {
    const draft = await draftOf('acc_r12_dn3');
    await h.gql('mutation($i: InvoiceIdInput!) { issueInvoice(input: $i) { invoice { state } } }', { i: { invoiceId: draft.id } });
    await as(AGENT, HOLD, { i: { invoiceId: draft.id, amount: '5.00', reason: 'Roaming check' } });
    expect(await disputeEvents('acc_r12_dn3')).toEqual([{ subject: 'billing.invoicing.dispute.opened' }]);
  });
});
