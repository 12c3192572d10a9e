// An account closed at an instant inside a period that was already billed whole: a bill run billed October on
// Nov 1 (the closed event reached invoicing after it), or the bill-cycle workflow closed the period as not final
// before the signal came and then closed it again as final at closedAt. Before, the final close billed nothing
// more and marked the account CLOSED: the customer paid the whole month and was never credited the days after
// the closure. Now the fees of those days (what the billed period's fee exceeds the final stub invoicing would
// have billed, prorated by the same composition) are given back once, by a CREDIT note on the invoice that
// billed them; a plan whose fee is not prorated (proration NONE) gets nothing back, as its stub would cost the
// whole fee.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS, createCloudEvent } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { processBillRunBatch, startBillRun } from '../src/application/bill-run';
import { billAccounts, type AccountRow } from '../src/application/bill-accounts';
import { billClosedAccount } from '../src/application/close-account';
import { applyMessages } from '../src/events/consumer';
import { PLANS, account, startHarness, subscribe, type Harness } from './support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('2026-09-01T10:00:00Z', { runBillRuns: false });
  await h.gql('mutation($i: RegisterPlanVersionInput!) { registerPlanVersion(input: $i) { ok } }', {
    i: { id: 'plv_postpaid20_noproration_v1', document: { ...PLANS.postpaid20.document, code: 'POSTPAID_20GB_FLAT', name: 'Smart 20 GB flat', recurringFee: { amount: '29.99', period: 'MONTH', proration: 'NONE' } } },
  });
});
afterAll(async () => h?.svc.close());

const run = Date.now().toString(36);
const deps = { catalog: null };
const OCT = '2026-09-30T22:00:00.000Z';
const NOV = '2026-10-31T23:00:00.000Z';
const CLOSED_AT = '2026-10-20T08:00:00.000Z';

const cloudEvent = (type: string, key: string, time: string, data: unknown) =>
  JSON.stringify(createCloudEvent({ source: 'ledgerline/subscribers', type, subject: key, time: new Date(time), data, key: [key, time] }));
const closedEvent = (billingAccountId: string) =>
  cloudEvent(EVENTS.billingAccountClosed.type, billingAccountId, CLOSED_AT, { billingAccountId, customerId: 'cus_leaving', closedAt: CLOSED_AT, reason: 'Moving abroad' });
const ended = (acc: string, sub: string, planCode: string, planVersionId: string) =>
  cloudEvent(EVENTS.subscriptionChanged.type, sub, '2026-10-20T07:00:00Z', {
    subscriptionId: sub, lineId: `lin_${sub}`, msisdn: '+491510000098', billingAccountId: acc, paymentMode: 'POSTPAID', currency: 'EUR',
    planCode, planVersionId, status: 'ENDED', startsAt: '2026-08-31T22:00:00Z', endsAt: '2026-10-20T07:00:00Z', addOns: [],
  });
const query = async (text: string, params: unknown[] = []) => (await h.svc.runtime.orm.em.fork().getConnection().execute(text, params)) as Record<string, any>[];
const tx = <T>(fn: (em: Em) => Promise<T>) => h.svc.runtime.orm.em.fork().transactional((em) => fn(em as Em));

async function runCycle(cycleDate: string, at: string): Promise<void> {
  h.clock.set(at);
  const now = h.clock.now();
  const { run: billRun } = await tx((em) => startBillRun(em, { cycleDate, batchSize: 10, driver: 'WORKFLOW', now }));
  while (await tx((em) => processBillRunBatch(em, billRun.id, null, deps, now)));
}

/** Subscribers' events through the consumer's own code, as a delivery (or a redelivery) applies them. */
const deliver = (subject: string, payload: string) => tx((em) => applyMessages(em, [{ subject, seq: 1, data: payload }], h.clock.now(), undefined, undefined, deps));

