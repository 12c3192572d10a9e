// Dunning notices: the steps of an overdue invoice's dunning the customer must hear of. The dunning
// workflow records each step here (recordDunningNotice, keyed by its `<workflowId>:<step>`); this
// reads the invoice as it is now (number, what it still owes, due date) and publishes a
// customerBillDunningNotice through the outbox, which subscribers turns into the customer's
// messages. Once per key: the event's id is derived from it (an outbox row, and subscribers'
// messages keyed by the event, are never written twice). A reminder, final notice or bar notice of
// an invoice that owes nothing any more (paid between the workflow's look and this call) or was
// voided is not published: the invoice row is read under a share lock, so a payment committing at
// the same moment is either seen here or waits for this notice to commit first.
import { badInput, dec, deterministicId, EVENTS, minorUnits, notFound, type CustomerBillDunningNoticeData, type DunningNoticeKind } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { outstanding } from '../domain/lifecycle';
import { Invoice } from '../persistence/entities';
import { enqueueEvents, rows } from './sql';

export interface RecordDunningNoticeCommand {
  invoiceId: string;
  notice: DunningNoticeKind;
  level?: number | null;
  idempotencyKey: string;
  lateFee?: { amount: string; at: Date } | null;
  barAt?: Date | null;
  linesResumed?: number | null;
  now: Date;
}

const SOURCE = 'ledgerline/invoicing';
const KINDS: readonly DunningNoticeKind[] = ['REMINDER', 'FINAL_NOTICE', 'BARRED', 'RESTORED'];
/** The notices that ask for money: not sent once nothing is owed. */
const ASKS_FOR_PAYMENT: readonly DunningNoticeKind[] = ['REMINDER', 'FINAL_NOTICE', 'BARRED'];

const eventKey = (c: { invoiceId: string; idempotencyKey: string }) => [c.invoiceId, 'dunning-notice', c.idempotencyKey];

function check(c: RecordDunningNoticeCommand): void {
  if (!KINDS.includes(c.notice)) throw badInput('input.notice', `notice must be one of ${KINDS.join(', ')}`);
  if (!c.idempotencyKey || c.idempotencyKey.length > 200) throw badInput('input.idempotencyKey', 'idempotencyKey must be 1 to 200 characters');
  if (c.level != null && (!Number.isInteger(c.level) || c.level < 1)) throw badInput('input.level', 'level must be 1 or more');
  if (c.linesResumed != null && (!Number.isInteger(c.linesResumed) || c.linesResumed < 0)) throw badInput('input.linesResumed', 'linesResumed must be 0 or more');
  if (c.lateFee && !dec(c.lateFee.amount).isPositive()) throw badInput('input.lateFee.amount', 'a late fee to come must be above zero');
}

export async function recordDunningNotice(em: Em, c: RecordDunningNoticeCommand): Promise<{ published: boolean; invoiceId: string }> {
  check(c);
  // Held until this transaction ends: a payment of this invoice commits before (seen below) or after (the notice went out first).
  const [locked] = await rows<{ id: string }>(em, `select id from invoice where id = ? for share`, [c.invoiceId]);
  if (!locked) throw notFound('Invoice', c.invoiceId, 'input.invoiceId');
  const id = deterministicId('event', SOURCE, EVENTS.customerBillDunningNotice.type, ...eventKey(c));
  const [already] = await rows<{ id: string }>(em, `select id from outbox where id = ?`, [id]);
  // Published under this key before (a retried step): the same answer, whatever the invoice owes now.
  if (already) return { published: true, invoiceId: c.invoiceId };
  const invoice = (await em.findOne(Invoice, { id: c.invoiceId }, { refresh: true }))!;
  const due = outstanding(invoice);
  if (invoice.voidedAt || (ASKS_FOR_PAYMENT.includes(c.notice) && due.isZero())) return { published: false, invoiceId: c.invoiceId };
  const asks = c.notice !== 'RESTORED';
  const data: CustomerBillDunningNoticeData = {
    invoiceId: invoice.id,
    number: invoice.number ?? invoice.id,
    paymentReference: invoice.paymentReference ?? invoice.number ?? invoice.id,
    billingAccountId: invoice.billingAccountId,
    notice: c.notice,
    level: c.notice === 'REMINDER' || c.notice === 'FINAL_NOTICE' ? (c.level ?? null) : null,
    currency: invoice.currency,
    amountDue: due.toFixed(minorUnits(invoice.currency)),
    dueDate: (invoice.dueDate ?? invoice.issuedAt ?? c.now).toISOString(),
    lateFee: asks && c.lateFee ? { amount: dec(c.lateFee.amount).toFixed(), at: c.lateFee.at.toISOString() } : null,
    barAt: asks && c.notice !== 'BARRED' && c.barAt ? c.barAt.toISOString() : null,
    linesResumed: c.notice === 'RESTORED' ? (c.linesResumed ?? null) : null,
    stepKey: c.idempotencyKey,
  };
  await enqueueEvents(em, 'customerBillDunningNotice', c.now, [{ subject: invoice.id, key: eventKey(c), data }]);
  return { published: true, invoiceId: c.invoiceId };
}
