// Charges a closed prepaid wallet refused (wallets' `billing.wallets.charge.refused`): nothing was
// taken from the wallet (or, at its settlement, a part: `collected`; `amount` is the rest), so the
// customer still owes them and invoicing bills them (`amount`), once per charge:
// as a one-off charge of the account (id: the chargeId; amount, currency, reason and line as the
// charge's own; taxed as any one-off, TELECOM_STANDARD in the account's jurisdiction). A POSTPAID
// account's next invoice bills it (after its final bill: the adjustment invoice of the next bill run,
// as late usage). A PREPAID account has no period invoices, so it is billed at once on an invoice of
// its own (kind WALLET_CHARGE, one per chargeId), numbered and sent. What cannot be billed as it is
// (not a CloudEvent, a value out of shape, an unknown account, another currency) is HELD with a reason
// in `wallet_charge_refused`, never dropped; delivered again, a held charge is tried again. One held
// because its account was not known yet (`account_unknown`: its billingaccount.created still on its
// way) is tried again when invoicing learns the account (`billChargesHeldForAccount`). A message held
// `not_a_cloud_event` that still names its charge is that charge come broken: once a delivery that can be read
// bills (or waives) the charge, the held message takes the same outcome (`settleBrokenCopies`).
import { DomainError, cutText, dec, isCurrencyCode, isDecimalString, minorUnits, parseCloudEvent, type ChargeRefusedData, type Decimal } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import type { AccountRow } from './bill-accounts';
import { lockAccountAndCredit } from './lock-order';
import { invoiceOneCharge } from './one-charge-invoice';
import { addOneOffCharge, shown } from './read-model';
import { sql } from './sql';

/** Why a refused charge is held: see the module comment; `unstorable`: the database refused it alone. */
export type HeldReason = 'not_a_cloud_event' | 'invalid' | 'account_unknown' | 'currency_mismatch' | 'refused' | 'unstorable';

/** The tax category a refused charge is billed in: any one-off's (`addOneOffCharge`'s default). */
export const REFUSED_CHARGE_TAX_CATEGORY = 'TELECOM_STANDARD';

/** A message as it came: `key` identifies it for good (once per charge), `problem` when it cannot be billed as it is. */
export interface RefusedChargeMessage {
  key: string;
  eventId: string | null;
  chargeId: string | null;
  billingAccountId: string | null;
  /** What came, without NUL (a text column refuses it). */
  message: string;
  data?: ChargeRefusedData;
  problem?: { reason: HeldReason; because: string };
}

export type RefusedChargeOutcome =
  | { outcome: 'BILLED'; invoiceId: string | null }
  | { outcome: 'WAIVED' }
  | { outcome: 'ALREADY' }
  | { outcome: 'HELD'; reason: HeldReason; because: string; counted: boolean };

const TEXT_MAX = { chargeId: 80, billingAccountId: 40, lineId: 40, reason: 40 } as const;

/** Why the data cannot be billed as it is (the fields invoicing uses), or undefined. */
function dataProblem(d: Record<string, unknown>): string | undefined {
  for (const [field, max] of Object.entries(TEXT_MAX)) {
    const v = d[field];
    if (field === 'lineId' && v == null) continue;
    if (typeof v !== 'string' || v === '') return `${field} is missing or not a text`;
    if (v.includes('\u0000')) return `${field} contains a NUL character`;
    if ([...v].length > max) return `${field} is longer than ${max} characters`;
  }
  if (d.description != null && typeof d.description !== 'string') return 'description is not a text';
  const amount = d.amount as { amount?: unknown; currency?: unknown } | null | undefined;
  if (typeof amount !== 'object' || amount === null) return 'amount is missing';
  if (!isDecimalString(amount.amount)) return `amount.amount "${shown(amount.amount)}" is not a decimal number`;
  const value = dec(amount.amount);
  if (!value.gt(0)) return `amount.amount ${value.toFixed()} is not above zero`;
  if (value.gte(dec('100000000000000'))) return `amount.amount ${value.toFixed()} has more than 14 digits before the decimal point`;
  if (!isCurrencyCode(amount.currency)) return `amount.currency "${shown(amount.currency)}" is not a currency invoicing bills in`;
  if (value.decimalPlaces() > minorUnits(amount.currency)) return `amount.amount ${value.toFixed()} has more than ${minorUnits(amount.currency)} decimal places for ${amount.currency}`;
  const at = typeof d.refusedAt === 'string' ? new Date(d.refusedAt) : null;
  if (!at || Number.isNaN(at.getTime())) return `refusedAt "${shown(d.refusedAt)}" is not a date-time`;
  if (d.refusal != null && typeof d.refusal !== 'string') return 'refusal is not a text';
  return undefined;
}

