// Postpaid billing scenarios against real PostgreSQL and NATS: a month with a mid-cycle plan
// change, a family plan, roaming overage, a bill run started twice, payments, credit notes, void +
// regenerate, and the bad-input table; charge results fed through the JetStream consumer.
//
// Runs share NATS, and a test's consumer reads every run's events on the stream (other files, CI's
// parallel projects, copies of this file): other runs' accounts were billed by this file's bill runs
// (12 accounts for its 3) and their charges for a same-named account billed on its invoice. So the
// scenarios are fed through GraphQL to a service without a consumer, and the JetStream path has a
// service and an account of its own, whose rows it checks by their ids.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WORK_SUBJECTS, dec, type ChargeResult } from '@ledgerline/contracts';
import { account, charges, invoicesOf, runBillRun, startHarness, subscribe, waitFor, type Harness } from './support';

let h: Harness;
const PAY = `mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { payment { id appliedAmount { amount } creditAmount { amount } } invoice { state amountPaid { amount } amountDue { amount } } } }`;

beforeAll(async () => {
  h = await startHarness('2026-10-05T10:00:00Z', { consume: false });
  // A month with a mid-cycle plan change (16 Sep local) and a proration credit from subscribers.
  await account(h, 'acc_a_change');
  await subscribe(h, 'acc_a_change', 'sub_1', 'postpaid20', '2026-08-01T00:00:00Z');
  await h.gql('mutation($i: RecordSubscriptionInput!) { recordSubscription(input: $i) { ok } }', {
    i: { subscriptionId: 'sub_1', lineId: 'lin_sub_1', billingAccountId: 'acc_a_change', planCode: 'POSTPAID_50GB', planVersionId: 'plv_postpaid50_v1', startsAt: '2026-09-15T22:00:00Z' },
  });
  // A family plan: three lines share one fee.
  await account(h, 'acc_b_family');
  for (const s of ['sub_2', 'sub_3', 'sub_4']) await subscribe(h, 'acc_b_family', s, 'family', '2026-08-01T00:00:00Z');
  // Roaming overage.
  await account(h, 'acc_c_roaming');
  await subscribe(h, 'acc_c_roaming', 'sub_5', 'postpaid20', '2026-08-01T00:00:00Z');
  await charges(h, [
    { chargeId: 'chg_r1', billingAccountId: 'acc_c_roaming', lineId: 'lin_sub_5', usageType: 'DATA', zone: 'ROAMING_WORLD', units: '150', unit: 'MB', amount: '7.485', currency: 'EUR', occurredAt: '2026-09-10T12:00:00Z' },
    { chargeId: 'chg_r2', billingAccountId: 'acc_c_roaming', lineId: 'lin_sub_5', usageType: 'DATA', zone: 'ROAMING_WORLD', units: '50', unit: 'MB', amount: '2.495', currency: 'EUR', occurredAt: '2026-09-11T12:00:00Z' },
    { chargeId: 'chg_r3', billingAccountId: 'acc_c_roaming', lineId: 'lin_sub_5', usageType: 'VOICE', zone: 'ROAMING_WORLD', units: '300', unit: 'SECOND', amount: '5.00', currency: 'EUR', occurredAt: '2026-09-12T12:00:00Z' },
    { chargeId: 'chg_r5', billingAccountId: 'acc_c_roaming', lineId: 'lin_sub_5', usageType: 'DATA', zone: 'ROAMING_WORLD', units: '20', unit: 'MB', amount: '0.998', currency: 'EUR', occurredAt: '2026-09-20T08:00:00Z' },
    // Next period's usage stays unbilled.
    { chargeId: 'chg_r4', billingAccountId: 'acc_c_roaming', lineId: 'lin_sub_5', usageType: 'DATA', zone: 'ROAMING_WORLD', units: '10', unit: 'MB', amount: '0.50', currency: 'EUR', occurredAt: '2026-10-02T12:00:00Z' },
  ]);
  // Not billed by the 1st-of-month run: a prepaid account and a 5th-of-month account.
  await account(h, 'acc_d_prepaid', { paymentMode: 'PREPAID' });
  await account(h, 'acc_e_day5', { billCycleDay: 5 });
  await subscribe(h, 'acc_e_day5', 'sub_6', 'postpaid20', '2026-08-01T00:00:00Z');
});

