// Each release's autopay attempt charges exactly what its own dispute released.
// Since 6a22795 every dispute closed after an autopay invoice's due-date attempt gets an attempt of its
// own (`dispute_id`, key `autopay:<invoiceId>:released:<disputeId>`). But that attempt charged "what is
// due then" (owed less what the other open disputes hold): when two disputes of one invoice closed
// before one pass of the due-date job, the first release's attempt charged both releases and the
// second's found nothing due (NOTHING_OWED). The totals were right, the split was not: a support agent
// or the customer's statement saw the whole amount against the first dispute (even against a dispute
// accepted in the customer's favour, whose credit released nothing), and when the first attempt was
// declined the second declined for the whole amount again.
// Now a release's attempt charges its dispute's release — its amount less what its decision credited
// on this invoice (a rejected or withdrawn one: all of it; accepted in part: the rest) — capped by what
// the invoice still owes beyond its open disputes, so together never more than is due.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChargeCardRequest } from '../src/adapters/payment-provider';
import type { DunningStarter, StartDunningRequest } from '../src/ports/dunning';
import { account, startHarness, subscribe, type Harness } from './support';
import { NO_DISPUTE_WORKFLOW, agent, customer, disputeCalls, disputeMutations } from './dispute-support';

const dunned: StartDunningRequest[] = [];
const dunning: DunningStarter = { start: async (r) => void dunned.push(r), poke: async () => undefined };

let h: Harness;
const JOB = 'mutation { runDueDateJob { autopaid declined dunningStarted } }';
const CLOSE = 'mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { invoice { id state total { amount } dueDate lines { id kind grossAmount { amount } } } } } }';
const INVOICE = 'query($id: ID!) { invoice(id: $id) { state amountDue { amount } amountPaid { amount } amountDisputed { amount } } }';
const { OPEN, DECIDE } = disputeMutations('id status');
const { as, db } = disputeCalls(() => h);
const AGENT = agent('agent-autopay-split');
const view = async (id: string) => {
  const i = (await h.gql<any>(INVOICE, { id })).invoice;
  return { state: i.state, amountDue: i.amountDue.amount, amountPaid: i.amountPaid.amount, amountDisputed: i.amountDisputed.amount };
};
/** Every card charge asked of the provider for the invoice, as [key, amount], in the order first asked. */
const cardCharges = (invoiceId: string) => [...h.payments.charges.values()].filter((c) => c.req.idempotencyKey.startsWith(`autopay:${invoiceId}`)).map((c) => [c.req.idempotencyKey, c.req.amount]);
/** Every charge request for the invoice, retries included, as [key, amount]. */
const asked: [string, string][] = [];
/** The release attempts (after the due-date one) as [attempt, state, amount, key, dispute]. */
const releasesOf = async (invoiceId: string) =>
  ((await db().execute(`select attempt, state, amount::text as amount, idempotency_key, dispute_id from autopay_attempt where invoice_id = ? and attempt > 1 order by attempt`, [invoiceId])) as any[]).map((t) => [
    t.attempt,
    t.state,
    t.amount == null ? null : Number(t.amount).toFixed(2),
    t.idempotency_key,
    t.dispute_id,
  ]);
const wasDunned = (invoiceId: string) => dunned.filter((r) => r.invoiceId === invoiceId).length;
/** Captured at the provider, then the pass fails before it commits (the answer lost), for the next charge with this key. */
let failAfterCapture: string | null = null;

const ACCOUNTS = ['acc_aps_rej', 'acc_aps_acc', 'acc_aps_part', 'acc_aps_lost', 'acc_aps_decl'];

beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false, dunning, disputes: NO_DISPUTE_WORKFLOW, policy: { reminderDays: [1], lateFee: null, suspendAfterDays: 3 } });
  const charge = h.payments.charge.bind(h.payments);
  h.payments.charge = async (req: ChargeCardRequest) => {
    asked.push([req.idempotencyKey, req.amount]);
    const r = await charge(req);
    if (failAfterCapture && req.idempotencyKey === failAfterCapture) {
      failAfterCapture = null;
      throw new Error('connection terminated after the capture');
    }
    return r;
  };
  for (const acc of ACCOUNTS) {
    await account(h, acc, { customerId: `cus_${acc}`, paymentTermsDays: 3, autopayToken: `tok_visa_${acc}` });
    await subscribe(h, acc, `sub_${acc}`, 'postpaid20', '2026-08-01T00:00:00Z');
  }
});
afterAll(async () => h?.svc.close());

