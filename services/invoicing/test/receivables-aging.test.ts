// Accounts-receivable aging (receivablesAging): what issued invoices still owe, by how long they are
// past due, on a hand-built book on real PostgreSQL — an invoice in each bucket, one part-paid, one
// credit-noted, one disputed and paid from an OFFSET note's account credit, one paid in full (then credited
// in part, its paid part moved into account credit, and part refunded later), a zero and a negative invoice, a voided one and a draft, a USD invoice among EUR
// ones, and payments, credit notes, a refund and disputes dated after the report's asOf.
// Rules checked: the open amount is total − payments (applied credit too) + what refunds took back
// off the invoice − credit notes, as of asOf (anything recorded later is not counted: the book as it
// stood); the part open disputes hold is shown apart (disputedAmount); days past due are started
// 24-hour days since the due instant (due = current, not yet past); one currency per report; exact
// decimals; staff only; the per-account breakdown is a Relay connection (oldest first / largest first).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dec, type Caller } from '@ledgerline/contracts';
import { account, startHarness, type Harness } from './support';
import { closedSeptember, customer, disputeCalls, NO_DISPUTE_WORKFLOW } from './dispute-support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false, disputes: NO_DISPUTE_WORKFLOW });
});
afterAll(async () => h?.svc.close());

const { as, refusal, db } = disputeCalls(() => h);
const AGENT: Caller = { role: 'AGENT', subject: 'collections-cora', scopes: [] };
const ADMIN: Caller = { role: 'ADMIN', subject: 'ops-adam', scopes: [] };
const PARTNER: Caller = { role: 'PARTNER', subject: 'a-feed', partnerId: 'feed', scopes: [] };

const BUCKET = 'label minDaysPastDue maxDaysPastDue openAmount { amount currency } disputedAmount { amount currency } invoiceCount accountCount';
const ACCOUNT = 'billingAccountId customerName openAmount { amount } disputedAmount { amount } invoiceCount oldestDueDate daysPastDue buckets { label openAmount { amount } disputedAmount { amount } invoiceCount }';
const REPORT = `query($asOf: DateTime, $currency: String!, $buckets: [Int!], $order: AgingAccountOrder, $first: Int, $after: String, $min: Int) {
  receivablesAging(asOf: $asOf, currency: $currency, buckets: $buckets) {
    asOf currency buckets { ${BUCKET} } total { openAmount { amount currency } disputedAmount { amount } invoiceCount accountCount } accountCredit { amount currency }
    accounts(orderBy: $order, first: $first, after: $after, minDaysPastDue: $min) { edges { cursor node { ${ACCOUNT} } } pageInfo { hasNextPage endCursor } }
  } }`;
const DEFAULT_BUCKETS = `query($asOf: DateTime) { receivablesAging(asOf: $asOf, currency: "EUR") { buckets { label minDaysPastDue maxDaysPastDue } } }`;

const report = async (vars: Record<string, unknown>, caller: Caller = AGENT) => (await as(caller, REPORT, { currency: 'EUR', ...vars })).receivablesAging;
const eur = (amount: string) => ({ amount, currency: 'EUR' });
const d2 = (x: string | ReturnType<typeof dec>) => dec(typeof x === 'string' ? x : x.toFixed()).toFixed(2);

const INVOICE = 'query($id: ID!) { invoice(id: $id) { id total { amount } amountDue { amount } amountPaid { amount } amountCredited { amount } dueDate state lines { id grossAmount { amount } } } }';
const invoice = async (id: string) => (await h.gql<any>(INVOICE, { id })).invoice;
const PAY = 'mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { payment { id } } }';
const NOTE = 'mutation($i: IssueCreditNoteInput!) { issueCreditNote(input: $i) { creditNote { id } } }';
const OPEN = 'mutation($i: OpenDisputeInput!) { openDispute(input: $i) { dispute { id } } }';
const WITHDRAW = 'mutation($i: WithdrawDisputeInput!) { withdrawDispute(input: $i) { dispute { id status } } }';
const REFUND = 'mutation($i: RefundPaymentInput!) { refundPayment(input: $i) { refund { id } } }';

