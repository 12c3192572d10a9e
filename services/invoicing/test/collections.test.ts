// The due-date job (autopay, dunning start), budget replenishment invoices from JetStream, late
// usage as adjustments, discounts on usage and on the whole invoice, account credit on the next
// invoice, and plan history arriving out of order. Real PostgreSQL and NATS; the dunning
// workflow starter is a recording fake here (the end-to-end test runs the real one on Temporal).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS, WORK_SUBJECTS, createCloudEvent, dec, type BudgetReplenishmentData, type ChargeResult } from '@ledgerline/contracts';
import type { DunningStarter, StartDunningRequest } from '../src/ports/dunning';
import { account, charges, invoicesOf, startHarness, subscribe, waitFor, type Harness } from './support';

class RecordingDunning implements DunningStarter {
  readonly started = new Map<string, StartDunningRequest[]>();
  readonly pokes: string[] = [];
  fail = false;
  async start(req: StartDunningRequest): Promise<void> {
    if (this.fail) throw new Error('temporal down');
    this.started.set(req.invoiceId, [...(this.started.get(req.invoiceId) ?? []), req]);
  }
  async poke(invoiceId: string, what: string): Promise<void> {
    this.pokes.push(`${invoiceId}:${what}`);
  }
}

let h: Harness;
const dunning = new RecordingDunning();
const POLICY = { reminderDays: [1], lateFee: null, suspendAfterDays: 3 };
const CLOSE = 'mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { invoice { id number state total { amount } dueDate } } } }';
const PAY = 'mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { payment { id channel } invoice { state amountDue { amount } } } }';
const JOB = 'mutation { runDueDateJob { autopaid declined dunningStarted } }';
const SEP = { periodStart: '2026-08-31T22:00:00Z', periodEnd: '2026-09-30T22:00:00Z' };
const OCT = { periodStart: '2026-09-30T22:00:00Z', periodEnd: '2026-10-31T23:00:00Z' };
const close = async (acc: string, p = SEP) => (await h.gql<any>(CLOSE, { i: { billingAccountId: acc, ...p } })).closeBillingPeriod.billingPeriod.invoice;
const credit = async (acc: string) => (await h.gql<any>(`query { _entities(representations: [{ __typename: "BillingAccount", id: "${acc}" }]) { ... on BillingAccount { accountCredit { amount } } } }`))._entities[0].accountCredit.amount;

beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { dunning, policy: POLICY });
  for (const [acc, token] of [['acc_ap_ok', 'tok_visa_autopay'], ['acc_ap_decline', 'tok_decline'], ['acc_no_token', null]] as const) {
    await account(h, acc, { paymentTermsDays: 3, ...(token ? { autopayToken: token } : {}) });
    await subscribe(h, acc, `sub_${acc}`, 'postpaid20', '2026-08-01T00:00:00Z');
  }
});

afterAll(async () => {
  await h?.svc.close();
});

