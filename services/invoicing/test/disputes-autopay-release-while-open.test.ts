// Autopay charges money a dispute gives back while it stays open, not only what its closing releases.
// Since the per-dispute releases (c78e51f) an autopay invoice held for a dispute is charged its
// undisputed part on the due date and each dispute closed after that gets a release attempt of its
// own, charging what that dispute released when it closed. Money made due again WITHOUT a dispute
// closing was no release: a staff hold lowered (`disputeInvoice` with a lower amount: 10.00 set to
// 4.00 frees 6.00), or a re-rate crediting part of a disputed usage record on the next invoice (the
// dispute stays open for the rest, the credited part leaves this invoice's hold). The due-date job saw
// an ON_HOLD invoice owing more than is disputed and dunned it (reminders, a late fee, a suspension)
// while the customer's card was never asked, and the dispute's later closing charged only what it
// still held.
// Now each amount a dispute gives back while open is recorded (`dispute_release`, numbered 1, 2, … per
// dispute) and charged once by a release attempt of its own (`autopay_attempt.release_seq`, unique per
// invoice, dispute and release; key `autopay:<invoiceId>:released:<disputeId>:<n>`); the closing stays
// release 0 with its key `autopay:<invoiceId>:released:<disputeId>`. Dunning waits for these as for the
// others; a declined one is dunned once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { account, charges, type Harness } from './support';
import { agent, customer, disputeCalls, disputeMutations } from './dispute-support';
import { CLOSE, JOB, autopayCalls } from './autopay-support';

let h: Harness;
const autopay = autopayCalls(() => h);
const { startWithAutopayAccounts, failAfterCapture, view, cardCharges, wasDunned, septemberHeldThenCharged } = autopay;
const HOLD = 'mutation($i: DisputeInvoiceInput!) { disputeInvoice(input: $i) { invoice { id state } } }';
const { OPEN, DECIDE } = disputeMutations('id status amount { amount }');
const { as, db } = disputeCalls(() => h);
const AGENT = agent('agent-autopay-while-open');
/** The invoice's autopay attempts as [attempt, state, amount, key, dispute], amounts with two decimals. */
const attemptsOf = (invoiceId: string) => autopay.attemptsOf(invoiceId);

beforeAll(async () => {
  h = await startWithAutopayAccounts(['acc_apw_rej', 'acc_apw_acc', 'acc_apw_decl', 'acc_apw_rr']);
});
afterAll(async () => h?.svc.close());

/** The September invoice (35.69) held 10.00 by staff before its due date, charged its undisputed 25.69 on the due date; the hold then lowered to 4.00. */
async function heldChargedLowered(acc: string): Promise<{ inv: string; d: string }> {
  const { inv, d } = await septemberHeldThenCharged(acc, '25.69', async (inv) => {
    await as(AGENT, HOLD, { i: { invoiceId: inv.id, amount: '10.00', reason: 'Roaming under review' } });
    const [{ id: d }] = (await db().execute(`select id from dispute where invoice_id = ?`, [inv.id])) as any[];
    return { d: d as string };
  });
  h.clock.set(new Date('2026-10-08T09:00:00Z'));
  await as(AGENT, HOLD, { i: { invoiceId: inv.id, amount: '4.00', reason: 'Roaming under review' } });
  expect(await view(inv.id), 'the 6.00 the lowering freed is due again').toEqual({ state: 'ON_HOLD', amountDue: '10', amountPaid: '25.69', amountDisputed: '4' });
  return { inv: inv.id, d };
}

