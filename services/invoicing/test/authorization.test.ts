/**
 * Who may read and change what in invoicing (the rules: the matrix at the top of
 * src/application/authorization.ts).
 *
 * Until now only the dispute operations looked at the caller: an anonymous caller or any customer
 * read every customer's invoices, payments, credit notes and documents, recorded a BANK_TRANSFER
 * "payment" on their own invoice without paying, issued credit notes, refunded payments,
 * voided/regenerated invoices, started bill runs and fed the read model. Now (as in wallets and
 * usage): no caller → UNAUTHENTICATED; a CUSTOMER reads only their own accounts'
 * (billing_account.customer_id) data and pays their own invoice only by CARD (money taken through
 * the payment provider), anything else → FORBIDDEN (another customer's single object read by id: null,
 * as an id that does not exist); staff (AGENT, ADMIN, SYSTEM) read everything
 * and do the back-office work; the read-model feeds and the workflows' own steps are ADMIN's and
 * SYSTEM's; a PARTNER does nothing here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import { account, PLANS, startHarness, subscribe, type Harness } from './support';

let h: Harness;

const CALLERS = {
  anonymous: { role: 'ANONYMOUS', subject: 'anonymous', scopes: [] },
  /** The customer who owns the accounts the operations name. */
  own: { role: 'CUSTOMER', subject: 'olga', customerId: 'cus_az_own', scopes: [] },
  /** Another customer (with an account of their own). */
  other: { role: 'CUSTOMER', subject: 'otto', customerId: 'cus_az_other', scopes: [] },
  agent: { role: 'AGENT', subject: 'care-ann', scopes: [] },
  admin: { role: 'ADMIN', subject: 'ops-adam', scopes: [] },
  system: { role: 'SYSTEM', subject: 'ledgerline-worker', scopes: ['*'] },
  partner: { role: 'PARTNER', subject: 'a-feed', partnerId: 'feed', scopes: [] },
} satisfies Record<string, Caller>;
type Who = keyof typeof CALLERS;
/**
 * NOT_FOUND: a customer naming another customer's invoice gets what a made-up id gets; NULL: a read of one
 * object by id answered nothing, no error, as for an id that does not exist (customer-ids-not-probed.test.ts).
 */
type Verdict = 'OK' | 'FORBIDDEN' | 'UNAUTHENTICATED' | 'NOT_FOUND' | 'NULL';
type Row = Record<Who, Verdict>;

const WHO = Object.keys(CALLERS) as Who[];
const row = (anonymous: Verdict, own: Verdict, other: Verdict, agent: Verdict, admin: Verdict, system: Verdict, partner: Verdict): Row => ({ anonymous, own, other, agent, admin, system, partner });
/** Reads of an account's data, and what a customer may do on their own account. */
const OWNER_OR_STAFF = row('UNAUTHENTICATED', 'OK', 'FORBIDDEN', 'OK', 'OK', 'OK', 'FORBIDDEN');
/** One object by id: another customer reads it as null, as an id that does not exist (it was FORBIDDEN: an oracle of which ids exist). */
const OWNER_OR_STAFF_BY_ID: Row = { ...OWNER_OR_STAFF, other: 'NULL' };
const STAFF = row('UNAUTHENTICATED', 'FORBIDDEN', 'FORBIDDEN', 'OK', 'OK', 'OK', 'FORBIDDEN');
/** Approval requests are decided by a supervisor (ADMIN, or an AGENT with billing:approve; not SYSTEM): approvals.test.ts. */
const SUPERVISOR = row('UNAUTHENTICATED', 'FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN', 'OK', 'FORBIDDEN', 'FORBIDDEN');
const ADMIN_OR_SYSTEM = row('UNAUTHENTICATED', 'FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN', 'OK', 'OK', 'FORBIDDEN');

type Res = { data?: any; errors?: { message: string; extensions?: Record<string, unknown> }[] };
/**
 * Refused (UNAUTHENTICATED / FORBIDDEN), or let through: answered, or refused for another reason
 * (bad input, a conflict). `customer`: a NOT_FOUND is told apart (the answer for another customer's row).
 */
