// Late usage of a period whose invoice was voided (and perhaps replaced). Real PostgreSQL; the charge result
// with a hint is applied as the consumer applies it (`applyMessages`), not through NATS: see below.
//
// What usage names (ChargeRequest/ChargeResult.adjustsInvoiceId) is an invoice it learnt of from
// customerBillCreated: only an issued invoice is announced, and an issued invoice is never voided or
// regenerated (it is corrected by credit notes, and stands). Only drafts are voided. So the invoice a
// late charge names from usage always stands; the first block pins that down.
//
// Invoicing itself attributes a late charge with no hint by its time: to the live invoice of that
// period. When that invoice was still a draft, the next period's invoice billed the charge as an
// ADJUSTMENT naming the draft (by its id: a draft has no number) - an invoice the customer never got,
// and one that could then be voided, with or without a replacement. Now a late charge whose period's
// invoice is a draft waits for that draft: regenerated, the replacement bills it as its own period's
// usage; issued as it is, the next invoice bills it as an adjustment naming the issued number; voided
// with no replacement, the next invoice bills it as ordinary usage. A hint naming an invoice that was
// voided is read as no hint: the adjustment names the invoice that stands for the period now.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WORK_SUBJECTS, type ChargeResult } from '@ledgerline/contracts';
import { lineThatBilled } from '../src/application/usage-record-given-back';
import { applyMessages } from '../src/events/consumer';
import type { Em } from '@ledgerline/platform';
import { account, charges, invoicesOf, runBillRun, startHarness, subscribe, type Harness } from './support';

let h: Harness;
const CLOSE = 'mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { invoice { id number state } } } }';
const VOID = 'mutation($i: InvoiceIdInput!) { voidInvoice(input: $i) { invoice { id state } } }';
const REGENERATE = 'mutation($i: InvoiceIdInput!) { regenerateInvoice(input: $i) { invoice { id state } } }';
const ISSUE = 'mutation($i: InvoiceIdInput!) { issueInvoice(input: $i) { invoice { id number state } } }';
// Europe/Berlin, bill-cycle day 1.
const SEP_LABEL = '2026-09-01–2026-09-30';
const OCT = { periodStart: '2026-09-30T22:00:00Z', periodEnd: '2026-10-31T23:00:00Z' };
const NOV = { periodStart: '2026-10-31T23:00:00Z', periodEnd: '2026-11-30T23:00:00Z' };

// Only this run's own accounts, charges and bill run: with a consumer, this run's schema took every run's events on
// the shared NATS (other runs' accounts from their billingaccount.created, charges for a same-named account), and
// its bill run billed them too (5 accounts for its 4 while others published; its wait could run out under load).
// So the service has no consumer, its bill run bills exactly its accounts, and the accounts carry the run's id.
const RUN = randomBytes(4).toString('hex');
const A = { regen: `acc_lv_regen_${RUN}`, void: `acc_lv_void_${RUN}`, issue: `acc_lv_issue_${RUN}`, hint: `acc_lv_hint_${RUN}` };
const ACCOUNTS = [A.regen, A.void, A.issue, A.hint];
/** Each account's September draft, as the bill run left it. */
const drafts = new Map<string, any>();
/** Each account's October invoice, billed while September was still a draft (not for A.hint). */
const octobers = new Map<string, any>();

const close = async (acc: string, p: { periodStart: string; periodEnd: string }) => (await h.gql<any>(CLOSE, { i: { billingAccountId: acc, ...p } })).closeBillingPeriod.billingPeriod.invoice;
const invoice = async (acc: string, id: string) => (await invoicesOf(h, acc)).find((i: any) => i.id === id);
const lines = (inv: any) => inv.lines.map((l: any) => [l.kind, l.description, l.netAmount.amount]);
const data = (acc: string, chargeId: string, occurredAt: string, amount: string) => ({ chargeId, billingAccountId: acc, lineId: `lin_sub_${acc}`, usageType: 'DATA', zone: 'ROAMING_EU', units: '100', unit: 'MB', amount, currency: 'EUR', occurredAt });
const db = () => h.svc.runtime.orm.em.fork().getConnection();
/** Every invoice line of the account that names `invoiceId` (as the adjusted invoice, or in its text). */
const linesNaming = async (acc: string, invoiceId: string) =>
  db().execute(`select l.kind, l.description from invoice_line l join invoice i on i.id = l.invoice_id where i.billing_account_id = ? and (l.source_ref = ? or l.description like ?)`, [acc, invoiceId, `%${invoiceId}%`]);
