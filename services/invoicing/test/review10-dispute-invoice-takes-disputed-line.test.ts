// Review 10: a dispute of the whole invoice, accepted, credited the invoice's lines in order and so
// took the line another open dispute was about; that line dispute could then never be accepted
// (DISPUTE_CREDIT_EXCEEDS_CREDITABLE), so its workflow's final-breach ACCEPT failed and the invoice
// stayed on hold for it. The invoice-level credit now leaves the lines' open line disputes room.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { account, startHarness, subscribe, type Harness } from './support';
import { agent, customer, disputeCalls, disputeMutations } from './dispute-support';

let h: Harness;
const AGENT = agent('agent-rev10');
const { OPEN } = disputeMutations('id status');
const { DECIDE } = disputeMutations('id status creditedAmount { amount }');
const INVOICE = `query($id: ID!) { invoice(id: $id) { id state amountDue { amount } amountDisputed { amount } lines { id kind grossAmount { amount } creditedAmount { amount } } } }`;

const { as } = disputeCalls(() => h);

beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false });
});
afterAll(async () => h?.svc.close());

it('accepting an invoice-level dispute leaves room for an open dispute of one of its lines; both are credited in full', async () => {
  const acc = 'acc_rev10_lines';
  await account(h, acc, { customerId: 'cus_rev10_lines' });
  await subscribe(h, acc, `sub_${acc}`, 'postpaid20', '2026-08-01T00:00:00Z');
  await h.gql('mutation($i: AddOneOffChargeInput!) { addOneOffCharge(input: $i) { ok } }', {
    i: { id: `rev10-extra-${acc}`, billingAccountId: acc, code: 'SIM_SWAP', description: 'SIM swap', amount: { amount: '7.50', currency: 'EUR' }, occurredAt: '2026-09-15T10:00:00Z' },
  });
  const closed = await h.gql<any>('mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { invoice { id } } } }', {
    i: { billingAccountId: acc, periodStart: '2026-08-31T22:00:00Z', periodEnd: '2026-09-30T22:00:00Z' },
  });
  const inv = (await h.gql<any>(INVOICE, { id: closed.closeBillingPeriod.billingPeriod.invoice.id })).invoice;
  const recurring = inv.lines.find((l: any) => l.kind === 'RECURRING');
  const other = inv.lines.find((l: any) => l.kind === 'ONE_OFF');
  expect(inv.lines).toHaveLength(2);
  // The customer disputes the recurring line in full, and the rest of the invoice (as much as the other line).
  const cus = customer('cus_rev10_lines');
  const onLine = (await as(cus, OPEN, { i: { invoiceId: inv.id, invoiceLineId: recurring.id, amount: recurring.grossAmount.amount, reason: 'Not my plan', idempotencyKey: 'rev10-line' } })).openDispute.dispute;
  const whole = (await as(cus, OPEN, { i: { invoiceId: inv.id, amount: other.grossAmount.amount, reason: 'The rest is wrong too', idempotencyKey: 'rev10-whole' } })).openDispute.dispute;

  // The invoice-level one is upheld first; then the line's.
  expect((await as(AGENT, DECIDE, { i: { disputeId: whole.id, decision: 'ACCEPT', note: 'Upheld' } })).decideDispute.dispute.status).toBe('ACCEPTED');
  const r = await h.svc.request<any>(DECIDE, { i: { disputeId: onLine.id, decision: 'ACCEPT', note: 'Upheld too' } }, AGENT);
  expect(r.errors?.[0]?.extensions, 'the line dispute can be credited in full').toBeUndefined();
  expect(r.data!.decideDispute.dispute).toMatchObject({ status: 'ACCEPTED', creditedAmount: { amount: recurring.grossAmount.amount.replace(/\.?0+$/, '') } });

  const after = (await h.gql<any>(INVOICE, { id: inv.id })).invoice;
  expect([after.state, after.amountDisputed.amount, after.amountDue.amount]).toEqual(['SETTLED', '0', '0']);
  expect(after.lines.find((l: any) => l.id === recurring.id).creditedAmount.amount).toBe(recurring.grossAmount.amount);
  expect(after.lines.find((l: any) => l.id === other.id).creditedAmount.amount).toBe(other.grossAmount.amount);
});