const at = (iso: string) => h.clock.set(iso);
const pay = async (invoiceId: string, amount: string, key: string) => (await h.gql<any>(PAY, { i: { invoiceId, channel: 'BANK_TRANSFER', amount: eur(amount), idempotencyKey: key } })).recordPayment.payment.id as string;

/** The issue instant of each invoice (clock), its account, and its due date = issue + 14 days. */
const inv: Record<string, any> = {};
const AS_OF = '2027-02-20T12:00:00.000Z';
const NOW = '2027-03-10T12:00:00.000Z';

/** A hand-written invoice row (what no mutation makes on its own here: a zero or negative total, a void, a draft, another currency). */
async function handInvoice(id: string, acc: string, r: { state: string; currency?: string; total: string; issuedAt?: string | null; voidedAt?: string | null; paid?: string }) {
  const issued = r.issuedAt ?? null;
  await db().execute(
    `insert into invoice (id, billing_account_id, kind, number, series, payment_reference, state, period_start, period_end, currency, net_total, tax_total, total, amount_paid, amount_credited, amount_disputed, rounding_mode, timezone, issued_at, due_date, voided_at, created_at)
     values (?, ?, 'PERIOD', ?, 'INV', ?, ?, '2026-08-31T22:00:00Z', '2026-09-30T22:00:00Z', ?, ?, 0, ?, ?, 0, 0, 'HALF_EVEN', 'Europe/Berlin', ?, ?, ?, ?)`,
    [id, acc, issued ? `HAND-${id}` : null, issued ? `HAND-${id}` : null, r.state, r.currency ?? 'EUR', r.total, r.total, r.paid ?? '0', issued, issued ? new Date(Date.parse(issued) + 14 * 86_400_000).toISOString() : null, r.voidedAt ?? null, issued ?? '2026-10-01T08:00:00Z'],
  );
}