/**
 * The charge and account a message that is not a CloudEvent names: its data's `chargeId` and `billingAccountId`,
 * or in a text that is not JSON (an event cut short) their `"chargeId":"…"` pairs; only ids a readable event
 * could carry (so a billed charge's id matches them as they are), else null.
 */
function namedIn(data: unknown): { chargeId: string | null; billingAccountId: string | null } {
  const id = (field: 'chargeId' | 'billingAccountId'): string | null => {
    const v = typeof data === 'string' ? new RegExp(`"${field}"\\s*:\\s*"([^"\\\\]*)"`).exec(data)?.[1] : (data as Record<string, unknown> | null | undefined)?.[field];
    return typeof v === 'string' && v !== '' && !v.includes('\u0000') && [...v].length <= TEXT_MAX[field] ? v : null;
  };
  return typeof data === 'string' || (typeof data === 'object' && data !== null && !Array.isArray(data)) ? { chargeId: id('chargeId'), billingAccountId: id('billingAccountId') } : { chargeId: null, billingAccountId: null };
}

/** A `billing.wallets.charge.refused` message (a CloudEvent, the outbox's form, or the bare data), checked. */
export function refusedChargeIn(text: string, seq: number | undefined): RefusedChargeMessage {
  const message = text.replaceAll('\u0000', '');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { key: `message:${seq ?? 'unknown'}`, eventId: null, ...namedIn(text), message, problem: { reason: 'not_a_cloud_event', because: 'the message is not JSON' } };
  }
  let eventId: string | null = null;
  let data: unknown = body;
  if ((body as { specversion?: unknown } | null)?.specversion !== undefined) {
    try {
      const event = parseCloudEvent(text);
      eventId = event.id.replaceAll('\u0000', '');
      data = event.data;
    } catch (error) {
      return { key: `message:${seq ?? 'unknown'}`, eventId: null, ...namedIn((body as { data?: unknown }).data), message, problem: { reason: 'not_a_cloud_event', because: (error as Error).message } };
    }
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return { key: eventId ? `event:${eventId}` : `message:${seq ?? 'unknown'}`, eventId, chargeId: null, billingAccountId: null, message, problem: { reason: 'invalid', because: 'the event has no data object' } };
  }
  const d = data as Record<string, unknown>;
  const clean = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v.replaceAll('\u0000', '') : null);
  const chargeId = clean(d.chargeId);
  const key = chargeId ? `charge:${chargeId}` : eventId ? `event:${eventId}` : `message:${seq ?? 'unknown'}`;
  let problem: string | undefined;
  try {
    problem = dataProblem(d);
  } catch (error) {
    problem = (error as Error).message;
  }
  if (problem) return { key, eventId, chargeId, billingAccountId: clean(d.billingAccountId), message, problem: { reason: 'invalid', because: problem } };
  return { key, eventId, chargeId, billingAccountId: d.billingAccountId as string, message, data: d as unknown as ChargeRefusedData };
}

/**
 * What the wallet paid of the charge at its settlement (`collected`, since d65bfba), when above zero and
 * in the charge's currency; the whole charge is `chargeAmount`, else what was collected and what is left
 * (`amount`). Null for a charge it paid nothing of, an event written before, or a value it cannot read.
 */
function collectedPart(d: ChargeRefusedData): { collected: Decimal; charge: Decimal } | null {
  const currency = d.amount.currency;
  // Within what `amount` may be (below 1e14), so the line's text keeps its room.
  const money = (m: unknown): Decimal | null => {
    const v = m as { amount?: unknown; currency?: unknown } | null | undefined;
    return typeof v === 'object' && v !== null && v.currency === currency && isDecimalString(v.amount) && dec(v.amount).lt(dec('100000000000000')) ? dec(v.amount) : null;
  };
  const collected = money(d.collected);
  if (collected === null || !collected.gt(0)) return null;
  return { collected, charge: money(d.chargeAmount) ?? dec(d.amount.amount).plus(collected) };
}

/**
 * What the invoice line says: the charge's own text, its reason and id, and what the wallet collected of
 * it: nothing ("not collected from the settled prepaid wallet"), or at its settlement a part ("3.00 of
 * 5.00 collected from the settled prepaid wallet, 2.00 billed": the line bills the rest, `amount`).
 */