async function recurringLines(acc: string): Promise<{ invoiceId: string; from: string; gross: string; tax: string; credited: string }[]> {
  const r = await query(
    `select i.id, i.period_start, l.gross_amount, l.tax_amount, l.credited_amount from invoice i join invoice_line l on l.invoice_id = i.id
      where i.billing_account_id = ? and i.voided_at is null and l.kind = 'RECURRING' order by i.period_start, l.position`,
    [acc],
  );
  return r.map((x) => ({ invoiceId: x.id, from: new Date(x.period_start).toISOString(), gross: Number(x.gross_amount).toFixed(2), tax: Number(x.tax_amount).toFixed(2), credited: Number(x.credited_amount).toFixed(2) }));
}

async function creditNotes(acc: string): Promise<{ invoiceId: string; kind: string; net: string; total: string }[]> {
  const r = await query('select n.invoice_id, n.kind, n.total, n.tax_total from credit_note n join invoice i on i.id = n.invoice_id where n.billing_account_id = ? order by i.period_start, n.created_at', [acc]);
  return r.map((n) => ({ invoiceId: n.invoice_id, kind: n.kind, net: (Number(n.total) - Number(n.tax_total)).toFixed(2), total: Number(n.total).toFixed(2) }));
}

/** The data of the creditnote.created events of an invoice's notes (what subscribers tells the customer from). */
async function noteEvents(invoiceId: string): Promise<Record<string, any>[]> {
  const r = await query(`select payload from outbox where subject = 'billing.invoicing.creditnote.created' order by created_at`);
  return r.map((x) => (typeof x.payload === 'string' ? JSON.parse(x.payload) : x.payload).data).filter((d) => d.invoiceId === invoiceId);
}

/** The data of an invoice's customerbill.created events (what subscribers' BILL_ISSUED says is due). */
async function billEvents(invoiceId: string): Promise<Record<string, any>[]> {
  const r = await query('select payload from outbox where subject = ? order by seq', [EVENTS.customerBillCreated.subject]);
  return r.map((x) => (typeof x.payload === 'string' ? JSON.parse(x.payload) : x.payload).data).filter((d) => d.invoiceId === invoiceId);
}

/** The subjects of the outbox rows about an invoice (its bill, its notes, its state), in the order the relay publishes them (seq). */
async function outboxOrderOf(invoiceId: string): Promise<string[]> {
  const r = await query('select subject, payload from outbox where payload like ? order by seq', [`%${invoiceId}%`]);
  return r.filter((x) => (typeof x.payload === 'string' ? JSON.parse(x.payload) : x.payload).data?.invoiceId === invoiceId).map((x) => x.subject as string);
}

/** What the stub [Oct 1, closedAt) would have billed for 19 of October's 31 days, in the line's own tax. */
const grossOf = (net: string, line: { gross: string; tax: string }) => {
  const rate = Number(line.tax) / (Number(line.gross) - Number(line.tax));
  return (Number(net) + Math.round(Number(net) * rate * 100) / 100).toFixed(2);
};

async function closeViaWorker(acc: string, periodStart: string, periodEnd: string, final: boolean) {
  const r = await h.svc.request<any>('mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { accountClosedAt billingPeriod { nextPeriodEnd } } }', {
    i: { billingAccountId: acc, periodStart, periodEnd, final },
  });
  expect(r.errors).toBeUndefined();
  return r.data.closeBillingPeriod;
}

