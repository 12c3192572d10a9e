// A dispute holds exactly the disputed amount out of collections, autopay included (2026-12).
// Before, the due-date job charged autopay only on SENT/PARTIALLY_PAID invoices and dunned an autopay
// account's invoice only once an autopay attempt was recorded: an autopay customer who disputed 5.00
// of a 35.69 invoice before its due date had the whole invoice held out of collections — no charge,
// no dunning — for as long as the dispute stayed open (a staff hold: until staff decided it), while a
// customer paying by transfer was dunned for the undisputed 30.69 as designed.
// Now autopay charges the undisputed part of an invoice held after it was issued (what it owes less
// what is disputed) on the due date; the disputed part waits for the decision.
// Released from the dispute (rejected, or accepted in part) with money still owed, the rest is
// charged to the card too: a second attempt of the invoice (`autopay_attempt` attempt 2, provider
// key `autopay:<invoiceId>:released:<disputeId>`, one per dispute released since 2027-01:
// disputes-autopay-each-release.test.ts), once, made by the due-date job. Before (2026-12, the first
// part of this change), the rest went to dunning — reminders, a late fee and a suspension timed from
// the due date long past — although the customer pays by card. Dunning waits for that attempt as it
// waits for the first: it starts only when the released charge was declined (or there is no token).
import { dec } from '@ledgerline/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { account, type Harness } from './support';
import { agent, customer, disputeCalls, disputeMutations } from './dispute-support';
import { JOB, autopayCalls } from './autopay-support';

let h: Harness;
const { dunned, startWithAutopayAccounts, failAfterCapture, view, closeSeptember } = autopayCalls(() => h);
const { OPEN, DECIDE } = disputeMutations('id status');
const { as, db } = disputeCalls(() => h);
const AGENT = agent('agent-autopay');
const charged = (invoiceId: string) => [...h.payments.charges.values()].filter((c) => c.req.idempotencyKey === `autopay:${invoiceId}`).map((c) => c.req.amount);
/** The charges of the invoice's attempts after the due date, the rest each dispute released. */
const chargedReleased = (invoiceId: string) => [...h.payments.charges.values()].filter((c) => c.req.idempotencyKey.startsWith(`autopay:${invoiceId}:released:`)).map((c) => c.req.amount);
/** Card payments recorded for the invoice (amount, key). */
const cardPayments = async (invoiceId: string) =>
  ((await db().execute(`select amount::text as amount, idempotency_key from payment where invoice_id = ? and channel = 'CARD' order by idempotency_key`, [invoiceId])) as any[]).map((p) => [dec(p.amount).toFixed(2), p.idempotency_key]);

beforeAll(async () => {
  h = await startWithAutopayAccounts(['acc_apd_rej', 'acc_apd_acc', 'acc_apd_full', 'acc_apd_part', 'acc_apd_lost', 'acc_apd_decl']);
});
afterAll(async () => h?.svc.close());