export function refusedChargeDescription(d: ChargeRefusedData): string {
  const wallet = d.refusal === 'WALLET_SETTLED' ? 'settled' : 'closed';
  const what = (typeof d.description === 'string' ? d.description.replaceAll('\u0000', '').trim() : '') || d.reason;
  const part = collectedPart(d);
  const scale = minorUnits(d.amount.currency);
  const collected = part
    ? `${part.collected.toFixed(scale)} of ${part.charge.toFixed(scale)} collected from the ${wallet} prepaid wallet, ${dec(d.amount.amount).toFixed(scale)} billed`
    : `not collected from the ${wallet} prepaid wallet`;
  const suffix = ` (${d.reason}, charge ${d.chargeId}: ${collected})`;
  return `${cutText(what, 300 - [...suffix].length)}${suffix}`;
}

/** Why an error thrown while billing holds the charge: the same every time it comes (invoicing's rules, the data). */
export function heldReasonOf(error: unknown): HeldReason | undefined {
  if (error instanceof DomainError) {
    if (error.code === 'BILLINGACCOUNT_NOT_FOUND') return 'account_unknown';
    if (error.code.endsWith('_CURRENCY_MISMATCH')) return 'currency_mismatch';
    if (error.category === 'BAD_USER_INPUT') return 'invalid';
    return 'refused';
  }
  const code = (error as { code?: unknown })?.code;
  if (typeof code === 'string' && (code.startsWith('22') || code === '23502' || code === '23514')) return 'unstorable';
  return undefined;
}

/**
 * Serialises holding a charge `account_unknown` with trying the account's held charges again when the
 * account is learnt (a transaction advisory lock, two-int key space): either the hold sees the account's
 * row, or the account's sweep, waiting for the hold, sees the held row. Taken alone by a hold, after the
 * account's row (lock-order.ts step 1) by the sweep.
 */
async function lockHeldForAccount(em: Em, billingAccountId: string): Promise<void> {
  await sql(em).raw('select pg_advisory_xact_lock(hashtext(?), hashtext(?))', ['wallet-charge-held', billingAccountId]);
}

/**
 * Serialises holding a message `not_a_cloud_event` that names a charge with billing that charge (a
 * transaction advisory lock, two-int key space): either the hold sees the charge billed, or the billing,
 * waiting for the hold, sees the held message. Taken alone by a hold, after locks 1 and 2 (lock-order.ts) by the billing.
 */
async function lockChargeNamed(em: Em, chargeId: string): Promise<void> {
  await sql(em).raw('select pg_advisory_xact_lock(hashtext(?), hashtext(?))', ['wallet-charge-named', chargeId]);
}

/** The row of `chargeId` billed or waived from a delivery that could be read, or undefined. */
async function settledCharge(em: Em, chargeId: string): Promise<{ status: 'BILLED' | 'WAIVED'; invoice_id: string | null; billing_account_id: string } | undefined> {
  return sql(em)('wallet_charge_refused').where({ key: `charge:${chargeId}` }).whereIn('status', ['BILLED', 'WAIVED']).first('status', 'invoice_id', 'billing_account_id');
}

/**
 * The messages held `not_a_cloud_event` naming this charge (of its account, or naming none) are the charge come
 * broken: it is billed (or waived) now, so they take its outcome and invoice and no longer show as outstanding.
 * Not counted: they were counted when held.
 */
async function settleBrokenCopies(em: Em, d: ChargeRefusedData, now: Date): Promise<void> {
  const done = await settledCharge(em, d.chargeId);
  if (!done) return;
  await sql(em)('wallet_charge_refused')
    .where({ charge_id: d.chargeId, status: 'HELD', held_reason: 'not_a_cloud_event' })
    .whereNot({ key: `charge:${d.chargeId}` })
    .where((q) => q.whereNull('billing_account_id').orWhere({ billing_account_id: d.billingAccountId }))
    .update({ status: done.status, held_reason: null, held_because: null, invoice_id: done.invoice_id, updated_at: now });
}

/**
 * Records `m` as HELD (`reason`, `because`), once: answers whether this call recorded it (a
 * redelivery of a held message is not counted again; one already billed stays billed), or
 * `account_known` when it was to be held `account_unknown` and its account is known by now (learnt
 * since the charge was tried): nothing is held, the charge is to be tried again.
 */
