// Review 19: a customer disputes a rated usage record (a roaming charge billed in error); operations
// re-rate the period, and the correction of that record reaches invoicing as an adjustment charge,
// billed as a credit (ADJUSTMENT line) on the next invoice. The dispute is still open; when it is
// accepted (by an agent, or by the workflow at the final SLA breach), it credits the record's charge a
// second time: the customer gets the roaming charge back twice.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dec } from '@ledgerline/contracts';
import { charges, startHarness, type Harness } from './support';
import { agent, closedSeptember, customer, disputeCalls, disputeMutations, NO_DISPUTE_WORKFLOW } from './dispute-support';

let h: Harness;
const pokes: string[] = [];
const D = 'id status amount { amount } creditedAmount { amount } creditNoteId';
const { OPEN, DECIDE } = disputeMutations(D);
const { as, refusal } = disputeCalls(() => h);
const INVOICE = `query($id: ID!) { invoice(id: $id) { id state lines { id kind zone grossAmount { amount } creditedAmount { amount } } creditNotes { total { amount } } } }`;
const invoice = async (id: string) => (await h.gql<any>(INVOICE, { id })).invoice;
const usage = (acc: string, chargeId: string, amount: string, units: string) => ({
  chargeId, billingAccountId: acc, lineId: `lin_sub_${acc}`, usageType: 'DATA', zone: 'EU_ROAMING', units, unit: 'MB', amount, currency: 'EUR', occurredAt: '2026-09-10T10:00:00Z',
});

beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false, disputes: { ...NO_DISPUTE_WORKFLOW, poke: async (id) => void pokes.push(id) } });
});
afterAll(async () => h?.svc.close());