beforeAll(async () => {
  // 2026-10-01 08:00: issued, due 2026-10-15 08:00; 10.00 paid on 2026-11-01.  At asOf: 129 days past due (90+).
  at('2026-10-01T08:00:00Z');
  inv.d90 = await closedSeptember(h, 'acc_ag_90', 'cus_ag_90');
  at('2026-11-01T09:00:00Z');
  await pay(inv.d90.id, '10.00', 'ag-90-part');

  // 2026-11-20: due 2026-12-04 08:00 (79 days at asOf: 61–90). Disputed 5.00 on 12-10; an OFFSET note of
  // 3.00 on 12-12 becomes account credit that pays 3.00 of its undisputed part (an ACCOUNT_CREDIT payment).
  // The dispute is withdrawn after asOf.
  at('2026-11-20T08:00:00Z');
  inv.d61 = await closedSeptember(h, 'acc_ag_61', 'cus_ag_61');
  at('2026-12-10T10:00:00Z');
  inv.d61.dispute = (await h.gql<any>(OPEN, { i: { invoiceId: inv.d61.id, amount: '5.00', reason: 'Roaming charge not mine', idempotencyKey: 'ag-61-dispute' } })).openDispute.dispute.id;
  at('2026-12-12T10:00:00Z');
  const line61 = (await invoice(inv.d61.id)).lines[0].id;
  await h.gql(NOTE, { i: { invoiceId: inv.d61.id, kind: 'OFFSET', reason: 'Goodwill', lines: [{ invoiceLineId: line61, amount: '3.00' }], idempotencyKey: 'ag-61-offset' } });

  // 2026-12-01: due 12-15, paid in full 12-05 (not in the report at asOf); 20.00 refunded after asOf.
  at('2026-12-01T08:00:00Z');
  inv.paid = await closedSeptember(h, 'acc_ag_paid', 'cus_ag_paid');
  at('2026-12-05T08:00:00Z');
  inv.paid.payment = await pay(inv.paid.id, (await invoice(inv.paid.id)).total.amount, 'ag-paid-full');
  // A CREDIT note of 5.00 on the paid invoice: the paid 5.00 moves into account credit (nothing else to pay).
  at('2026-12-06T08:00:00Z');
  const linePaid = (await invoice(inv.paid.id)).lines[0].id;
  await h.gql(NOTE, { i: { invoiceId: inv.paid.id, kind: 'CREDIT', reason: 'Goodwill after payment', lines: [{ invoiceLineId: linePaid, amount: '5.00' }], idempotencyKey: 'ag-paid-credit' } });

  // 2026-12-20 and 12-21: due 2027-01-03 / 01-04 (49 and 48 days at asOf: 31–60). The first is credited 4.00
  // on 01-10; the second is credited in full after asOf.
  at('2026-12-20T08:00:00Z');
  inv.d31 = await closedSeptember(h, 'acc_ag_31', 'cus_ag_31');
  at('2026-12-21T08:00:00Z');
  inv.late = await closedSeptember(h, 'acc_ag_late', 'cus_ag_late');
  at('2027-01-10T10:00:00Z');
  const line31 = (await invoice(inv.d31.id)).lines[0].id;
  await h.gql(NOTE, { i: { invoiceId: inv.d31.id, kind: 'CREDIT', reason: 'Wrong fee', lines: [{ invoiceLineId: line31, amount: '4.00' }], idempotencyKey: 'ag-31-credit' } });

  // 2027-01-25: due 02-08 08:00 (13 days at asOf: 1–30); paid in full after asOf.
  at('2027-01-25T08:00:00Z');
  inv.d1 = await closedSeptember(h, 'acc_ag_1', 'cus_ag_1');
  // 2027-02-15: due 03-01 (current at asOf); a dispute of 2.00 is opened after asOf.
  at('2027-02-15T08:00:00Z');
  inv.cur = await closedSeptember(h, 'acc_ag_cur', 'cus_ag_cur');

  // Hand-written rows: a zero invoice (SETTLED at issue), a negative one (SETTLED, its −total kept as
  // account credit), a voided draft, a draft, and a USD invoice 129 days past due.
  await account(h, 'acc_ag_zero');
  await handInvoice('inv_ag_zero', 'acc_ag_zero', { state: 'SETTLED', total: '0.0000', issuedAt: '2026-11-01T08:00:00Z' });
  await account(h, 'acc_ag_neg');
  await handInvoice('inv_ag_neg', 'acc_ag_neg', { state: 'SETTLED', total: '-5.0000', issuedAt: '2027-01-05T08:00:00Z' });
  await db().execute(`insert into account_credit_entry (id, billing_account_id, amount, currency, source, source_id, created_at) values ('crd_inv_ag_neg', 'acc_ag_neg', 5.00, 'EUR', 'NEGATIVE_INVOICE', 'inv_ag_neg', '2027-01-05T08:00:00Z')`);
  await account(h, 'acc_ag_void');
  await handInvoice('inv_ag_void', 'acc_ag_void', { state: 'VOIDED', total: '50.0000', voidedAt: '2026-11-02T08:00:00Z' });
  // A voided row that carries an issue date too (no path makes one today; it still owes nothing).
  await account(h, 'acc_ag_void2');
  await handInvoice('inv_ag_void2', 'acc_ag_void2', { state: 'VOIDED', total: '60.0000', issuedAt: '2026-10-01T08:00:00Z', voidedAt: '2026-10-02T08:00:00Z' });
  await account(h, 'acc_ag_draft');
  await handInvoice('inv_ag_draft', 'acc_ag_draft', { state: 'NEW', total: '30.0000' });
  await account(h, 'acc_ag_usd', { currency: 'USD', jurisdiction: 'US' });
  await handInvoice('inv_ag_usd', 'acc_ag_usd', { state: 'PARTIALLY_PAID', currency: 'USD', total: '80.0000', paid: '0', issuedAt: '2026-10-01T08:00:00Z' });
  await db().execute(
    `insert into payment (id, billing_account_id, invoice_id, channel, amount, currency, applied_amount, credit_amount, refunded_amount, idempotency_key, request_hash, created_at) values ('pay_ag_usd', 'acc_ag_usd', 'inv_ag_usd', 'BANK_TRANSFER', 12.5, 'USD', 12.5, 0, 0, 'ag-usd', 'x', '2026-11-01T08:00:00Z')`,
  );
  await db().execute(`update invoice set amount_paid = 12.5 where id = 'inv_ag_usd'`);

  // After asOf.
  at('2027-03-01T10:00:00Z');
  await pay(inv.d1.id, (await invoice(inv.d1.id)).total.amount, 'ag-1-full');
  at('2027-03-02T10:00:00Z');
  const late = await invoice(inv.late.id);
  await h.gql(NOTE, { i: { invoiceId: inv.late.id, kind: 'CREDIT', reason: 'Never delivered', lines: late.lines.map((l: any) => ({ invoiceLineId: l.id, amount: l.grossAmount.amount })), idempotencyKey: 'ag-late-credit' } });
  at('2027-03-03T10:00:00Z');
  await as(ADMIN, REFUND, { i: { paymentId: inv.paid.payment, amount: eur('20.00'), idempotencyKey: 'ag-paid-refund' } });
  at('2027-03-04T10:00:00Z');
  await h.gql(OPEN, { i: { invoiceId: inv.cur.id, amount: '2.00', reason: 'Line billed twice', idempotencyKey: 'ag-cur-dispute' } });
  at('2027-03-05T10:00:00Z');
  await h.gql(WITHDRAW, { i: { disputeId: inv.d61.dispute } });
  at(NOW);
  for (const k of Object.keys(inv)) Object.assign(inv[k], await invoice(inv[k].id));
});