const unbilled = async (acc: string) => (await db().execute(`select charge_id from unbilled_charge where billing_account_id = ? and invoice_id is null order by charge_id`, [acc])).map((r: any) => r.charge_id);
/** customerBillCreated rows of the account (what usage learns billed periods from). */
const billsAnnounced = async (acc: string) =>
  (await db().execute(`select payload from outbox where subject = 'billing.invoicing.customerbill.created'`))
    .map((r: any) => (typeof r.payload === 'string' ? JSON.parse(r.payload) : r.payload).data)
    .filter((d: any) => d.billingAccountId === acc)
    .map((d: any) => d.invoiceId);

beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false });
  for (const acc of ACCOUNTS) {
    await account(h, acc);
    await subscribe(h, acc, `sub_${acc}`, 'postpaid20', '2026-08-01T00:00:00Z');
    await charges(h, [data(acc, `chg_${acc}_sep`, '2026-09-10T12:00:00Z', '2.00')]);
  }
  // September is billed as drafts (a bill run an operator reviews before sending).
  expect(await runBillRun(h, '2026-10-01', { autoIssue: false })).toMatchObject({ totalAccounts: ACCOUNTS.length, invoicesCreated: ACCOUNTS.length });
  for (const acc of ACCOUNTS) {
    const [draft] = await invoicesOf(h, acc);
    expect(draft).toMatchObject({ state: 'NEW', number: null });
    expect(lines(draft)).toContainEqual(['USAGE', 'DATA ROAMING_EU (1 record)', '2']);
    drafts.set(acc, draft);
  }
  // Usage of September 28 reaches invoicing after the drafts were composed, with no hint (usage knows of
  // no September invoice: a draft is not announced).
  for (const acc of [A.regen, A.void, A.issue]) await charges(h, [data(acc, `chg_${acc}_late`, '2026-09-28T12:00:00Z', '1.00')]);
  // October is billed while September is still a draft.
  h.clock.set(new Date('2026-11-01T09:00:00Z'));
  for (const acc of [A.regen, A.void, A.issue]) octobers.set(acc, await close(acc, OCT));
});

afterAll(async () => {
  await h?.svc.close();
});

describe('what usage can name: only issued invoices, which stand', () => {
  it('announces no draft (voided or not), only the issued replacement; an issued invoice cannot be voided or regenerated', async () => {
    const acc = A.hint;
    const draft = drafts.get(acc);
    expect(await billsAnnounced(acc)).toEqual([]);
    const replacement = (await h.gql<any>(REGENERATE, { i: { invoiceId: draft.id } })).regenerateInvoice.invoice;
    expect((await invoice(acc, draft.id)).state).toBe('VOIDED');
    expect(await billsAnnounced(acc)).toEqual([]);
    const issued = (await h.gql<any>(ISSUE, { i: { invoiceId: replacement.id } })).issueInvoice.invoice;
    expect(issued.state).toBe('SENT');
    expect(await billsAnnounced(acc)).toEqual([replacement.id]);
    // The issued invoice stands: neither voided nor regenerated (a credit note corrects it).
    for (const m of [VOID, REGENERATE]) expect(await h.gqlError(m, { i: { invoiceId: replacement.id } })).toMatchObject({ reason: 'INVOICE_ILLEGAL_TRANSITION', field: 'input.invoiceId' });
    expect((await invoice(acc, replacement.id)).state).toBe('SENT');
  });
});

