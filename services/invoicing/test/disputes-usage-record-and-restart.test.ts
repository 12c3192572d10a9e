// Two gaps of disputes (ADR 0017):
// 1. A dispute on a rated usage record named any record, of any account, and an accepted credit was
//    spread over the invoice's lines in order (the recurring line first), not the usage line that
//    billed the record. Now the record must be one this invoice billed (`unbilled_charge`, charge id =
//    the usage record's id), the dispute targets the USAGE line that billed it, and it is capped at
//    what the record was charged there, with the line's tax share (rounded down).
// 2. A dispute whose workflow ended without closing it (terminated, failed, timed out) stayed open
//    with nothing watching it. Now the due-date pass asks whether the workflow still runs (at most once
//    a policy hour per dispute) and starts the next run, `dispute-<id>-<n>`; pokes go to the newest run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DisputeStarter } from '../src/ports/disputes';
import { charges, startHarness, type Harness } from './support';
import { agent, closedSeptember, customer, disputeCalls, disputeMutations } from './dispute-support';

let h: Harness;
const started: string[] = [];
const asked: string[] = [];
const pokes: string[] = [];
const dead = new Set<string>();
let temporalDown = false;
const disputes: DisputeStarter = {
  start: async (req) => {
    if (temporalDown) throw new Error('temporal is down');
    started.push(`${req.disputeId}#${req.run ?? 1}`);
  },
  running: async (disputeId, run) => {
    if (temporalDown) throw new Error('temporal is down');
    asked.push(`${disputeId}#${run}`);
    return !dead.has(`${disputeId}#${run}`);
  },
  poke: async (disputeId, run) => void pokes.push(`${disputeId}#${run ?? 1}`),
};

const AGENT = agent('agent-ana');
const D = 'id invoiceLineId usageRecordId amount { amount } status assessment creditedAmount { amount } creditNoteId';
const { OPEN, DECIDE, ASSESS, WITHDRAW } = disputeMutations(D);
const INVOICE = `query($id: ID!) { invoice(id: $id) { id state lines { id kind usageType zone netAmount { amount } grossAmount { amount } creditedAmount { amount } }
  creditNotes { id total { amount } taxTotal { amount } } } }`;

const { as, refusal, db } = disputeCalls(() => h);
const invoice = async (id: string) => (await h.gql<any>(INVOICE, { id })).invoice;

const charge = (acc: string, chargeId: string, zone: string, amount: string, occurredAt = '2026-09-10T10:00:00Z') => ({
  chargeId, billingAccountId: acc, lineId: `lin_sub_${acc}`, usageType: 'DATA', zone, units: '100', unit: 'MB', amount, currency: 'EUR', occurredAt,
});

/** An issued September invoice (DE, 19 % exclusive) with the recurring fee and two usage lines: DATA EU_ROAMING, DATA NATIONAL. */
async function issuedInvoice(acc: string, cus: string, extra: Record<string, unknown>[] = []): Promise<any> {
  const inv = await closedSeptember(h, acc, cus, () =>
    charges(h, [charge(acc, `usg_${acc}_roam`, 'EU_ROAMING', '10.00'), charge(acc, `usg_${acc}_nat1`, 'NATIONAL', '3.333333'), charge(acc, `usg_${acc}_nat2`, 'NATIONAL', '2.00'), ...extra]));
  expect(inv.state).toBe('SENT');
  return invoice(inv.id);
}
const lineOf = (inv: any, kind: string, zone?: string) => inv.lines.find((l: any) => l.kind === kind && (zone === undefined || l.zone === zone));

beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false, disputes });
});
afterAll(async () => h?.svc.close());

