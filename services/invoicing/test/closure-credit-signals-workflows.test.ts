// The closure credit (closure-credit.ts) issued by invoicing's own consumer of billingaccount.closed, not by the
// closeBillingPeriod mutation: before, only the mutation told the workflows (afterCreditNote), so a dunned invoice
// the note cleared or lowered went on being dunned until its next daily look (lines barred up to a day after the
// account's fees were given back), and a dispute the note covered (closed ACCEPTED with it) was looked at only at
// its workflow's next deadline. Now the use case tells them once its transaction commits, whichever path ran it.
// The event comes over the real BILLING stream, as subscribers publishes it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS, createCloudEvent } from '@ledgerline/contracts';
import type { DisputeStarter } from '../src/ports/disputes';
import { recordingDunning } from './dispute-support';
import { account, startHarness, subscribe, waitFor, type Harness } from './support';

let h: Harness;
const { dunning, dunningPokes } = recordingDunning();
const disputePokes: string[] = [];
const disputes: DisputeStarter = { start: async () => undefined, poke: async (disputeId) => void disputePokes.push(disputeId) };

beforeAll(async () => {
  h = await startHarness('2026-10-01T10:00:00Z', { runBillRuns: false, dunning, disputes });
});
afterAll(async () => h?.svc.close());

const run = Date.now().toString(36);
const OCT = '2026-09-30T22:00:00.000Z';
const NOV = '2026-10-31T23:00:00.000Z';
const DEC = '2026-11-30T23:00:00.000Z';
const CLOSED_AT = '2026-10-20T08:00:00.000Z';
const query = async (text: string, params: unknown[] = []) => (await h.svc.runtime.orm.em.fork().getConnection().execute(text, params)) as Record<string, any>[];

/** A period closed (billed and issued) by the worker, not final. */
async function billed(acc: string, periodStart: string, periodEnd: string): Promise<string> {
  const r = await h.gql<any>('mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { invoice { id state } } } }', { i: { billingAccountId: acc, periodStart, periodEnd } });
  expect(r.closeBillingPeriod.billingPeriod.invoice.state).toBe('SENT');
  return r.closeBillingPeriod.billingPeriod.invoice.id;
}

async function publishClosed(acc: string): Promise<void> {
  const event = createCloudEvent({ source: 'ledgerline/subscribers', type: EVENTS.billingAccountClosed.type, subject: acc, time: new Date(CLOSED_AT), data: { billingAccountId: acc, customerId: `cus_${acc}`, closedAt: CLOSED_AT, reason: 'Moving abroad' }, key: [acc, CLOSED_AT] });
  await h.svc.runtime.messaging.js.publish(EVENTS.billingAccountClosed.subject, JSON.stringify(event));
}

const notesOf = (invoiceId: string) => query('select id, total from credit_note where invoice_id = ?', [invoiceId]);

describe('the closure credit issued by the billingaccount.closed consumer', () => {
  it('tells the dunning of the invoice it lowered (paymentRecorded) once it commits', async () => {
    const acc = `acc_ccsw_${run}`;
    h.clock.set('2026-10-01T10:00:00Z');
    await account(h, acc);
    await subscribe(h, acc, `sub_ccsw_${run}`, 'postpaid20', OCT, `lin_ccsw_${run}`);
    h.clock.set('2026-11-01T10:00:00Z');
    const oct = await billed(acc, OCT, NOV);
    // October is overdue and dunned when the closure (Oct 20) reaches invoicing.
    await query('update invoice set dunning_started_at = ? where id = ?', [new Date('2026-11-16T10:00:00Z'), oct]);
    h.clock.set('2026-11-20T10:00:00Z');
    dunningPokes.length = 0;
    await publishClosed(acc);
    const [note] = await waitFor(async () => ((await notesOf(oct)).length > 0 ? notesOf(oct) : null));
    expect(Number(note!.total)).toBeGreaterThan(0);
    await waitFor(async () => dunningPokes.length > 0);
    expect(dunningPokes, 'the note lowered what the dunned invoice asks for: its dunning looks again at once').toEqual([[oct, 'paymentRecorded']]);
  });

  it("a dispute the note covered (closed ACCEPTED with it) is told, and its invoice's dunning (disputeChanged); an invoice not dunned is not", async () => {
    const acc = `acc_ccswd_${run}`;
    h.clock.set('2026-10-01T10:00:00Z');
    await account(h, acc);
    await subscribe(h, acc, `sub_ccswd_${run}`, 'postpaid20', OCT, `lin_ccswd_${run}`);
    h.clock.set('2026-11-01T10:00:00Z');
    const oct = await billed(acc, OCT, NOV);
    h.clock.set('2026-12-01T10:00:00Z');
    const nov = await billed(acc, NOV, DEC);
    // Staff hold part of November for a dispute; the closure in October gives all of November back.
    h.clock.set('2026-12-02T10:00:00Z');
    await h.gql('mutation($i: DisputeInvoiceInput!) { disputeInvoice(input: $i) { invoice { id } } }', { i: { invoiceId: nov, amount: '10.00', reason: 'Customer says the line was off' } });
    const [dispute] = await query(`select id from dispute where invoice_id = ? and status in ('OPEN', 'IN_REVIEW')`, [nov]);
    await query('update invoice set dunning_started_at = ? where id = ?', [new Date('2026-12-17T10:00:00Z'), nov]);
    h.clock.set('2026-12-20T10:00:00Z');
    dunningPokes.length = 0;
    disputePokes.length = 0;
    await publishClosed(acc);
    await waitFor(async () => (await notesOf(nov)).length > 0);
    expect(await notesOf(oct)).toHaveLength(1);
    const [closed] = await query('select status, credit_note_id from dispute where id = ?', [dispute!.id]);
    expect(closed).toMatchObject({ status: 'ACCEPTED' });
    await waitFor(async () => disputePokes.length > 0);
    expect(disputePokes).toEqual([dispute!.id]);
    await waitFor(async () => dunningPokes.some(([, what]) => what === 'disputeChanged'));
    expect(dunningPokes).toEqual([[nov, 'paymentRecorded'], [nov, 'disputeChanged']]);
  });
});