export async function holdRefusedCharge(em: Em, m: RefusedChargeMessage, reason: HeldReason, because: string, now: Date): Promise<boolean | 'account_known'> {
  const k = sql(em);
  if (reason === 'account_unknown' && m.billingAccountId != null) {
    await lockHeldForAccount(em, m.billingAccountId);
    if (await k('billing_account').where({ id: m.billingAccountId }).first('id')) return 'account_known';
  }
  if (reason === 'not_a_cloud_event' && m.chargeId != null) {
    // The charge it names billed (or waived) already: kept with that outcome, not outstanding, not counted.
    await lockChargeNamed(em, m.chargeId);
    const done = await settledCharge(em, m.chargeId);
    if (done && (m.billingAccountId === null || m.billingAccountId === done.billing_account_id)) {
      await k('wallet_charge_refused')
        .insert({ key: m.key, charge_id: m.chargeId, billing_account_id: m.billingAccountId, event_id: null, status: done.status, held_reason: null, held_because: null, invoice_id: done.invoice_id, message: m.message, received_at: now, updated_at: now })
        .onConflict('key')
        .ignore();
      return false;
    }
  }
  const inserted = await k('wallet_charge_refused')
    .insert({ key: m.key, charge_id: m.chargeId, billing_account_id: m.billingAccountId, event_id: m.eventId, status: 'HELD', held_reason: reason, held_because: because.replaceAll('\u0000', ''), invoice_id: null, message: m.message, received_at: now, updated_at: now })
    .onConflict('key')
    .ignore()
    .returning('key');
  return (inserted as unknown[]).length > 0;
}

/**
 * Takes one message: holds it when it cannot be billed as it is, else bills its charge once
 * (`ALREADY` for a charge billed or waived before). Throws what invoicing refuses while billing it
 * (a DomainError, a data error: `heldReasonOf`) for the caller to hold it in a transaction of its
 * own, and anything else (the database unavailable) for the message to come again.
 */
export async function takeRefusedCharge(em: Em, m: RefusedChargeMessage, now: Date): Promise<RefusedChargeOutcome> {
  if (m.problem || !m.data) {
    const reason = m.problem?.reason ?? 'invalid';
    const because = m.problem?.because ?? 'no data';
    return { outcome: 'HELD', reason, because, counted: (await holdRefusedCharge(em, m, reason, because, now)) === true };
  }
  const d = m.data;
  const k = sql(em);
  // Locks 1 and 2 of lock-order.ts before the one-off's id lock (addOneOffCharge) and issuing (credit).
  await lockAccountAndCredit(em, d.billingAccountId);
  await lockChargeNamed(em, d.chargeId);
  // The claim: one row per charge. A held one is tried again (and stays held if this fails: rolled back).
  const claimed = await k.raw(
    `insert into wallet_charge_refused (key, charge_id, billing_account_id, event_id, status, message, received_at, updated_at)
     values (?, ?, ?, ?, 'BILLED', ?, ?, ?)
     on conflict (key) do update set status = 'BILLED', held_reason = null, held_because = null, event_id = excluded.event_id, message = excluded.message, updated_at = excluded.updated_at
       where wallet_charge_refused.status = 'HELD'
     returning key`,
    [m.key, d.chargeId, d.billingAccountId, m.eventId, m.message, now, now],
  );
  if (claimed.rows.length === 0) return { outcome: 'ALREADY' };
  const account = (await k('billing_account').where({ id: d.billingAccountId }).first()) as AccountRow | undefined;
  if (!account) throw new DomainError('BILLINGACCOUNT_NOT_FOUND', `Billing account ${d.billingAccountId} is not known to invoicing`, { field: 'billingAccountId' });
  if (d.amount.currency !== account.currency) throw new DomainError('WALLET_CHARGE_CURRENCY_MISMATCH', `The account bills in ${account.currency}, the refused charge is in ${d.amount.currency}`, { field: 'amount.currency' });
  const description = refusedChargeDescription(d);
  const at = new Date(d.refusedAt);
  const oneOff = await addOneOffCharge(em, {
    id: d.chargeId, billingAccountId: d.billingAccountId, lineId: d.lineId ?? null, code: d.reason, description, amount: d.amount, taxCategory: REFUSED_CHARGE_TAX_CATEGORY, occurredAt: at, now,
  });
  const settle = async (status: 'BILLED' | 'WAIVED', invoiceId: string | null) => {
    await k('wallet_charge_refused').where({ key: m.key }).update({ status, invoice_id: invoiceId, updated_at: now });
    await settleBrokenCopies(em, d, now);
  };
  if (oneOff.waived) {
    await settle('WAIVED', null);
    return { outcome: 'WAIVED' };
  }
  // A POSTPAID account's next invoice bills the one-off (a period's, or after its final one an adjustment invoice);
  // one recorded before under this id (created: false) is billed, or will be, as it is.
  if (account.payment_mode !== 'PREPAID') {
    const existing = await k('one_off_charge').where({ id: d.chargeId }).first('invoice_id');
    await settle('BILLED', existing?.invoice_id ?? null);
    return { outcome: 'BILLED', invoiceId: existing?.invoice_id ?? null };
  }
  // A PREPAID account has no period invoice: a one-off recorded before under this id (by hand, the same
  // facts: addOneOffCharge refuses others) that no invoice bills yet would never be billed. It is billed
  // here as one recorded now, in its own tax category and line; one an invoice bills already is billed.
  let recorded: { tax_category: string; line_id: string | null } | undefined;
  if (!oneOff.created) {
    const existing = await k('one_off_charge').where({ id: d.chargeId }).first('invoice_id', 'tax_category', 'line_id');
    if (existing?.invoice_id != null) {
      await settle('BILLED', existing.invoice_id);
      return { outcome: 'BILLED', invoiceId: existing.invoice_id };
    }
    recorded = existing;
  }
  const invoiceId = await invoiceAtOnce(em, account, d, description, at, now, recorded);
  await settle('BILLED', invoiceId);
  return { outcome: 'BILLED', invoiceId };
}