describe('autopay on money a dispute gives back while it stays open', () => {
  it('a staff hold lowered from 10.00 to 4.00: the 6.00 charged once (two passes at once), not dunned; then rejected: the 4.00 charged', async () => {
    const { inv, d } = await heldChargedLowered('acc_apw_rej');
    const [p, q] = await Promise.all([h.gql<any>(JOB), h.gql<any>(JOB)]);
    expect(cardCharges(inv), 'the 6.00 charged to the card').toEqual([
      [`autopay:${inv}`, '25.69'],
      [`autopay:${inv}:released:${d}:1`, '6.00'],
    ]);
    expect(p.runDueDateJob.autopaid + q.runDueDateJob.autopaid, 'by one of the passes').toBe(1);
    expect(await view(inv)).toEqual({ state: 'ON_HOLD', amountDue: '4', amountPaid: '31.69', amountDisputed: '4' });
    expect(wasDunned(inv), 'paid by card: not dunned').toBe(0);
    h.clock.set(new Date('2026-10-20T09:00:00Z'));
    await h.gql(JOB);
    expect(cardCharges(inv), 'once').toHaveLength(2);
    expect(wasDunned(inv), 'what is owed is disputed: not dunned').toBe(0);

    await as(AGENT, DECIDE, { i: { disputeId: d, decision: 'REJECT', note: 'The roaming is in the records' } });
    expect((await h.gql<any>(JOB)).runDueDateJob).toMatchObject({ autopaid: 1, declined: 0 });
    await h.gql(JOB);
    expect(cardCharges(inv), 'the closing charges what the dispute still held').toEqual([
      [`autopay:${inv}`, '25.69'],
      [`autopay:${inv}:released:${d}:1`, '6.00'],
      [`autopay:${inv}:released:${d}`, '4.00'],
    ]);
    expect(await view(inv)).toEqual({ state: 'SETTLED', amountDue: '0', amountPaid: '35.69', amountDisputed: '0' });
    expect(wasDunned(inv), 'never dunned').toBe(0);
    expect(await attemptsOf(inv)).toEqual([
      [1, 'SUCCEEDED', '25.69', `autopay:${inv}`, null],
      [2, 'SUCCEEDED', '6.00', `autopay:${inv}:released:${d}:1`, d],
      [3, 'SUCCEEDED', '4.00', `autopay:${inv}:released:${d}`, d],
    ]);
  });

  it('lowered, its answer lost and retried as fixed; then accepted: nothing more is charged', async () => {
    const { inv, d } = await heldChargedLowered('acc_apw_acc');
    failAfterCapture(`autopay:${inv}:released:${d}:1`);
    expect((await h.gql<any>(JOB)).runDueDateJob.autopaid, 'the pass failed after the capture').toBe(0);
    expect(wasDunned(inv), 'no dunning while the release attempt is open').toBe(0);
    await h.gql(JOB);
    expect(cardCharges(inv)).toEqual([
      [`autopay:${inv}`, '25.69'],
      [`autopay:${inv}:released:${d}:1`, '6.00'],
    ]);
    expect(await view(inv)).toEqual({ state: 'ON_HOLD', amountDue: '4', amountPaid: '31.69', amountDisputed: '4' });
    await as(AGENT, DECIDE, { i: { disputeId: d, decision: 'ACCEPT', note: 'Roaming billed in error' } });
    await h.gql(JOB);
    await h.gql(JOB);
    expect(cardCharges(inv), 'the credit note took the 4.00').toHaveLength(2);
    expect(await view(inv)).toMatchObject({ state: 'SETTLED', amountDue: '0', amountPaid: '31.69' });
    expect((await attemptsOf(inv)).map((t) => [t[0], t[1], t[4]])).toEqual([
      [1, 'SUCCEEDED', null],
      [2, 'SUCCEEDED', d],
      [3, 'NOTHING_OWED', d],
    ]);
    expect(wasDunned(inv)).toBe(0);
  });

  it('lowered with a card that now declines: dunned once for what is owed beyond the hold', async () => {
    const { inv, d } = await heldChargedLowered('acc_apw_decl');
    await account(h, 'acc_apw_decl', { customerId: 'cus_acc_apw_decl', paymentTermsDays: 3, autopayToken: 'tok_decline' });
    expect((await h.gql<any>(JOB)).runDueDateJob).toMatchObject({ autopaid: 0, declined: 1 });
    expect(wasDunned(inv), 'dunned for the 6.00 (the workflow holds for the 4.00 still disputed)').toBe(1);
    await h.gql(JOB);
    expect(wasDunned(inv)).toBe(1);
    await as(AGENT, DECIDE, { i: { disputeId: d, decision: 'REJECT', note: 'It is yours' } });
    await h.gql(JOB);
    await h.gql(JOB);
    expect(wasDunned(inv), 'the same dunning goes on').toBe(1);
    expect((await attemptsOf(inv)).map((t) => [t[0], t[1], t[3], t[4]])).toEqual([
      [1, 'SUCCEEDED', `autopay:${inv}`, null],
      [2, 'DECLINED', `autopay:${inv}:released:${d}:1`, d],
      [3, 'DECLINED', `autopay:${inv}:released:${d}`, d],
    ]);
  });

  it('a re-rate credits part of a disputed usage record on the next invoice: the part it released from this one is charged, then accepted: nothing more', async () => {
    const acc = 'acc_apw_rr';
    const record = 'usg_apw_rr';
    h.clock.set(new Date('2026-10-01T08:00:00Z'));
    const usage = { chargeId: record, billingAccountId: acc, lineId: `lin_sub_${acc}`, usageType: 'DATA', zone: 'EU_ROAMING', units: '100', unit: 'MB', amount: '10.00', currency: 'EUR', occurredAt: '2026-09-10T10:00:00Z' };
    await charges(h, [usage]);
    const sep = (await h.gql<any>(CLOSE, { i: { billingAccountId: acc, periodStart: '2026-08-31T22:00:00Z', periodEnd: '2026-09-30T22:00:00Z' } })).closeBillingPeriod.billingPeriod.invoice;
    expect(sep.total.amount).toBe('47.59'); // 35.69 + 11.90 roaming
    const d = (await as(customer(`cus_${acc}`), OPEN, { i: { invoiceId: sep.id, usageRecordId: record, amount: '11.90', reason: 'Roaming was free', idempotencyKey: 'apw-rr' } })).openDispute.dispute.id;
    h.clock.set(new Date('2026-10-04T09:00:00Z'));
    await h.gql(JOB);
    expect(cardCharges(sep.id)).toEqual([[`autopay:${sep.id}`, '35.69']]);

    // The record re-rated at half the price: its correction (-5.00, 5.95 gross) is billed on October and
    // takes that much of the dispute, which stays open for the rest.
    await charges(h, [{ ...usage, chargeId: `${record}:rerate:2`, amount: '-5.00', units: '0', usageRecordId: record }]);
    h.clock.set(new Date('2026-11-01T08:00:00Z'));
    await h.gql(CLOSE, { i: { billingAccountId: acc, periodStart: '2026-09-30T22:00:00Z', periodEnd: '2026-10-31T23:00:00Z' } });
    expect(await view(sep.id)).toEqual({ state: 'ON_HOLD', amountDue: '11.9', amountPaid: '35.69', amountDisputed: '5.95' });
    await Promise.all([h.gql(JOB), h.gql(JOB)]);
    expect(cardCharges(sep.id), 'the 5.95 released from September').toEqual([
      [`autopay:${sep.id}`, '35.69'],
      [`autopay:${sep.id}:released:${d}:1`, '5.95'],
    ]);
    expect(wasDunned(sep.id)).toBe(0);
    await as(AGENT, DECIDE, { i: { disputeId: d, decision: 'ACCEPT', note: 'Roaming was free' } });
    await h.gql(JOB);
    expect(cardCharges(sep.id)).toHaveLength(2);
    expect(await view(sep.id)).toMatchObject({ state: 'SETTLED', amountDue: '0', amountPaid: '41.64' });
    expect(wasDunned(sep.id)).toBe(0);
  });
});
