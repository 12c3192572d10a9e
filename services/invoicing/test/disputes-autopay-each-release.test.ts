// Autopay charges each release of a disputed amount, not only the last one.
// Since 2098dff the due-date job charges an autopay invoice's undisputed part on its due date and the
// disputed rest once the invoice is released from its dispute hold. With two disputes open on one
// invoice, closing one of them (rejected: its amount is due again) left the invoice ON_HOLD for the
// other: the released amount was not charged to the card until the other dispute closed too (that
// second attempt waited for the invoice's release), and the dunning pass, seeing an ON_HOLD invoice
// owing more than is disputed, dunned it instead — reminders, a late fee and a suspension for an
// autopay customer whose card was never asked.
// Now every dispute closed after the due-date attempt gives the invoice a release attempt of its own
// (`autopay_attempt` numbered 2, 3, … per invoice, `dispute_id` the released dispute, provider key
// `autopay:<invoiceId>:released:<disputeId>`), made once by the due-date job: it charges what is due
// then (owed less what is still disputed; nothing: NOTHING_OWED), fixed STARTED first and retried as
// fixed like the other attempts. Dunning waits for a release not yet charged as it waits for the others.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { account, type Harness } from './support';
import { agent, disputeCalls, disputeMutations } from './dispute-support';
import { JOB, autopayCalls } from './autopay-support';

let h: Harness;
const { startWithAutopayAccounts, failAfterCapture, view, cardCharges, attemptsOf, wasDunned, twoDisputesCharged } = autopayCalls(() => h);
const { DECIDE } = disputeMutations('id status');
const { as, db } = disputeCalls(() => h);
const AGENT = agent('agent-autopay-each');

beforeAll(async () => {
  h = await startWithAutopayAccounts(['acc_ape_rej', 'acc_ape_lost', 'acc_ape_decl', 'acc_ape_acc', 'acc_ape_old']);
});
afterAll(async () => h?.svc.close());