describe('a dispute on a rated usage record', () => {
  it('refuses a record this invoice did not bill (unknown, another account, not billed yet), naming input.usageRecordId', async () => {
    const inv = await issuedInvoice('acc_ur_ref', 'cus_ur_ref', [charge('acc_ur_ref', 'usg_acc_ur_ref_oct', 'NATIONAL', '1.00', '2026-10-01T09:00:00Z')]);
    await issuedInvoice('acc_ur_oth', 'cus_ur_oth');
    const base = { invoiceId: inv.id, amount: '1.00', reason: 'Not mine' };
    for (const usageRecordId of ['usg_nowhere', 'usg_acc_ur_oth_roam', 'usg_acc_ur_ref_oct']) {
      expect(await refusal(customer('cus_ur_ref'), OPEN, { i: { ...base, usageRecordId, idempotencyKey: `ref-${usageRecordId}` } }), usageRecordId).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'USAGE_RECORD_NOT_ON_INVOICE', field: 'input.usageRecordId' });
    }
    // A line given that is not the one that billed the record.
    expect(await refusal(customer('cus_ur_ref'), OPEN, { i: { ...base, usageRecordId: 'usg_acc_ur_ref_roam', invoiceLineId: lineOf(inv, 'RECURRING').id, idempotencyKey: 'ref-line' } })).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.invoiceLineId' });
    const after = await invoice(inv.id);
    expect(after.state).toBe('SENT');
  });

  it('targets the usage line that billed it: capped at the record with its tax share, credited on that line only', async () => {
    const inv = await issuedInvoice('acc_ur_ok', 'cus_ur_ok');
    const roaming = lineOf(inv, 'USAGE', 'EU_ROAMING');
    const national = lineOf(inv, 'USAGE', 'NATIONAL');
    const recurring = lineOf(inv, 'RECURRING');
    expect([roaming.netAmount.amount, roaming.grossAmount.amount, national.netAmount.amount, national.grossAmount.amount]).toEqual(['10', '11.9', '5.33', '6.34']);

    // 3.333333 x 6.34 / 5.33 = 3.9649… → at most 3.96 (down), though the line has 6.34 of room.
    const nat = { invoiceId: inv.id, usageRecordId: 'usg_acc_ur_ok_nat1', reason: 'Data I did not use' };
    expect(await refusal(customer('cus_ur_ok'), OPEN, { i: { ...nat, amount: '3.97', idempotencyKey: 'nat-over' } })).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.amount' });
    const n1 = (await as(customer('cus_ur_ok'), OPEN, { i: { ...nat, amount: '2.00', idempotencyKey: 'nat-1' } })).openDispute.dispute;
    expect(n1).toMatchObject({ invoiceLineId: national.id, usageRecordId: 'usg_acc_ur_ok_nat1', status: 'OPEN' });
    // The same record again: what its first dispute holds is taken (3.96 - 2.00 = 1.96 left).
    expect(await refusal(customer('cus_ur_ok'), OPEN, { i: { ...nat, amount: '1.97', idempotencyKey: 'nat-2' } })).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.amount' });
    await as(customer('cus_ur_ok'), OPEN, { i: { ...nat, amount: '1.96', idempotencyKey: 'nat-3' } });

    // The roaming record, naming its own line too: all of it with tax, 11.90.
    const rm = { invoiceId: inv.id, usageRecordId: 'usg_acc_ur_ok_roam', invoiceLineId: roaming.id, reason: 'I was at home' };
    expect(await refusal(customer('cus_ur_ok'), OPEN, { i: { ...rm, amount: '11.91', idempotencyKey: 'roam-over' } })).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.amount' });
    const r = (await as(customer('cus_ur_ok'), OPEN, { i: { ...rm, amount: '11.90', idempotencyKey: 'roam-1' } })).openDispute.dispute;
    expect(r.invoiceLineId).toBe(roaming.id);
    const assessed = (await h.gql<any>(ASSESS, { i: { disputeId: r.id } })).assessDispute.dispute;
    expect(assessed.assessment).toMatchObject({ decision: 'REVIEW', facts: { target: 'USAGE_RECORD', lineKind: 'USAGE' } });
    const decided = (await as(AGENT, DECIDE, { i: { disputeId: r.id, decision: 'ACCEPT', note: 'Roaming was billed in error' } })).decideDispute.dispute;
    expect(decided).toMatchObject({ status: 'ACCEPTED', creditedAmount: { amount: '11.9' } });

    const after = await invoice(inv.id);
    const credited = Object.fromEntries(after.lines.map((l: any) => [l.id, l.creditedAmount.amount]));
    expect([credited[roaming.id], credited[recurring.id], credited[national.id]]).toEqual(['11.9', '0', '0']);
    expect(after.creditNotes.map((c: any) => [c.total.amount, c.taxTotal.amount])).toEqual([['11.9', '1.9']]);
  });
});

describe('a dispute whose workflow ended without closing it', () => {
  it('is given a new run by the due-date pass (dispute-<id>-2), looked at once a policy hour; pokes go to the newest run', async () => {
    const inv = await issuedInvoice('acc_ur_wf', 'cus_ur_wf');
    h.clock.set('2026-10-01T08:00:00Z');
    const d = (await as(customer('cus_ur_wf'), OPEN, { i: { invoiceId: inv.id, amount: '2.00', reason: 'Wrong', idempotencyKey: 'wf-1' } })).openDispute.dispute;
    expect(started).toContain(`${d.id}#1`);
    const mine = (xs: string[]) => xs.filter((x) => x.startsWith(`${d.id}#`));

    // Started just now: not asked.
    await h.gql('mutation { runDueDateJob { autopaid } }');
    expect(mine(asked)).toEqual([]);
    // An hour later it still runs: asked once, nothing started; asked again only after another hour.
    h.clock.set('2026-10-01T09:30:00Z');
    await h.gql('mutation { runDueDateJob { autopaid } }');
    await h.gql('mutation { runDueDateJob { autopaid } }');
    expect([mine(asked), mine(started)]).toEqual([[`${d.id}#1`], [`${d.id}#1`]]);

    // Terminated by an operator: the next pass (an hour on) starts run 2, once.
    dead.add(`${d.id}#1`);
    h.clock.set('2026-10-01T11:00:00Z');
    temporalDown = true; // Temporal cannot be asked: nothing changes, the next pass tries again
    await h.gql('mutation { runDueDateJob { autopaid } }');
    temporalDown = false;
    await h.gql('mutation { runDueDateJob { autopaid } }');
    await h.gql('mutation { runDueDateJob { autopaid } }');
    expect(mine(started)).toEqual([`${d.id}#1`, `${d.id}#2`]);
    const [{ workflow_runs }] = await db().execute('select workflow_runs from dispute where id = ?', [d.id]);
    expect(Number(workflow_runs)).toBe(2);

    // Run 2 ended too: run 3 an hour later.
    dead.add(`${d.id}#2`);
    h.clock.set('2026-10-01T12:30:00Z');
    await h.gql('mutation { runDueDateJob { autopaid } }');
    expect(mine(started)).toEqual([`${d.id}#1`, `${d.id}#2`, `${d.id}#3`]);

    // Closed outside the workflow: the newest run is told; a closed dispute is not looked at again.
    await as(customer('cus_ur_wf'), WITHDRAW, { i: { disputeId: d.id } });
    expect(mine(pokes)).toEqual([`${d.id}#3`]);
    dead.add(`${d.id}#3`);
    h.clock.set('2026-10-02T12:30:00Z');
    asked.length = 0;
    await h.gql('mutation { runDueDateJob { autopaid } }');
    expect(mine(asked)).toEqual([]);
    expect(mine(started)).toHaveLength(3);
  });
});
