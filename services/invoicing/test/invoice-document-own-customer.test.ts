// An issued invoice's document is a legal document: it must read the same whenever it is rendered.
// Its customer's name was read from the billing account at every rendering, so renaming the account
// (registerBillingAccount: invoicing learns a name only there, billingaccount.changed carries none)
// changed every invoice already issued to it. A draft is not issued yet: like its due date and
// number, its party details are the account's until it is issued.
// Real PostgreSQL, through the bill run.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { account, invoicesOf, runBillRun, startHarness, subscribe, type Harness } from './support';

let h: Harness;
let issued: any;
let draft: any;
const ISSUED = 'acc_own_customer';
const DRAFTED = 'acc_own_customer_draft';
const DOCS = 'query($a: ID) { invoices(billingAccountId: $a) { edges { node { id documents { kind url } } } } }';

const doc = (docs: any[], kind: string) => Buffer.from(docs.find((x: any) => x.kind === kind).url.split(',')[1], 'base64');
async function documentOf(acc: string, invoiceId: string): Promise<{ html: string; pdf: string }> {
  const d = await h.gql<any>(DOCS, { a: acc });
  const docs = d.invoices.edges.find((e: any) => e.node.id === invoiceId).node.documents;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'invoice-own-customer-'));
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
  await account(h, ISSUED, { customerName: 'Erika Mustermann' });
  await subscribe(h, ISSUED, 'sub_own_customer', 'postpaid20', '2026-08-31T22:00:00Z');
  h.clock.set(new Date('2026-10-01T10:00:00Z'));
  expect(await runBillRun(h, '2026-10-01')).toMatchObject({ state: 'COMPLETED' });
  [issued] = await invoicesOf(h, ISSUED);
  // Its first period is October: the next cycle's run, which leaves its invoices drafts.
  await account(h, DRAFTED, { customerName: 'Max Mustermann' });
  await subscribe(h, DRAFTED, 'sub_own_customer_draft', 'postpaid20', '2026-09-30T22:00:00Z');
  h.clock.set(new Date('2026-11-01T10:00:00Z'));
  expect(await runBillRun(h, '2026-11-01', { autoIssue: false })).toMatchObject({ state: 'COMPLETED' });
  [draft] = await invoicesOf(h, DRAFTED);
});

afterAll(async () => {
  await h?.svc.close();
});

describe("an invoice's document keeps the customer it was issued to", () => {
  it('an issued invoice, its account renamed: HTML and PDF print the name it was issued to', async () => {
    expect(issued.state).toBe('SENT');
    expect((await documentOf(ISSUED, issued.id)).html).toContain('Erika Mustermann · Account');
    await account(h, ISSUED, { customerName: 'Erika Musterfrau-Neu' });

    const { html, pdf } = await documentOf(ISSUED, issued.id);
    expect(html).toContain(`Erika Mustermann · Account ${ISSUED}`);
    expect(html).not.toContain('Musterfrau-Neu');
    expect(pdf).toContain('Customer: Erika Mustermann');
    expect(pdf).not.toContain('Musterfrau-Neu');
  });

  it('an issued invoice, its account registered again without a name: still the name it was issued to', async () => {
    await account(h, ISSUED, { customerName: null });
    const { html, pdf } = await documentOf(ISSUED, issued.id);
    expect(html).toContain(`Erika Mustermann · Account ${ISSUED}`);
    expect(pdf).toContain('Customer: Erika Mustermann');
  });

  it("a draft follows its account until it is issued, then keeps the name it was issued to", async () => {
    expect(draft.state).toBe('NEW');
    await account(h, DRAFTED, { customerName: 'Maxine Mustermann' });
    expect((await documentOf(DRAFTED, draft.id)).html).toContain(`Maxine Mustermann · Account ${DRAFTED}`);

    await h.gql('mutation($i: InvoiceIdInput!) { issueInvoice(input: $i) { invoice { id } } }', { i: { invoiceId: draft.id } });
    await account(h, DRAFTED, { customerName: 'Someone Else' });
    const { html, pdf } = await documentOf(DRAFTED, draft.id);
    expect(html).toContain(`Maxine Mustermann · Account ${DRAFTED}`);
    expect(pdf).toContain('Customer: Maxine Mustermann');
    expect(html).not.toContain('Someone Else');
  });
});