afterAll(async () => {
  await h?.svc.close();
});

describe('usage from wallets over JetStream', () => {
  it('keeps POSTPAID charge results as unbilled charges, once per chargeId, billed with their period', async () => {
    // A service with the consumer, and ids of this run's own (the consumer reads every run's charge results).
    const j = await startHarness('2026-10-05T10:00:00Z');
    try {
      const run = j.svc.schema.split('_')[1];
      const acc = `acc_nats_${run}`;
      await account(j, acc);
      await subscribe(j, acc, `sub_nats_${run}`, 'postpaid20', '2026-08-01T00:00:00Z');
      const charge: ChargeResult & { zone: string } = {
        chargeId: `chg_nats_${run}_1`, outcome: 'APPLIED', billingAccountId: acc, lineId: `lin_sub_nats_${run}`, paymentMode: 'POSTPAID', usageType: 'DATA', zone: 'ROAMING_WORLD',
        occurredAt: '2026-09-20T08:00:00Z', units: '20', unit: 'MB', unitsFromAllowances: '0', amountCharged: '0.998', currency: 'EUR',
      };
      const js = j.svc.runtime.messaging.js;
      await js.publish(WORK_SUBJECTS.chargeApplied, JSON.stringify(charge), { msgID: `${j.svc.schema}-a` });
      await js.publish(WORK_SUBJECTS.chargeApplied, JSON.stringify(charge), { msgID: `${j.svc.schema}-b` }); // a redelivery with another msg id
      await js.publish(WORK_SUBJECTS.chargeApplied, JSON.stringify({ ...charge, chargeId: `chg_nats_${run}_prepaid`, paymentMode: 'PREPAID' }));
      // October's, published last: once it is kept, the consumer has handled the ones before it.
      const last = `chg_nats_${run}_oct`;
      await js.publish(WORK_SUBJECTS.chargeApplied, JSON.stringify({ ...charge, chargeId: last, occurredAt: '2026-10-02T12:00:00Z', units: '10', amountCharged: '0.50' }));
      const em = j.svc.runtime.orm.em.fork();
      const kept = async () => (await em.getConnection().execute(`select charge_id from unbilled_charge where charge_id like ? order by charge_id`, [`chg_nats_${run}_%`])).map((r: any) => r.charge_id);
      await waitFor(async () => (await kept()).includes(last));
      expect(await kept()).toEqual([charge.chargeId, last]);

      // The preview is of the open period (Oct).
      const preview = (await j.gql<any>('query($a: ID!) { previewNextInvoice(billingAccountId: $a) { periodStart } }', { a: acc })).previewNextInvoice;
      expect(preview.periodStart).toBe('2026-09-30T22:00:00.000Z');
      // September's bill has September's charge (0.998 → 1.00), once; October's is left for its period.
      const sep = (await j.gql<any>('mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { invoice { lines { kind usageType zone quantity netAmount { amount } } } } } }', {
        i: { billingAccountId: acc, periodStart: '2026-08-31T22:00:00Z', periodEnd: '2026-09-30T22:00:00Z' },
      })).closeBillingPeriod.billingPeriod.invoice;
      expect(sep.lines.filter((l: any) => l.kind === 'USAGE').map((l: any) => [l.usageType, l.zone, l.quantity, l.netAmount.amount])).toEqual([['DATA', 'ROAMING_WORLD', '20', '1']]);
      expect((await em.getConnection().execute(`select charge_id from unbilled_charge where charge_id like ? and invoice_id is null`, [`chg_nats_${run}_%`])).map((r: any) => r.charge_id)).toEqual([last]);
    } finally {
      await j.svc.close();
    }
  });
});

