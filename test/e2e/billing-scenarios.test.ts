import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dec, roundDecimal } from '@ledgerline/contracts';
import { periodContaining } from '../../services/invoicing/src/domain/period';
import type { AddressInfo } from 'node:net';
import { signToken } from '../../gateway/src/auth';
import { eventually, freshMsisdn, ok, publishCatalog, startTestSystem, type System } from './harness';

/**
 * Postpaid billing through the gateway with every service, NATS, PostgreSQL, Temporal and the
 * worker running: a month with a mid-cycle plan change, a family plan, roaming overage, autopay on
 * the due date, and a partial payment → dunning → suspension of the lines → restoration on payment.
 *
 * Time: no service clock can be moved in a running system, so time is passed in where the APIs
 * take it. Accounts, lines and plan versions come from subscribers and the catalog; the plan
 * history of the weeks before today is fed to invoicing's read model with its instants
 * (`recordSubscription.startsAt`, as subscribers' events carry them), and periods are closed with
 * explicit bounds (`closeBillingPeriod`, as the bill-cycle workflow does; an early close ends at
 * the moment of the call). Dunning runs on Temporal with a policy whose "day" is one second
 * (DUNNING_POLICY), and the due-date job runs every second.
 */
const RUN = Math.random().toString(36).slice(2, 8);
const DAY = 86_400_000;
const TZ = 'Europe/Berlin';
const POLICY = { reminderDays: [1], lateFee: { afterDays: 2, amount: '5.00' }, suspendAfterDays: 3, dayMs: 1000 };
/** Disputes: an agent has 3 policy hours (3 s), then 2 more after one escalation; past that the customer wins. */
const DISPUTE_POLICY = { reviewSlaHours: 3, escalationSlaHours: 2, escalationLevels: 1, onFinalBreach: 'ACCEPT', hourMs: 1000 };

const INVOICE = `id number state kind periodStart periodEnd dueDate total { amount currency } amountPaid { amount } amountDue { amount }
  lines { kind description lineId usageType zone quantity unit netAmount { amount } taxAmount { amount } grossAmount { amount } }`;

