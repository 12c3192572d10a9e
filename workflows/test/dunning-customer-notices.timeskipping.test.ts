// Dunning tells the customer. Its reminders used to be a log line of the worker (LogReminders):
// a customer could be barred 14 days after the due date without ever hearing that the bill was
// overdue. Now every step reaches the customer's channels, once: the reminders, the final notice
// before the bar, the bar, and the lines back on after the payment. The worker asks invoicing to
// record the step (recordDunningNotice, keyed `<workflowId>:<step>`); invoicing reads the invoice
// (number, what is still due, due date) and publishes a customerBillDunningNotice through its
// outbox, unless nothing is owed any more; subscribers' notification consumer turns it into one
// message per channel, in the account's time zone. A retried activity or a replayed workflow sends
// nothing twice.
//
// Real Temporal (time-skipping server) running the dunning workflow; real invoicing (PostgreSQL,
// outbox relay to NATS) starting it from its due-date job; real subscribers barring and resuming
// the line and storing the messages; the worker's production clients for both.
import { fileURLToPath } from 'node:url';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Worker, type WorkflowBundle } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatAmount, localDay } from '@ledgerline/contracts';
import { callerHeaders, DEV_INTERNAL_SECRET, SYSTEM_CALLER } from '@ledgerline/platform';
import { createInvoicingActivities, GraphqlDunningNotices, GraphqlInvoicingClient, GraphqlLineControlClient, type ReminderRequest, type RemindersPort } from '../src/activities/invoicing';
import { dunningWorkflowId } from '../src/workflows/dunning';
import { createTimeSkippingEnv, uniqueId } from './support/env';
// The real services (test files only), as review3-dunning-restore.test.ts does.
import { TemporalDunningStarter } from '../../services/invoicing/src/adapters/temporal-dunning';
import { startHarness as startInvoicing, subscribe, type Harness as Invoicing } from '../../services/invoicing/test/support';
import { startHarness as startSubscribers, type Harness as Subscribers } from '../../services/subscribers/test/support';

const DAY = 86_400_000;
const TZ = 'Pacific/Auckland';
const policy = { reminderDays: [1, 7], lateFee: { afterDays: 10, amount: '5.00' }, suspendAfterDays: 14 };
const system = { url: '', headers: () => callerHeaders(SYSTEM_CALLER, DEV_INTERNAL_SECRET) };

let env: TestWorkflowEnvironment;
let bundle: WorkflowBundle;
let subs: Subscribers;
beforeAll(async () => {
  env = await createTimeSkippingEnv();
  bundle = await bundleWorkflowCode({ workflowsPath: fileURLToPath(new URL('../src/workflows/dunning.ts', import.meta.url)), logger: new DefaultLogger('WARN') });
  subs = await startSubscribers();
}, 120_000);
afterAll(async () => {
  await subs?.close();
  await env?.teardown();
});

interface Message {
  channel: string;
  receiver: string;
  template: string;
  subject: string;
  content: string;
}
const ORDER = ['BILL_ISSUED', 'DUNNING_REMINDER', 'DUNNING_FINAL_NOTICE', 'DUNNING_BARRED', 'DUNNING_RESTORED'];
/** The account's stored messages, in the order of the dunning's steps, then by channel. */
const messagesOf = async (accountId: string) =>
  (await subs.rows<Message & { source_event_id: string }>(`select channel, receiver, template, subject, content, source_event_id from communication_message where billing_account_id = $1 order by channel`, [accountId])).sort(
    (a, b) => ORDER.indexOf(a.template) - ORDER.indexOf(b.template),
  );
/** A workflow a failed test leaves running would hold the test server's clock for the next test. */
const stopDunning = (invoiceId: string | undefined) => (invoiceId ? env.client.workflow.getHandle(dunningWorkflowId(invoiceId)).terminate('test over').catch(() => undefined) : undefined);