describe('bill run', () => {
  it('refuses a cycle date in the future and changes nothing', async () => {
    const e = await h.gqlError('mutation { startBillRun(input: { cycleDate: "2026-10-07" }) { started } }');
    expect(e).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'BILL_RUN_DATE_IN_FUTURE', field: 'input.cycleDate' });
    expect((await h.gql<any>('query { billRun(cycleDate: "2026-10-07") { id } }')).billRun).toBeNull();
  });

  it('bills every POSTPAID account of the cycle day once, in batches, even when started twice', async () => {
    const run = await runBillRun(h, '2026-10-01');
    expect(run).toMatchObject({ state: 'COMPLETED', totalAccounts: 3, totalBatches: 2, batchesDone: 2, accountsDone: 3, invoicesCreated: 3, started: true });
    const again = await runBillRun(h, '2026-10-01');
    expect(again).toMatchObject({ started: false, invoicesCreated: 3 });
    for (const acc of ['acc_a_change', 'acc_b_family', 'acc_c_roaming']) expect(await invoicesOf(h, acc)).toHaveLength(1);
    expect(await invoicesOf(h, 'acc_d_prepaid')).toHaveLength(0);
    expect(await invoicesOf(h, 'acc_e_day5')).toHaveLength(0);
  });

  it('a month with a mid-cycle plan change: both plans prorated by day', async () => {
    const [inv] = await invoicesOf(h, 'acc_a_change');
    expect(inv).toMatchObject({ state: 'SENT', periodStart: '2026-08-31T22:00:00.000Z', periodEnd: '2026-09-30T22:00:00.000Z' });
    expect(inv.lines.map((l: any) => [l.kind, l.netAmount.amount, l.taxAmount.amount])).toEqual([
      ['RECURRING', '15', '2.85'], // 29.99 × 15/30 = 14.995 → 15.00 (half-even)
      ['RECURRING', '22.5', '4.28'], // 45 × 15/30; tax 4.275 → 4.28
    ]);
    expect(inv.total.amount).toBe('44.63');
    expect(inv.number).toMatch(/^INV-\d{8}$/);
    expect(inv.paymentReference).toBe(inv.number);
  });

  it('a family plan: one fee for three lines', async () => {
    const [inv] = await invoicesOf(h, 'acc_b_family');
    expect(inv.lines).toHaveLength(1);
    expect(inv.lines[0]).toMatchObject({ kind: 'RECURRING', netAmount: { amount: '59.99' }, taxAmount: { amount: '11.4' } });
    expect(inv.total.amount).toBe('71.39');
  });

  it('roaming overage: usage grouped by type and zone with quantities; later usage left for next period', async () => {
    const [inv] = await invoicesOf(h, 'acc_c_roaming');
    const usage = inv.lines.filter((l: any) => l.kind === 'USAGE').map((l: any) => [l.usageType, l.zone, l.quantity, l.unit, l.netAmount.amount]);
    // 7.485 + 2.495 + 0.998 = 10.978 → 10.98
    expect(usage).toEqual([
      ['DATA', 'ROAMING_WORLD', '220', 'MB', '10.98'],
      ['VOICE', 'ROAMING_WORLD', '300', 'SECOND', '5'],
    ]);
    const sum = inv.lines.reduce((a: any, l: any) => a.plus(l.grossAmount.amount), dec('0'));
    expect(sum.eq(inv.total.amount)).toBe(true);
    const em = h.svc.runtime.orm.em.fork();
    const left = await em.getConnection().execute(`select charge_id from unbilled_charge where invoice_id is null order by charge_id`);
    expect(left.map((r: any) => r.charge_id)).toEqual(['chg_r4']);
  });

  it('numbers are sequential and gap-free', async () => {
    const numbers = (await Promise.all(['acc_a_change', 'acc_b_family', 'acc_c_roaming'].map((a) => invoicesOf(h, a)))).map(([i]) => i.number).sort();
    expect(numbers).toEqual(['INV-00000001', 'INV-00000002', 'INV-00000003']);
  });
});

