// The customer's invoice document: HTML and a PDF (pdfkit), from the same view model.
import PDFDocument from 'pdfkit';
import { dec, localDay, minorUnits } from '@ledgerline/contracts';

export interface InvoiceDocumentModel {
  number: string | null;
  state: string;
  customerName: string | null;
  billingAccountId: string;
  /** The invoice's own time zone (the one it was composed in): dates on the document are local dates. */
  timezone: string;
  currency: string;
  periodStart: Date;
  periodEnd: Date;
  issuedAt: Date | null;
  dueDate: Date | null;
  paymentReference: string | null;
  lines: { position: number; description: string; quantity: string; unit: string; netAmount: string; taxRate: string; taxAmount: string; grossAmount: string }[];
  netTotal: string;
  taxTotal: string;
  total: string;
  amountPaid: string;
  /** What credit notes credited: the amount due is already less it, so the document shows it too. */
  amountCredited: string;
  amountDue: string;
}

const localDate = (d: Date | null, timeZone: string) => (d ? localDay(new Date(d), timeZone) : '—');
/** An amount in the currency's minor unit (2 places for EUR, 0 for JPY, 3 for BHD). */
const money = (v: string, currency: string) => dec(v).toFixed(minorUnits(currency));
const amount = (v: string, currency: string) => `${money(v, currency)} ${currency}`;
const pct = (rate: string) => `${dec(rate).times(100).toFixed()}%`;
const qty = (q: string) => dec(q).toDecimalPlaces(3).toFixed();
/** Whether credit notes credited any of it (the row is left out when none did). */
const credited = (m: InvoiceDocumentModel) => !dec(m.amountCredited).isZero();
const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export function renderInvoiceHtml(m: InvoiceDocumentModel): string {
  const date = (d: Date | null) => localDate(d, m.timezone);
  const rows = m.lines
    .map((l) => `<tr><td>${l.position}</td><td>${esc(l.description)}</td><td class="n">${qty(l.quantity)} ${esc(l.unit)}</td><td class="n">${amount(l.netAmount, m.currency)}</td><td class="n">${pct(l.taxRate)}</td><td class="n">${amount(l.taxAmount, m.currency)}</td><td class="n">${amount(l.grossAmount, m.currency)}</td></tr>`)
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Invoice ${esc(m.number ?? 'draft')}</title>
<style>body{font-family:Helvetica,Arial,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:4px}.n{text-align:right}h1{margin-bottom:0}</style></head>
<body>
<h1>Ledgerline Telecom — Invoice ${esc(m.number ?? '(draft)')}</h1>
<p>${esc(m.customerName ?? m.billingAccountId)} · Account ${esc(m.billingAccountId)}</p>
<p>Billing period ${date(m.periodStart)} to ${date(new Date(new Date(m.periodEnd).getTime() - 1))} · Issued ${date(m.issuedAt)} · Due ${date(m.dueDate)}</p>
<table><thead><tr><th>#</th><th>Description</th><th class="n">Quantity</th><th class="n">Net</th><th class="n">Tax rate</th><th class="n">Tax</th><th class="n">Gross</th></tr></thead>
<tbody>
${rows}
</tbody></table>
<p class="n">Net total ${amount(m.netTotal, m.currency)}<br>Tax ${amount(m.taxTotal, m.currency)}<br><strong>Total ${amount(m.total, m.currency)}</strong><br>Paid ${amount(m.amountPaid, m.currency)}${credited(m) ? `<br>Credited ${amount(m.amountCredited, m.currency)}` : ''}<br><strong>Amount due ${amount(m.amountDue, m.currency)}</strong></p>
<p>Please pay by bank transfer quoting the reference <strong>${esc(m.paymentReference ?? '—')}</strong>.</p>
</body></html>`;
}

export function renderInvoicePdf(m: InvoiceDocumentModel, now: Date): Promise<Buffer> {
  const date = (d: Date | null) => localDate(d, m.timezone);
  return new Promise((resolve, reject) => {
    const doc = new PDFDocument({ size: 'A4', margin: 50, info: { Title: `Invoice ${m.number ?? 'draft'}`, Author: 'Ledgerline', CreationDate: now } });
    const chunks: Buffer[] = [];
    doc.on('data', (c: Buffer) => chunks.push(c));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);

    doc.font('Helvetica-Bold').fontSize(20).text('Ledgerline Telecom');
    doc.font('Helvetica').fontSize(10).fillColor('#555').text('Musterstrasse 1, 10115 Berlin · billing@ledgerline.example');
    doc.moveDown(1.5).fillColor('#000');
    doc.font('Helvetica-Bold').fontSize(16).text(`Invoice ${m.number ?? '(draft)'}`);
    doc.font('Helvetica').fontSize(10);
    doc.text(`Customer: ${m.customerName ?? m.billingAccountId}`);
    doc.text(`Account: ${m.billingAccountId}`);
    doc.text(`Billing period: ${date(m.periodStart)} to ${date(new Date(new Date(m.periodEnd).getTime() - 1))}`);
    doc.text(`Issue date: ${date(m.issuedAt)}    Due date: ${date(m.dueDate)}`);
    doc.moveDown();

    const cols = [50, 75, 300, 370, 430, 480];
    const header = (y: number) => {
      doc.font('Helvetica-Bold').fontSize(9);
      ['#', 'Description', 'Quantity', 'Net', 'Tax', 'Gross'].forEach((h, i) => doc.text(h, cols[i]!, y, { width: i === 1 ? 220 : 60, align: i >= 2 ? 'right' : 'left' }));
      doc.moveTo(50, y + 13).lineTo(545, y + 13).stroke();
      doc.font('Helvetica').fontSize(9);
      return y + 18;
    };
    let y = header(doc.y);
    for (const l of m.lines) {
      const h = Math.max(12, doc.heightOfString(l.description, { width: 220 }));
      if (y + h > 760) {
        doc.addPage();
        y = header(50);
      }
      doc.text(String(l.position), cols[0]!, y, { width: 20 });
      doc.text(l.description, cols[1]!, y, { width: 220 });
      doc.text(`${qty(l.quantity)} ${l.unit}`, cols[2]!, y, { width: 60, align: 'right' });
      doc.text(money(l.netAmount, m.currency), cols[3]!, y, { width: 60, align: 'right' });
      doc.text(`${money(l.taxAmount, m.currency)} (${pct(l.taxRate)})`, cols[4]!, y, { width: 60, align: 'right' });
      doc.text(money(l.grossAmount, m.currency), cols[5]!, y, { width: 60, align: 'right' });
      y += h + 4;
    }
    doc.moveTo(50, y).lineTo(545, y).stroke();
    y += 8;
    const total = (label: string, value: string, bold = false) => {
      doc.font(bold ? 'Helvetica-Bold' : 'Helvetica').fontSize(10);
      doc.text(label, 330, y, { width: 130 });
      doc.text(amount(value, m.currency), 430, y, { width: 110, align: 'right' });
      y += 15;
    };
    total('Net total', m.netTotal);
    total('Tax', m.taxTotal);
    total('Total', m.total, true);
    total('Paid', m.amountPaid);
    if (credited(m)) total('Credited', m.amountCredited);
    total('Amount due', m.amountDue, true);
    doc.font('Helvetica').fontSize(10).text(`Please pay by bank transfer quoting the reference ${m.paymentReference ?? '—'}.`, 50, y + 15);
    doc.end();
  });
}