describe('autopay on an invoice with two disputes, one closed before the other', () => {
  it('rejected while the other is open: its 5.00 is charged to the card once at once, the other rest when that one is rejected; never dunned', async () => {
    const { inv, a, b } = await twoDisputesCharged('acc_ape_rej');
    h.clock.set(new Date('2026-10-10T09:00:00Z'));
    await as(AGENT, DECIDE, { i: { disputeId: a, decision: 'REJECT', note: 'The roaming day is in the usage records' } });
    expect(await view(inv.id), 'still held for the other dispute only').toEqual({ state: 'ON_HOLD', amountDue: '8', amountPaid: '27.69', amountDisputed: '3' });
    // Two passes at once (two replicas of the job, a nudge during a pass): one charge.
    const [p, q] = await Promise.all([h.gql<any>(JOB), h.gql<any>(JOB)]);
    expect(cardCharges(inv.id), 'the 5.00 the rejection made due again, charged to the card').toEqual([
      [`autopay:${inv.id}`, '27.69'],
      [`autopay:${inv.id}:released:${a}`, '5.00'],
    ]);
    expect(p.runDueDateJob.autopaid + q.runDueDateJob.autopaid, 'charged by one of the passes').toBe(1);
    expect(await view(inv.id)).toEqual({ state: 'ON_HOLD', amountDue: '3', amountPaid: '32.69', amountDisputed: '3' });
    expect(wasDunned(inv.id), 'paid by card: not dunned').toBe(0);
    h.clock.set(new Date('2026-10-20T09:00:00Z'));
    await h.gql(JOB);
    expect(cardCharges(inv.id), 'once').toHaveLength(2);
    expect(wasDunned(inv.id), 'what is owed is disputed: not dunned').toBe(0);

    await as(AGENT, DECIDE, { i: { disputeId: b, decision: 'REJECT', note: 'The fee is in your contract' } });
    const job = (await h.gql<any>(JOB)).runDueDateJob;
    expect(job).toMatchObject({ autopaid: 1, declined: 0 });
    await h.gql(JOB);
    expect(cardCharges(inv.id)).toEqual([
      [`autopay:${inv.id}`, '27.69'],
      [`autopay:${inv.id}:released:${a}`, '5.00'],
      [`autopay:${inv.id}:released:${b}`, '3.00'],
    ]);
    expect(await view(inv.id)).toEqual({ state: 'SETTLED', amountDue: '0', amountPaid: '35.69', amountDisputed: '0' });
    expect(wasDunned(inv.id), 'never dunned').toBe(0);
    expect(await attemptsOf(inv.id)).toEqual([
      [1, 'SUCCEEDED', '27.69', `autopay:${inv.id}`, null],
      [2, 'SUCCEEDED', '5.00', `autopay:${inv.id}:released:${a}`, a],
      [3, 'SUCCEEDED', '3.00', `autopay:${inv.id}:released:${b}`, b],
    ]);
  });

  it('accepted while the other is open: nothing more is due, nothing charged; the other rejected is charged', async () => {
    const { inv, a, b } = await twoDisputesCharged('acc_ape_acc');
    await as(AGENT, DECIDE, { i: { disputeId: a, decision: 'ACCEPT', note: 'Upheld' } });
    await h.gql(JOB);
    expect(cardCharges(inv.id)).toEqual([[`autopay:${inv.id}`, '27.69']]);
    expect(await view(inv.id)).toEqual({ state: 'ON_HOLD', amountDue: '3', amountPaid: '27.69', amountDisputed: '3' });
    expect(wasDunned(inv.id)).toBe(0);
    await as(AGENT, DECIDE, { i: { disputeId: b, decision: 'REJECT', note: 'The fee is in your contract' } });
    await h.gql(JOB);
    expect(cardCharges(inv.id)).toEqual([
      [`autopay:${inv.id}`, '27.69'],
      [`autopay:${inv.id}:released:${b}`, '3.00'],
    ]);
    expect(await view(inv.id)).toMatchObject({ state: 'SETTLED', amountDue: '0' });
    expect((await attemptsOf(inv.id)).map((t) => [t[0], t[1], t[4]])).toEqual([
      [1, 'SUCCEEDED', null],
      [2, 'NOTHING_OWED', a],
      [3, 'SUCCEEDED', b],
    ]);
    expect(wasDunned(inv.id)).toBe(0);
  });

  it('the first release captured but its answer lost, the other closed meanwhile: retried as fixed, then the other charged for what is left, not dunned', async () => {
    const { inv, a, b } = await twoDisputesCharged('acc_ape_lost');
    await as(AGENT, DECIDE, { i: { disputeId: a, decision: 'REJECT', note: 'It is yours' } });
    failAfterCapture(`autopay:${inv.id}:released:${a}`);
    const first = (await h.gql<any>(JOB)).runDueDateJob;
    expect(first.autopaid, 'the pass failed after the capture').toBe(0);
    expect(wasDunned(inv.id), 'no dunning while the release attempt is open').toBe(0);
    // The other dispute closes before the lost answer is recorded: its charge must not take the 5.00 again.
    await as(AGENT, DECIDE, { i: { disputeId: b, decision: 'REJECT', note: 'It is yours' } });
    expect(await view(inv.id)).toMatchObject({ state: 'PARTIALLY_PAID', amountDue: '8' });
    await h.gql(JOB);
    await h.gql(JOB);
    expect(cardCharges(inv.id), 'one capture for each release, the second for what the first left').toEqual([
      [`autopay:${inv.id}`, '27.69'],
      [`autopay:${inv.id}:released:${a}`, '5.00'],
      [`autopay:${inv.id}:released:${b}`, '3.00'],
    ]);
    expect(await view(inv.id)).toEqual({ state: 'SETTLED', amountDue: '0', amountPaid: '35.69', amountDisputed: '0' });
    expect(wasDunned(inv.id)).toBe(0);
  });

  it('the release declined while the other is open: dunning takes over the rest, once', async () => {
    const { inv, a } = await twoDisputesCharged('acc_ape_decl');
    // The customer's card changes meanwhile to one that declines.
    await account(h, 'acc_ape_decl', { customerId: 'cus_acc_ape_decl', paymentTermsDays: 3, autopayToken: 'tok_decline' });
    await as(AGENT, DECIDE, { i: { disputeId: a, decision: 'REJECT', note: 'It is yours' } });
    const job = (await h.gql<any>(JOB)).runDueDateJob;
    expect(job).toMatchObject({ autopaid: 0, declined: 1 });
    expect(wasDunned(inv.id), 'dunned for the rest (the workflow holds for what is still disputed)').toBe(1);
    await h.gql(JOB);
    expect(wasDunned(inv.id)).toBe(1);
    expect((await attemptsOf(inv.id)).map((t) => [t[0], t[1], t[4]])).toEqual([
      [1, 'SUCCEEDED', null],
      [2, 'DECLINED', a],
    ]);
  });

  it('an attempt of the earlier design (one attempt 2 for the whole release, no dispute) stays valid: retried as fixed, no per-dispute attempt beside it', async () => {
    const { inv } = await twoDisputesCharged('acc_ape_old');
    const [a, b] = ((await db().execute(`select id from dispute where invoice_id = ? order by created_at, id`, [inv.id])) as any[]).map((d) => d.id);
    for (const id of [a, b]) await as(AGENT, DECIDE, { i: { disputeId: id, decision: 'REJECT', note: 'It is yours' } });
    // As the earlier code fixed it once the invoice was released, its answer lost before the upgrade.
    await db().execute(
      `insert into autopay_attempt (invoice_id, attempt, billing_account_id, state, amount, currency, payment_method_token, idempotency_key, attempted_at)
       values (?, 2, 'acc_ape_old', 'STARTED', 8.00, 'EUR', 'tok_visa_acc_ape_old', ?, ?)`,
      [inv.id, `autopay:${inv.id}:released`, new Date('2026-10-04T09:00:00Z')],
    );
    expect((await h.gql<any>(JOB)).runDueDateJob).toMatchObject({ autopaid: 1, declined: 0 });
    await h.gql(JOB);
    expect(cardCharges(inv.id)).toEqual([
      [`autopay:${inv.id}`, '27.69'],
      [`autopay:${inv.id}:released`, '8.00'],
    ]);
    expect(await attemptsOf(inv.id)).toEqual([
      [1, 'SUCCEEDED', '27.69', `autopay:${inv.id}`, null],
      [2, 'SUCCEEDED', '8.00', `autopay:${inv.id}:released`, null],
    ]);
    expect(await view(inv.id)).toMatchObject({ state: 'SETTLED', amountDue: '0' });
    expect(wasDunned(inv.id)).toBe(0);
  });
});
