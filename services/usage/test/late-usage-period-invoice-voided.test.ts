/**
 * Usage's billed periods against the real invoicing service (its void / regenerate / issue flows and
 * the customerBillCreated events its outbox relay publishes; real PostgreSQL and NATS): a late event
 * of a period names only an invoice that stands.
 *
 * Usage learns a billed period from customerBillCreated only, which invoicing publishes when it
 * issues an invoice, and an issued invoice is never voided or regenerated (only drafts are). So a
 * period whose draft was voided and regenerated is billed, for usage, by the issued replacement, and
 * a late event of it adjusts the replacement; a period whose draft was voided with no replacement is
 * not billed, and a late event of it is ordinary usage (no adjustsInvoiceId), which invoicing bills
 * on the next invoice. This fails if invoicing ever announced a draft, or usage kept a period billed
 * by an invoice it was not told was issued.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { account as invoicingAccount, invoicesOf, runBillRun, startHarness, subscribe, type Harness } from '../../invoicing/test/support';
import { RECORD_USAGE, filePlanSource, setLine, sqlOf, storedChargeRequests, waitFor } from './support';

const run = Math.random().toString(36).slice(2, 8);
const REGENERATED = `acc_lvr${run}`;
const VOIDED = `acc_lvv${run}`;
const lineOf = (acc: string) => `lin_sub_${acc}`;

let invoicing: Harness;
let usage: TestService;
let db: pg.Client;
const usageClock = new ManualClock(new Date('2026-10-01T08:00:00Z'));
const drafts = new Map<string, string>();

const billedPeriods = async (acc: string) => (await db.query('select invoice_id from billed_period where billing_account_id = $1 order by period_start', [acc])).rows.map((r) => r.invoice_id);
const recordOf = async (eventId: string) => (await db.query('select status, adjusts_invoice_id from usage_record where event_id = $1', [eventId])).rows[0];

beforeAll(async () => {
  invoicing = await startHarness('2026-10-01T08:00:00Z', { consume: false });
  usage = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: ['bills'], deliverNew: true }), { clock: usageClock });
  db = await sqlOf(usage);
  for (const [i, acc] of [REGENERATED, VOIDED].entries()) {
    await invoicingAccount(invoicing, acc);
    await subscribe(invoicing, acc, `sub_${acc}`, 'postpaid20', '2026-08-01T00:00:00Z');
    await setLine(usage, { lineId: lineOf(acc), msisdn: `+4915277${i}${String(Math.floor(Math.random() * 1e4)).padStart(4, '0')}`, account: acc, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID', startsAt: '2026-08-01T00:00:00Z', at: '2026-08-01T00:00:00Z', subscriptionId: `sub_${acc}` });
  }
  // September billed as drafts, for an operator to review.
  await runBillRun(invoicing, '2026-10-01', { autoIssue: false });
  for (const acc of [REGENERATED, VOIDED]) {
    const list = await invoicesOf(invoicing, acc);
    expect(list.map((i: any) => i.state)).toEqual(['NEW']);
    drafts.set(acc, list[0].id);
  }
});

afterAll(async () => {
  await db?.end();
  await usage?.close();
  await invoicing?.svc.close();
});

describe('late usage of a period whose draft invoice was voided', () => {
  it('adjusts the issued replacement; with no replacement it is ordinary usage of the period', async () => {
    const regenerated = (await invoicing.gql<any>('mutation($i: InvoiceIdInput!) { regenerateInvoice(input: $i) { invoice { id } } }', { i: { invoiceId: drafts.get(REGENERATED) } })).regenerateInvoice.invoice.id;
    expect(regenerated).not.toBe(drafts.get(REGENERATED));
    await invoicing.gql('mutation($i: InvoiceIdInput!) { voidInvoice(input: $i) { invoice { state } } }', { i: { invoiceId: drafts.get(VOIDED) } });
    await invoicing.gql('mutation($i: InvoiceIdInput!) { issueInvoice(input: $i) { invoice { number } } }', { i: { invoiceId: regenerated } });

    // Usage hears of the issued replacement only.
    await waitFor(async () => (await billedPeriods(REGENERATED)).length > 0, 20_000, 'the replacement to reach usage');
    expect(await billedPeriods(REGENERATED)).toEqual([regenerated]);
    expect(await billedPeriods(VOIDED)).toEqual([]);

    // Late events of September 28, after all that.
    usageClock.set(new Date('2026-10-02T08:00:00Z'));
    const res = await usage.request(RECORD_USAGE, {
      input: {
        source: `lv-${run}`,
        records: [REGENERATED, VOIDED].map((acc) => ({ eventId: `late-${acc}`, lineId: lineOf(acc), usageType: 'DATA', quantity: '10', roamingCountry: 'US', occurredAt: '2026-09-28T10:00:00Z' })),
      },
    });
    expect(res.errors).toBeUndefined();
    expect(res.data.recordUsage.rated).toBe(2);
    expect(await recordOf(`late-${REGENERATED}`)).toEqual({ status: 'RATED', adjusts_invoice_id: regenerated });
    expect(await recordOf(`late-${VOIDED}`)).toEqual({ status: 'RATED', adjusts_invoice_id: null });
    const byLine = Object.fromEntries((await storedChargeRequests(db, 'payload like $1', [`%${run}%`])).map((c) => [c.lineId, c.adjustsInvoiceId ?? null]));
    expect(byLine).toEqual({ [lineOf(REGENERATED)]: regenerated, [lineOf(VOIDED)]: null });
  });
});
