// The customer's invoice document of an invoice a credit note reduced: it printed Total, Paid and
// Amount due, and the amount due was already less what credit notes credited — so the document
// read "Total 35.69 EUR, Paid 0.00 EUR, Amount due 25.69 EUR" with nothing saying where 10.00
// went. Now the credited amount is printed between Paid and Amount due (HTML and PDF), so the
// totals on the page add up: Total − Paid − Credited = Amount due.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dec } from '@ledgerline/contracts';
import { account, startHarness, subscribe, type Harness } from './support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false });
  await account(h, 'acc_doc_cn');
  await subscribe(h, 'acc_doc_cn', 'sub_doc_cn', 'postpaid20', '2026-08-01T00:00:00Z');
});
afterAll(async () => h?.svc.close());

const CLOSE = 'mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { invoice { id number total { amount } lines { id kind grossAmount { amount } } } } } }';
const ISSUE = 'mutation($i: IssueCreditNoteInput!) { issueCreditNote(input: $i) { invoice { total { amount } amountPaid { amount } amountCredited { amount } amountDue { amount } documents { kind url } } } }';
const doc = (docs: any[], kind: string) => Buffer.from(docs.find((x) => x.kind === kind).url.split(',')[1], 'base64');
/** The amount printed after `label` (e.g. "Amount due 25.69 EUR"), in HTML or pdftotext -layout text. */
const printed = (text: string, label: string) => text.match(new RegExp(`${label}(?:</strong>)?\\s+(-?[0-9.]+) EUR`))?.[1];

describe('invoice document of a credited invoice', () => {
  it('prints what credit notes credited, so its totals add up', async () => {
    const inv = (await h.gql<any>(CLOSE, { i: { billingAccountId: 'acc_doc_cn', periodStart: '2026-08-31T22:00:00Z', periodEnd: '2026-09-30T22:00:00Z' } })).closeBillingPeriod.billingPeriod.invoice;
    const fee = inv.lines.find((l: any) => l.kind === 'RECURRING');
    const after = (await h.gql<any>(ISSUE, { i: { invoiceId: inv.id, kind: 'CREDIT', reason: 'Outage', lines: [{ invoiceLineId: fee.id, amount: '10.00' }], idempotencyKey: 'doc-cn-1' } })).issueCreditNote.invoice;
    expect(after).toMatchObject({ total: { amount: '35.69' }, amountPaid: { amount: '0' }, amountCredited: { amount: '10' }, amountDue: { amount: '25.69' } });

    const html = doc(after.documents, 'HTML').toString('utf8');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'invoice-credited-'));
    let text: string;
    try {
      fs.writeFileSync(path.join(dir, 'invoice.pdf'), doc(after.documents, 'PDF'));
      text = execFileSync('pdftotext', ['-layout', '-f', '1', '-l', '1', path.join(dir, 'invoice.pdf'), '-']).toString('utf8');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    for (const [kind, page] of [['HTML', html], ['PDF', text]] as const) {
      const shown = { total: printed(page, 'Total'), paid: printed(page, 'Paid'), credited: printed(page, 'Credited'), due: printed(page, 'Amount due') };
      expect(shown, kind).toEqual({ total: '35.69', paid: '0.00', credited: '10.00', due: '25.69' });
      expect(dec(shown.total!).minus(shown.paid!).minus(shown.credited!).eq(shown.due!), kind).toBe(true);
    }
  });
});