/**
 * A PREPAID account's refused charge on a WALLET_CHARGE invoice of its own (one per chargeId), numbered and
 * sent; its one-off (`recorded` before, else just now) marked billed by it.
 */
async function invoiceAtOnce(em: Em, account: AccountRow, d: ChargeRefusedData, description: string, at: Date, now: Date, recorded?: { tax_category: string; line_id: string | null }): Promise<string> {
  const { invoiceId } = await invoiceOneCharge(em, account, {
    kind: 'WALLET_CHARGE',
    sourceRef: d.chargeId,
    at,
    charge: {
      id: d.chargeId, code: d.reason, description, amount: dec(d.amount.amount).toFixed(),
      taxCategory: recorded?.tax_category ?? REFUSED_CHARGE_TAX_CATEGORY, lineId: recorded ? recorded.line_id : (d.lineId ?? null),
    },
    billsOneOff: true,
  }, now);
  return invoiceId;
}

/** What trying an account's held charges again came to: the keys billed (or waived, or found billed), and held again. */
export interface HeldChargesRetried {
  billed: string[];
  held: { key: string; reason: HeldReason }[];
}

/**
 * Invoicing has learnt `billingAccountId` (its `billingaccount.created` applied, or registered by hand):
 * the charges held `account_unknown` for it are tried again, in the caller's transaction (after the
 * account's row, lock-order.ts step 1), each behind a savepoint: billed once (takeRefusedCharge's claim:
 * a later delivery finds it billed), or held again for what stops it now (another currency…, its reason
 * and why updated). Never throws what invoicing refuses, so the account's event is applied whatever
 * its held charges come to; anything else (the database unavailable) is thrown. Not counted again:
 * they were counted when held.
 */
export async function billChargesHeldForAccount(em: Em, billingAccountId: string, now: Date): Promise<HeldChargesRetried> {
  const k = sql(em);
  const out: HeldChargesRetried = { billed: [], held: [] };
  await lockHeldForAccount(em, billingAccountId);
  const held = (await k('wallet_charge_refused')
    .where({ billing_account_id: billingAccountId, status: 'HELD', held_reason: 'account_unknown' })
    .orderBy([{ column: 'received_at' }, { column: 'key' }])
    .select('key', 'message')) as { key: string; message: string }[];
  for (const row of held) {
    const m = refusedChargeIn(row.message, undefined);
    // Held account_unknown only after its data passed: it reads the same again (else left as it is, for a person).
    if (m.key !== row.key || m.problem || !m.data) continue;
    await k.raw('savepoint wallet_charge_held_retry');
    try {
      const r = await takeRefusedCharge(em, m, now);
      await k.raw('release savepoint wallet_charge_held_retry');
      if (r.outcome !== 'HELD') out.billed.push(row.key);
    } catch (error) {
      await k.raw('rollback to savepoint wallet_charge_held_retry');
      const reason = heldReasonOf(error);
      if (!reason) throw error;
      const because = ((error as Error).message ?? String(error)).replaceAll('\u0000', '');
      await k('wallet_charge_refused').where({ key: row.key, status: 'HELD' }).update({ held_reason: reason, held_because: because, updated_at: now });
      out.held.push({ key: row.key, reason });
    }
  }
  return out;
}
