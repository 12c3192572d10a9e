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
import { account, type Harness } from './support';
import { agent, disputeCalls, disputeMutations } from './dispute-support';
import { JOB, autopayCalls } from './autopay-support';

let h: Harness;
const { startWithAutopayAccounts, failAfterCapture, asked, view, cardCharges, attemptsOf, wasDunned, twoDisputesCharged } = autopayCalls(() => h);
const { DECIDE } = disputeMutations('id status');
const { as } = disputeCalls(() => h);
const AGENT = agent('agent-autopay-split');
/** The release attempts (after the due-date one) as [attempt, state, amount, key, dispute], amounts with two decimals. */
const releasesOf = (invoiceId: string) => attemptsOf(invoiceId, { releasesOnly: true });

const ACCOUNTS = ['acc_aps_rej', 'acc_aps_acc', 'acc_aps_part', 'acc_aps_lost', 'acc_aps_decl'];

beforeAll(async () => {
  h = await startWithAutopayAccounts(ACCOUNTS);
});
afterAll(async () => h?.svc.close());

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
    failAfterCapture(`autopay:${inv.id}:released:${a}`);
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