describe('autopay on an invoice partly disputed before its due date', () => {
  it('charges the undisputed part on the due date; rejected, the disputed rest is charged to the card once, never dunned', async () => {
    h.clock.set(new Date('2026-10-01T08:00:00Z'));
    const inv = await closeSeptember('acc_apd_rej');
    const d = (await as(customer('cus_acc_apd_rej'), OPEN, { i: { invoiceId: inv.id, invoiceLineId: inv.lines[0].id, amount: '5.00', reason: 'A roaming day I never had', idempotencyKey: 'apd-rej' } })).openDispute.dispute;
    expect(await view(inv.id)).toEqual({ state: 'ON_HOLD', amountDue: '35.69', amountPaid: '0', amountDisputed: '5' });

    h.clock.set(new Date('2026-10-04T09:00:00Z'));
    const job = (await h.gql<any>(JOB)).runDueDateJob;
    expect(charged(inv.id), 'the undisputed 30.69 is charged to the card').toEqual(['30.69']);
    expect(job).toMatchObject({ autopaid: 1, declined: 0 });
    expect(await view(inv.id), 'still held for the disputed 5.00 only').toEqual({ state: 'ON_HOLD', amountDue: '5', amountPaid: '30.69', amountDisputed: '5' });
    // Again: the attempt was made once; the disputed rest is not charged.
    await h.gql(JOB);
    expect(charged(inv.id)).toEqual(['30.69']);
    expect(chargedReleased(inv.id)).toEqual([]);

    // What is still owed is disputed, and will be charged to the card once released: no dunning
    // (reminders, a late fee, a suspension timed from the due date) meanwhile.
    h.clock.set(new Date('2026-10-20T09:00:00Z'));
    await h.gql(JOB);
    expect(dunned.map((r) => r.invoiceId), 'no dunning while the rest waits for the decision').not.toContain(inv.id);

    // Rejected: the 5.00 is due again; the next pass charges it to the card, once, under its own key.
    await as(AGENT, DECIDE, { i: { disputeId: d.id, decision: 'REJECT', note: 'The roaming day is in the usage records' } });
    expect(await view(inv.id)).toEqual({ state: 'PARTIALLY_PAID', amountDue: '5', amountPaid: '30.69', amountDisputed: '0' });
    // Two passes at once (two replicas of the job, a nudge during a pass): one charge.
    const [a, b] = await Promise.all([h.gql<any>(JOB), h.gql<any>(JOB)]);
    expect(a.runDueDateJob.autopaid + b.runDueDateJob.autopaid, 'the rest charged by one of the passes').toBe(1);
    expect(chargedReleased(inv.id), 'the disputed rest charged to the card').toEqual(['5.00']);
    expect(charged(inv.id)).toEqual(['30.69']);
    expect(await view(inv.id)).toEqual({ state: 'SETTLED', amountDue: '0', amountPaid: '35.69', amountDisputed: '0' });
    await h.gql(JOB);
    expect(chargedReleased(inv.id), 'never twice').toEqual(['5.00']);
    expect(await cardPayments(inv.id)).toEqual([
      ['30.69', `autopay:${inv.id}`],
      ['5.00', `autopay:${inv.id}:released:${d.id}`],
    ]);
    expect(dunned.map((r) => r.invoiceId), 'paid by card: never dunned').not.toContain(inv.id);
    const attempts = (await db().execute(`select attempt, state, amount::text as amount, idempotency_key from autopay_attempt where invoice_id = ? order by attempt`, [inv.id])) as any[];
    expect(attempts.map((t) => [t.attempt, t.state, dec(t.amount).toFixed(2), t.idempotency_key])).toEqual([
      [1, 'SUCCEEDED', '30.69', `autopay:${inv.id}`],
      [2, 'SUCCEEDED', '5.00', `autopay:${inv.id}:released:${d.id}`],
    ]);
  });

  it('accepted after the undisputed part was charged: the invoice is settled, nothing more charged', async () => {
    h.clock.set(new Date('2026-10-01T08:00:00Z'));
    const inv = await closeSeptember('acc_apd_acc');
    const d = (await as(customer('cus_acc_apd_acc'), OPEN, { i: { invoiceId: inv.id, amount: '5.00', reason: 'Charged twice', idempotencyKey: 'apd-acc' } })).openDispute.dispute;
    h.clock.set(new Date('2026-10-04T09:00:00Z'));
    await h.gql(JOB);
    expect(charged(inv.id)).toEqual(['30.69']);
    await as(AGENT, DECIDE, { i: { disputeId: d.id, decision: 'ACCEPT', note: 'Upheld' } });
    expect(await view(inv.id)).toEqual({ state: 'SETTLED', amountDue: '0', amountPaid: '30.69', amountDisputed: '0' });
    await h.gql(JOB);
    expect(charged(inv.id)).toEqual(['30.69']);
    expect(chargedReleased(inv.id), 'nothing owed once released: no second attempt').toEqual([]);
    expect(await view(inv.id)).toMatchObject({ state: 'SETTLED', amountDue: '0' });
    expect(dunned.map((r) => r.invoiceId)).not.toContain(inv.id);
  });

  it('a dispute of everything owed holds the whole invoice: nothing charged until it is closed, then autopay charges what is owed', async () => {
    h.clock.set(new Date('2026-10-01T08:00:00Z'));
    const inv = await closeSeptember('acc_apd_full');
    const d = (await as(customer('cus_acc_apd_full'), OPEN, { i: { invoiceId: inv.id, amount: '35.69', reason: 'Not my invoice', idempotencyKey: 'apd-full' } })).openDispute.dispute;
    h.clock.set(new Date('2026-10-04T09:00:00Z'));
    await h.gql(JOB);
    expect(charged(inv.id)).toEqual([]);
    const [attempts] = (await db().execute(`select count(*)::int as n from autopay_attempt where invoice_id = ?`, [inv.id])) as any[];
    expect(attempts.n, 'no attempt used up while all of it is disputed').toBe(0);
    await as(AGENT, DECIDE, { i: { disputeId: d.id, decision: 'REJECT', note: 'It is yours' } });
    await h.gql(JOB);
    expect(charged(inv.id)).toEqual(['35.69']);
    expect(await view(inv.id)).toMatchObject({ state: 'SETTLED', amountDue: '0' });
  });

  it('accepted in part: what the credit leaves of the disputed rest is charged to the card once', async () => {
    h.clock.set(new Date('2026-10-01T08:00:00Z'));
    const inv = await closeSeptember('acc_apd_part');
    const d = (await as(customer('cus_acc_apd_part'), OPEN, { i: { invoiceId: inv.id, amount: '5.00', reason: 'Half of it was not mine', idempotencyKey: 'apd-part' } })).openDispute.dispute;
    h.clock.set(new Date('2026-10-04T09:00:00Z'));
    await h.gql(JOB);
    expect(charged(inv.id)).toEqual(['30.69']);
    await as(AGENT, DECIDE, { i: { disputeId: d.id, decision: 'ACCEPT', amount: '2.00', note: 'Two of the five were ours' } });
    expect(await view(inv.id)).toEqual({ state: 'PARTIALLY_PAID', amountDue: '3', amountPaid: '30.69', amountDisputed: '0' });
    const job = (await h.gql<any>(JOB)).runDueDateJob;
    expect(job).toMatchObject({ autopaid: 1, declined: 0 });
    expect(chargedReleased(inv.id), 'the 3.00 the credit note left').toEqual(['3.00']);
    expect(await view(inv.id)).toEqual({ state: 'SETTLED', amountDue: '0', amountPaid: '33.69', amountDisputed: '0' });
    await h.gql(JOB);
    expect(chargedReleased(inv.id)).toEqual(['3.00']);
    expect(charged(inv.id)).toEqual(['30.69']);
    expect(dunned.map((r) => r.invoiceId)).not.toContain(inv.id);
  });

  it('the released charge captured but its answer lost: retried as fixed, recorded once, not dunned meanwhile', async () => {
    h.clock.set(new Date('2026-10-01T08:00:00Z'));
    const inv = await closeSeptember('acc_apd_lost');
    const d = (await as(customer('cus_acc_apd_lost'), OPEN, { i: { invoiceId: inv.id, amount: '5.00', reason: 'Not mine', idempotencyKey: 'apd-lost' } })).openDispute.dispute;
    h.clock.set(new Date('2026-10-04T09:00:00Z'));
    await h.gql(JOB);
    await as(AGENT, DECIDE, { i: { disputeId: d.id, decision: 'REJECT', note: 'It is yours' } });
    failAfterCapture(`:released:${d.id}`);
    const first = (await h.gql<any>(JOB)).runDueDateJob;
    expect(first.autopaid, 'the pass failed after the capture').toBe(0);
    expect(chargedReleased(inv.id)).toEqual(['5.00']);
    expect(await view(inv.id)).toMatchObject({ state: 'PARTIALLY_PAID', amountDue: '5' });
    expect(dunned.map((r) => r.invoiceId), 'no dunning while the released attempt is open').not.toContain(inv.id);
    const second = (await h.gql<any>(JOB)).runDueDateJob;
    expect(second).toMatchObject({ autopaid: 1, declined: 0 });
    expect(chargedReleased(inv.id), 'one capture at the provider').toEqual(['5.00']);
    expect(await cardPayments(inv.id)).toEqual([
      ['30.69', `autopay:${inv.id}`],
      ['5.00', `autopay:${inv.id}:released:${d.id}`],
    ]);
    expect(await view(inv.id)).toMatchObject({ state: 'SETTLED', amountDue: '0' });
    expect(dunned.map((r) => r.invoiceId)).not.toContain(inv.id);
  });

  it('the released charge declined: dunning takes over the rest, as after a declined first attempt', async () => {
    h.clock.set(new Date('2026-10-01T08:00:00Z'));
    const inv = await closeSeptember('acc_apd_decl');
    const d = (await as(customer('cus_acc_apd_decl'), OPEN, { i: { invoiceId: inv.id, amount: '5.00', reason: 'Not mine', idempotencyKey: 'apd-decl' } })).openDispute.dispute;
    h.clock.set(new Date('2026-10-04T09:00:00Z'));
    await h.gql(JOB);
    expect(charged(inv.id)).toEqual(['30.69']);
    // The customer's card changes meanwhile to one that declines.
    await account(h, 'acc_apd_decl', { customerId: 'cus_acc_apd_decl', paymentTermsDays: 3, autopayToken: 'tok_decline' });
    await as(AGENT, DECIDE, { i: { disputeId: d.id, decision: 'REJECT', note: 'It is yours' } });
    const job = (await h.gql<any>(JOB)).runDueDateJob;
    expect(job).toMatchObject({ autopaid: 0, declined: 1 });
    expect(dunned.filter((r) => r.invoiceId === inv.id), 'dunned once for the rest').toHaveLength(1);
    await h.gql(JOB);
    expect(dunned.filter((r) => r.invoiceId === inv.id)).toHaveLength(1);
    expect(await view(inv.id)).toMatchObject({ state: 'PARTIALLY_PAID', amountDue: '5' });
    const attempts = (await db().execute(`select attempt, state from autopay_attempt where invoice_id = ? order by attempt`, [inv.id])) as any[];
    expect(attempts.map((t) => [t.attempt, t.state])).toEqual([
      [1, 'SUCCEEDED'],
      [2, 'DECLINED'],
    ]);
  });
});
