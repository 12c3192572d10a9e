// Account credit that arrives after an invoice was issued pays that open invoice. Before this, credit
// was applied only when an invoice was issued: an overpayment, a credit note turned into credit or a
// negative invoice sat next to open (even overdue, dunned) invoices of the same account until some
// later invoice was issued. Now credit pays the account's issued, unpaid invoices (SENT or
// PARTIALLY_PAID in its currency, and the undisputed part of one on hold for a dispute; never a draft) oldest due first, as an
// ACCOUNT_CREDIT payment like the one at issue, once, under retries and two credits at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dec } from '@ledgerline/contracts';
import type { DunningStarter } from '../src/ports/dunning';
import { account, charges, invoicesOf, startHarness, type Harness } from './support';

let h: Harness;
const pokes: [string, string][] = [];
const dunning: DunningStarter = { start: async () => undefined, poke: async (invoiceId, what) => void pokes.push([invoiceId, what]) };

const MONTHS = {
  aug: { periodStart: '2026-07-31T22:00:00Z', periodEnd: '2026-08-31T22:00:00Z', at: '2026-09-01T09:00:00Z' },
  sep: { periodStart: '2026-08-31T22:00:00Z', periodEnd: '2026-09-30T22:00:00Z', at: '2026-10-01T09:00:00Z' },
  oct: { periodStart: '2026-09-30T22:00:00Z', periodEnd: '2026-10-31T23:00:00Z', at: '2026-11-01T09:00:00Z' },
  nov: { periodStart: '2026-10-31T23:00:00Z', periodEnd: '2026-11-30T23:00:00Z', at: '2026-12-01T09:00:00Z' },
};
type Month = keyof typeof MONTHS;

const CLOSE = 'mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { invoice { id state total { amount } amountPaid { amount } lines { id kind grossAmount { amount } } } } } }';
const PAY = 'mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { payment { id creditAmount { amount } } invoice { state } } }';
const NOTE = 'mutation($i: IssueCreditNoteInput!) { issueCreditNote(input: $i) { creditNote { id } } }';

async function close(acc: string, month: Month): Promise<any> {
  const m = MONTHS[month];
  h.clock.set(new Date(m.at));
  return (await h.gql<any>(CLOSE, { i: { billingAccountId: acc, periodStart: m.periodStart, periodEnd: m.periodEnd } })).closeBillingPeriod.billingPeriod.invoice;
}
const credit = async (acc: string) => (await h.gql<any>(`query { _entities(representations: [{ __typename: "BillingAccount", id: "${acc}" }]) { ... on BillingAccount { accountCredit { amount } } } }`))._entities[0].accountCredit.amount;
const byId = async (acc: string) => new Map((await invoicesOf(h, acc)).map((i: any) => [i.id, i]));
async function creditPayments(acc: string): Promise<{ invoiceId: string; amount: string }[]> {
  const d = await h.gql<any>(`query { payments(billingAccountId: "${acc}", first: 100) { edges { node { channel invoiceId amount { amount } } } } }`);
  return d.payments.edges.map((e: any) => e.node).filter((p: any) => p.channel === 'ACCOUNT_CREDIT').map((p: any) => ({ invoiceId: p.invoiceId, amount: p.amount.amount }));
}
const sum = (xs: { amount: string }[]) => xs.reduce((a, x) => a.plus(x.amount), dec('0')).toFixed(2);

async function accountWithPlan(acc: string, endsAt: string | null = null): Promise<void> {
  await account(h, acc);
  await h.gql('mutation($i: RecordSubscriptionInput!) { recordSubscription(input: $i) { ok } }', {
    i: { subscriptionId: `sub_${acc}`, lineId: `lin_${acc}`, billingAccountId: acc, planCode: 'POSTPAID_20GB', planVersionId: 'plv_postpaid20_v1', startsAt: '2026-07-01T00:00:00Z', endsAt },
  });
}

beforeAll(async () => {
  h = await startHarness('2026-09-01T09:00:00Z', { consume: false, runBillRuns: false, dunning });
});
afterAll(async () => h?.svc.close());