async function until<T>(probe: () => Promise<T | null | undefined | false>, what: string, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A customer with an e-mail address and a phone, one POSTPAID account in `TZ` with one line, in subscribers. */
async function customer(tag: string) {
  const c = await subs.ok(`mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`, {
    i: { name: `Dana Dunned ${tag}`, kind: 'INDIVIDUAL', email: `dana-${tag}@example.com`, phone: `+6421555${tag}`, notificationPreferences: { sms: true, email: true } },
  });
  const a = await subs.ok(`mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }`, { i: { customerId: c.createCustomer.customer.id, paymentMode: 'POSTPAID', currency: 'EUR', timezone: TZ } });
  const accountId = a.openBillingAccount.billingAccount.id as string;
  const l = await subs.ok(`mutation($a: ID!, $m: String!) { addLine(input: { billingAccountId: $a, msisdn: $m }) { line { id } } }`, { a: accountId, m: `+6427555${tag}` });
  return { accountId, lineId: l.addLine.line.id as string };
}
const lineStatus = async (lineId: string) => (await subs.ok(`query($id: ID!) { line(id: $id) { status } }`, { id: lineId })).line.status as string;

/**
 * Invoicing at Temporal's time, dunning on it; the account (same id as in subscribers) billed for
 * October with no payment terms, so the invoice falls due as it is issued; the due-date job starts its dunning.
 */
async function overdueInvoice(inv: Invoicing, accountId: string, lineId: string) {
  await inv.gql('mutation($i: RegisterBillingAccountInput!) { registerBillingAccount(input: $i) { ok } }', {
    i: { billingAccountId: accountId, customerName: 'Dana Dunned', paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 1, timezone: TZ, paymentTermsDays: 0 },
  });
  await subscribe(inv, accountId, `sub_${lineId.slice(-12)}`, 'postpaid20', '2026-09-01T00:00:00Z', lineId);
  const closed = await inv.gql<any>('mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { invoice { id number dueDate total { amount } amountDue { amount } } } } }', {
    i: { billingAccountId: accountId, periodStart: '2026-09-30T11:00:00Z', periodEnd: '2026-10-31T11:00:00Z' },
  });
  const invoice = closed.closeBillingPeriod.billingPeriod.invoice as { id: string; number: string; dueDate: string; total: { amount: string }; amountDue: { amount: string } };
  expect((await inv.gql<any>('mutation { runDueDateJob { dunningStarted } }')).runDueDateJob.dunningStarted).toBe(1);
  return invoice;
}

/** A worker with the production clients: invoicing for the invoice and the notices, subscribers for the line holds. */
async function worker(taskQueue: string, inv: Invoicing, reminders: (real: RemindersPort) => RemindersPort = (r) => r) {
  const invoicing = { ...system, url: inv.svc.url };
  return Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: bundle,
    // Every workflow task replays the history from the start: a replay must not send anything again.
    maxCachedWorkflows: 0,
    activities: createInvoicingActivities({
      invoicing: new GraphqlInvoicingClient(invoicing),
      reminders: reminders(new GraphqlDunningNotices(invoicing)),
      lines: new GraphqlLineControlClient({ ...system, url: subs.subscribers.url }),
    }),
    shutdownGraceTime: '1 second',
  });
}

/** Each notice's first attempt is answered, then its answer lost (the activity is retried with the same key). */
function answersLostOnce(real: RemindersPort): RemindersPort {
  const seen = new Set<string>();
  const once = async (key: string, send: () => Promise<void>) => {
    await send();
    if (!seen.has(key)) {
      seen.add(key);
      throw new Error('connection reset after the notice was recorded');
    }
  };
  return {
    sendReminder: (r) => once(r.idempotencyKey, () => real.sendReminder(r)),
    sendDunningNotice: (r) => once(r.idempotencyKey, () => real.sendDunningNotice!(r)),
  };
}

