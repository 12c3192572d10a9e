// Review 16 follow-up: a credit note's tax is the line's tax share of all credited on it so far less
// what earlier notes gave back (creditNoteLines, src/domain/lifecycle.ts), read from the stored
// credit_note_line.tax_amount under the invoice's row lock. So notes issued at the same time on one
// line, and an accepted dispute followed by a staff note for the rest, give back exactly the line's
// tax and net, never a cent more.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dec } from '@ledgerline/contracts';
import { startHarness, type Harness } from './support';
import { NO_DISPUTE_WORKFLOW, NO_DUNNING, agent, closedSeptember, customer, disputeCalls, disputeMutations } from './dispute-support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false, dunning: NO_DUNNING, disputes: NO_DISPUTE_WORKFLOW });
});
afterAll(async () => h?.svc.close());

const LINES = 'query($id: ID!) { invoice(id: $id) { lines { id kind netAmount { amount } taxAmount { amount } grossAmount { amount } } } }';
const ISSUE = 'mutation($i: IssueCreditNoteInput!) { issueCreditNote(input: $i) { creditNote { id total { amount } taxTotal { amount } } } }';
const { as, db } = disputeCalls(() => h);
const { OPEN, DECIDE } = disputeMutations('id status creditedAmount { amount } creditNoteId');

/** What the line's credit notes gave back, summed from the stored credit note lines. */
async function creditedOn(lineId: string): Promise<{ amount: string; tax: string; net: string }> {
  const [r] = await db().execute('select coalesce(sum(amount), 0) as amount, coalesce(sum(tax_amount), 0) as tax from credit_note_line where invoice_line_id = ?', [lineId]);
  return { amount: dec(String(r.amount)).toFixed(2), tax: dec(String(r.tax)).toFixed(2), net: dec(String(r.amount)).minus(String(r.tax)).toFixed(2) };
}

async function feeLine(acc: string): Promise<{ invoiceId: string; fee: any }> {
  const inv = await closedSeptember(h, acc, `cus_${acc}`);
  const fee = (await h.gql<any>(LINES, { id: inv.id })).invoice.lines.find((l: any) => l.kind === 'RECURRING');
  return { invoiceId: inv.id, fee };
}

describe('credit note tax is cumulative per invoice line', () => {
  it('eight notes at once on one line, then the rest: exactly the line\'s tax and net come back', async () => {
    const { invoiceId, fee } = await feeLine('acc_cn_tax_race');
    const note = (amount: string, key: string) => h.svc.request<any>(ISSUE, { i: { invoiceId, kind: 'CREDIT', reason: 'Service outage', lines: [{ invoiceLineId: fee.id, amount }], idempotencyKey: key } });
    const race = await Promise.all(Array.from({ length: 8 }, (_, i) => note('0.04', `cn-tax-race-${i}`)));
    expect(race.flatMap((r) => r.errors ?? [])).toEqual([]);
    const rest = dec(fee.grossAmount.amount).minus('0.32').toFixed(2);
    const last = await note(rest, 'cn-tax-race-rest');
    expect(last.errors ?? []).toEqual([]);
    expect(await creditedOn(fee.id)).toEqual({ amount: dec(fee.grossAmount.amount).toFixed(2), tax: dec(fee.taxAmount.amount).toFixed(2), net: dec(fee.netAmount.amount).toFixed(2) });
  });

  it('an accepted line dispute, then a staff note for the rest: exactly the line\'s tax and net come back', async () => {
    const { invoiceId, fee } = await feeLine('acc_cn_tax_dispute');
    const d = (await as(customer('cus_acc_cn_tax_dispute'), OPEN, { i: { invoiceId, invoiceLineId: fee.id, amount: '0.04', reason: 'Outage', idempotencyKey: 'cn-tax-d1' } })).openDispute.dispute;
    expect((await as(agent('agent-tax'), DECIDE, { i: { disputeId: d.id, decision: 'ACCEPT', note: 'Outage confirmed' } })).decideDispute.dispute).toMatchObject({ status: 'ACCEPTED', creditedAmount: { amount: '0.04' } });
    const d2 = (await as(customer('cus_acc_cn_tax_dispute'), OPEN, { i: { invoiceId, invoiceLineId: fee.id, amount: '0.04', reason: 'Outage again', idempotencyKey: 'cn-tax-d2' } })).openDispute.dispute;
    await as(agent('agent-tax'), DECIDE, { i: { disputeId: d2.id, decision: 'ACCEPT', note: 'Outage confirmed' } });
    const rest = dec(fee.grossAmount.amount).minus('0.08').toFixed(2);
    await as(agent('agent-tax'), ISSUE, { i: { invoiceId, kind: 'CREDIT', reason: 'Cancelled', lines: [{ invoiceLineId: fee.id, amount: rest }], idempotencyKey: 'cn-tax-d-rest' } });
    expect(await creditedOn(fee.id)).toEqual({ amount: dec(fee.grossAmount.amount).toFixed(2), tax: dec(fee.taxAmount.amount).toFixed(2), net: dec(fee.netAmount.amount).toFixed(2) });
  });
});