/**
 * The September invoice (35.69) with two disputes opened before its due date (a: 5.00 of its first
 * line, b: 3.00 of the invoice), charged its undisputed 27.69 on the due date.
 */
async function twoDisputesCharged(acc: string): Promise<{ inv: any; a: string; b: string }> {
  h.clock.set(new Date('2026-10-01T08:00:00Z'));
  const inv = (await h.gql<any>(CLOSE, { i: { billingAccountId: acc, periodStart: '2026-08-31T22:00:00Z', periodEnd: '2026-09-30T22:00:00Z' } })).closeBillingPeriod.billingPeriod.invoice;
  expect(inv).toMatchObject({ state: 'SENT', total: { amount: '35.69' } });
  const cus = customer(`cus_${acc}`);
  const a = (await as(cus, OPEN, { i: { invoiceId: inv.id, invoiceLineId: inv.lines[0].id, amount: '5.00', reason: 'A roaming day I never had', idempotencyKey: `${acc}-a` } })).openDispute.dispute.id;
  const b = (await as(cus, OPEN, { i: { invoiceId: inv.id, amount: '3.00', reason: 'A fee I did not agree to', idempotencyKey: `${acc}-b` } })).openDispute.dispute.id;
  h.clock.set(new Date('2026-10-04T09:00:00Z'));
  await h.gql(JOB);
  expect(cardCharges(inv.id), 'the undisputed 27.69 on the due date').toEqual([[`autopay:${inv.id}`, '27.69']]);
  expect(await view(inv.id)).toEqual({ state: 'ON_HOLD', amountDue: '8', amountPaid: '27.69', amountDisputed: '8' });
  return { inv, a, b };
}

/** Decides a, then b, a minute apart (a's release is the older: its attempt is made first). */
async function decideBoth(a: string, aDecision: Record<string, unknown>, b: string, bDecision: Record<string, unknown>) {
  h.clock.set(new Date('2026-10-10T09:00:00Z'));
  await as(AGENT, DECIDE, { i: { disputeId: a, ...aDecision } });
  h.clock.set(new Date('2026-10-10T09:01:00Z'));
  await as(AGENT, DECIDE, { i: { disputeId: b, ...bDecision } });
}
const REJECT = { decision: 'REJECT', note: 'It is in the usage records' };