describe('the due-date job', () => {
  it('does nothing before the due date', async () => {
    for (const acc of ['acc_ap_ok', 'acc_ap_decline', 'acc_no_token']) expect((await close(acc)).state).toBe('SENT');
    expect((await h.gql<any>(JOB)).runDueDateJob).toEqual({ autopaid: 0, declined: 0, dunningStarted: 0 });
    expect(h.payments.charges.size).toBe(0);
  });

  it('charges autopay accounts once on the due date; a decline and an account without autopay go to dunning, once', async () => {
    h.clock.set(new Date('2026-10-04T09:00:00Z'));
    const first = (await h.gql<any>(JOB)).runDueDateJob;
    expect(first).toEqual({ autopaid: 1, declined: 1, dunningStarted: 2 });
    const [paid] = await invoicesOf(h, 'acc_ap_ok');
    expect(paid).toMatchObject({ state: 'SETTLED', amountDue: { amount: '0' }, amountPaid: { amount: paid.total.amount } });
    expect([...h.payments.charges.values()].map((c) => [c.req.paymentMethodToken, c.req.amount, c.req.idempotencyKey])).toEqual([['tok_visa_autopay', '35.69', `autopay:${paid.id}`]]);
    const [declined] = await invoicesOf(h, 'acc_ap_decline');
    expect(declined).toMatchObject({ state: 'SENT', amountDue: { amount: '35.69' } });
    const [plain] = await invoicesOf(h, 'acc_no_token');
    expect([...dunning.started.keys()].sort()).toEqual([declined.id, plain.id].sort());
    expect(dunning.started.get(plain.id)![0]).toMatchObject({ billingAccountId: 'acc_no_token', dueDate: '2026-10-04T08:00:00.000Z', policy: POLICY });

    // The job runs again (a second replica, a restart): no second charge, no second dunning.
    const again = (await h.gql<any>(JOB)).runDueDateJob;
    expect(again).toEqual({ autopaid: 0, declined: 0, dunningStarted: 0 });
    expect(h.payments.charges.size).toBe(1);
    expect([...dunning.started.values()].every((starts) => starts.length === 1)).toBe(true);
    const payments = await h.gql<any>('query { payments(billingAccountId: "acc_ap_ok") { edges { node { channel amount { amount } } } } }');
    expect(payments.payments.edges).toHaveLength(1);
  });

  it('a payment tells the running dunning workflow to look again', async () => {
    const [plain] = await invoicesOf(h, 'acc_no_token');
    await h.gql(PAY, { i: { invoiceId: plain.id, channel: 'BANK_TRANSFER', amount: { amount: '35.69', currency: 'EUR' }, idempotencyKey: 'pay-plain' } });
    expect(dunning.pokes).toContain(`${plain.id}:paymentRecorded`);
  });

  it('an autopaid invoice that owes again (a refund) goes to dunning; autopay is not tried twice', async () => {
    const [inv] = await invoicesOf(h, 'acc_ap_ok');
    const payments = await h.gql<any>('query { payments(billingAccountId: "acc_ap_ok") { edges { node { id } } } }');
    await h.gql('mutation($i: RefundPaymentInput!) { refundPayment(input: $i) { payment { id } } }', { i: { paymentId: payments.payments.edges[0].node.id, amount: { amount: '5.00', currency: 'EUR' }, idempotencyKey: 'ap-refund' } });
    expect((await h.gql<any>(JOB)).runDueDateJob).toEqual({ autopaid: 0, declined: 0, dunningStarted: 1 });
    expect(dunning.started.get(inv.id)).toHaveLength(1);
    expect(h.payments.charges.size).toBe(1);
  });

  it('when Temporal is down the invoice waits and the next pass starts its dunning', async () => {
    await account(h, 'acc_late_start', { paymentTermsDays: 0 });
    await subscribe(h, 'acc_late_start', 'sub_late_start', 'postpaid20', '2026-08-01T00:00:00Z');
    const inv = await close('acc_late_start');
    dunning.fail = true;
    expect((await h.gql<any>(JOB)).runDueDateJob.dunningStarted).toBe(0);
    dunning.fail = false;
    expect((await h.gql<any>(JOB)).runDueDateJob.dunningStarted).toBe(1);
    expect(dunning.started.get(inv.id)).toHaveLength(1);
  });
});

describe('budget replenishment invoices', () => {
  it('invoices each replenishment once, with tax per the account, however often the event comes', async () => {
    await account(h, 'acc_enterprise', { paymentTermsDays: 30, customerName: 'Acme GmbH' });
    const data: BudgetReplenishmentData = { replenishmentId: `rpl_${h.svc.schema}_1`, budgetId: 'bdg_1', billingAccountId: 'acc_enterprise', amount: '1000.00', currency: 'EUR', remaining: '1150.00', replenishedAt: '2026-10-04T10:00:00Z' };
    const js = h.svc.runtime.messaging.js;
    for (let i = 0; i < 2; i++) {
      const event = createCloudEvent({ source: 'ledgerline/wallets', type: EVENTS.budgetReplenished.type, subject: data.budgetId, time: new Date(data.replenishedAt), data, key: [data.replenishmentId, String(i)] });
      await js.publish(EVENTS.budgetReplenished.subject, JSON.stringify(event));
    }
    const invoices = await waitFor(async () => {
      const list = await invoicesOf(h, 'acc_enterprise');
      return list.length ? list : null;
    });
    await new Promise((r) => setTimeout(r, 1500)); // the second delivery has been handled too
    const all = await h.gql<any>('query { invoices(billingAccountId: "acc_enterprise") { edges { node { id kind sourceRef state number netTotal { amount } taxTotal { amount } total { amount } lines { kind description taxRate netAmount { amount } } } } } }');
    expect(all.invoices.edges).toHaveLength(1);
    expect(invoices).toHaveLength(1);
    const inv = all.invoices.edges[0].node;
    expect(inv).toMatchObject({ kind: 'REPLENISHMENT', sourceRef: data.replenishmentId, state: 'SENT', netTotal: { amount: '1000' }, taxTotal: { amount: '190' }, total: { amount: '1190' } });
    expect(inv.number).toMatch(/^INV-\d{8}$/);
    expect(inv.lines).toEqual([{ kind: 'ONE_OFF', description: 'Budget replenishment (budget bdg_1, 2026-10-04)', taxRate: '0.19', netAmount: { amount: '1000' } }]);
  });

  it("names the account's local day of the replenishment (00:30 in Berlin is the day after in UTC's reckoning)", async () => {
    await account(h, 'acc_enterprise_night', { customerName: 'Night GmbH' });
    const data: BudgetReplenishmentData = { replenishmentId: `rpl_${h.svc.schema}_night`, budgetId: 'bdg_night', billingAccountId: 'acc_enterprise_night', amount: '500.00', currency: 'EUR', remaining: '600.00', replenishedAt: '2026-10-04T22:30:00Z' };
    const event = createCloudEvent({ source: 'ledgerline/wallets', type: EVENTS.budgetReplenished.type, subject: data.budgetId, time: new Date(data.replenishedAt), data, key: [data.replenishmentId] });
    await h.svc.runtime.messaging.js.publish(EVENTS.budgetReplenished.subject, JSON.stringify(event));
    const [inv] = await waitFor(async () => {
      const list = await invoicesOf(h, 'acc_enterprise_night');
      return list.length ? list : null;
    });
    expect(inv.lines.map((l: { description: string }) => l.description)).toEqual(['Budget replenishment (budget bdg_night, 2026-10-05)']);
  });

  it('waits for an account it does not know yet', async () => {
    const data: BudgetReplenishmentData = { replenishmentId: `rpl_${h.svc.schema}_2`, budgetId: 'bdg_2', billingAccountId: 'acc_enterprise_late', amount: '200.00', currency: 'EUR', remaining: '300.00', replenishedAt: '2026-10-04T11:00:00Z' };
    const event = createCloudEvent({ source: 'ledgerline/wallets', type: EVENTS.budgetReplenished.type, subject: data.budgetId, time: new Date(data.replenishedAt), data, key: [data.replenishmentId] });
    await h.svc.runtime.messaging.js.publish(EVENTS.budgetReplenished.subject, JSON.stringify(event));
    await new Promise((r) => setTimeout(r, 1000));
    await account(h, 'acc_enterprise_late');
    const list = await waitFor(async () => {
      const l = await invoicesOf(h, 'acc_enterprise_late');
      return l.length ? l : null;
    }, 20_000);
    expect(list[0].total.amount).toBe('238');
  });
});