describe('payments', () => {
  let invoiceId: string;
  let reference: string;
  beforeAll(async () => {
    const [inv] = await invoicesOf(h, 'acc_a_change');
    invoiceId = inv.id;
    reference = inv.paymentReference;
  });

  it.each([
    ['wrong currency', { channel: 'BANK_TRANSFER', amount: { amount: '10.00', currency: 'USD' } }, 'PAYMENT_CURRENCY_MISMATCH', 'input.amount.currency'],
    ['above the remaining amount without overpayment policy', { channel: 'BANK_TRANSFER', amount: { amount: '44.64', currency: 'EUR' } }, 'PAYMENT_EXCEEDS_REMAINING', 'input.amount.amount'],
    ['a declined card', { channel: 'CARD', paymentMethodToken: 'tok_decline', amount: { amount: '10.00', currency: 'EUR' } }, 'PAYMENT_DECLINED', 'input.paymentMethodToken'],
  ])('refuses %s with a coded error and changes nothing', async (_, input, reason, field) => {
    const e = await h.gqlError(PAY, { i: { invoiceId, idempotencyKey: `bad-${reason}`, ...input } });
    expect(e).toMatchObject({ reason, field });
    const [inv] = await invoicesOf(h, 'acc_a_change');
    expect(inv).toMatchObject({ state: 'SENT', amountPaid: { amount: '0' } });
  });

  it('partial bank transfer matched by reference, idempotent; then card overpayment kept as credit; refund', async () => {
    const first = await h.gql<any>(PAY, { i: { reference, channel: 'BANK_TRANSFER', amount: { amount: '20.00', currency: 'EUR' }, idempotencyKey: 'bt-1' } });
    expect(first.recordPayment.invoice).toMatchObject({ state: 'PARTIALLY_PAID', amountPaid: { amount: '20' }, amountDue: { amount: '24.63' } });
    const replay = await h.gql<any>(PAY, { i: { reference, channel: 'BANK_TRANSFER', amount: { amount: '20.00', currency: 'EUR' }, idempotencyKey: 'bt-1' } });
    expect(replay.recordPayment.payment.id).toBe(first.recordPayment.payment.id);
    expect(replay.recordPayment.invoice.amountPaid.amount).toBe('20');
    const reuse = await h.gqlError(PAY, { i: { reference, channel: 'BANK_TRANSFER', amount: { amount: '21.00', currency: 'EUR' }, idempotencyKey: 'bt-1' } });
    expect(reuse).toMatchObject({ code: 'CONFLICT', reason: 'IDEMPOTENCY_KEY_REUSED' });

    const card = await h.gql<any>(PAY, { i: { invoiceId, channel: 'CARD', paymentMethodToken: 'tok_visa', amount: { amount: '30.00', currency: 'EUR' }, idempotencyKey: 'card-1', allowOverpayment: true } });
    expect(card.recordPayment.payment).toMatchObject({ appliedAmount: { amount: '24.63' }, creditAmount: { amount: '5.37' } });
    expect(card.recordPayment.invoice.state).toBe('SETTLED');
    expect(h.payments.charges.get('payment:acc_a_change:card-1')?.req.amount).toBe('30.00');
    const credit = async () => (await h.gql<any>('query { _entities(representations: [{ __typename: "BillingAccount", id: "acc_a_change" }]) { ... on BillingAccount { accountCredit { amount } } } }'))._entities[0].accountCredit.amount;
    expect(await credit()).toBe('5.37');

    const refund = await h.gql<any>('mutation($i: RefundPaymentInput!) { refundPayment(input: $i) { payment { refundedAmount { amount } } } }', {
      i: { paymentId: card.recordPayment.payment.id, amount: { amount: '5.37', currency: 'EUR' }, idempotencyKey: 'refund-1' },
    });
    expect(refund.refundPayment.payment.refundedAmount.amount).toBe('5.37');
    expect(await credit()).toBe('0');
    expect((await invoicesOf(h, 'acc_a_change'))[0].state).toBe('SETTLED');
  });
});