describe('autopay on an invoice whose two disputes both closed before one pass of the due-date job', () => {
  it('both rejected: each release attempt charges its own dispute (5.00, 3.00), together what was due; two passes at once charge each once', async () => {
    const { inv, a, b } = await twoDisputesCharged('acc_aps_rej');
    await decideBoth(a, REJECT, b, REJECT);
    expect(await view(inv.id), 'released from both holds').toEqual({ state: 'PARTIALLY_PAID', amountDue: '8', amountPaid: '27.69', amountDisputed: '0' });
    // Two passes at once (two replicas of the job, a redelivered nudge): one charge per release.
    const [p, q] = await Promise.all([h.gql<any>(JOB), h.gql<any>(JOB)]);
    expect(p.runDueDateJob.autopaid + q.runDueDateJob.autopaid, 'two releases charged, by whichever pass').toBe(2);
    await h.gql(JOB);
    expect(await releasesOf(inv.id), 'each attempt carries its own dispute’s release').toEqual([
      [2, 'SUCCEEDED', '5.00', `autopay:${inv.id}:released:${a}`, a],
      [3, 'SUCCEEDED', '3.00', `autopay:${inv.id}:released:${b}`, b],
    ]);
    expect(cardCharges(inv.id)).toEqual([
      [`autopay:${inv.id}`, '27.69'],
      [`autopay:${inv.id}:released:${a}`, '5.00'],
      [`autopay:${inv.id}:released:${b}`, '3.00'],
    ]);
    expect(await view(inv.id), 'the two together are what was due').toEqual({ state: 'SETTLED', amountDue: '0', amountPaid: '35.69', amountDisputed: '0' });
    expect(wasDunned(inv.id)).toBe(0);
  });

  it('the first accepted (credited), the second rejected: nothing charged against the credited dispute, the 3.00 against the rejected one', async () => {
    const { inv, a, b } = await twoDisputesCharged('acc_aps_acc');
    await decideBoth(a, { decision: 'ACCEPT', note: 'Upheld' }, b, REJECT);
    expect(await view(inv.id)).toEqual({ state: 'PARTIALLY_PAID', amountDue: '3', amountPaid: '27.69', amountDisputed: '0' });
    await h.gql(JOB);
    await h.gql(JOB);
    expect(await releasesOf(inv.id)).toEqual([
      [2, 'NOTHING_OWED', null, null, a],
      [3, 'SUCCEEDED', '3.00', `autopay:${inv.id}:released:${b}`, b],
    ]);
    expect(cardCharges(inv.id)).toEqual([
      [`autopay:${inv.id}`, '27.69'],
      [`autopay:${inv.id}:released:${b}`, '3.00'],
    ]);
    expect(await view(inv.id)).toMatchObject({ state: 'SETTLED', amountDue: '0' });
    expect(wasDunned(inv.id)).toBe(0);
  });

  it('the first accepted in part (2.00 of 5.00 credited), the second rejected: 3.00 against each', async () => {
    const { inv, a, b } = await twoDisputesCharged('acc_aps_part');
    await decideBoth(a, { decision: 'ACCEPT', amount: '2.00', note: 'Upheld in part' }, b, REJECT);
    expect(await view(inv.id)).toMatchObject({ state: 'PARTIALLY_PAID', amountDue: '6' });
    await h.gql(JOB);
    await h.gql(JOB);
    expect(await releasesOf(inv.id)).toEqual([
      [2, 'SUCCEEDED', '3.00', `autopay:${inv.id}:released:${a}`, a],
      [3, 'SUCCEEDED', '3.00', `autopay:${inv.id}:released:${b}`, b],
    ]);
    expect(await view(inv.id)).toMatchObject({ state: 'SETTLED', amountDue: '0' });
    expect(wasDunned(inv.id)).toBe(0);
  });

  it('the first release captured but its answer lost: retried as fixed with the same key and amount, then the second charged its own', async () => {
    const { inv, a, b } = await twoDisputesCharged('acc_aps_lost');
    await decideBoth(a, REJECT, b, REJECT);
    failAfterCapture = `autopay:${inv.id}:released:${a}`;
    expect((await h.gql<any>(JOB)).runDueDateJob.autopaid, 'the pass failed after the capture; the second waits for it').toBe(0);
    expect(await releasesOf(inv.id)).toEqual([[2, 'STARTED', '5.00', `autopay:${inv.id}:released:${a}`, a]]);
    expect(wasDunned(inv.id), 'not dunned while a release is STARTED').toBe(0);
    await h.gql(JOB);
    await h.gql(JOB);
    expect(asked.filter(([key]) => key.startsWith(`autopay:${inv.id}:released`)), 'the retry asked the same charge again').toEqual([
      [`autopay:${inv.id}:released:${a}`, '5.00'],
      [`autopay:${inv.id}:released:${a}`, '5.00'],
      [`autopay:${inv.id}:released:${b}`, '3.00'],
    ]);
    expect(await releasesOf(inv.id)).toEqual([
      [2, 'SUCCEEDED', '5.00', `autopay:${inv.id}:released:${a}`, a],
      [3, 'SUCCEEDED', '3.00', `autopay:${inv.id}:released:${b}`, b],
    ]);
    expect(await view(inv.id)).toEqual({ state: 'SETTLED', amountDue: '0', amountPaid: '35.69', amountDisputed: '0' });
    expect(wasDunned(inv.id)).toBe(0);
  });

  it('the card declines: each release declined for its own amount, dunned once for what is due', async () => {
    const { inv, a, b } = await twoDisputesCharged('acc_aps_decl');
    await account(h, 'acc_aps_decl', { customerId: 'cus_acc_aps_decl', paymentTermsDays: 3, autopayToken: 'tok_decline' });
    await decideBoth(a, REJECT, b, REJECT);
    expect((await h.gql<any>(JOB)).runDueDateJob).toMatchObject({ autopaid: 0, declined: 2 });
    await h.gql(JOB);
    expect(await releasesOf(inv.id)).toEqual([
      [2, 'DECLINED', '5.00', `autopay:${inv.id}:released:${a}`, a],
      [3, 'DECLINED', '3.00', `autopay:${inv.id}:released:${b}`, b],
    ]);
    expect(await view(inv.id)).toMatchObject({ state: 'PARTIALLY_PAID', amountDue: '8' });
    expect(wasDunned(inv.id), 'dunned once for the 8.00').toBe(1);
  });
});