function verdict(r: Res, customer = false): Verdict {
  const code = r.errors?.[0]?.extensions?.code;
  if (customer && code === 'NOT_FOUND') return code;
  return code === 'UNAUTHENTICATED' || code === 'FORBIDDEN' ? code : 'OK';
}
const asCaller = (who: Who, query: string, variables: Record<string, unknown> = {}) => h.svc.request(query, variables, CALLERS[who]);
async function ok(query: string, variables: Record<string, unknown> = {}): Promise<any> {
  return h.gql(query, variables);
}

const A = 'acc_az_own'; // cus_az_own's account, read by everyone
const M = 'acc_az_mut'; // cus_az_own's account the mutations work on
const B = 'acc_az_other'; // cus_az_other's account
let invA = '';
let invM = '';
let invB = '';
let payA = '';
let payM = '';
let noteA = '';
let lineM = '';

/** An account of `customerId` with an issued September invoice (id and first line). */
async function issued(acc: string, customerId: string): Promise<{ id: string; lineId: string; due: string }> {
  await account(h, acc, { customerId });
  await subscribe(h, acc, `sub_${acc}`, 'postpaid20', '2026-08-01T00:00:00Z');
  const r = await ok('mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { invoice { id state amountDue { amount } lines { id } } } } }', {
    i: { billingAccountId: acc, periodStart: '2026-08-31T22:00:00Z', periodEnd: '2026-09-30T22:00:00Z' },
  });
  const inv = r.closeBillingPeriod.billingPeriod.invoice;
  expect(inv.state).toBe('SENT');
  return { id: inv.id, lineId: inv.lines[0].id, due: inv.amountDue.amount };
}
const PAY = 'mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { payment { id channel amount { amount } } invoice { id amountPaid { amount } state } } }';

beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false });
  const a = await issued(A, 'cus_az_own');
  const mm = await issued(M, 'cus_az_own');
  const b = await issued(B, 'cus_az_other');
  [invA, invM, invB, lineM] = [a.id, mm.id, b.id, mm.lineId];
  // Staff put a payment and a credit note on A, and a payment on M (to refund).
  payA = (await ok(PAY, { i: { invoiceId: invA, channel: 'BANK_TRANSFER', amount: { amount: '1.00', currency: 'EUR' }, idempotencyKey: 'az-setup-pay-a' } })).recordPayment.payment.id;
  payM = (await ok(PAY, { i: { invoiceId: invM, channel: 'CARD', paymentMethodToken: 'tok_visa', amount: { amount: '5.00', currency: 'EUR' }, idempotencyKey: 'az-setup-pay-m' } })).recordPayment.payment.id;
  noteA = (
    await ok('mutation($i: IssueCreditNoteInput!) { issueCreditNote(input: $i) { creditNote { id } } }', {
      i: { invoiceId: invA, kind: 'CREDIT', reason: 'goodwill', lines: [{ invoiceLineId: a.lineId, amount: '0.50' }], idempotencyKey: 'az-setup-note-a' },
    })
  ).issueCreditNote.creditNote.id;
});
afterAll(async () => h?.svc.close());