describe('credit notes', () => {
  it('credits part of a line; refuses more than the line has left', async () => {
    const [inv] = await invoicesOf(h, 'acc_b_family');
    const line = inv.lines[0];
    const ISSUE = 'mutation($i: IssueCreditNoteInput!) { issueCreditNote(input: $i) { creditNote { number total { amount } taxTotal { amount } lines { invoiceLineId amount { amount } } } invoice { state amountDue { amount } lines { creditedAmount { amount } } } } }';
    const tooMuch = await h.gqlError(ISSUE, { i: { invoiceId: inv.id, kind: 'CREDIT', reason: 'Network outage', lines: [{ invoiceLineId: line.id, amount: '71.40' }], idempotencyKey: 'cn-0' } });
    expect(tooMuch).toMatchObject({ reason: 'CREDIT_NOTE_EXCEEDS_LINE', field: 'input.lines[0].amount' });
    const ok = await h.gql<any>(ISSUE, { i: { invoiceId: inv.id, kind: 'CREDIT', reason: 'Network outage', lines: [{ invoiceLineId: line.id, amount: '11.90' }], idempotencyKey: 'cn-1' } });
    expect(ok.issueCreditNote.creditNote).toMatchObject({ number: 'CN-00000001', total: { amount: '11.9' }, taxTotal: { amount: '1.9' } });
    expect(ok.issueCreditNote.invoice).toMatchObject({ state: 'PARTIALLY_PAID', amountDue: { amount: '59.49' }, lines: [{ creditedAmount: { amount: '11.9' } }] });
  });
});

describe('drafts', () => {
  it('void and regenerate a draft; a voided invoice cannot be paid; numbering continues without gaps', async () => {
    const run = await runBillRun(h, '2026-10-05', { autoIssue: false });
    expect(run.invoicesCreated).toBe(1);
    const [draft] = await invoicesOf(h, 'acc_e_day5');
    expect(draft).toMatchObject({ state: 'NEW', number: null });
    const notIssued = await h.gqlError(PAY, { i: { invoiceId: draft.id, channel: 'BANK_TRANSFER', amount: { amount: '1.00', currency: 'EUR' }, idempotencyKey: 'draft-pay' } });
    expect(notIssued.reason).toBe('INVOICE_NOT_ISSUED');

    await h.gql('mutation($i: AddOneOffChargeInput!) { addOneOffCharge(input: $i) { ok } }', {
      i: { id: 'oo_goodwill_1', billingAccountId: 'acc_e_day5', code: 'GOODWILL', description: 'Goodwill credit', amount: { amount: '-5.00', currency: 'EUR' }, occurredAt: '2026-10-01T00:00:00Z' },
    });
    const regen = await h.gql<any>('mutation($i: InvoiceIdInput!) { regenerateInvoice(input: $i) { invoice { id state total { amount } lines { kind description netAmount { amount } } } } }', { i: { invoiceId: draft.id } });
    expect(regen.regenerateInvoice.invoice.id).not.toBe(draft.id);
    expect(regen.regenerateInvoice.invoice.lines.map((l: any) => l.kind)).toEqual(['RECURRING', 'ONE_OFF']);
    const voided = await h.gqlError(PAY, { i: { invoiceId: draft.id, channel: 'BANK_TRANSFER', amount: { amount: '1.00', currency: 'EUR' }, idempotencyKey: 'void-pay' } });
    expect(voided.reason).toBe('INVOICE_VOIDED');

    const issued = await h.gql<any>('mutation($i: InvoiceIdInput!) { issueInvoice(input: $i) { invoice { state number } } }', { i: { invoiceId: regen.regenerateInvoice.invoice.id } });
    expect(issued.issueInvoice.invoice).toEqual({ state: 'SENT', number: 'INV-00000004' });
  });
});