describe('dunning reminders reach the customer', () => {
  it('reminder, final notice, bar and restoration: each once per channel, naming the invoice, what is due, the due date and what comes next on which local day', async () => {
    const taskQueue = uniqueId('dunning-notices');
    const inv = await startInvoicing(new Date(await env.currentTimeMs()).toISOString(), { dunning: new TemporalDunningStarter({ client: env.client, taskQueue }), policy });
    let invoiceId: string | undefined;
    try {
      const { accountId, lineId } = await customer('1001');
      const w = await worker(taskQueue, inv, answersLostOnce);
      await w.runUntil(async () => {
        const invoice = await overdueInvoice(inv, accountId, lineId);
        invoiceId = invoice.id;
        const handle = env.client.workflow.getHandle(dunningWorkflowId(invoice.id));
        const due = Date.parse(invoice.dueDate);
        const day = (ms: number) => localDay(new Date(ms), TZ);
        const owed = formatAmount(invoice.amountDue.amount, 'EUR');
        const pay = `Pay it in the app, or by bank transfer with the reference ${invoice.number}.`;

        await env.sleep('15 days');
        await until(async () => ((await lineStatus(lineId)) === 'BARRED' ? true : null), 'the line to be barred');
        const barred = await until(async () => ((await messagesOf(accountId)).filter((m) => m.template.startsWith('DUNNING_')).length >= 6 ? messagesOf(accountId) : null), 'three notices on two channels');
        const notices = barred.filter((m) => m.template.startsWith('DUNNING_'));
        expect(notices.map((m) => [m.template, m.channel, m.receiver])).toEqual([
          ['DUNNING_REMINDER', 'EMAIL', 'dana-1001@example.com'],
          ['DUNNING_REMINDER', 'SMS', '+64215551001'],
          ['DUNNING_FINAL_NOTICE', 'EMAIL', 'dana-1001@example.com'],
          ['DUNNING_FINAL_NOTICE', 'SMS', '+64215551001'],
          ['DUNNING_BARRED', 'EMAIL', 'dana-1001@example.com'],
          ['DUNNING_BARRED', 'SMS', '+64215551001'],
        ]);
        const text = (template: string) => notices.find((m) => m.template === template)!;
        expect(text('DUNNING_REMINDER')).toMatchObject({
          subject: `Reminder: your bill ${invoice.number} is overdue`,
          content: `Your bill ${invoice.number} was due on ${day(due)} and ${owed} of it is still unpaid. Unless it is paid, a late fee of 5.00 EUR will be added on ${day(due + 10 * DAY)} and your lines will be barred on ${day(due + 14 * DAY)}. ${pay}`,
        });
        expect(text('DUNNING_FINAL_NOTICE')).toMatchObject({
          subject: `Final notice: your bill ${invoice.number} is overdue`,
          content: `Your bill ${invoice.number} was due on ${day(due)} and ${owed} of it is still unpaid. Unless it is paid, a late fee of 5.00 EUR will be added on ${day(due + 10 * DAY)} and your lines will be barred on ${day(due + 14 * DAY)}. ${pay}`,
        });
        expect(text('DUNNING_BARRED')).toMatchObject({
          subject: 'Your lines are barred',
          content: `Your lines are barred because ${owed} of your bill ${invoice.number}, due on ${day(due)}, is still unpaid. ${pay} They are switched back on once it is paid.`,
        });

        // Paid: the payment signals the dunning, which lifts its hold; the customer is told.
        await inv.gql('mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { invoice { state } } }', {
          i: { invoiceId: invoice.id, channel: 'BANK_TRANSFER', amount: { amount: invoice.amountDue.amount, currency: 'EUR' }, idempotencyKey: `pay-${invoice.id}` },
        });
        expect(await handle.result()).toMatchObject({ phase: 'PAID', stepsDone: ['REMINDER_1', 'REMINDER_2', 'LATE_FEE', 'SUSPEND', 'RESTORE'] });
        expect(await lineStatus(lineId)).toBe('ACTIVE');
        const restored = await until(async () => ((await messagesOf(accountId)).filter((m) => m.template === 'DUNNING_RESTORED').length >= 2 ? messagesOf(accountId) : null), 'the restoration notice');
        expect(restored.filter((m) => m.template === 'DUNNING_RESTORED').map((m) => [m.channel, m.subject, m.content])).toEqual([
          ['EMAIL', 'Your lines are back on', `We received the payment of your bill ${invoice.number}: nothing more is due on it. Your lines are switched back on.`],
          ['SMS', 'Your lines are back on', `We received the payment of your bill ${invoice.number}: nothing more is due on it. Your lines are switched back on.`],
        ]);
        // Once each, though every notice's first answer was lost and every workflow task replayed the history.
        expect(restored.filter((m) => m.template.startsWith('DUNNING_'))).toHaveLength(8);
        expect(new Set(restored.filter((m) => m.template.startsWith('DUNNING_')).map((m) => m.source_event_id)).size).toBe(4);
      });
    } finally {
      await stopDunning(invoiceId);
      await inv.svc.close();
    }
  }, 180_000);

  it('paid between the workflow looking at the invoice and its reminder: no reminder goes out', async () => {
    const taskQueue = uniqueId('dunning-notices-paid');
    const inv = await startInvoicing(new Date(await env.currentTimeMs()).toISOString(), { dunning: new TemporalDunningStarter({ client: env.client, taskQueue }), policy });
    let invoiceId: string | undefined;
    try {
      const { accountId, lineId } = await customer('1002');
      let invoice: Awaited<ReturnType<typeof overdueInvoice>> | undefined;
      const asked: ReminderRequest[] = [];
      // The customer pays just as the first reminder is being sent (after the workflow's look at the invoice).
      const payFirst = (real: RemindersPort): RemindersPort => ({
        sendReminder: async (r) => {
          asked.push(r);
          await inv.gql('mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { invoice { state } } }', {
            i: { invoiceId: invoice!.id, channel: 'BANK_TRANSFER', amount: { amount: invoice!.amountDue.amount, currency: 'EUR' }, idempotencyKey: `pay-${invoice!.id}` },
          });
          await real.sendReminder(r);
        },
        sendDunningNotice: (r) => real.sendDunningNotice!(r),
      });
      const w = await worker(taskQueue, inv, payFirst);
      await w.runUntil(async () => {
        invoice = await overdueInvoice(inv, accountId, lineId);
        invoiceId = invoice.id;
        await env.sleep('2 days');
        expect(await env.client.workflow.getHandle(dunningWorkflowId(invoice.id)).result()).toMatchObject({ phase: 'PAID' });
      });
      expect(asked).toHaveLength(1);
      // Invoicing found nothing owed when asked: it published no notice (its outbox has none), so nothing reached the customer.
      const outbox = await inv.svc.runtime.orm.em.fork().getConnection().execute(`select count(*)::int as n from outbox where subject = 'billing.invoicing.customerbill.dunningnotice'`);
      expect(outbox[0].n).toBe(0);
      expect((await messagesOf(accountId)).filter((m) => m.template.startsWith('DUNNING_'))).toEqual([]);
    } finally {
      await stopDunning(invoiceId);
      await inv.svc.close();
    }
  }, 120_000);
});