describe('the next invoice', () => {
  it('bills late usage of a billed period as adjustment lines, applies discounts and the account credit', async () => {
    h.clock.set(new Date('2026-10-10T09:00:00Z'));
    await account(h, 'acc_next', { paymentTermsDays: 14 });
    await subscribe(h, 'acc_next', 'sub_next', 'postpaid20', '2026-08-01T00:00:00Z');
    await charges(h, [{ chargeId: 'chg_next_sep', billingAccountId: 'acc_next', lineId: 'lin_sub_next', usageType: 'DATA', zone: 'ROAMING_EU', units: '100', unit: 'MB', amount: '2.00', currency: 'EUR', occurredAt: '2026-09-10T12:00:00Z' }]);
    const sep = await close('acc_next');
    expect(sep.total.amount).toBe('38.07'); // (29.99 + 2.00) × 1.19
    // Overpaid by 10.00: kept as credit.
    await h.gql(PAY, { i: { invoiceId: sep.id, channel: 'BANK_TRANSFER', amount: { amount: '48.07', currency: 'EUR' }, idempotencyKey: 'next-over', allowOverpayment: true } });
    expect(await credit('acc_next')).toBe('10');

    // Usage of September arrives after September was billed: from the ledger without a hint, and
    // from wallets over JetStream with the invoice it adjusts.
    await charges(h, [{ chargeId: 'chg_next_late1', billingAccountId: 'acc_next', lineId: 'lin_sub_next', usageType: 'DATA', zone: 'ROAMING_EU', units: '50', unit: 'MB', amount: '1.00', currency: 'EUR', occurredAt: '2026-09-29T12:00:00Z' }]);
    const late: ChargeResult = {
      chargeId: 'chg_next_late2', outcome: 'APPLIED', billingAccountId: 'acc_next', lineId: 'lin_sub_next', paymentMode: 'POSTPAID', usageType: 'VOICE', zone: 'NATIONAL', adjustsInvoiceId: sep.id,
      occurredAt: '2026-10-02T12:00:00Z', units: '60', unit: 'SECOND', unitsFromAllowances: '0', amountCharged: '0.50', currency: 'EUR',
    };
    await h.svc.runtime.messaging.js.publish(WORK_SUBJECTS.chargeApplied, JSON.stringify(late));
    await charges(h, [{ chargeId: 'chg_next_oct', billingAccountId: 'acc_next', lineId: 'lin_sub_next', usageType: 'DATA', zone: 'NATIONAL', units: '1000', unit: 'MB', amount: '10.00', currency: 'EUR', occurredAt: '2026-10-20T12:00:00Z' }]);
    await waitFor(async () => (await h.svc.runtime.orm.em.fork().getConnection().execute(`select 1 from unbilled_charge where charge_id = 'chg_next_late2'`)).length > 0);
    await h.gql('mutation($i: AddDiscountInput!) { addDiscount(input: $i) { ok } }', { i: { billingAccountId: 'acc_next', code: 'DATA10', description: '10% off usage', percent: '10', target: 'USAGE', validFrom: '2026-10-01T00:00:00Z' } });

    h.clock.set(new Date('2026-11-01T09:00:00Z'));
    const oct = await close('acc_next', OCT);
    const [inv] = (await invoicesOf(h, 'acc_next')).filter((i: any) => i.id === oct.id);
    const lines = inv.lines.map((l: any) => [l.kind, l.description, l.netAmount.amount]);
    expect(lines).toEqual([
      ['RECURRING', expect.stringContaining('20 GB'), '29.99'],
      ['USAGE', 'DATA NATIONAL (1 record)', '10'],
      ['ADJUSTMENT', `Late usage for 2026-09-01–2026-09-30, invoice ${sep.number}: DATA ROAMING_EU (1 record)`, '1'],
      ['ADJUSTMENT', `Late usage for 2026-09-01–2026-09-30, invoice ${sep.number}: VOICE NATIONAL (1 record)`, '0.5'],
      ['DISCOUNT', '10% off usage', '-1.15'],
    ]);
    // net 29.99 + 10 + 1 + 0.5 − 1.15 = 40.34; tax per line 5.70 + 1.90 + 0.19 + 0.10 − 0.22 = 7.67
    expect(inv.total.amount).toBe('48.01');
    const sum = inv.lines.reduce((a: any, l: any) => a.plus(l.grossAmount.amount), dec('0'));
    expect(sum.eq(inv.total.amount)).toBe(true);
    // The 10.00 credit paid part of it by itself.
    expect(inv).toMatchObject({ state: 'PARTIALLY_PAID', amountPaid: { amount: '10' }, amountDue: { amount: '38.01' } });
    expect(await credit('acc_next')).toBe('0');
    const payments = await h.gql<any>('query { payments(billingAccountId: "acc_next") { edges { node { channel invoiceId amount { amount } } } } }');
    expect(payments.payments.edges.map((e: any) => e.node)).toContainEqual({ channel: 'ACCOUNT_CREDIT', invoiceId: oct.id, amount: { amount: '10' } });
    const left = await h.svc.runtime.orm.em.fork().getConnection().execute(`select charge_id from unbilled_charge where billing_account_id = 'acc_next' and invoice_id is null`);
    expect(left).toEqual([]);
  });

  it('keeps plan history that arrives out of order', async () => {
    await account(h, 'acc_history');
    // The change (16 Sep) arrives before the creation (1 Aug), as a backfill or a late event would.
    await subscribe(h, 'acc_history', 'sub_hist', 'postpaid50', '2026-09-15T22:00:00Z');
    await subscribe(h, 'acc_history', 'sub_hist', 'postpaid20', '2026-08-01T00:00:00Z');
    const inv = await close('acc_history');
    const [full] = (await invoicesOf(h, 'acc_history')).filter((i: any) => i.id === inv.id);
    expect(full.lines.map((l: any) => [l.kind, l.netAmount.amount])).toEqual([
      ['RECURRING', '15'],
      ['RECURRING', '22.5'],
    ]);
  });
});