describe('late usage of a period whose invoice is still a draft', () => {
  it('waits for the draft: not an adjustment of it on the next invoice; the replacement bills it as its own period usage', async () => {
    const acc = A.regen;
    const draft = drafts.get(acc);
    const oct = await invoice(acc, octobers.get(acc).id);
    expect(lines(oct).filter((l: string[]) => l[0] !== 'RECURRING')).toEqual([]);
    expect(await unbilled(acc)).toEqual([`chg_${acc}_late`]);

    const replacement = (await h.gql<any>(REGENERATE, { i: { invoiceId: draft.id } })).regenerateInvoice.invoice;
    const issued = (await h.gql<any>(ISSUE, { i: { invoiceId: replacement.id } })).issueInvoice.invoice;
    const sep = await invoice(acc, replacement.id);
    expect(sep.number).toBe(issued.number);
    expect(lines(sep)).toContainEqual(['USAGE', 'DATA ROAMING_EU (2 records)', '3']);
    expect(await unbilled(acc)).toEqual([]);
    expect(await linesNaming(acc, draft.id)).toEqual([]);
  });

  it('voided with no replacement: the next invoice bills the period usage as ordinary usage, no line names the void invoice', async () => {
    const acc = A.void;
    const draft = drafts.get(acc);
    expect(lines(await invoice(acc, octobers.get(acc).id)).filter((l: string[]) => l[0] !== 'RECURRING')).toEqual([]);
    expect((await h.gql<any>(VOID, { i: { invoiceId: draft.id } })).voidInvoice.invoice.state).toBe('VOIDED');

    h.clock.set(new Date('2026-12-01T09:00:00Z'));
    const nov = await invoice(acc, (await close(acc, NOV)).id);
    expect(lines(nov).filter((l: string[]) => l[0] !== 'RECURRING')).toEqual([['USAGE', 'DATA ROAMING_EU (2 records)', '3']]);
    expect(await unbilled(acc)).toEqual([]);
    expect(await linesNaming(acc, draft.id)).toEqual([]);
  });

  it('issued as it is: the next invoice after that bills it as an adjustment naming the issued number', async () => {
    const acc = A.issue;
    const draft = drafts.get(acc);
    expect(lines(await invoice(acc, octobers.get(acc).id)).filter((l: string[]) => l[0] !== 'RECURRING')).toEqual([]);
    const issued = (await h.gql<any>(ISSUE, { i: { invoiceId: draft.id } })).issueInvoice.invoice;
    expect(issued.number).toBeTruthy();

    h.clock.set(new Date('2026-12-01T09:00:00Z'));
    const nov = await invoice(acc, (await close(acc, NOV)).id);
    expect(lines(nov).filter((l: string[]) => l[0] !== 'RECURRING')).toEqual([['ADJUSTMENT', `Late usage for ${SEP_LABEL}, invoice ${issued.number}: DATA ROAMING_EU (1 record)`, '1']]);
    expect(await unbilled(acc)).toEqual([]);
  });
});

describe('a late charge naming an invoice that was voided', () => {
  it('is an adjustment of the invoice that stands for that period now (the replacement)', async () => {
    const acc = A.hint;
    const voided = drafts.get(acc);
    const [replacement] = (await invoicesOf(h, acc)).filter((i: any) => i.state === 'SENT');
    expect(replacement.id).not.toBe(voided.id);
    // A late charge whose hint names the voided invoice (the contract allows any id; usage names only
    // issued invoices, which are never voided - but a hint is a hint, not a fact invoicing keeps).
    const late: ChargeResult = {
      chargeId: `chg_${acc}_late`, outcome: 'APPLIED', billingAccountId: acc, lineId: `lin_sub_${acc}`, paymentMode: 'POSTPAID', usageType: 'DATA', zone: 'ROAMING_EU', adjustsInvoiceId: voided.id,
      occurredAt: '2026-09-29T12:00:00Z', units: '100', unit: 'MB', unitsFromAllowances: '0', amountCharged: '1.00', currency: 'EUR',
    };
    // As wallets publishes it, applied as the consumer applies a chargeApplied message.
    await h.svc.runtime.orm.em.fork().transactional((em) => applyMessages(em as Em, [{ subject: WORK_SUBJECTS.chargeApplied, data: JSON.stringify(late) }], h.clock.now()));
    expect(await db().execute(`select adjusts_invoice_id from unbilled_charge where charge_id = ?`, [late.chargeId])).toEqual([{ adjusts_invoice_id: voided.id }]);

    // October's own usage of the same type and zone: a line apart from the adjustment.
    await charges(h, [data(acc, `chg_${acc}_oct`, '2026-10-05T12:00:00Z', '4.00')]);

    const oct = await invoice(acc, (await close(acc, OCT)).id);
    expect(lines(oct).filter((l: string[]) => l[0] !== 'RECURRING')).toEqual([
      ['USAGE', 'DATA ROAMING_EU (1 record)', '4'],
      ['ADJUSTMENT', `Late usage for ${SEP_LABEL}, invoice ${replacement.number}: DATA ROAMING_EU (1 record)`, '1'],
    ]);
    expect(await linesNaming(acc, voided.id)).toEqual([]);
    // A dispute of that late record finds the line that billed it (as bill-accounts grouped it).
    const em = h.svc.runtime.orm.em.fork();
    const [charge] = await db().execute(`select * from unbilled_charge where charge_id = ?`, [late.chargeId]);
    const [octRow] = await db().execute(`select * from invoice where id = ?`, [oct.id]);
    expect(await lineThatBilled(em, octRow, charge)).toMatchObject({ kind: 'ADJUSTMENT', source_ref: replacement.id });
  });
});
