// The customer document: a real PDF (pdfkit), checked as a picture (pdftoppm → PNG) and as text
// (pdftotext). Needs poppler-utils (Debian package) on the machine.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { account, charges, runBillRun, startHarness, subscribe, type Harness } from './support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('2026-10-05T10:00:00Z', { consume: false });
  await account(h, 'acc_pdf', { customerName: 'Erika Mustermann' });
  await subscribe(h, 'acc_pdf', 'sub_pdf', 'postpaid20', '2026-08-01T00:00:00Z');
  await charges(h, [{ chargeId: 'chg_pdf', billingAccountId: 'acc_pdf', usageType: 'DATA', zone: 'ROAMING_WORLD', units: '150', unit: 'MB', amount: '7.485', currency: 'EUR', occurredAt: '2026-09-10T12:00:00Z' }]);
  await runBillRun(h, '2026-10-01');
});
afterAll(async () => h?.svc.close());

describe('invoice document', () => {
  it('renders HTML and a PDF whose first page shows the invoice', async () => {
    const d = await h.gql<any>('query { invoices(billingAccountId: "acc_pdf") { edges { node { number total { amount } documents { kind mediaType url sizeBytes } } } } }');
    const inv = d.invoices.edges[0].node;
    const html = Buffer.from(inv.documents.find((x: any) => x.kind === 'HTML').url.split(',')[1], 'base64').toString('utf8');
    expect(html).toContain(`Invoice ${inv.number}`);
    expect(html).toContain('Erika Mustermann');

    const pdf = Buffer.from(inv.documents.find((x: any) => x.kind === 'PDF').url.split(',')[1], 'base64');
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'invoice-pdf-'));
    try {
      fs.writeFileSync(path.join(dir, 'invoice.pdf'), pdf);
      execFileSync('pdftoppm', ['-png', '-r', '60', '-f', '1', '-l', '1', path.join(dir, 'invoice.pdf'), path.join(dir, 'page')]);
      const png = fs.readdirSync(dir).find((f) => f.endsWith('.png'))!;
      const image = fs.readFileSync(path.join(dir, png));
      expect(image.subarray(1, 4).toString()).toBe('PNG');
      // An A4 page at 60 dpi is about 496 × 702 px.
      expect(image.readUInt32BE(16)).toBeGreaterThan(450);
      expect(image.readUInt32BE(20)).toBeGreaterThan(650);
      const text = execFileSync('pdftotext', ['-layout', '-f', '1', '-l', '1', path.join(dir, 'invoice.pdf'), '-']).toString('utf8');
      expect(text).toContain(`Invoice ${inv.number}`);
      expect(text).toContain('Erika Mustermann');
      expect(text).toContain('Billing period: 2026-09-01 to 2026-09-30');
      expect(text).toMatch(/DATA ROAMING_WORLD/);
      expect(text).toMatch(new RegExp(`Total\\s+${inv.total.amount.replace('.', '\\.')} EUR`));
      expect(text).toContain(`quoting the reference ${inv.number}`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