describe('bad input', () => {
  it('refuses a card number as autopay token, an ACCOUNT_CREDIT payment, and changes nothing', async () => {
    const e1 = await h.gqlError('mutation($i: RegisterBillingAccountInput!) { registerBillingAccount(input: $i) { ok } }', {
      i: { billingAccountId: 'acc_bad_token', paymentMode: 'POSTPAID', currency: 'EUR', autopayToken: '4111111111111111' },
    });
    expect(e1).toMatchObject({ reason: 'AUTOPAY_TOKEN_INVALID', field: 'input.autopayToken' });
    const rows = await h.svc.runtime.orm.em.fork().getConnection().execute(`select 1 from billing_account where id = 'acc_bad_token'`);
    expect(rows).toEqual([]);
    const [inv] = await invoicesOf(h, 'acc_ap_decline');
    const e2 = await h.gqlError(PAY, { i: { invoiceId: inv.id, channel: 'ACCOUNT_CREDIT', amount: { amount: '1.00', currency: 'EUR' }, idempotencyKey: 'bad-credit' } });
    expect(e2).toMatchObject({ reason: 'PAYMENT_CHANNEL_INVALID', field: 'input.channel' });
    expect((await invoicesOf(h, 'acc_ap_decline'))[0].amountPaid.amount).toBe('0');
  });
});