describe('account credit arriving after an invoice was issued', () => {
  it('an overpayment pays the open invoices oldest due first, tells their dunning, and a retry applies nothing more', async () => {
    await accountWithPlan('acc_cp_over');
    const aug = await close('acc_cp_over', 'aug');
    const sep = await close('acc_cp_over', 'sep');
    const oct = await close('acc_cp_over', 'oct');
    expect([aug.total.amount, sep.total.amount, oct.total.amount]).toEqual(['35.69', '35.69', '35.69']);
    // August and September are overdue and dunned.
    await h.svc.runtime.orm.em.fork().getConnection().execute(`update invoice set dunning_started_at = now() where id in ('${aug.id}', '${sep.id}')`);

    h.clock.set(new Date('2026-11-05T10:00:00Z'));
    const i = { invoiceId: oct.id, channel: 'BANK_TRANSFER', amount: { amount: '75.69', currency: 'EUR' }, idempotencyKey: 'cp-over-1', allowOverpayment: true };
    const first = (await h.gql<any>(PAY, { i })).recordPayment;
    expect(first).toMatchObject({ payment: { creditAmount: { amount: '40' } }, invoice: { state: 'SETTLED' } });

    const after = await byId('acc_cp_over');
    const view = (id: string) => ({ state: after.get(id).state, amountPaid: after.get(id).amountPaid.amount, amountDue: after.get(id).amountDue.amount });
    expect(
      { aug: view(aug.id), sep: view(sep.id), oct: view(oct.id), credit: await credit('acc_cp_over') },
      'the 40.00 kept from the overpayment must pay August (due first) in full and 4.31 of September',
    ).toEqual({
      aug: { state: 'SETTLED', amountPaid: '35.69', amountDue: '0' },
      sep: { state: 'PARTIALLY_PAID', amountPaid: '4.31', amountDue: '31.38' },
      oct: { state: 'SETTLED', amountPaid: '35.69', amountDue: '0' },
      credit: '0',
    });
    expect(await creditPayments('acc_cp_over')).toEqual(expect.arrayContaining([{ invoiceId: aug.id, amount: '35.69' }, { invoiceId: sep.id, amount: '4.31' }]));
    expect(pokes).toEqual(expect.arrayContaining([[aug.id, 'paymentRecorded'], [sep.id, 'paymentRecorded']]));

    // The same payment again (a client retry): the same answer, no credit applied twice.
    const again = (await h.gql<any>(PAY, { i })).recordPayment;
    expect(again.payment.id).toBe(first.payment.id);
    expect(sum(await creditPayments('acc_cp_over'))).toBe('40.00');
    expect((await byId('acc_cp_over')).get(sep.id).amountPaid.amount).toBe('4.31');
  });

  it('a credit note turned into credit pays the undisputed part of a disputed invoice, then the open one after it, never the disputed amount', async () => {
    await accountWithPlan('acc_cp_note');
    const aug = await close('acc_cp_note', 'aug');
    const sep = await close('acc_cp_note', 'sep');
    const oct = await close('acc_cp_note', 'oct');
    await h.gql(PAY, { i: { invoiceId: aug.id, channel: 'BANK_TRANSFER', amount: { amount: '35.69', currency: 'EUR' }, idempotencyKey: 'cp-note-aug' } });
    await h.gql(PAY, { i: { invoiceId: oct.id, channel: 'BANK_TRANSFER', amount: { amount: '10.00', currency: 'EUR' }, idempotencyKey: 'cp-note-oct' } });
    await h.gql('mutation($i: DisputeInvoiceInput!) { disputeInvoice(input: $i) { invoice { state } } }', { i: { invoiceId: sep.id, amount: '10.00', reason: 'Not my roaming' } });

    // August was paid; crediting it in full moves the 35.69 paid into account credit.
    const note = { invoiceId: aug.id, kind: 'CREDIT', reason: 'Service not delivered', lines: [{ invoiceLineId: aug.lines[0].id, amount: '35.69' }], idempotencyKey: 'cp-note-cn' };
    await h.gql(NOTE, { i: note });
    let now = await byId('acc_cp_note');
    expect(
      { sep: [now.get(sep.id).state, now.get(sep.id).amountPaid.amount], oct: [now.get(oct.id).state, now.get(oct.id).amountDue.amount], credit: await credit('acc_cp_note') },
      'September (oldest due; 10.00 of its 35.69 disputed) takes its undisputed 25.69 and stays on hold; October (25.69 due) the other 10',
    ).toEqual({ sep: ['ON_HOLD', '25.69'], oct: ['PARTIALLY_PAID', '15.69'], credit: '0' });

    // The same credit note again (a retry): nothing more.
    await h.gql(NOTE, { i: note });
    expect(await credit('acc_cp_note')).toBe('0');
    expect(sum(await creditPayments('acc_cp_note'))).toBe('35.69');

    await h.gql('mutation($i: InvoiceIdInput!) { resolveDispute(input: $i) { invoice { state } } }', { i: { invoiceId: sep.id } });
    now = await byId('acc_cp_note');
    // Released, September owes what was disputed (the dispute was resolved against the customer here).
    expect({ sep: [now.get(sep.id).state, now.get(sep.id).amountPaid.amount, now.get(sep.id).amountDue.amount], credit: await credit('acc_cp_note') }).toEqual({
      sep: ['PARTIALLY_PAID', '25.69', '10'],
      credit: '0',
    });
    expect(sum(await creditPayments('acc_cp_note'))).toBe('35.69');
  });

  it('a negative invoice pays the open invoice before it', async () => {
    // The line ends with September; September's roaming is re-rated 15.00 cheaper in October.
    await accountWithPlan('acc_cp_negative', '2026-09-30T22:00:00Z');
    await charges(h, [{ chargeId: 'chg_cp_neg', billingAccountId: 'acc_cp_negative', lineId: 'lin_acc_cp_negative', usageType: 'DATA', zone: 'ROAMING_WORLD', units: '400', unit: 'MB', amount: '20.00', currency: 'EUR', occurredAt: '2026-09-10T12:00:00Z' }]);
    const sep = await close('acc_cp_negative', 'sep');
    expect(sep.total.amount).toBe('59.49');
    await charges(h, [{ chargeId: 'adj_cp_neg', billingAccountId: 'acc_cp_negative', lineId: 'lin_acc_cp_negative', usageType: 'DATA', zone: 'ROAMING_WORLD', units: '1', unit: 'ITEM', amount: '-15.00', currency: 'EUR', occurredAt: '2026-09-10T12:00:00Z' }]);
    const oct = await close('acc_cp_negative', 'oct');
    expect([oct.total.amount, oct.state]).toEqual(['-17.85', 'SETTLED']);

    const after = (await byId('acc_cp_negative')).get(sep.id);
    expect({ state: after.state, amountPaid: after.amountPaid.amount, amountDue: after.amountDue.amount, credit: await credit('acc_cp_negative') }, 'the 17.85 owed to the customer must pay September').toEqual({
      state: 'PARTIALLY_PAID',
      amountPaid: '17.85',
      amountDue: '41.64',
      credit: '0',
    });
  });

  it('two credits at once (each sent twice) pay the open invoice once, never above what it owes; the next invoice takes the rest', async () => {
    await accountWithPlan('acc_cp_race');
    const aug = await close('acc_cp_race', 'aug');
    const sep = await close('acc_cp_race', 'sep');
    const oct = await close('acc_cp_race', 'oct');
    h.clock.set(new Date('2026-11-05T10:00:00Z'));
    const over = (invoiceId: string, key: string) => ({ invoiceId, channel: 'BANK_TRANSFER', amount: { amount: '55.69', currency: 'EUR' }, idempotencyKey: key, allowOverpayment: true });
    const requests = [over(sep.id, 'cp-race-sep'), over(oct.id, 'cp-race-oct'), over(sep.id, 'cp-race-sep'), over(oct.id, 'cp-race-oct')];
    const results = await Promise.all(requests.map((i) => h.svc.request<any>(PAY, { i })));
    const answers = results.map((r) => (r.errors?.length ? `error ${r.errors[0]!.message.slice(0, 120)}` : r.data.recordPayment.payment.id));
    expect(answers.filter((a) => a.startsWith('error')), JSON.stringify(answers)).toEqual([]);
    expect(new Set(answers).size).toBe(2);

    const after = await byId('acc_cp_race');
    // 20.00 + 20.00 of credit: August takes 35.69, 4.31 is left.
    expect({ aug: [after.get(aug.id).state, after.get(aug.id).amountPaid.amount], credit: await credit('acc_cp_race') }).toEqual({ aug: ['SETTLED', '35.69'], credit: '4.31' });
    const applied = await creditPayments('acc_cp_race');
    expect(new Set(applied.map((p) => p.invoiceId))).toEqual(new Set([aug.id]));
    expect(sum(applied)).toBe('35.69');

    // The other order: an invoice issued while credit exists takes it.
    const nov = await close('acc_cp_race', 'nov');
    expect([nov.state, nov.amountPaid.amount]).toEqual(['PARTIALLY_PAID', '4.31']);
    expect(await credit('acc_cp_race')).toBe('0');
  });
});