describe('billing scenarios, end to end', () => {
  let system: System;
  const planVersion = new Map<string, string>();

  beforeAll(async () => {
    system = await startTestSystem({ env: { DUNNING_POLICY: JSON.stringify(POLICY), DISPUTE_POLICY: JSON.stringify(DISPUTE_POLICY), INVOICING_DUE_DATE_INTERVAL_MS: '1000' } });
    await publishCatalog(system);
    for (const code of ['POSTPAID_20GB', 'FAMILY_SHARE_50GB']) {
      planVersion.set(code, ok(await system.graphql('query($c: String!) { plan(code: $c) { currentVersion { id } } }', { c: code })).plan.currentVersion.id);
    }
  }, 120_000);
  afterAll(() => system?.stop());

  const gql = async (query: string, variables: Record<string, unknown> = {}) => ok(await system.graphql(query, variables));

  /** A POSTPAID account with lines through subscribers, once invoicing has learnt of them. */
  async function postpaidAccount(name: string, planCode: string, lines: number, extra: Record<string, unknown> = {}) {
    const { createCustomer } = await gql('mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }', { i: { name, kind: 'INDIVIDUAL', timezone: TZ } });
    const { openBillingAccount } = await gql('mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }', {
      i: { customerId: createCustomer.customer.id, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 1, timezone: TZ, ...extra },
    });
    const accountId = openBillingAccount.billingAccount.id as string;
    const added: { lineId: string; msisdn: string; subscriptionId: string }[] = [];
    for (let i = 0; i < lines; i++) {
      const msisdn = freshMsisdn();
      const { addLine } = await gql('mutation($i: AddLineInput!) { addLine(input: $i) { line { id subscription { id } } } }', { i: { billingAccountId: accountId, msisdn, planCode } });
      added.push({ lineId: addLine.line.id, msisdn, subscriptionId: addLine.line.subscription.id });
    }
    // Invoicing learns the account and the subscriptions from subscribers' events.
    const recurring = planCode === 'FAMILY_SHARE_50GB' ? 1 : lines;
    await eventually(
      async () => (await system.graphql('query($a: ID!) { previewNextInvoice(billingAccountId: $a) { lines { kind } } }', { a: accountId })).data?.previewNextInvoice.lines.filter((l: { kind: string }) => l.kind === 'RECURRING').length === recurring,
      `invoicing to know ${name}`,
      30_000,
    );
    return { accountId, customerId: createCustomer.customer.id as string, lines: added };
  }

  /** The plan a subscription was on since `startsAt` (history before today, fed with its instant). */
  async function planSince(accountId: string, line: { lineId: string; msisdn: string; subscriptionId: string }, planCode: string, startsAt: Date) {
    await gql('mutation($i: RecordSubscriptionInput!) { recordSubscription(input: $i) { ok } }', {
      i: { subscriptionId: line.subscriptionId, lineId: line.lineId, msisdn: line.msisdn, billingAccountId: accountId, planCode, planVersionId: planVersion.get(planCode), startsAt: startsAt.toISOString() },
    });
  }

  async function closePeriod(accountId: string, start: Date, end: Date) {
    const d = await gql(`mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { invoice { ${INVOICE} } } } }`, {
      i: { billingAccountId: accountId, periodStart: start.toISOString(), periodEnd: end.toISOString() },
    });
    return d.closeBillingPeriod.billingPeriod.invoice;
  }

  const invoice = async (id: string) => (await gql(`query($id: ID!) { invoice(id: $id) { ${INVOICE} } }`, { id })).invoice;
  const sumsExactly = (inv: any) => inv.lines.reduce((a: any, l: any) => a.plus(l.grossAmount.amount), dec('0')).eq(inv.total.amount);

  const RECORD = 'mutation($i: RecordUsageInput!) { recordUsage(input: $i) { results { status rejectionCode } } }';
  /**
   * Records usage that happened just now. Usage learns lines from subscribers' events: until it
   * has (the line, its subscription, its activation), a record is rejected (and stays rejected
   * under its event id), so the records are sent again under fresh event ids until they are accepted.
   */
  async function usage(records: Record<string, unknown>[]) {
    const NOT_YET = ['LINE_UNKNOWN', 'SUBSCRIPTION_NOT_FOUND', 'USER_UNKNOWN', 'LINE_PENDING'];
    let pending = records;
    let codes: string[] = [];
    for (let attempt = 0; attempt < 30 && pending.length > 0; attempt++) {
      const at = Date.now() - 2000;
      const batch = pending.map((r, i) => ({ ...r, eventId: `${String(r.eventId)}-a${attempt}`, occurredAt: new Date(at + i * 100).toISOString() }));
      const r = await gql(RECORD, { i: { source: 'e2e-billing', records: batch } });
      const results = r.recordUsage.results as { status: string; rejectionCode: string | null }[];
      codes = results.filter((x) => x.status === 'REJECTED').map((x) => x.rejectionCode ?? 'REJECTED');
      if (codes.some((c) => !NOT_YET.includes(c))) break;
      pending = pending.filter((_, i) => results[i]!.status === 'REJECTED');
      if (pending.length) await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    if (pending.length) throw new Error(`usage rejected the records: ${codes.join(', ')}`);
  }
  /** Waits until invoicing holds `n` unbilled usage records for the account (rated → charged → consumed). */
  async function unbilledUsage(accountId: string, n: number, lineIds: string[]) {
    try {
      return await eventually(async () => {
        const p = await gql('query($a: ID!) { previewNextInvoice(billingAccountId: $a) { lines { kind description usageType zone quantity } } }', { a: accountId });
        const usageLines = p.previewNextInvoice.lines.filter((l: { kind: string }) => l.kind === 'USAGE');
        const records = usageLines.reduce((a: number, l: { description: string }) => a + Number(/\((\d+) record/.exec(l.description)?.[1] ?? 0), 0);
        return records >= n ? usageLines : null;
      }, `${n} usage charges to reach invoicing`, 60_000);
    } catch (error) {
      // Say where the records are stuck (usage's view of rating and charging).
      const seen = [];
      for (const lineId of lineIds) {
        const d = await system.graphql('query($f: UsageRecordFilter) { usageRecords(filter: $f, first: 20) { edges { node { eventId status rejectionCode decision chargeStatus } } } }', { f: { lineId } });
        seen.push(...(d.data?.usageRecords.edges.map((e: { node: unknown }) => e.node) ?? [d.errors]));
      }
      throw new Error(`${(error as Error).message}; usage records: ${JSON.stringify(seen)}`);
    }
  }

  it('a month with a mid-cycle plan change: both plans prorated by day, each day billed once', async () => {
    const current = periodContaining(new Date(), 1, TZ);
    const month = periodContaining(new Date(current.start.getTime() - 1), 1, TZ);
    const { accountId, lines } = await postpaidAccount(`Plan changer ${RUN}`, 'POSTPAID_20GB', 1);
    // Last month: on the family plan, then on the 16th (local) changed to the line's plan today.
    const change = new Date(month.start.getTime() + 15 * DAY);
    await planSince(accountId, lines[0]!, 'FAMILY_SHARE_50GB', month.start);
    await planSince(accountId, lines[0]!, 'POSTPAID_20GB', change);
    // No proration one-off on top: the segments bill each day once (a plan change placed through
    // subscribers: postpaid-plan-change-billing.test.ts).

    const inv = await closePeriod(accountId, month.start, month.end);
    const days = Math.round((month.end.getTime() - month.start.getTime()) / DAY);
    const after = Math.round((month.end.getTime() - change.getTime()) / DAY);
    expect(inv).toMatchObject({ state: 'SENT', kind: 'PERIOD', periodStart: month.start.toISOString(), periodEnd: month.end.toISOString() });
    expect(inv.number).toMatch(/^INV-\d{8}$/);
    expect(inv.lines.map((l: any) => [l.kind, l.netAmount.amount])).toEqual([
      ['RECURRING', dec(roundDecimal(dec('59.99').times(15).dividedBy(days), 2, 'HALF_EVEN')).toFixed()],
      ['RECURRING', dec(roundDecimal(dec('29.99').times(after).dividedBy(days), 2, 'HALF_EVEN')).toFixed()],
    ]);
    expect(inv.lines[0].description).toContain(`15/${days} days`);
    expect(inv.lines[1].description).toContain(`${after}/${days} days`);
    expect(inv.lines[1].lineId).toBe(lines[0]!.lineId);
    expect(sumsExactly(inv)).toBe(true);
    // Closing the same period again (a retried workflow activity) gives the same invoice.
    expect((await closePeriod(accountId, month.start, month.end)).id).toBe(inv.id);
  });

  it('a family plan: one shared fee for three lines, their usage grouped', async () => {
    const current = periodContaining(new Date(), 1, TZ);
    const { accountId, lines } = await postpaidAccount(`Family ${RUN}`, 'FAMILY_SHARE_50GB', 3);
    for (const line of lines) await planSince(accountId, line, 'FAMILY_SHARE_50GB', current.start);
    await usage(lines.map((l, i) => ({ eventId: `e2e-fam-${RUN}-${i}`, msisdn: l.msisdn, usageType: 'DATA', quantity: String(100 * (i + 1)) })));
    await unbilledUsage(accountId, 3, lines.map((l) => l.lineId));

    const inv = await closePeriod(accountId, current.start, new Date(Date.now() - 1000));
    const recurring = inv.lines.filter((l: any) => l.kind === 'RECURRING');
    expect(recurring).toHaveLength(1);
    expect(recurring[0]).toMatchObject({ lineId: null, netAmount: { amount: '59.99' } });
    expect(recurring[0].description).toContain('(account)');
    const data = inv.lines.filter((l: any) => l.kind === 'USAGE');
    expect(data.map((l: any) => [l.usageType, l.quantity, l.unit])).toEqual([['DATA', '600', 'MB']]);
    expect(data[0].description).toContain('3 records');
    expect(sumsExactly(inv)).toBe(true);
  });

  it('roaming overage: postpaid roaming usage recorded through the gateway is an invoice usage line with quantity and zone', async () => {
    const current = periodContaining(new Date(), 1, TZ);
    const { accountId, lines } = await postpaidAccount(`Roamer ${RUN}`, 'POSTPAID_20GB', 1);
    await planSince(accountId, lines[0]!, 'POSTPAID_20GB', current.start);
    await usage([
      { eventId: `e2e-roam-${RUN}-1`, msisdn: lines[0]!.msisdn, usageType: 'DATA', quantity: '150', roamingCountry: 'US' },
      { eventId: `e2e-roam-${RUN}-2`, msisdn: lines[0]!.msisdn, usageType: 'DATA', quantity: '50', roamingCountry: 'US' },
    ]);
    await unbilledUsage(accountId, 2, [lines[0]!.lineId]);
    const inv = await closePeriod(accountId, current.start, new Date(Date.now() - 1000));
    const roaming = inv.lines.filter((l: any) => l.kind === 'USAGE');
    expect(roaming).toHaveLength(1);
    expect(roaming[0]).toMatchObject({ usageType: 'DATA', quantity: '200', unit: 'MB' });
    expect(roaming[0].zone).toMatch(/WORLD/);
    expect(Number(roaming[0].netAmount.amount)).toBeGreaterThan(0); // roaming data is not in the home allowance
    expect(sumsExactly(inv)).toBe(true);
  });

  it('autopay: an account with a token on file is charged once on the due date', async () => {
    const current = periodContaining(new Date(), 1, TZ);
    const { accountId, lines } = await postpaidAccount(`Autopayer ${RUN}`, 'POSTPAID_20GB', 1, { paymentTermsDays: 0, autopayToken: `tok_visa_e2e_${RUN}` });
    await planSince(accountId, lines[0]!, 'POSTPAID_20GB', current.start);
    const inv = await closePeriod(accountId, current.start, new Date(Date.now() - 1000));
    const paid = await eventually(async () => {
      const i = await invoice(inv.id);
      return i.state === 'SETTLED' ? i : null;
    }, 'the due-date job to charge the autopay token', 30_000);
    expect(paid.amountPaid.amount).toBe(inv.total.amount);
    const payments = await gql('query($a: ID!) { payments(billingAccountId: $a) { edges { node { channel amount { amount } } } } }', { a: accountId });
    expect(payments.payments.edges.map((e: any) => e.node)).toEqual([{ channel: 'CARD', amount: { amount: inv.total.amount } }]);
  });

  it('a partial payment, then dunning, suspension of the lines through subscribers, and restoration on payment', async () => {
    const current = periodContaining(new Date(), 1, TZ);
    const { accountId, lines } = await postpaidAccount(`Late payer ${RUN}`, 'FAMILY_SHARE_50GB', 2, { paymentTermsDays: 0 });
    for (const line of lines) await planSince(accountId, line, 'FAMILY_SHARE_50GB', current.start);
    const inv = await closePeriod(accountId, current.start, new Date(Date.now() - 1000));
    expect(inv.state).toBe('SENT');
    const PAY = 'mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { invoice { state amountDue { amount } } } }';
    const partial = await gql(PAY, { i: { reference: inv.number, channel: 'BANK_TRANSFER', amount: { amount: '10.00', currency: 'EUR' }, idempotencyKey: `e2e-partial-${RUN}` } });
    expect(partial.recordPayment.invoice.state).toBe('PARTIALLY_PAID');
    const due = partial.recordPayment.invoice.amountDue.amount as string;

    // The due-date job starts dunning; on policy day 3 every line is barred through subscribers.
    const statuses = async () => (await gql('query($id: ID!) { billingAccount(id: $id) { lines { id status } } }', { id: accountId })).billingAccount.lines.map((l: { status: string }) => l.status);
    await eventually(async () => ((await statuses()).every((s: string) => s === 'BARRED' || s === 'SUSPENDED') ? true : null), 'dunning to suspend the lines', 60_000);
    // The late fee (policy day 2) waits for the next invoice.
    const preview = await gql('query($a: ID!) { previewNextInvoice(billingAccountId: $a) { lines { kind description netAmount } } }', { a: accountId });
    expect(preview.previewNextInvoice.lines.some((l: { kind: string; netAmount: string }) => l.kind === 'ONE_OFF' && Number(l.netAmount) === 5)).toBe(true);

    const rest = await gql(PAY, { i: { reference: inv.number, channel: 'BANK_TRANSFER', amount: { amount: due, currency: 'EUR' }, idempotencyKey: `e2e-rest-${RUN}` } });
    expect(rest.recordPayment.invoice).toMatchObject({ state: 'SETTLED', amountDue: { amount: '0' } });
    await eventually(async () => ((await statuses()).every((s: string) => s === 'ACTIVE') ? true : null), 'the paid invoice to restore the lines', 30_000);
  });

  it('dunning holds while a dispute covers what is owed, and goes on when the dispute is resolved', async () => {
    const current = periodContaining(new Date(), 1, TZ);
    const { accountId, lines } = await postpaidAccount(`Disputer ${RUN}`, 'FAMILY_SHARE_50GB', 1, { paymentTermsDays: 0 });
    await planSince(accountId, lines[0]!, 'FAMILY_SHARE_50GB', current.start);
    const inv = await closePeriod(accountId, current.start, new Date(Date.now() - 1000));
    const held = await gql('mutation($i: DisputeInvoiceInput!) { disputeInvoice(input: $i) { invoice { state } } }', { i: { invoiceId: inv.id, amount: inv.total.amount, reason: 'Roaming charges not recognised' } });
    expect(held.disputeInvoice.invoice.state).toBe('ON_HOLD');
    const connection = await Connection.connect({ address: system.temporalAddress });
    try {
      const dunning = new Client({ connection }).workflow.getHandle(`dunning-${inv.id}`);
      const phase = async () => ((await dunning.query('dunningStatus').catch(() => null)) as { phase: string; stepsDone: string[] } | null);
      await eventually(async () => (await phase())?.phase === 'HELD', 'the dunning workflow to hold', 30_000);
      await new Promise((r) => setTimeout(r, 5_000)); // past the policy's suspension day
      expect((await phase())!.stepsDone).not.toContain('SUSPEND'); // (a reminder may have gone out before the dispute came)
      const status = async () => (await gql('query($id: ID!) { billingAccount(id: $id) { lines { status } } }', { id: accountId })).billingAccount.lines[0].status;
      expect(await status()).toBe('ACTIVE');
      // Resolved against the customer: the steps go on from where they were held.
      await gql('mutation($i: InvoiceIdInput!) { resolveDispute(input: $i) { invoice { state } } }', { i: { invoiceId: inv.id } });
      await eventually(async () => ((await status()) === 'BARRED' || (await status()) === 'SUSPENDED' ? true : null), 'dunning to go on after the dispute', 30_000);
      // The line is barred by the SUSPEND activity; the workflow records the step once the activity returns.
      const steps = await eventually(async () => ((await phase())?.stepsDone.includes('SUSPEND') ? (await phase())!.stepsDone : null), 'the workflow to record SUSPEND', 30_000);
      expect(steps).toEqual(expect.arrayContaining(['REMINDER_1', 'LATE_FEE', 'SUSPEND']));
      await gql('mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { invoice { state } } }', { i: { invoiceId: inv.id, channel: 'CARD', paymentMethodToken: 'tok_visa', amount: { amount: inv.total.amount, currency: 'EUR' }, idempotencyKey: `e2e-dispute-pay-${RUN}` } });
      await eventually(async () => ((await status()) === 'ACTIVE' ? true : null), 'the payment to restore the line', 30_000);
      expect((await dunning.result()) as { phase: string }).toMatchObject({ phase: 'PAID' });
    } finally {
      await connection.close();
    }
  });

  it('disputes: a customer disputes a line and the invoice; an agent upholds one in part, the other escalates and is decided for the customer when its deadline passes', async () => {
    const current = periodContaining(new Date(), 1, TZ);
    const { accountId, customerId, lines } = await postpaidAccount(`Dispute workflow ${RUN}`, 'POSTPAID_20GB', 1, { paymentTermsDays: 14 });
    await planSince(accountId, lines[0]!, 'POSTPAID_20GB', current.start);
    const inv = await closePeriod(accountId, current.start, new Date(Date.now() - 1000));
    expect(inv.state).toBe('SENT');
    const full = await gql('query($id: ID!) { invoice(id: $id) { lines { id kind lineId grossAmount { amount } } } }', { id: inv.id });
    const recurring = full.invoice.lines.find((l: { kind: string }) => l.kind === 'RECURRING');
    expect(dec(recurring.grossAmount.amount).gt(10)).toBe(true);
    expect(dec(inv.total.amount).gt(18)).toBe(true);

    const customer = { role: 'CUSTOMER' as const, subject: `e2e-${customerId}`, customerId };
    const DISPUTE = 'id status escalationLevel decidedBy creditNoteId creditedAmount { amount } amount { amount }';
    const open = async (invoiceLineId: string | null, amount: string, key: string) =>
      ok(await system.graphql(`mutation($i: OpenDisputeInput!) { openDispute(input: $i) { dispute { ${DISPUTE} } } }`, { i: { invoiceId: inv.id, invoiceLineId, amount, reason: 'I did not have this plan for the whole month', idempotencyKey: `${key}-${RUN}` } }, customer)).openDispute.dispute;
    // Another customer may not dispute this invoice: to them it answers as an invoice that does not exist.
    const stranger = await system.graphql('mutation($i: OpenDisputeInput!) { openDispute(input: $i) { dispute { id } } }', { i: { invoiceId: inv.id, amount: '1.00', reason: 'x', idempotencyKey: `stranger-${RUN}` } }, { role: 'CUSTOMER', subject: 'e2e-stranger', customerId: 'cus_someone_else' });
    expect(stranger.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND', reason: 'INVOICE_NOT_FOUND', field: 'input.invoiceId' });

    const upheld = await open(recurring.id, '10.00', 'dispute-a');
    const lapsed = await open(null, '8.00', 'dispute-b');
    // Above the goodwill amount: both wait for an agent, and the invoice is held for what they dispute.
    const dispute = async (id: string) => (await gql(`query($id: ID!) { dispute(id: $id) { ${DISPUTE} } }`, { id })).dispute;
    await eventually(async () => ((await dispute(upheld.id)).status === 'IN_REVIEW' && (await dispute(lapsed.id)).status === 'IN_REVIEW' ? true : null), 'the workflows to assess both disputes', 30_000);
    expect((await invoice(inv.id)).state).toBe('ON_HOLD');

    // An agent upholds the first in part: a credit note of 4.00, and its workflow ends without escalating.
    const decided = await system.graphql(`mutation($i: DecideDisputeInput!) { decideDispute(input: $i) { dispute { ${DISPUTE} } } }`, { i: { disputeId: upheld.id, decision: 'ACCEPT', amount: '4.00', note: 'Plan started on the 3rd' } }, { role: 'AGENT', subject: 'e2e-agent' });
    expect(ok(decided).decideDispute.dispute).toMatchObject({ status: 'ACCEPTED', escalationLevel: 0, creditedAmount: { amount: '4' } });
    const connection = await Connection.connect({ address: system.temporalAddress });
    try {
      const temporal = new Client({ connection });
      expect(await temporal.workflow.getHandle(`dispute-${upheld.id}`).result()).toMatchObject({ phase: 'DONE', outcome: 'ACCEPTED', escalationLevel: 0 });
      // Nobody decides the second: escalated after 3 policy hours, decided for the customer 2 later.
      expect(await temporal.workflow.getHandle(`dispute-${lapsed.id}`).result()).toMatchObject({ phase: 'DONE', outcome: 'ACCEPTED', escalationLevel: 1 });
    } finally {
      await connection.close();
    }
    const after = await dispute(lapsed.id);
    expect(after).toMatchObject({ status: 'ACCEPTED', escalationLevel: 1, creditedAmount: { amount: '8' } });
    expect(after.creditNoteId).toBeTruthy();
    // Both credits came off what the invoice owes; nothing is disputed any more, so it is out of hold.
    const settled = await invoice(inv.id);
    expect(settled.state).not.toBe('ON_HOLD');
    expect(dec(settled.amountDue.amount).eq(dec(inv.total.amount).minus('12.00'))).toBe(true);
  });

  it('partner webhooks: a trusted partner (event scope ALL) registered with the events hub gets the invoice-issued CloudEvent, signed over timestamp.body', async () => {
    const received: { headers: http.IncomingHttpHeaders; body: string }[] = [];
    const receiver = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    try {
      const partner = await signToken({ role: 'PARTNER', partnerId: `crm-${RUN}` });
      // The account below is the operator's own (no partner): a partner's hub gets it only with the event scope ALL,
      // which staff grant trusted integrations such as the operator's CRM.
      const scope = await fetch(`${system.eventsHubUrl}/tmf-api/eventManagement/v4/partnerEventScope/crm-${RUN}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${await signToken({ role: 'ADMIN', subject: 'e2e-ops' })}`, 'content-type': 'application/json' },
        body: JSON.stringify({ scope: 'ALL' }),
      });
      expect(scope.status).toBe(200);
      const hub = await fetch(`${system.eventsHubUrl}/tmf-api/eventManagement/v4/hub`, {
        method: 'POST',
        headers: { authorization: `Bearer ${partner}`, 'content-type': 'application/json' },
        body: JSON.stringify({ callback: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/ledgerline`, query: 'eventType=CustomerBillCreateEvent' }),
      });
      expect(hub.status).toBe(201);
      const { secret } = (await hub.json()) as { secret: string };

      const current = periodContaining(new Date(), 1, TZ);
      const { accountId, lines } = await postpaidAccount(`Partner feed ${RUN}`, 'POSTPAID_20GB', 1);
      await planSince(accountId, lines[0]!, 'POSTPAID_20GB', current.start);
      const inv = await closePeriod(accountId, current.start, new Date(Date.now() - 1000));
      const mine = (r: { body: string }) => (JSON.parse(r.body) as { data: { invoiceId?: string } }).data.invoiceId === inv.id;
      const delivery = await eventually(async () => received.find(mine) ?? null, 'the partner to get the invoice event', 30_000);
      expect(delivery.headers['content-type']).toContain('application/cloudevents+json');
      const timestamp = String(delivery.headers['x-ledgerline-timestamp']);
      expect(delivery.headers['x-ledgerline-signature']).toBe(`sha256=${createHmac('sha256', secret).update(`${timestamp}.${delivery.body}`).digest('hex')}`);
      expect(JSON.parse(delivery.body)).toMatchObject({ specversion: '1.0', type: expect.stringContaining('CustomerBillCreateEvent') });
      expect(received.filter(mine)).toHaveLength(1);
    } finally {
      receiver.close();
    }
  });

  it('the CLI starts a bill run with a progress bar and reads its status; a period already closed is not billed twice', async () => {
    const current = periodContaining(new Date(), 1, TZ);
    const cycleDate = new Intl.DateTimeFormat('en-CA', { timeZone: TZ }).format(current.start); // YYYY-MM-DD, local
    // Asynchronous on purpose: a blocked event loop would leave this process's pooled gateway connections stale.
    const cli = (...args: string[]) =>
      new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [path.resolve(import.meta.dirname, '../../services/cli/bin/ledgerline.mjs'), 'billrun', ...args], { env: { ...process.env, GATEWAY_URL: system.gatewayUrl } });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => (stdout += String(d)));
        child.stderr.on('data', (d) => (stderr += String(d)));
        child.on('close', (status) => resolve({ status, stdout, stderr }));
      });
    const start = await cli('start', cycleDate, '--batch-size', '2');
    expect(start.status, start.stderr).toBe(0);
    expect(start.stdout).toMatch(new RegExp(`started bill run billrun_${cycleDate} for ${cycleDate}`));
    expect(start.stdout).toMatch(/bill run billrun_\S+: COMPLETED, \d+ invoices for \d+ accounts/);
    const status = await cli('status', cycleDate);
    expect(status.status).toBe(0);
    expect(status.stdout).toMatch(new RegExp(`bill run billrun_${cycleDate} for ${cycleDate}: COMPLETED, (\\d+)/\\1 accounts`));
    // Every account closed for last month above already had its invoice: still exactly one per period.
    // Started again (here through the API, to spare a CLI start-up): the same run, nothing billed twice.
    const again = await gql('mutation($i: StartBillRunInput!) { startBillRun(input: $i) { started billRun { state } } }', { i: { cycleDate } });
    expect(again.startBillRun).toEqual({ started: false, billRun: { state: 'COMPLETED' } });
    const invoices = await gql('query { invoices(first: 100) { edges { node { billingAccountId kind periodStart } } } }');
    const periods = invoices.invoices.edges.map((e: any) => `${e.node.billingAccountId}|${e.node.kind}|${e.node.periodStart}`);
    expect(new Set(periods).size).toBe(periods.length);
  });
});
