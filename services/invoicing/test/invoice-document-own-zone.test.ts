// An issued invoice's document is a legal document: it must read the same whenever it is rendered.
// Its dates are local dates, and the invoice did not store the zone it was billed in: the document
// took the account's zone at the time of reading (since d2e4791 the zone of the cycle its period was
// in, but the account keeps only its last change, `prev_timezone`). An invoice billed in Europe/Berlin
// whose account then moved to America/New_York and later to Asia/Tokyo was printed in New York's days:
// "Billing period 2026-08-31 to 2026-09-30 · Issued 2026-09-30" for Berlin's 1 to 30 Sep, issued 1 Oct.
// Late usage of that period billed on a later invoice named the period in the later invoice's zone too.
// Real PostgreSQL, through the bill run.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { account, charges, invoicesOf, runBillRun, startHarness, subscribe, type Harness } from './support';

let h: Harness;
let september: any;
const ACC = 'acc_own_zone';
const DOCS = 'query($a: ID) { invoices(billingAccountId: $a) { edges { node { id documents { kind url } } } } }';
const BERLIN_DATES = 'Billing period 2026-09-01 to 2026-09-30 · Issued 2026-10-01 · Due 2026-10-15';

const doc = (docs: any[], kind: string) => Buffer.from(docs.find((x: any) => x.kind === kind).url.split(',')[1], 'base64');
async function septemberDocument(): Promise<{ html: string; pdf: string }> {
  const d = await h.gql<any>(DOCS, { a: ACC });
  const docs = d.invoices.edges.find((e: any) => e.node.id === september.id).node.documents;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'invoice-own-zone-'));
  try {
    fs.writeFileSync(path.join(dir, 'invoice.pdf'), doc(docs, 'PDF'));
    const pdf = execFileSync('pdftotext', ['-layout', '-f', '1', '-l', '1', path.join(dir, 'invoice.pdf'), '-']).toString('utf8');
    return { html: doc(docs, 'HTML').toString('utf8'), pdf };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

beforeAll(async () => {
  // Not consuming: every run's consumers read every run's events (shared NATS), and another run's accounts would join the bill runs.
  h = await startHarness('2026-09-01T10:00:00Z', { consume: false });
  await account(h, ACC);
  await subscribe(h, ACC, 'sub_own_zone', 'postpaid20', '2026-08-31T22:00:00Z');
  // Billed at 01:00 on 1 Oct in Berlin (still 30 Sep in New York).
  h.clock.set(new Date('2026-09-30T23:00:00Z'));
  expect(await runBillRun(h, '2026-10-01')).toMatchObject({ state: 'COMPLETED' });
  [september] = await invoicesOf(h, ACC);
});

afterAll(async () => {
  await h?.svc.close();
});

describe("an issued invoice's document keeps the zone it was billed in", () => {
  it('prints Berlin dates when billed', async () => {
    const { html } = await septemberDocument();
    expect(html).toContain(BERLIN_DATES);
  });

  it('after the account moved to New York and then to Tokyo, HTML and PDF print the same Berlin dates', async () => {
    // New York from 1 Nov (Berlin): October is billed in Berlin; Tokyo asked for once New York is in effect, from 1 Dec (New York).
    h.clock.set(new Date('2026-10-10T10:00:00Z'));
    await account(h, ACC, { timezone: 'America/New_York' });
    h.clock.set(new Date('2026-11-02T10:00:00Z'));
    expect(await runBillRun(h, '2026-11-01')).toMatchObject({ state: 'COMPLETED' });
    h.clock.set(new Date('2026-11-10T10:00:00Z'));
    await account(h, ACC, { timezone: 'Asia/Tokyo' });
    const [row] = await h.svc.runtime.orm.em.fork().getConnection().execute(`select timezone, prev_timezone from billing_account where id = ?`, [ACC]);
    expect(row).toEqual({ timezone: 'Asia/Tokyo', prev_timezone: 'America/New_York' });

    const { html, pdf } = await septemberDocument();
    expect(html).toContain(BERLIN_DATES);
    expect(pdf).toContain('Billing period: 2026-09-01 to 2026-09-30');
    expect(pdf).toMatch(/Issue date: 2026-10-01\s+Due date: 2026-10-15/);
  });

  it("late usage of that period, billed on a New York invoice, names the period in the September invoice's own days", async () => {
    await charges(h, [{ chargeId: 'chg_own_zone_late', billingAccountId: ACC, lineId: 'lin_sub_own_zone', usageType: 'DATA', zone: 'NATIONAL', units: '10', unit: 'MB', amount: '1.00', currency: 'EUR', occurredAt: '2026-09-29T12:00:00Z' }]);
    h.clock.set(new Date('2026-12-02T10:00:00Z'));
    expect(await runBillRun(h, '2026-12-01')).toMatchObject({ state: 'COMPLETED' });
    const lines = (await invoicesOf(h, ACC)).flatMap((i: any) => i.lines).filter((l: any) => l.kind === 'ADJUSTMENT');
    expect(lines.map((l: any) => l.description)).toEqual([`Late usage for 2026-09-01–2026-09-30, invoice ${september.number}: DATA NATIONAL (1 record)`]);
  });

  it('once Tokyo is in effect too, the document is unchanged', async () => {
    h.clock.set(new Date('2026-12-10T10:00:00Z'));
    expect((await septemberDocument()).html).toContain(BERLIN_DATES);
  });
});