describe('receivablesAging as of a past instant: the book as it stood', () => {
  it('puts each invoice in its bucket with what it owed then, the disputed part apart, and counts invoices and accounts', async () => {
    const r = await report({ asOf: AS_OF });
    expect(r.asOf).toBe(AS_OF);
    expect(r.currency).toBe('EUR');
    const open = (x: any) => dec(x.total.amount);
    const d31 = open(inv.d31).minus('4.00');
    const late = open(inv.late);
    expect(r.buckets).toEqual([
      { label: 'current', minDaysPastDue: 0, maxDaysPastDue: 0, openAmount: eur(d2(open(inv.cur))), disputedAmount: eur('0.00'), invoiceCount: 1, accountCount: 1 },
      // Paid in full on 03-01, after asOf: still owed then.
      { label: '1-30', minDaysPastDue: 1, maxDaysPastDue: 30, openAmount: eur(d2(open(inv.d1))), disputedAmount: eur('0.00'), invoiceCount: 1, accountCount: 1 },
      // Credited 4.00 before asOf; the other credited in full after it.
      { label: '31-60', minDaysPastDue: 31, maxDaysPastDue: 60, openAmount: eur(d2(d31.plus(late))), disputedAmount: eur('0.00'), invoiceCount: 2, accountCount: 2 },
      // 3.00 of account credit applied; 5.00 disputed (withdrawn only after asOf) shown apart.
      { label: '61-90', minDaysPastDue: 61, maxDaysPastDue: 90, openAmount: eur(d2(open(inv.d61).minus('3.00').minus('5.00'))), disputedAmount: eur('5.00'), invoiceCount: 1, accountCount: 1 },
      { label: '90+', minDaysPastDue: 91, maxDaysPastDue: null, openAmount: eur(d2(open(inv.d90).minus('10.00'))), disputedAmount: eur('0.00'), invoiceCount: 1, accountCount: 1 },
    ]);
    const sum = r.buckets.reduce((a: any, b: any) => a.plus(b.openAmount.amount), dec('0'));
    expect(r.total).toEqual({ openAmount: eur(d2(sum)), disputedAmount: { amount: '5.00' }, invoiceCount: 6, accountCount: 6 });
    // Credit accounts kept (the negative invoice's 5.00, the 5.00 a note moved off a paid invoice): shown apart, not netted.
    expect(r.accountCredit).toEqual(eur('10.00'));
  });

  it('leaves out paid, zero, negative, voided, draft and other-currency invoices; the USD book is its own report', async () => {
    const r = await report({ asOf: AS_OF, first: 50 });
    const ids = r.accounts.edges.map((e: any) => e.node.billingAccountId).sort();
    expect(ids).toEqual(['acc_ag_1', 'acc_ag_31', 'acc_ag_61', 'acc_ag_90', 'acc_ag_cur', 'acc_ag_late']);
    const usd = await report({ asOf: AS_OF, currency: 'USD', first: 50 });
    expect(usd.buckets.map((b: any) => [b.label, b.openAmount, b.invoiceCount])).toEqual([
      ['current', { amount: '0.00', currency: 'USD' }, 0],
      ['1-30', { amount: '0.00', currency: 'USD' }, 0],
      ['31-60', { amount: '0.00', currency: 'USD' }, 0],
      ['61-90', { amount: '0.00', currency: 'USD' }, 0],
      ['90+', { amount: '67.50', currency: 'USD' }, 1],
    ]);
    expect(usd.accounts.edges.map((e: any) => e.node.billingAccountId)).toEqual(['acc_ag_usd']);
    expect(usd.accountCredit).toEqual({ amount: '0.00', currency: 'USD' });
  });

  it('breaks the book down per account for collections: oldest first, or largest first, paged by cursor', async () => {
    const oldest = await report({ asOf: AS_OF, first: 50 });
    expect(oldest.accounts.edges.map((e: any) => [e.node.billingAccountId, e.node.daysPastDue])).toEqual([
      ['acc_ag_90', 129],
      ['acc_ag_61', 79],
      ['acc_ag_31', 49],
      ['acc_ag_late', 48],
      ['acc_ag_1', 13],
      ['acc_ag_cur', 0],
    ]);
    const a61 = oldest.accounts.edges[1].node;
    expect(a61).toMatchObject({ customerName: 'Customer acc_ag_61', invoiceCount: 1, oldestDueDate: inv.d61.dueDate, disputedAmount: { amount: '5.00' } });
    expect(a61.buckets).toEqual([{ label: '61-90', openAmount: { amount: a61.openAmount.amount }, disputedAmount: { amount: '5.00' }, invoiceCount: 1 }]);

    const largest = await report({ asOf: AS_OF, order: 'LARGEST_FIRST', first: 50 });
    const amounts = largest.accounts.edges.map((e: any) => dec(e.node.openAmount.amount));
    for (let i = 1; i < amounts.length; i++) expect(amounts[i - 1].gte(amounts[i])).toBe(true);
    expect(largest.accounts.edges).toHaveLength(6);

    // Pages of two, in the same order, nothing twice.
    const seen: string[] = [];
    let after: string | null = null;
    for (let n = 0; n < 4; n++) {
      const page: any = (await report({ asOf: AS_OF, order: 'LARGEST_FIRST', first: 2, after })).accounts;
      seen.push(...page.edges.map((e: any) => e.node.billingAccountId));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(seen).toEqual(largest.accounts.edges.map((e: any) => e.node.billingAccountId));

    // Only those at least 31 days past due.
    const overdue = await report({ asOf: AS_OF, first: 50, min: 31 });
    expect(overdue.accounts.edges.map((e: any) => e.node.billingAccountId)).toEqual(['acc_ag_90', 'acc_ag_61', 'acc_ag_31', 'acc_ag_late']);
  });

  it('counts started 24-hour days since the due instant: due is current, a millisecond later is 1 day past due', async () => {
    // The 4.00-credited invoice: due 2027-01-03 08:00, still owing 30 days and more later.
    const due = Date.parse(inv.d31.dueDate);
    const day = 86_400_000;
    const where = async (ms: number) => {
      const r = await report({ asOf: new Date(due + ms).toISOString(), first: 50 });
      const a = r.accounts.edges.find((e: any) => e.node.billingAccountId === 'acc_ag_31')!.node;
      return [a.daysPastDue, a.buckets.map((b: any) => b.label).join()];
    };
    expect(await where(0)).toEqual([0, 'current']);
    expect(await where(1)).toEqual([1, '1-30']);
    expect(await where(30 * day)).toEqual([30, '1-30']);
    expect(await where(30 * day + 1)).toEqual([31, '31-60']);
  });

  it('takes the buckets asked for', async () => {
    const r = await report({ asOf: AS_OF, buckets: [15, 45] });
    expect(r.buckets.map((b: any) => [b.label, b.minDaysPastDue, b.maxDaysPastDue, b.invoiceCount])).toEqual([
      ['current', 0, 0, 1],
      ['1-15', 1, 15, 1],
      ['16-45', 16, 45, 0],
      ['45+', 46, null, 4],
    ]);
    expect((await as(AGENT, DEFAULT_BUCKETS, { asOf: AS_OF })).receivablesAging.buckets.map((b: any) => b.label)).toEqual(['current', '1-30', '31-60', '61-90', '90+']);
  });
});

describe('receivablesAging now: what is recorded since counts', () => {
  it('agrees with every open invoice as it is now, later payments, credit notes, refunds and disputes included', async () => {
    const r = await report({ first: 50 });
    expect(r.asOf).toBe(NOW);
    const byAccount = new Map(r.accounts.edges.map((e: any) => [e.node.billingAccountId, e.node]));
    expect([...byAccount.keys()].sort()).toEqual(['acc_ag_31', 'acc_ag_61', 'acc_ag_90', 'acc_ag_cur', 'acc_ag_paid']);
    for (const [k, acc] of [['d90', 'acc_ag_90'], ['d61', 'acc_ag_61'], ['paid', 'acc_ag_paid'], ['d31', 'acc_ag_31'], ['cur', 'acc_ag_cur']] as const) {
      const node: any = byAccount.get(acc);
      // What the invoice says it is owed now (total − paid − credited): open + disputed.
      expect(d2(dec(node.openAmount.amount).plus(node.disputedAmount.amount)), k).toBe(d2(inv[k].amountDue.amount));
    }
    // The refund after asOf took 20.00 back off the paid invoice (a note had moved 5.00 of its payment into
    // credit, which then paid 5.00 of it again): 15.00 owed, due 12-15 (85 days 4 hours: 61–90).
    expect(byAccount.get('acc_ag_paid')).toMatchObject({ openAmount: { amount: '15.00' }, daysPastDue: 86, buckets: [{ label: '61-90', invoiceCount: 1 }] });
    expect(r.accountCredit).toEqual(eur('5.00'));
    // The withdrawn dispute holds nothing now; the one opened after asOf does.
    expect((byAccount.get('acc_ag_61') as any).disputedAmount).toEqual({ amount: '0.00' });
    expect((byAccount.get('acc_ag_cur') as any).disputedAmount).toEqual({ amount: '2.00' });
    expect(r.total.disputedAmount).toEqual({ amount: '2.00' });
  });
});

describe('receivablesAging refuses', () => {
  it('customers and partners (FORBIDDEN), anyone not signed in (UNAUTHENTICATED)', async () => {
    expect(await refusal(customer('cus_ag_90'), REPORT, { currency: 'EUR' })).toMatchObject({ code: 'FORBIDDEN' });
    expect(await refusal(PARTNER, REPORT, { currency: 'EUR' })).toMatchObject({ code: 'FORBIDDEN' });
    expect(await refusal({ role: 'ANONYMOUS', subject: 'anonymous', scopes: [] }, REPORT, { currency: 'EUR' })).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect((await report({}, ADMIN)).currency).toBe('EUR');
  });

  it('a mix of currencies or an unknown one, bad buckets, a cursor of its own making, an asOf in the future: BAD_USER_INPUT naming the field', async () => {
    expect(await refusal(AGENT, REPORT, { currency: 'EUR,USD' })).toMatchObject({ code: 'BAD_USER_INPUT', field: 'currency' });
    expect(await refusal(AGENT, REPORT, { currency: 'XXQ' })).toMatchObject({ code: 'BAD_USER_INPUT', field: 'currency' });
    expect(await refusal(AGENT, REPORT, { currency: 'eur' })).toMatchObject({ code: 'BAD_USER_INPUT', field: 'currency' });
    expect(await refusal(AGENT, REPORT, { currency: 'EUR', buckets: [60, 30] })).toMatchObject({ code: 'BAD_USER_INPUT', field: 'buckets' });
    expect(await refusal(AGENT, REPORT, { currency: 'EUR', buckets: [0, 30] })).toMatchObject({ code: 'BAD_USER_INPUT', field: 'buckets' });
    expect(await refusal(AGENT, REPORT, { currency: 'EUR', buckets: [] })).toMatchObject({ code: 'BAD_USER_INPUT', field: 'buckets' });
    expect(await refusal(AGENT, REPORT, { currency: 'EUR', after: 'bm90LWEtY3Vyc29y' })).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
    expect(await refusal(AGENT, REPORT, { currency: 'EUR', asOf: '2027-03-11T12:00:00Z' })).toMatchObject({ code: 'BAD_USER_INPUT', field: 'asOf' });
  });
});