describe('an account closed inside a period already billed whole', () => {
  it('a bill run billed October whole, then billingaccount.closed (Oct 20): the fees of Oct 20..31 are credited once on that invoice; redelivered, asked again, closed again by the worker: nothing more', async () => {
    const acc = `acc_cib_${run}`;
    await account(h, acc);
    await subscribe(h, acc, `sub_cib_${run}`, 'postpaid20', '2026-08-31T22:00:00Z', `lin_sub_cib_${run}`);
    await runCycle('2026-10-01', '2026-10-01T10:00:00Z');
    // The closed event is late: the Nov 1 run bills October whole first.
    await runCycle('2026-11-01', '2026-11-01T10:00:00Z');
    const [, oct] = await recurringLines(acc);
    expect(oct).toMatchObject({ from: OCT, credited: '0.00' });

    h.clock.set('2026-11-01T11:00:00Z');
    await deliver(EVENTS.subscriptionChanged.subject, ended(acc, `sub_cib_${run}`, 'POSTPAID_20GB', PLANS.postpaid20.id));
    await deliver(EVENTS.billingAccountClosed.subject, closedEvent(acc));
    const [a] = await query('select status, closed_at from billing_account where id = ?', [acc]);
    expect({ status: a!.status, closedAt: new Date(a!.closed_at).toISOString() }).toEqual({ status: 'CLOSED', closedAt: CLOSED_AT });

    // October 1..19 of 31 days is what the final stub bills (29.99 × 19/31 = 18.38): 29.99 − 18.38 = 11.61 net comes back.
    const expected = { invoiceId: oct!.invoiceId, kind: 'CREDIT', net: '11.61', total: (Number(oct!.gross) - Number(grossOf('18.38', oct!))).toFixed(2) };
    expect(await creditNotes(acc)).toEqual([expected]);
    const inv = await h.gql<any>('query($id: ID!) { invoice(id: $id) { amountCredited { amount } creditNotes { kind total { amount } } } }', { id: oct!.invoiceId });
    expect(inv.invoice.amountCredited.amount).toBe(expected.total);
    expect(inv.invoice.creditNotes).toEqual([{ kind: 'CREDIT', total: { amount: expected.total } }]);
    // The customer is told why, and from which instant: subscribers words it (CREDIT_NOTE_ISSUED).
    const [told] = await noteEvents(oct!.invoiceId);
    expect(told).toMatchObject({ cause: 'ACCOUNT_CLOSED', accountClosedAt: CLOSED_AT, total: expected.total, disputeId: null });
    // The bill was issued (and told) before: this note is told on its own.
    expect(told!.issuedWithInvoice).toBe(false);

    // The event again, asked again directly, the worker's final close (twice), and a late retry of its not-final close.
    await deliver(EVENTS.billingAccountClosed.subject, closedEvent(acc));
    expect(await tx((em) => billClosedAccount(em, { billingAccountId: acc, closedAt: new Date(CLOSED_AT), now: h.clock.now() }, deps))).toEqual({ periods: [] });
    expect(await closeViaWorker(acc, OCT, CLOSED_AT, true)).toEqual({ accountClosedAt: CLOSED_AT, billingPeriod: { nextPeriodEnd: null } });
    await closeViaWorker(acc, OCT, CLOSED_AT, true);
    await closeViaWorker(acc, OCT, NOV, false);
    expect(await creditNotes(acc)).toEqual([expected]);
    expect((await recurringLines(acc)).map((l) => l.gross)).toEqual([oct!.gross, oct!.gross]);
    // Its key is reserved: no caller can take it first (and so stop the credit, or replay it with other lines).
    expect(await h.gqlError('mutation($i: IssueCreditNoteInput!) { issueCreditNote(input: $i) { creditNote { id } } }', {
      i: { invoiceId: oct!.invoiceId, kind: 'CREDIT', reason: 'x', lines: [], idempotencyKey: `closure:${oct!.invoiceId}` },
    })).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'IDEMPOTENCY_KEY_RESERVED' });
  });

  it('the bill-cycle workflow closed October not final, then final at closedAt (the signal late): the same credit, once', async () => {
    const acc = `acc_cibw_${run}`;
    h.clock.set('2026-10-01T10:00:00Z');
    await account(h, acc);
    await subscribe(h, acc, `sub_cibw_${run}`, 'postpaid20', '2026-09-30T22:00:00Z', `lin_sub_cibw_${run}`);
    h.clock.set('2026-11-01T10:00:00Z');
    expect(await closeViaWorker(acc, OCT, NOV, false)).toEqual({ accountClosedAt: null, billingPeriod: { nextPeriodEnd: '2026-11-30T23:00:00.000Z' } });
    const [oct] = await recurringLines(acc);
    await closeViaWorker(acc, OCT, CLOSED_AT, true);
    await closeViaWorker(acc, OCT, CLOSED_AT, true);
    expect(await creditNotes(acc)).toEqual([{ invoiceId: oct!.invoiceId, kind: 'CREDIT', net: '11.61', total: (Number(oct!.gross) - Number(grossOf('18.38', oct!))).toFixed(2) }]);
  });

  it('a plan whose fee is not prorated (proration NONE): the terminated period is not refunded, nothing is credited', async () => {
    const acc = `acc_cibn_${run}`;
    h.clock.set('2026-10-01T10:00:00Z');
    await account(h, acc);
    await h.gql('mutation($i: RecordSubscriptionInput!) { recordSubscription(input: $i) { ok } }', {
      i: { subscriptionId: `sub_cibn_${run}`, lineId: `lin_cibn_${run}`, msisdn: '+491510000097', billingAccountId: acc, planCode: 'POSTPAID_20GB_FLAT', planVersionId: 'plv_postpaid20_noproration_v1', startsAt: '2026-09-30T22:00:00Z' },
    });
    await runCycle('2026-11-01', '2026-11-01T10:00:00Z');
    const [oct] = await recurringLines(acc);
    expect(oct).toMatchObject({ from: OCT });
    await deliver(EVENTS.billingAccountClosed.subject, closedEvent(acc));
    expect((await query('select status from billing_account where id = ?', [acc]))[0]!.status).toBe('CLOSED');
    expect(await creditNotes(acc)).toEqual([]);
    expect(await recurringLines(acc)).toEqual([oct]);
  });

  it('closed in October, learnt after November was billed too: October is credited from Oct 20, November whole', async () => {
    const acc = `acc_cib2_${run}`;
    h.clock.set('2026-10-01T10:00:00Z');
    await account(h, acc);
    await subscribe(h, acc, `sub_cib2_${run}`, 'postpaid20', '2026-09-30T22:00:00Z', `lin_sub_cib2_${run}`);
    await runCycle('2026-11-01', '2026-11-01T10:00:00Z');
    await runCycle('2026-12-01', '2026-12-01T10:00:00Z');
    const [oct, nov] = await recurringLines(acc);
    expect([oct!.from, nov!.from]).toEqual([OCT, NOV]);
    await deliver(EVENTS.billingAccountClosed.subject, closedEvent(acc));
    expect(await creditNotes(acc)).toEqual([
      { invoiceId: oct!.invoiceId, kind: 'CREDIT', net: '11.61', total: (Number(oct!.gross) - Number(grossOf('18.38', oct!))).toFixed(2) },
      { invoiceId: nov!.invoiceId, kind: 'CREDIT', net: '29.99', total: nov!.gross },
    ]);
  });

  it('a 10 % discount on the fees: what comes back is the fee less its discount for Oct 20..31; paid already, it becomes account credit', async () => {
    const acc = `acc_cibd_${run}`;
    h.clock.set('2026-10-01T10:00:00Z');
    await account(h, acc);
    await subscribe(h, acc, `sub_cibd_${run}`, 'postpaid20', '2026-09-30T22:00:00Z', `lin_sub_cibd_${run}`);
    await h.gql('mutation($i: AddDiscountInput!) { addDiscount(input: $i) { ok } }', {
      i: { billingAccountId: acc, code: `LOYAL10_${run}`, description: 'Loyalty 10 %', percent: '10', target: 'RECURRING', validFrom: '2026-09-01T00:00:00Z' },
    });
    await runCycle('2026-11-01', '2026-11-01T10:00:00Z');
    const [oct] = await recurringLines(acc);
    const [inv] = await query('select number, total from invoice where id = ?', [oct!.invoiceId]);
    h.clock.set('2026-11-02T10:00:00Z');
    await h.gql('mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { payment { id } } }', {
      i: { invoiceId: oct!.invoiceId, amount: { amount: Number(inv!.total).toFixed(2), currency: 'EUR' }, channel: 'BANK_TRANSFER', idempotencyKey: `pay_cibd_${run}` },
    });
    await deliver(EVENTS.billingAccountClosed.subject, closedEvent(acc));
    // Fee 29.99 − 3.00 billed; the stub's 18.38 − 1.84: 10.45 net back (not the 11.61 of the undiscounted fee).
    const [note] = await creditNotes(acc);
    expect(note).toMatchObject({ invoiceId: oct!.invoiceId, kind: 'CREDIT', net: '10.45' });
    const [credit] = await query(`select sum(amount) as amount from account_credit_entry where billing_account_id = ? and source = 'CREDIT_NOTE'`, [acc]);
    expect(Number(credit!.amount).toFixed(2)).toBe(note!.total);
  });
  // A bill run that leaves its invoices as drafts (autoIssue false) billed October whole; the closure came before
  // anyone issued it. Before, the final close credited only issued invoices and issuing the draft (or regenerating
  // it first) billed the whole month: the customer paid 29.99 for a month they left on the 20th.
  // `credit`: account credit the account has when the draft is issued (it pays what is left after the closure credit).
  const draftCase = async (tag: string, regenerate: boolean, credit = '0.00') => {
    const acc = `acc_cibdr${tag}_${run}`;
    h.clock.set('2026-10-01T10:00:00Z');
    await account(h, acc);
    await subscribe(h, acc, `sub_cibdr${tag}_${run}`, 'postpaid20', '2026-09-30T22:00:00Z', `lin_sub_cibdr${tag}_${run}`);
    // October as a bill run with autoIssue false bills it (the run of Nov 1 is this file's, issuing).
    h.clock.set('2026-11-01T10:00:00Z');
    const [row] = await query('select * from billing_account where id = ?', [acc]);
    await tx((em) => billAccounts(em, [{ account: row as AccountRow, period: { start: new Date(OCT), end: new Date(NOV) } }], deps, { now: h.clock.now(), autoIssue: false }));
    const [draft] = await query(`select id, number, state from invoice where billing_account_id = ? and voided_at is null`, [acc]);
    expect(draft).toMatchObject({ number: null, state: 'NEW' });

    h.clock.set('2026-11-01T11:00:00Z');
    // Regenerated with the line's end known, the draft bills the fee up to it already; without it (its event
    // not applied), the whole month again.
    if (!regenerate) await deliver(EVENTS.subscriptionChanged.subject, ended(acc, `sub_cibdr${tag}_${run}`, 'POSTPAID_20GB', PLANS.postpaid20.id));
    await deliver(EVENTS.billingAccountClosed.subject, closedEvent(acc));
    let id = draft!.id as string;
    if (regenerate) id = (await h.gql<any>('mutation($i: InvoiceIdInput!) { regenerateInvoice(input: $i) { invoice { id } } }', { i: { invoiceId: id } })).regenerateInvoice.invoice.id;
    if (Number(credit) > 0) {
      await query(`insert into account_credit_entry (id, billing_account_id, amount, currency, source, source_id, created_at) values (?, ?, ?, 'EUR', 'OVERPAYMENT', ?, ?)`, [`crd_cibdr${tag}_${run}`, acc, credit, `pay_cibdr${tag}_${run}`, '2026-11-01T12:00:00Z']);
    }
    h.clock.set('2026-11-02T10:00:00Z');
    await h.gql('mutation($i: InvoiceIdInput!) { issueInvoice(input: $i) { invoice { id } } }', { i: { invoiceId: id } });

    // October 1..19 of 31 days (18.38 net, as the final stub bills it) is what the customer pays for the fee.
    const paysUpToClosure = async () => {
      const [fee] = await recurringLines(acc);
      const notes = await creditNotes(acc);
      expect(notes.length).toBeLessThanOrEqual(1);
      const credited = notes.reduce((n, x) => n + Number(x.total), 0);
      expect((Number(fee!.gross) - credited).toFixed(2)).toBe(grossOf('18.38', fee!));
      const inv = await h.gql<any>('query($id: ID!) { invoice(id: $id) { number amountDue { amount } } }', { id });
      expect(inv.invoice.number).not.toBeNull();
      expect(inv.invoice.amountDue.amount).toBe((Number(grossOf('18.38', fee!)) - Number(credit)).toFixed(2));
      return notes;
    };
    const notes = await paysUpToClosure();
    // The event again and the worker's final close: nothing more.
    await deliver(EVENTS.billingAccountClosed.subject, closedEvent(acc));
    await closeViaWorker(acc, OCT, CLOSED_AT, true);
    expect(await paysUpToClosure()).toEqual(notes);
    const [fee] = await recurringLines(acc);
    const [cn] = await query('select number from credit_note where invoice_id = ?', [id]);
    return { notes, told: await noteEvents(id), bills: await billEvents(id), fee: fee!, noteNumber: cn?.number as string | undefined, order: await outboxOrderOf(id) };
  };

  // The bill's event, written as the draft is issued, is what subscribers' BILL_ISSUED tells: before, it said the
  // whole month was due (amountDue 35.69) and CREDIT_NOTE_ISSUED came after it with the lower amount. It now names the
  // closure note issued with it and what is due once that note (and account credit) are applied; the note's own
  // event says it was issued with the invoice, so subscribers tells it in the bill's message only.
  const toldOnceWithTheBill = (c: Awaited<ReturnType<typeof draftCase>>, credit: string) => {
    const [note] = c.notes;
    expect(c.bills).toHaveLength(1);
    expect(c.bills[0]).toMatchObject({
      total: c.fee.gross,
      closureCredit: { creditNoteId: expect.any(String), number: c.noteNumber, amount: note!.total, accountClosedAt: CLOSED_AT },
      creditApplied: credit,
      amountDue: (Number(grossOf('18.38', c.fee)) - Number(credit)).toFixed(2),
    });
    expect(c.told).toEqual([expect.objectContaining({ cause: 'ACCOUNT_CLOSED', issuedWithInvoice: true, creditNoteId: c.bills[0]!.closureCredit.creditNoteId })]);
    // The bill is published before its note (the relay publishes in seq order): a partner or subscribers never
    // sees a note, or a state change, of a bill it has not seen. Before, the note's events were written first, as
    // it was issued (statechanged SENT → PARTIALLY_PAID, creditnote.created, then customerbill.created). The bill
    // says the state it was issued in; the change the note brings follows it, then the note, then account credit.
    expect(c.order).toEqual([
      EVENTS.customerBillCreated.subject,
      EVENTS.customerBillStateChanged.subject,
      EVENTS.creditNoteCreated.subject,
      ...(Number(credit) > 0 ? [EVENTS.paymentCreated.subject] : []),
    ]);
    expect(c.bills[0]!.state).toBe('SENT');
  };

  it('a draft billed October whole, the account closed on Oct 20, then the draft issued: the customer pays up to the closure, once', async () => {
    const c = await draftCase('i', false);
    expect(c.notes).toEqual([expect.objectContaining({ kind: 'CREDIT', net: '11.61' })]);
    expect(c.told.map((t) => t.cause)).toEqual(['ACCOUNT_CLOSED']);
    toldOnceWithTheBill(c, '0.00');
  });

  it('the same draft regenerated after the closure (the line still open here), then issued: the customer pays up to the closure, once', async () => {
    const c = await draftCase('r', true);
    expect(c.notes).toEqual([expect.objectContaining({ kind: 'CREDIT', net: '11.61' })]);
    toldOnceWithTheBill(c, '0.00');
  });

  it('the same draft issued with 5.00 of account credit: the credit pays 5.00 of what is left after the closure credit, and the bill says what is then due', async () => {
    const c = await draftCase('c', false, '5.00');
    expect(c.notes).toEqual([expect.objectContaining({ kind: 'CREDIT', net: '11.61' })]);
    toldOnceWithTheBill(c, '5.00');
    // Nothing of the closure note came back as account credit: the credit only ever paid what was due.
    const [left] = await query('select coalesce(sum(amount), 0) as amount from account_credit_entry where billing_account_id = ?', [`acc_cibdrc_${run}`]);
    expect(Number(left!.amount).toFixed(2)).toBe('0.00');
  });
});