describe('reads of an account: staff, or the customer who owns it', () => {
  const entity = (typename: string, fields: string) => `query($id: ID!) { _entities(representations: [{ __typename: "${typename}", id: $id }]) { ... on ${typename} { ${fields} } } }`;
  const reads: [string, () => [string, Record<string, unknown>], Row, (data: any) => unknown][] = [
    ['invoice(id)', () => ['query($id: ID!) { invoice(id: $id) { id documents { kind } } }', { id: invA }], OWNER_OR_STAFF_BY_ID, (d) => d.invoice?.id === invA && d.invoice.documents.length === 2],
    ['invoices(billingAccountId)', () => ['query($a: ID) { invoices(billingAccountId: $a) { edges { node { id } } } }', { a: A }], OWNER_OR_STAFF, (d) => d.invoices.edges.some((e: any) => e.node.id === invA)],
    ['payments(billingAccountId)', () => ['query($a: ID!) { payments(billingAccountId: $a) { edges { node { id } } } }', { a: A }], OWNER_OR_STAFF, (d) => d.payments.edges.some((e: any) => e.node.id === payA)],
    ['creditNotes(billingAccountId)', () => ['query($a: ID!) { creditNotes(billingAccountId: $a) { edges { node { id } } } }', { a: A }], OWNER_OR_STAFF, (d) => d.creditNotes.edges.some((e: any) => e.node.id === noteA)],
    ['previewNextInvoice', () => ['query($a: ID!) { previewNextInvoice(billingAccountId: $a) { billingAccountId } }', { a: A }], OWNER_OR_STAFF, (d) => d.previewNextInvoice.billingAccountId === A],
    ['disputes(filter: { billingAccountId })', () => ['query($a: ID) { disputes(filter: { billingAccountId: $a }) { edges { node { id } } } }', { a: A }], OWNER_OR_STAFF, (d) => Array.isArray(d.disputes.edges)],
    ['BillingAccount.invoices', () => [entity('BillingAccount', 'invoices { id }'), { id: A }], OWNER_OR_STAFF, (d) => d._entities[0].invoices.some((i: any) => i.id === invA)],
    ['BillingAccount.accountCredit', () => [entity('BillingAccount', 'accountCredit { amount }'), { id: A }], OWNER_OR_STAFF, (d) => d._entities[0].accountCredit.amount !== undefined],
    ['Invoice (entity)', () => [entity('Invoice', 'id total { amount }'), { id: invA }], OWNER_OR_STAFF_BY_ID, (d) => d._entities[0]?.id === invA],
    ['Payment (entity)', () => [entity('Payment', 'id amount { amount }'), { id: payA }], OWNER_OR_STAFF_BY_ID, (d) => d._entities[0]?.id === payA],
    ['CreditNote (entity)', () => [entity('CreditNote', 'id total { amount }'), { id: noteA }], OWNER_OR_STAFF_BY_ID, (d) => d._entities[0]?.id === noteA],
    ['billRun (operations)', () => ['{ billRun(cycleDate: "2026-10-01") { id } }', {}], STAFF, () => true],
    ['approvalRequests', () => ['{ approvalRequests { edges { node { id } } } }', {}], STAFF, (d) => Array.isArray(d.approvalRequests.edges)],
    ['receivablesAging (operator report)', () => ['{ receivablesAging(currency: "EUR") { total { invoiceCount } accounts { edges { node { billingAccountId } } } } }', {}], STAFF, (d) => d.receivablesAging.total.invoiceCount > 0],
  ];

  it.each(reads)('%s', async (_name, op, expected, answered) => {
    const [query, variables] = op();
    const got = {} as Row;
    for (const who of WHO) {
      const r = await asCaller(who, query, variables);
      got[who] = verdict(r);
      // Let through: really answered (not an error of another kind), or answered nothing (NULL: as an unknown id).
      if (got[who] === 'OK') expect(r.errors, `${who}: ${JSON.stringify(r.errors)}`).toBeUndefined();
      if (got[who] === 'OK' && !answered(r.data)) got[who] = 'NULL';
      if (got[who] === 'NULL') expect(JSON.stringify(r.data), who).toMatch(/^\{"(invoice":null|_entities":\[null\])\}$/);
      // Refused: nothing of the account came back.
      if (got[who] !== 'OK') expect(JSON.stringify(r.data ?? null)).not.toContain(invA);
    }
    expect(got).toEqual(expected);
  });

  it("a customer's lists show only their own accounts' invoices; staff see everyone's", async () => {
    const LIST = '{ invoices(first: 100) { edges { node { id billingAccountId } } } }';
    const ids = (r: Res) => (r.data?.invoices?.edges ?? []).map((e: any) => e.node.id).sort();
    const anonymous = await asCaller('anonymous', LIST);
    const partner = await asCaller('partner', LIST);
    expect({
      own: ids(await asCaller('own', LIST)),
      other: ids(await asCaller('other', LIST)),
      agent: ids(await asCaller('agent', LIST)),
      anonymous: [verdict(anonymous), ids(anonymous)],
      partner: [verdict(partner), ids(partner)],
    }).toEqual({
      own: [invA, invM].sort(),
      other: [invB],
      agent: [invA, invB, invM].sort(),
      anonymous: ['UNAUTHENTICATED', []],
      partner: ['FORBIDDEN', []],
    });
    // Naming someone else's account is refused, not answered empty.
    expect(verdict(await asCaller('other', '{ invoices(billingAccountId: "acc_az_own") { edges { node { id } } } }'))).toBe('FORBIDDEN');
  });
});

describe('paying: a customer only by card on their own invoice', () => {
  it("a customer's BANK_TRANSFER (or WALLET) payment is refused and changes nothing; their CARD payment is charged and pays the invoice", async () => {
    const before = (await ok('query($id: ID!) { invoice(id: $id) { amountPaid { amount } state } }', { id: invB })).invoice;
    const transfer = await asCaller('other', PAY, { i: { invoiceId: invB, channel: 'BANK_TRANSFER', amount: { amount: '10.00', currency: 'EUR' }, idempotencyKey: 'az-bt' } });
    const byReference = await asCaller('other', PAY, { i: { reference: 'whatever', channel: 'BANK_TRANSFER', amount: { amount: '10.00', currency: 'EUR' }, idempotencyKey: 'az-bt-ref' } });
    const wallet = await asCaller('other', PAY, { i: { invoiceId: invB, channel: 'WALLET', amount: { amount: '10.00', currency: 'EUR' }, idempotencyKey: 'az-wallet' } });
    expect([transfer, byReference, wallet].map((r) => [verdict(r), r.data?.recordPayment ?? null])).toEqual([
      ['FORBIDDEN', null],
      ['FORBIDDEN', null],
      ['FORBIDDEN', null],
    ]);
    expect((await ok('query($id: ID!) { invoice(id: $id) { amountPaid { amount } state } }', { id: invB })).invoice).toEqual(before);

    // Someone else's invoice, named or found by its payment reference, by card: refused, nothing charged.
    const refA = (await ok('query($id: ID!) { invoice(id: $id) { paymentReference } }', { id: invA })).invoice.paymentReference;
    const charges = h.payments.charges.size;
    const theirs = await asCaller('other', PAY, { i: { invoiceId: invA, channel: 'CARD', paymentMethodToken: 'tok_visa', amount: { amount: '1.00', currency: 'EUR' }, idempotencyKey: 'az-card-theirs' } });
    const theirsByRef = await asCaller('other', PAY, { i: { reference: refA, channel: 'CARD', paymentMethodToken: 'tok_visa', amount: { amount: '1.00', currency: 'EUR' }, idempotencyKey: 'az-card-theirs-ref' } });
    // Answered as an invoice / a reference that does not exist (customer-ids-not-probed.test.ts).
    expect([theirs, theirsByRef].map((r) => r.errors?.[0]?.extensions?.reason)).toEqual(['INVOICE_NOT_FOUND', 'PAYMENT_REFERENCE_UNMATCHED']);
    expect(h.payments.charges.size).toBe(charges);

    // Their own invoice by card: charged through the provider, the invoice is paid.
    const due = (await ok('query($id: ID!) { invoice(id: $id) { amountDue { amount } } }', { id: invB })).invoice.amountDue.amount;
    const card = await asCaller('other', PAY, { i: { invoiceId: invB, channel: 'CARD', paymentMethodToken: 'tok_visa', amount: { amount: due, currency: 'EUR' }, idempotencyKey: 'az-card' } });
    expect(card.errors, JSON.stringify(card.errors)).toBeUndefined();
    expect(card.data.recordPayment).toMatchObject({ payment: { channel: 'CARD', amount: { amount: due } }, invoice: { id: invB, state: 'SETTLED', amountPaid: { amount: due } } });
  });
});

describe('changing things: by role', () => {
  const money = (amount: string) => ({ amount, currency: 'EUR' });
  /** Each caller's own idempotency keys and ids, so every allowed caller really does it. */
  const mutations: [string, string, (who: Who) => Record<string, unknown>, Row][] = [
    // Another customer's invoice answers as an unknown one (NOT_FOUND), not FORBIDDEN.
    ['recordPayment by CARD (own invoice)', PAY, (who) => ({ i: { invoiceId: invM, channel: 'CARD', paymentMethodToken: 'tok_visa', amount: money('0.01'), idempotencyKey: `az-m-card-${who}` } }), { ...OWNER_OR_STAFF, other: 'NOT_FOUND' }],
    ['recordPayment by BANK_TRANSFER', PAY, (who) => ({ i: { invoiceId: invM, channel: 'BANK_TRANSFER', amount: money('0.01'), idempotencyKey: `az-m-bt-${who}` } }), STAFF],
    ['refundPayment', 'mutation($i: RefundPaymentInput!) { refundPayment(input: $i) { payment { id } } }', (who) => ({ i: { paymentId: payM, amount: money('0.01'), idempotencyKey: `az-m-refund-${who}` } }), STAFF],
    [
      'issueCreditNote',
      'mutation($i: IssueCreditNoteInput!) { issueCreditNote(input: $i) { creditNote { id } } }',
      (who) => ({ i: { invoiceId: invM, kind: 'CREDIT', reason: 'goodwill', lines: [{ invoiceLineId: lineM, amount: '0.01' }], idempotencyKey: `az-m-note-${who}` } }),
      STAFF,
    ],
    ['issueInvoice', 'mutation($i: InvoiceIdInput!) { issueInvoice(input: $i) { invoice { id } } }', () => ({ i: { invoiceId: invM } }), STAFF],
    ['voidInvoice', 'mutation($i: InvoiceIdInput!) { voidInvoice(input: $i) { invoice { id } } }', () => ({ i: { invoiceId: invM } }), STAFF],
    ['regenerateInvoice', 'mutation($i: InvoiceIdInput!) { regenerateInvoice(input: $i) { invoice { id } } }', () => ({ i: { invoiceId: invM } }), STAFF],
    ['disputeInvoice (legacy)', 'mutation($i: DisputeInvoiceInput!) { disputeInvoice(input: $i) { invoice { id } } }', () => ({ i: { invoiceId: invM, amount: '0.01', reason: 'legacy' } }), STAFF],
    ['resolveDispute (legacy)', 'mutation($i: InvoiceIdInput!) { resolveDispute(input: $i) { invoice { id } } }', () => ({ i: { invoiceId: invM } }), STAFF],
    ['startBillRun', 'mutation($i: StartBillRunInput!) { startBillRun(input: $i) { started } }', () => ({ i: { cycleDate: '2030-01-01' } }), STAFF],
    [
      'addOneOffCharge',
      'mutation($i: AddOneOffChargeInput!) { addOneOffCharge(input: $i) { ok } }',
      (who) => ({ i: { id: `oo_az_${who}`, billingAccountId: M, code: 'SIM', description: 'SIM card', amount: money('0.01'), occurredAt: '2026-10-01T09:00:00Z' } }),
      STAFF,
    ],
    [
      'addDiscount',
      'mutation($i: AddDiscountInput!) { addDiscount(input: $i) { ok } }',
      (who) => ({ i: { billingAccountId: M, code: `AZ_${who.toUpperCase()}`, description: 'loyalty', percent: '1', validFrom: '2026-10-01T00:00:00Z' } }),
      STAFF,
    ],
    ['runDueDateJob', 'mutation { runDueDateJob { autopaid } }', () => ({}), ADMIN_OR_SYSTEM],
    ['approveRequest', 'mutation($i: ApproveRequestInput!) { approveRequest(input: $i) { approvalRequest { id } } }', () => ({ i: { id: 'apr_az_missing' } }), SUPERVISOR],
    ['rejectRequest', 'mutation($i: RejectRequestInput!) { rejectRequest(input: $i) { approvalRequest { id } } }', () => ({ i: { id: 'apr_az_missing', reason: 'not needed' } }), SUPERVISOR],
    [
      'closeBillingPeriod',
      'mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { id } } }',
      () => ({ i: { billingAccountId: M, periodStart: '2026-08-31T22:00:00Z', periodEnd: '2026-09-30T22:00:00Z' } }),
      ADMIN_OR_SYSTEM,
    ],
    [
      'issuePaymentReceipt',
      'mutation($i: IssuePaymentReceiptInput!) { issuePaymentReceipt(input: $i) { receipt { id } } }',
      (who) => ({ i: { billingAccountId: M, rechargeId: `rch_az_${who}`, amount: money('10.00'), paymentReference: 'ref', channel: 'CARD', idempotencyKey: `az-rct-${who}` } }),
      ADMIN_OR_SYSTEM,
    ],
    ['processBillRunBatch', 'mutation($i: ProcessBillRunBatchInput!) { processBillRunBatch(input: $i) { accounts } }', () => ({ i: { billRunId: 'bir_az_missing' } }), ADMIN_OR_SYSTEM],
    [
      'registerBillingAccount',
      'mutation($i: RegisterBillingAccountInput!) { registerBillingAccount(input: $i) { ok } }',
      (who) => ({ i: { billingAccountId: `acc_az_feed_${who}`, customerId: CALLERS.own.customerId, paymentMode: 'POSTPAID', currency: 'EUR' } }),
      ADMIN_OR_SYSTEM,
    ],
    [
      'recordSubscription',
      'mutation($i: RecordSubscriptionInput!) { recordSubscription(input: $i) { ok } }',
      (who) => ({ i: { subscriptionId: `sub_az_${who}`, lineId: `lin_az_${who}`, billingAccountId: M, planCode: PLANS.postpaid20.document.code, planVersionId: PLANS.postpaid20.id, startsAt: '2026-10-01T00:00:00Z' } }),
      ADMIN_OR_SYSTEM,
    ],
    [
      'recordCharges',
      'mutation($i: [RecordChargeInput!]!) { recordCharges(input: $i) { ok } }',
      (who) => ({ i: [{ chargeId: `chg_az_${who}`, billingAccountId: M, usageType: 'DATA', units: '1', unit: 'MB', amount: '0.01', currency: 'EUR', occurredAt: '2026-10-01T07:00:00Z' }] }),
      ADMIN_OR_SYSTEM,
    ],
    ['upsertTaxRule', 'mutation($i: UpsertTaxRuleInput!) { upsertTaxRule(input: $i) { ok } }', () => ({ i: { jurisdiction: 'XX', category: 'AZ', rate: '0.1', inclusive: false, name: 'test' } }), ADMIN_OR_SYSTEM],
    ['registerPlanVersion', 'mutation($i: RegisterPlanVersionInput!) { registerPlanVersion(input: $i) { ok } }', () => ({ i: PLANS.postpaid20 }), ADMIN_OR_SYSTEM],
  ];

  it.each(mutations)('%s', async (_name, query, variables, expected) => {
    const got = {} as Row;
    const refusedBy: Record<string, unknown> = {};
    for (const who of WHO) {
      const r = await asCaller(who, query, variables(who));
      got[who] = verdict(r, CALLERS[who].role === 'CUSTOMER');
      if (got[who] !== 'OK') refusedBy[who] = r.data ?? null;
    }
    expect(got).toEqual(expected);
    // A refusal answers nothing (the payload is not half filled).
    for (const data of Object.values(refusedBy)) expect(data).toBeNull();
  });
});