describe('review 19: a disputed usage record that is re-rated', () => {
  it('is not credited twice: once by the re-rate adjustment on the next invoice and again by accepting the dispute', async () => {
    const acc = 'acc_r19_rr';
    const record = 'usg_r19_roam';
    const sep = await closedSeptember(h, acc, 'cus_r19_rr', () => charges(h, [usage(acc, record, '10.00', '100')]));
    expect(sep.state).toBe('SENT');
    const roaming = (await invoice(sep.id)).lines.find((l: any) => l.kind === 'USAGE' && l.zone === 'EU_ROAMING');
    expect(roaming.grossAmount.amount).toBe('11.9'); // 10.00 + 19 % tax

    // The customer disputes the record in full.
    const dispute = (await as(customer('cus_r19_rr'), OPEN, { i: { invoiceId: sep.id, usageRecordId: record, amount: '11.90', reason: 'I was at home', idempotencyKey: 'r19-rr' } })).openDispute.dispute;
    expect(dispute.status).toBe('OPEN');

    // Operations re-rate September: the record's correction (-10.00) arrives as its adjustment charge
    // and is billed on October as a credit of the invoiced September.
    await charges(h, [{ ...usage(acc, `${record}:rerate:2`, '-10.00', '0'), usageRecordId: record }]);
    h.clock.set(new Date('2026-11-01T08:00:00Z'));
    const oct = (await h.gql<any>('mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { invoice { id } } } }', {
      i: { billingAccountId: acc, periodStart: '2026-09-30T22:00:00Z', periodEnd: '2026-10-31T23:00:00Z' },
    })).closeBillingPeriod.billingPeriod.invoice;
    const adjustment = (await invoice(oct.id)).lines.filter((l: any) => l.kind === 'ADJUSTMENT');
    expect(adjustment.map((l: any) => l.grossAmount.amount)).toEqual(['-11.9']);
    expect(pokes).toContain(dispute.id); // the bill closed it: its workflow looks again
    const givenBack = dec('11.90');

    // The dispute is accepted (an agent, as the workflow would at the final breach).
    const decided = await h.svc.request<any>(DECIDE, { i: { disputeId: dispute.id, decision: 'ACCEPT', note: 'Roaming billed in error' } }, agent('agent-r19'));
    const notes = (await invoice(sep.id)).creditNotes.reduce((s: any, n: any) => s.plus(n.total.amount), dec('0'));
    // Now: the dispute is ACCEPTED with a credit note of 11.90 on September, on top of October's
    // -11.90 adjustment: 23.80 given back for an 11.90 charge.
    expect({ creditNotes: notes.toFixed(2), adjustment: givenBack.toFixed(2), total: notes.plus(givenBack).toFixed(2), status: decided.data?.decideDispute?.dispute?.status ?? decided.errors?.[0]?.extensions?.reason })
      .toMatchObject({ total: '11.90' });
    // Fixed: billing the correction closed the dispute, ACCEPTED for what it gave back (no note of its
    // own), and released September's hold; the agent's ACCEPT is answered as it is.
    expect(decided.data?.decideDispute?.dispute).toMatchObject({ status: 'ACCEPTED', creditedAmount: { amount: '11.9' }, creditNoteId: null });
    expect((await invoice(sep.id)).state).toBe('SENT');
  });

  it('reverse order: a dispute accepted (credit note) before the re-rate: the correction credits nothing again', async () => {
    h.clock.set(new Date('2026-10-01T08:00:00Z'));
    const acc = 'acc_r19_rev';
    const record = 'usg_r19_rev';
    const sep = await closedSeptember(h, acc, 'cus_r19_rev', () => charges(h, [usage(acc, record, '10.00', '100')]));
    const dispute = (await as(customer('cus_r19_rev'), OPEN, { i: { invoiceId: sep.id, usageRecordId: record, amount: '11.90', reason: 'I was at home', idempotencyKey: 'r19-rev' } })).openDispute.dispute;
    const accepted = await as(agent('agent-r19'), DECIDE, { i: { disputeId: dispute.id, decision: 'ACCEPT', note: 'Roaming billed in error' } });
    expect(accepted.decideDispute.dispute).toMatchObject({ status: 'ACCEPTED', creditedAmount: { amount: '11.9' } });

    // Operations re-rate September afterwards: the record's correction (-10.00) arrives, and twice (redelivered).
    const correction = { ...usage(acc, `${record}:rerate:2`, '-10.00', '0'), usageRecordId: record };
    await charges(h, [correction]);
    await charges(h, [correction]);
    h.clock.set(new Date('2026-11-01T08:00:00Z'));
    const oct = await closeOctober(acc);
    const adjustment = (await invoice(oct.id)).lines.filter((l: any) => l.kind === 'ADJUSTMENT').reduce((s: any, l: any) => s.plus(l.grossAmount.amount), dec('0'));
    const notes = (await invoice(sep.id)).creditNotes.reduce((s: any, n: any) => s.plus(n.total.amount), dec('0'));
    expect({ creditNotes: notes.toFixed(2), adjustment: adjustment.toFixed(2), total: notes.minus(adjustment).toFixed(2) }).toEqual({ creditNotes: '11.90', adjustment: '0.00', total: '11.90' });
  });

  it('a re-rate to a lower price: the dispute is reduced by the correction, its acceptance credits the rest only', async () => {
    h.clock.set(new Date('2026-10-01T08:00:00Z'));
    const acc = 'acc_r19_part';
    const record = 'usg_r19_part';
    const sep = await closedSeptember(h, acc, 'cus_r19_part', () => charges(h, [usage(acc, record, '10.00', '100')]));
    const dispute = (await as(customer('cus_r19_part'), OPEN, { i: { invoiceId: sep.id, usageRecordId: record, amount: '11.90', reason: 'Roaming was free', idempotencyKey: 'r19-part' } })).openDispute.dispute;
    await charges(h, [{ ...usage(acc, `${record}:rerate:2`, '-5.00', '0'), usageRecordId: record }]);
    h.clock.set(new Date('2026-11-01T08:00:00Z'));
    const oct = await closeOctober(acc);
    const adjustment = (await invoice(oct.id)).lines.filter((l: any) => l.kind === 'ADJUSTMENT').reduce((s: any, l: any) => s.plus(l.grossAmount.amount), dec('0'));
    expect(adjustment.toFixed(2)).toBe('-5.95');
    const decided = await as(agent('agent-r19'), DECIDE, { i: { disputeId: dispute.id, decision: 'ACCEPT', note: 'Roaming was free' } });
    expect(decided.decideDispute.dispute).toMatchObject({ status: 'ACCEPTED', amount: { amount: '5.95' }, creditedAmount: { amount: '5.95' } });
    const notes = (await invoice(sep.id)).creditNotes.reduce((s: any, n: any) => s.plus(n.total.amount), dec('0'));
    expect(notes.minus(adjustment).toFixed(2)).toBe('11.90');
    // Nothing of the record is left to dispute.
    expect(await refusal(customer('cus_r19_part'), OPEN, { i: { invoiceId: sep.id, usageRecordId: record, amount: '0.01', reason: 'again', idempotencyKey: 'r19-part-2' } })).toMatchObject({ reason: 'DISPUTE_EXCEEDS_USAGE_RECORD' });
  });

  it('a record credited by its re-rate first cannot be disputed for what the correction gave back', async () => {
    h.clock.set(new Date('2026-10-01T08:00:00Z'));
    const acc = 'acc_r19_after';
    const record = 'usg_r19_after';
    const sep = await closedSeptember(h, acc, 'cus_r19_after', () => charges(h, [usage(acc, record, '10.00', '100')]));
    await charges(h, [{ ...usage(acc, `${record}:rerate:2`, '-8.00', '0'), usageRecordId: record }]);
    h.clock.set(new Date('2026-11-01T08:00:00Z'));
    await closeOctober(acc);
    expect(await refusal(customer('cus_r19_after'), OPEN, { i: { invoiceId: sep.id, usageRecordId: record, amount: '2.39', reason: 'Roaming was free', idempotencyKey: 'r19-after' } })).toMatchObject({ reason: 'DISPUTE_EXCEEDS_USAGE_RECORD' });
    const open = await as(customer('cus_r19_after'), OPEN, { i: { invoiceId: sep.id, usageRecordId: record, amount: '2.38', reason: 'Roaming was free', idempotencyKey: 'r19-after-2' } });
    expect(open.openDispute.dispute.status).toBe('OPEN');
  });
});

async function closeOctober(acc: string): Promise<{ id: string }> {
  return (await h.gql<any>('mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { invoice { id } } } }', {
    i: { billingAccountId: acc, periodStart: '2026-09-30T22:00:00Z', periodEnd: '2026-10-31T23:00:00Z' },
  })).closeBillingPeriod.billingPeriod.invoice;
}
