// disputeInvoice (staff, legacy signature): puts an invoice on hold for review by opening a Dispute,
// so there is one dispute model — the invoice's hold is always the sum of its open disputes, whoever
// opened them (it used to SET amount_disputed, overwriting the customers' share, and a dispute closing
// later could release what staff held).
//
// - One staff hold per invoice: the invoice-level dispute keyed `disputeInvoice:<invoiceId>:<n>`
//   (STAFF_HOLD_KEY_PREFIX, reserved for it). Called again while it is open, the call SETS its amount
//   (and reason), as the legacy call set the hold: the same call again changes nothing. Once it is
//   closed, the next call opens the invoice's next one.
// - Drafts too (NEW/VALIDATED, held from there, as before): openDispute refuses drafts, a staff hold
//   does not; regenerating the draft moves the dispute to the new draft (regenerateInvoice).
// - Staff decide it: the auto-assessment sends it to review and the workflow's final-deadline ACCEPT
//   is refused (assessDispute / decideDispute, DISPUTE_OPENED_BY_STAFF).
//
// Lock order, as everywhere in invoicing: credit:<account> lock, invoice row, dispute row.
import { DomainError, badInput, dec, minorUnits, newId, notFound, type Caller } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { assertTransition, isDraft, outstanding, type InvoiceState } from '../domain/lifecycle';
import { disputeAmount, STAFF_HOLD_KEY_PREFIX, staffHoldKey } from '../domain/disputes';
import { requireStaff } from './authorization';
import { lockAccountCredit } from './credit';
import { holdForDispute, lockInvoice, releaseFromOpenDispute } from './invoice-lifecycle';
import { enqueueEvents, requestHash, rows, sql } from './sql';

export interface DisputeInvoiceCommand {
  invoiceId: string;
  amount: string;
  reason: string;
  caller: Caller;
  now: Date;
}

/** `created`: a dispute was opened (its workflow is to be started); `changed`: the hold changed (dunning is to be told). */
export async function disputeInvoice(em: Em, c: DisputeInvoiceCommand): Promise<{ disputeId: string; created: boolean; changed: boolean }> {
  requireStaff(c.caller, 'put invoices on hold for a dispute');
  const k = sql(em);
  const peek = await k('invoice').where({ id: c.invoiceId }).first();
  if (!peek) throw notFound('Invoice', c.invoiceId, 'input.invoiceId');
  await lockAccountCredit(em, peek.billing_account_id);
  const invoice = await lockInvoice(em, c.invoiceId);
  const currency = invoice.currency as string;
  const scale = minorUnits(currency);
  const amount = disputeAmount(c.amount, currency);
  const reason = (c.reason ?? '').trim() || 'Put on hold by staff';
  if (reason.length > 1000) throw badInput('input.reason', 'A reason has at most 1000 characters', 'DISPUTE_REASON_TOO_LONG');
  if (invoice.state === 'VOIDED') assertTransition(invoice.state as InvoiceState, 'ON_HOLD');
  // As before: staff hold what is still owed.
  const owed = outstanding({ total: String(invoice.total), amountPaid: String(invoice.amount_paid), amountCredited: String(invoice.amount_credited) });
  if (amount.gt(owed)) throw new DomainError('DISPUTE_EXCEEDS_OUTSTANDING', `Only ${owed.toFixed(scale)} ${currency} is still owed`, { field: 'input.amount' });

  const mine = await k('dispute').where({ invoice_id: invoice.id }).whereIn('status', ['OPEN', 'IN_REVIEW']).whereLike('idempotency_key', `${STAFF_HOLD_KEY_PREFIX}%`).orderBy('created_at').forUpdate().first();
  // Together with the other open disputes, at most what can still be credited (as openDispute).
  const [{ noted }] = await rows<{ noted: string | null }>(em, 'select sum(total) as noted from credit_note where invoice_id = ?', [invoice.id]);
  const [{ others }] = await rows<{ others: string | null }>(em, `select sum(amount) as others from dispute where invoice_id = ? and status in ('OPEN', 'IN_REVIEW') and id <> ?`, [invoice.id, mine?.id ?? '']);
  const undisputed = dec(String(invoice.total)).minus(String(noted ?? '0')).minus(String(others ?? '0'));
  if (amount.gt(undisputed)) {
    const left = undisputed.gt(0) ? undisputed : dec('0');
    throw new DomainError('DISPUTE_EXCEEDS_UNDISPUTED', `Only ${left.toFixed(scale)} ${currency} of invoice ${invoice.id} can still be credited and is not disputed already`, { field: 'input.amount', undisputed: left.toFixed(scale) }, 'BAD_USER_INPUT');
  }
  const hash = requestHash({ invoiceId: invoice.id, amount: amount.toFixed(), reason, invoiceLineId: null, usageRecordId: null });

  if (mine) {
    const delta = amount.minus(String(mine.amount));
    if (delta.isZero() && mine.reason === reason) return { disputeId: mine.id, created: false, changed: false };
    await k('dispute').where({ id: mine.id }).update({ amount: amount.toFixed(scale), reason, request_hash: hash, updated_at: c.now });
    if (delta.gt(0)) await holdForDispute(em, invoice, delta.toFixed(scale), c.now, reason);
    // What the lower hold frees is due again: a release of the dispute, charged by autopay like its closing.
    else if (delta.lt(0)) await releaseFromOpenDispute(em, invoice.id, mine.id, delta.negated().toFixed(scale), c.now, `dispute ${mine.id} reduced by staff`);
    return { disputeId: mine.id, created: false, changed: !delta.isZero() };
  }

  const [{ n }] = await rows<{ n: string }>(em, 'select count(*) as n from dispute where invoice_id = ? and idempotency_key like ?', [invoice.id, `${STAFF_HOLD_KEY_PREFIX}%`]);
  const id = newId('dispute');
  await k('dispute').insert({
    id, invoice_id: invoice.id, billing_account_id: invoice.billing_account_id, invoice_line_id: null, usage_record_id: null, amount: amount.toFixed(scale), currency, reason,
    status: 'OPEN', escalation_level: 0, opened_by: c.caller.subject.slice(0, 200), idempotency_key: staffHoldKey(invoice.id, Number(n) + 1), request_hash: hash, created_at: c.now,
  });
  await holdForDispute(em, invoice, amount.toFixed(scale), c.now, reason);
  // A draft's hold is internal (review 12): the customer has not been sent the invoice, did not open
  // the dispute, and the draft cannot be issued while held, so no customer event (close() says nothing either).
  if (!isDraft({ state: invoice.state as InvoiceState, heldFrom: invoice.held_from })) await enqueueEvents(em, 'disputeOpened', c.now, [
    { subject: id, key: [id, 'opened'], data: { disputeId: id, invoiceId: invoice.id, billingAccountId: invoice.billing_account_id, invoiceLineId: null, usageRecordId: null, amount: amount.toFixed(scale), currency, reason, invoiceNumber: invoice.number ?? null } },
  ]);
  return { disputeId: id, created: true, changed: true };
}
