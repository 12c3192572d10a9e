// Invoicing's local read model of what other services own: billing accounts and subscriptions
// (from subscribers), plan versions (from catalog), POSTPAID charges (from wallets). Fed by event
// consumers and, for tests and operators, by explicit mutations. Every write here is idempotent.
import { DomainError, ONE_OFF_DESCRIPTION_MAX, badInput, dec, isCurrencyCode, isDecimalString, minorUnits, notFound, type ChargeResult, type RoundingMode } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { scheduleCycleChange, type AccountCycle } from '../domain/bill-cycle';
import { invoiceSeriesProblem } from '../domain/document-series';
import { isValidTimeZone } from '../domain/period';
import { chargeLeftToRefund } from './charge-given-back';
import { lockAccountCredit } from './credit';
import { lockOneOffChargeId, waiverInAdvance } from './one-off-charge-waivers';
import { rows, sql } from './sql';

const ROUNDING_MODES = ['HALF_EVEN', 'HALF_UP', 'HALF_DOWN', 'UP', 'DOWN', 'CEILING', 'FLOOR'];

/** Tax jurisdiction when none is given: where the currency is at home. */
const JURISDICTION_BY_CURRENCY: Record<string, string> = { EUR: 'DE', USD: 'US', GBP: 'GB', CHF: 'CH', SEK: 'SE', NOK: 'NO', DKK: 'DK', PLN: 'PL' };

export interface RegisterAccountCommand {
  billingAccountId: string;
  customerId?: string | null;
  customerName?: string | null;
  paymentMode: 'PREPAID' | 'POSTPAID';
  currency: string;
  billCycleDay?: number | null;
  timezone?: string | null;
  jurisdiction?: string | null;
  roundingMode?: RoundingMode | null;
  series?: string | null;
  paymentTermsDays?: number | null;
  /** Payment-provider token for autopay (a token, never a card number), registered here directly. */
  autopayToken?: string | null;
  /** A token is on file at subscribers (its account event says so): the due-date job asks for it. */
  autopay?: boolean | null;
  /**
   * The account's creation as subscribers told it (`billingaccount.created`): for an account already
   * here (the event redelivered or replayed, or registered by hand first) its day and zone are not a
   * bill-cycle change — they are how it was created, and a change made since (an operator's) stands.
   */
  asCreated?: boolean;
  now: Date;
}

export async function registerBillingAccount(em: Em, c: RegisterAccountCommand): Promise<string> {
  if (!c.billingAccountId) throw badInput('input.billingAccountId', 'A billing account id is required');
  if (!isCurrencyCode(c.currency)) throw badInput('input.currency', `"${c.currency}" is not a currency we bill in`, 'MONEY_UNKNOWN_CURRENCY');
  const day = c.billCycleDay ?? 1;
  if (!Number.isInteger(day) || day < 1 || day > 31) throw badInput('input.billCycleDay', 'The bill-cycle day is 1–31', 'BILL_CYCLE_DAY_INVALID');
  const tz = c.timezone ?? 'UTC';
  if (!isValidTimeZone(tz)) throw badInput('input.timezone', `"${tz}" is not an IANA time zone`, 'TIMEZONE_INVALID');
  const rounding = c.roundingMode ?? 'HALF_EVEN';
  if (c.autopayToken != null && (!/^[A-Za-z0-9_:.-]{3,200}$/.test(c.autopayToken) || /^\d{12,19}$/.test(c.autopayToken))) {
    throw badInput('input.autopayToken', 'An autopay token is a payment-provider token (letters, digits, _ : . -), never a card number', 'AUTOPAY_TOKEN_INVALID');
  }
  if (!ROUNDING_MODES.includes(rounding)) throw badInput('input.roundingMode', `Rounding mode is one of ${ROUNDING_MODES.join(', ')}`, 'ROUNDING_MODE_INVALID');
  const seriesProblem = typeof c.series === 'string' ? invoiceSeriesProblem(c.series) : undefined;
  if (seriesProblem) throw badInput('input.series', seriesProblem.message, seriesProblem.code);
  const row = {
    id: c.billingAccountId,
    customer_id: c.customerId ?? null,
    customer_name: c.customerName ?? null,
    payment_mode: c.paymentMode,
    currency: c.currency,
    bill_cycle_day: day,
    timezone: tz,
    jurisdiction: c.jurisdiction ?? JURISDICTION_BY_CURRENCY[c.currency] ?? 'XX',
    rounding_mode: rounding,
    series: c.series ?? 'INV',
    payment_terms_days: c.paymentTermsDays ?? 14,
    autopay_token: c.autopayToken ?? null,
    autopay: Boolean(c.autopay) || c.autopayToken != null,
    status: 'ACTIVE',
    created_at: c.now,
  };
  // Re-delivered events are no-ops; an explicit registration may refine what the event said (a
  // registration without a token keeps the one on file). Another bill-cycle day or time zone is a
  // bill-cycle change: it takes effect at the end of the account's current period (`scheduleCycleChange`:
  // the old cycle bills that period, the new one's first period bridges from its end, prorated) —
  // unless it is the account's created event again (`asCreated`): that never changes the cycle.
  const k = sql(em);
  // The account lock of lock-order.ts (step 1): FOR NO KEY UPDATE, as every use case takes it. The
  // upsert below never changes the key, so FOR UPDATE would only add a conflict with KEY SHARE (what a
  // foreign key check takes on the row) that no reader here needs.
  const existing = await k('billing_account').where({ id: c.billingAccountId }).forNoKeyUpdate().first();
  // A field the call leaves out is one its caller does not know: what is on file stays. Subscribers' created
  // event carries no name, jurisdiction, rounding or series; redelivered or replayed, it cleared a name
  // registered by hand and reset the others (the tax with them), and a registration without a cycle scheduled
  // a change to the 1st in UTC. An explicit null still clears the name, or asks for a field's default.
  const given = (field: keyof RegisterAccountCommand, column: keyof typeof row) => (c[field] === undefined ? {} : { [column]: k.raw(`excluded.${column}`) });
  const cycle = existing && !c.asCreated ? scheduleCycleChange(existing as AccountCycle, c.billCycleDay === undefined ? existing.bill_cycle_day : day, c.timezone === undefined ? existing.timezone : tz, c.now) : {};
  await k('billing_account')
    .insert(row)
    .onConflict('id')
    .merge({
      ...given('customerName', 'customer_name'),
      ...given('jurisdiction', 'jurisdiction'),
      ...given('roundingMode', 'rounding_mode'),
      ...given('series', 'series'),
      ...given('paymentTermsDays', 'payment_terms_days'),
      ...cycle,
      autopay_token: k.raw('coalesce(excluded.autopay_token, billing_account.autopay_token)'),
      autopay: k.raw('excluded.autopay or billing_account.autopay'),
    });
  // The row of its credit lock (lockAccountCredit), made with the account, so no credit lock has to make it.
  if (!existing) await k('account_credit_lock').insert({ billing_account_id: c.billingAccountId }).onConflict('billing_account_id').ignore();
  return c.billingAccountId;
}

/**
 * What a `billingaccount.changed` asks of invoicing: autopay as subscribers now has it, when the event says autopay
 * changed; null when nothing invoicing keeps changed (a credit limit, a partner: usage's and subscribers' own).
 */
export function autopayOfChange(d: { changed?: readonly string[] | null; autopay?: boolean | null }): boolean | null {
  return d.changed?.includes('autopay') ? d.autopay === true : null;
}

/**
 * Of these autopay changes (`autopayOfChange`), the accounts whose row one of them would change, as the rows are now
 * (read, not locked): autopay is other, or a token registered here has to give way. Only those are worth the
 * account's billing lock (lock-order.ts, step 1); for the others the events change nothing, as of this look (only
 * these events turn autopay off, and one account's come in order). One statement for the batch. An account not
 * known here is none of them (its event changes no row).
 */
export async function accountsAutopayWouldChange(em: Em, changes: { billingAccountId: string; autopay: boolean }[]): Promise<Set<string>> {
  if (changes.length === 0) return new Set();
  const found = await rows<{ id: string }>(
    em,
    `select distinct a.id from billing_account a join unnest(?::text[], ?::boolean[]) as c(id, autopay) on a.id = c.id
      where a.autopay is distinct from c.autopay or a.autopay_token is not null`,
    [changes.map((c) => c.billingAccountId), changes.map((c) => c.autopay)],
  );
  return new Set(found.map((r) => r.id));
}

/**
 * Subscribers turned autopay on or off (`billingaccount.changed`; the token stays there and is
 * fetched when an invoice falls due). A token registered here directly gives way to it. Looks again
 * as it writes (the caller holds the account's lock): a row already so is not written. Answers
 * whether it changed the row.
 */
export async function setAutopay(em: Em, billingAccountId: string, autopay: boolean): Promise<boolean> {
  const k = sql(em);
  const n = await k('billing_account')
    .where({ id: billingAccountId })
    .andWhere((q) => q.whereRaw('autopay is distinct from ?', [autopay]).orWhereNotNull('autopay_token'))
    .update({ autopay, autopay_token: null });
  return Number(n) > 0;
}

export interface RecordSubscriptionCommand {
  subscriptionId: string;
  lineId: string;
  msisdn?: string | null;
  billingAccountId: string;
  planCode: string;
  planVersionId: string;
  startsAt: Date;
  endsAt?: Date | null;
}

/**
 * Records which plan version a subscription is on from `startsAt`, into the subscription's
 * timeline of segments. A later instant with another plan version closes the segment before it
 * (a mid-cycle plan change). Facts may arrive out of order (a change before its creation, or a
 * backfilled history): an earlier segment is inserted before the later ones and ends where the
 * next begins, and one on the same plan version as the next simply extends it backwards. The
 * same facts again change nothing.
 */
export async function recordSubscription(em: Em, c: RecordSubscriptionCommand): Promise<void> {
  const k = sql(em);
  const at = await k('subscription_segment').where({ subscription_id: c.subscriptionId, valid_from: c.startsAt }).first();
  if (at) {
    if (at.plan_version_id === c.planVersionId && c.endsAt !== undefined && (at.valid_to?.getTime?.() ?? null) !== (c.endsAt?.getTime() ?? null)) await k('subscription_segment').where({ seq: at.seq }).update({ valid_to: c.endsAt });
    return;
  }
  const prev = await k('subscription_segment').where({ subscription_id: c.subscriptionId }).andWhere('valid_from', '<', c.startsAt).orderBy('valid_from', 'desc').first();
  const next = await k('subscription_segment').where({ subscription_id: c.subscriptionId }).andWhere('valid_from', '>', c.startsAt).orderBy('valid_from', 'asc').first();
  if (prev && prev.plan_version_id === c.planVersionId && (prev.valid_to === null || new Date(prev.valid_to) >= c.startsAt)) {
    // Already on this plan version at that instant: only an end date can be news.
    if (c.endsAt && !next && (prev.valid_to === null || new Date(prev.valid_to).getTime() !== c.endsAt.getTime())) await k('subscription_segment').where({ seq: prev.seq }).update({ valid_to: c.endsAt });
    return;
  }
  if (prev && (prev.valid_to === null || new Date(prev.valid_to) > c.startsAt)) await k('subscription_segment').where({ seq: prev.seq }).update({ valid_to: c.startsAt });
  if (next && next.plan_version_id === c.planVersionId) {
    await k('subscription_segment').where({ seq: next.seq }).update({ valid_from: c.startsAt });
    return;
  }
  const validTo = next ? new Date(next.valid_from) : (c.endsAt ?? null);
  await k('subscription_segment')
    .insert({ subscription_id: c.subscriptionId, line_id: c.lineId, msisdn: c.msisdn ?? null, billing_account_id: c.billingAccountId, plan_code: c.planCode, plan_version_id: c.planVersionId, valid_from: c.startsAt, valid_to: validTo })
    .onConflict(['subscription_id', 'valid_from'])
    .ignore();
}

/**
 * A subscription as subscribers sends it (`subscription.created` / `.changed` without `effectiveAt`):
 * it holds ONE plan version from its `startsAt` to its `endsAt` (a plan change is a new subscription),
 * and `.changed` is sent for any change of it (an add-on bought or ended, SCHEDULED → ACTIVE, a
 * termination) at the time of that change — not a plan starting then. So its segment is
 * [startsAt, endsAt), whatever the event's time:
 *  - PENDING (a line ordered, not live yet; its order may still fail) holds nothing: the event that
 *    makes it ACTIVE carries its start (completeOrder moves `startsAt` to the activation);
 *  - in subscribers a subscription's start only moves later (PENDING → ACTIVE, never recorded) and its
 *    end only earlier (open → the END_OF_CYCLE change → a termination), so the segment keeps the start
 *    it was first recorded with (also one recorded by hand, a line's history) and the earliest end it
 *    was told: a redelivered older event never reopens or widens it;
 *  - a SCHEDULED one terminated before it began ends where it starts: held no day.
 * Before, a `.changed` was taken as the plan starting at the event's time: an add-on bought while an
 * END_OF_CYCLE change waited started the next plan at the purchase (both plans billed), a termination
 * then started it open-ended (billed every month after the line was gone), and a line was billed
 * from its order, or for ever when its activation failed. A subscription whose timeline holds other
 * plan versions too (recorded by hand, `recordSubscription`) is recorded as `recordSubscription` does.
 */
export async function recordSubscriptionState(em: Em, c: RecordSubscriptionCommand & { status: string }): Promise<void> {
  if (c.status === 'PENDING') return;
  const k = sql(em);
  const segments = await k('subscription_segment').where({ subscription_id: c.subscriptionId });
  const [own, ...more] = segments;
  if (!own || more.length > 0 || own.plan_version_id !== c.planVersionId) return recordSubscription(em, c);
  // Its start as first recorded: subscribers moves a start only from PENDING to ACTIVE, and PENDING is never
  // recorded; a start recorded by hand (recordSubscription: a line's history before its events) stays.
  const from = new Date(own.valid_from);
  const ends = [own.valid_to ? new Date(own.valid_to) : null, c.endsAt ?? null].filter((d): d is Date => d != null);
  const to = ends.length ? new Date(Math.max(from.getTime(), Math.min(...ends.map((d) => d.getTime())))) : null;
  if (from.getTime() === new Date(own.valid_from).getTime() && (to?.getTime() ?? null) === (own.valid_to ? new Date(own.valid_to).getTime() : null)) return;
  await k('subscription_segment').where({ seq: own.seq }).update({ valid_from: from, valid_to: to });
}

/**
 * The outcomes that took money into the ledger. Listed rather than excluded: a REJECTED result
 * (CHARGE_ID_CONFLICT) carries a refused request's facts under a chargeId that is another charge's,
 * and an outcome added after this was written cannot be assumed to bill anything.
 */
const BILLABLE_OUTCOMES: ReadonlySet<string> = new Set<ChargeResult['outcome']>(['APPLIED', 'PARTIAL']);

/** What an unbilled_charge row holds (migration 20261126000000_billing, adjusts_invoice_id 20261127000000, usage_record_id 20261220000000). */
const CHARGE_TEXT_MAX = { chargeId: 80, billingAccountId: 40, usageType: 32, unit: 16, lineId: 40, zone: 40, adjustsInvoiceId: 40, usageRecordId: 80 } as const;
const OPTIONAL_TEXT: ReadonlySet<string> = new Set(['lineId', 'zone', 'adjustsInvoiceId', 'usageRecordId']);
/** numeric(24,6) units and numeric(24,8) amount: digits before the point, and after it (more would be rounded away). */
const CHARGE_DECIMALS = { units: { integer: 18, scale: 6 }, amountCharged: { integer: 16, scale: 8 } } as const;
/** Charges happen between these years: PostgreSQL cannot store what JS dates reach (year 275760), and nothing is billed before 1970. */
const EARLIEST_YEAR = 1970;
const LATEST_YEAR = 9999;

export interface ChargeProblem {
  /** The ChargeResult's field at fault. */
  field: string;
  message: string;
  /**
   * `unstorable` (default): a value unbilled_charge cannot hold; `refused`: storable, but invoicing's
   * rules refuse it the same every time (a charge in another currency than its account's).
   */
  reason?: 'unstorable' | 'refused';
}

/** Shown in a message or a log: cut short, no NUL (a log line or a column may refuse it). */
export const shown = (value: unknown): string => String(value).replaceAll('\u0000', '\uFFFD').slice(0, 100);

function textProblem(field: keyof typeof CHARGE_TEXT_MAX, value: unknown): ChargeProblem | undefined {
  if (value == null && OPTIONAL_TEXT.has(field)) return undefined;
  if (typeof value !== 'string' || (value === '' && !OPTIONAL_TEXT.has(field))) return { field, message: `${field} is missing or not a text` };
  if (value.includes('\u0000')) return { field, message: `${field} contains a NUL character` };
  // varchar(n) counts characters, not UTF-16 units.
  if ([...value].length > CHARGE_TEXT_MAX[field]) return { field, message: `${field} is longer than ${CHARGE_TEXT_MAX[field]} characters` };
  return undefined;
}

function decimalProblem(field: keyof typeof CHARGE_DECIMALS, value: unknown): ChargeProblem | undefined {
  // A JSON number would be taken as it is by dec() and rounded by toFixed(): only decimal text is exact.
  if (!isDecimalString(value)) return { field, message: `${field} "${shown(value)}" is not a decimal number` };
  const { integer, scale } = CHARGE_DECIMALS[field];
  const d = dec(value);
  if (d.decimalPlaces() > scale) return { field, message: `${field} "${shown(value)}" has more than ${scale} decimal places` };
  if (d.abs().gte(dec(`1${'0'.repeat(integer)}`))) return { field, message: `${field} "${shown(value)}" has more than ${integer} digits before the decimal point` };
  return undefined;
}

function dateProblem(field: string, value: unknown): ChargeProblem | undefined {
  const at = typeof value === 'string' && value !== '' ? new Date(value) : null;
  if (!at || Number.isNaN(at.getTime())) return { field, message: `${field} "${shown(value)}" is not a date-time` };
  const year = at.getUTCFullYear();
  if (year < EARLIEST_YEAR || year > LATEST_YEAR) return { field, message: `${field} "${shown(value)}" is outside the years ${EARLIEST_YEAR}..${LATEST_YEAR}` };
  return undefined;
}

/**
 * Why unbilled_charge cannot hold this result as it is, or undefined when it can: checked before
 * the write because one refused value fails the whole batch's statement (and transaction), and
 * the consumer redelivered that batch for ever while no other postpaid charge was recorded.
 */
export function chargeProblem(c: ChargeResult & { zone?: string | null }): ChargeProblem | undefined {
  for (const field of Object.keys(CHARGE_TEXT_MAX) as (keyof typeof CHARGE_TEXT_MAX)[]) {
    const problem = textProblem(field, c[field]);
    if (problem) return problem;
  }
  for (const field of Object.keys(CHARGE_DECIMALS) as (keyof typeof CHARGE_DECIMALS)[]) {
    const problem = decimalProblem(field, c[field]);
    if (problem) return problem;
  }
  if (typeof c.currency !== 'string' || !/^[A-Z]{3}$/.test(c.currency)) return { field: 'currency', message: `currency "${shown(c.currency)}" is not a three-letter ISO 4217 code` };
  return dateProblem('occurredAt', c.occurredAt);
}

/** The recordCharges mutation's name of a ChargeResult field, where it differs. */
const INPUT_FIELD: Record<string, string> = { amountCharged: 'amount' };

/**
 * Keeps POSTPAID charges that moved money (idempotent by chargeId); returns how many were new. A
 * charge unbilled_charge cannot hold (`chargeProblem`), or in another currency than its billing
 * account's (the bill would add it in as the account's currency), is refused with a coded error, or,
 * given `skip` (the consumer: one bad result must not cost the others), handed to it and left out.
 * An account not known here yet (its event still on the way) cannot be compared: its charges are kept.
 */
export async function recordCharges(em: Em, charges: (ChargeResult & { zone?: string | null })[], now: Date, skip?: (charge: ChargeResult, problem: ChargeProblem) => void): Promise<number> {
  const refuse = (c: ChargeResult, problem: ChargeProblem): false => {
    const reason = problem.reason === 'refused' ? 'CHARGE_CURRENCY_MISMATCH' : 'CHARGE_UNSTORABLE';
    if (!skip) throw badInput(`input.${INPUT_FIELD[problem.field] ?? problem.field}`, `Charge ${shown(c.chargeId)}: ${problem.message}`, reason);
    skip(c, problem);
    return false;
  };
  const storable = charges.filter((c) => c.paymentMode === 'POSTPAID' && BILLABLE_OUTCOMES.has(c.outcome)).filter((c) => {
    const problem = chargeProblem(c);
    return problem ? refuse(c, problem) : true;
  });
  if (storable.length === 0) return 0;
  const accountIds = [...new Set(storable.map((c) => c.billingAccountId))];
  const currencyOf = new Map((await sql(em)('billing_account').whereIn('id', accountIds).select('id', 'currency')).map((a: { id: string; currency: string }) => [a.id, a.currency]));
  const kept = storable.filter((c) => {
    const currency = currencyOf.get(c.billingAccountId);
    if (currency === undefined || currency === c.currency) return true;
    return refuse(c, { field: 'currency', message: `the charge is in ${c.currency}; billing account ${shown(c.billingAccountId)} bills in ${currency}`, reason: 'refused' });
  });
  if (kept.length === 0) return 0;
  let inserted = 0;
  for (let i = 0; i < kept.length; i += 1000) {
    const chunk = kept.slice(i, i + 1000).map((c) => ({
      charge_id: c.chargeId,
      billing_account_id: c.billingAccountId,
      line_id: c.lineId ?? null,
      usage_type: c.usageType,
      zone: c.zone ?? null,
      unit: c.unit,
      units: dec(c.units).toFixed(),
      amount: dec(c.amountCharged).toFixed(),
      currency: c.currency,
      occurred_at: new Date(c.occurredAt),
      adjusts_invoice_id: c.adjustsInvoiceId ?? null,
      // A rerate adjustment's usage record (review 19): weighed against the record's disputes when billed.
      usage_record_id: c.usageRecordId ?? null,
      received_at: now,
    }));
    const result = await sql(em)('unbilled_charge').insert(chunk).onConflict('charge_id').ignore().returning('charge_id');
    inserted += (result as unknown[]).length;
  }
  return inserted;
}

export interface AddOneOffChargeCommand {
  id: string;
  billingAccountId: string;
  lineId?: string | null;
  code: string;
  description: string;
  amount: { amount: string; currency: string };
  taxCategory?: string | null;
  occurredAt?: Date | null;
  /**
   * A credit giving back (part of) this one-off charge of the account (its id). On the same invoice,
   * the refunded part is out of every discount's base (compose.ts). The tax category defaults to the
   * charge's and must be it; the charge's refunds together are at most what is left of it, with its
   * line's credit notes and open disputes once billed, and what its invoice's open disputes (of the
   * whole invoice too) would leave if upheld (charge-refundable.ts).
   */
  refundsChargeId?: string | null;
  now: Date;
}

/** One-off charges and credits (activation, proration, goodwill): signed amounts; idempotent by id. */
/** Whether the account is known here and PREPAID (an unknown account is not: its event may still be on the way). */
export async function isPrepaid(em: Em, billingAccountId: string): Promise<boolean> {
  const account = await sql(em)('billing_account').where({ id: billingAccountId }).first('payment_mode');
  return account?.payment_mode === 'PREPAID';
}

/**
 * `waived`: the charge is recorded but never billed — waived before it came (waiveOneOffCharge of its
 * id answered WAIVED_IN_ADVANCE: the dunning worker gave up on this very request) or since.
 */
export async function addOneOffCharge(em: Em, c: AddOneOffChargeCommand): Promise<{ created: boolean; waived: boolean }> {
  // The consumer passes subscribers' description cut to fit (`billedDescription`); a caller of the mutation hears what to shorten.
  if ([...c.description].length > ONE_OFF_DESCRIPTION_MAX) throw badInput('input.description', `A description is at most ${ONE_OFF_DESCRIPTION_MAX} characters`, 'DESCRIPTION_TOO_LONG');
  if (c.description.includes('\u0000')) throw badInput('input.description', 'A description cannot contain a NUL character', 'DESCRIPTION_INVALID');
  const account = await sql(em)('billing_account').where({ id: c.billingAccountId }).first();
  if (!account) throw notFound('BillingAccount', c.billingAccountId, 'input.billingAccountId');
  if (c.amount.currency !== account.currency) throw new DomainError('ONE_OFF_CURRENCY_MISMATCH', `The account bills in ${account.currency}`, { field: 'input.amount.currency' });
  const amount = dec(c.amount.amount);
  if (amount.decimalPlaces() > minorUnits(account.currency)) throw badInput('input.amount.amount', `${account.currency} has ${minorUnits(account.currency)} decimal places`, 'ONE_OFF_AMOUNT_PRECISION');
  const refunds = c.refundsChargeId ?? null;
  if (refunds != null) {
    if (!amount.isNegative()) throw badInput('input.refundsChargeId', 'Only a credit (a negative amount) refunds a charge', 'ONE_OFF_REFUND_INVALID');
    if (refunds === c.id) throw badInput('input.refundsChargeId', 'A credit cannot refund itself', 'ONE_OFF_REFUND_INVALID');
  }
  // A refund weighs the charge's credit notes too: their credit lock first (the order every holder of
  // both takes them in), so a note and a refund of one charge are decided one after the other.
  if (refunds != null) await lockAccountCredit(em, c.billingAccountId);
  await lockOneOffChargeId(em, c.id);
  const existing = await sql(em)('one_off_charge').where({ id: c.id }).first();
  if (existing) {
    if (!dec(existing.amount).eq(amount) || existing.billing_account_id !== c.billingAccountId || (existing.refunds_charge_id ?? null) !== refunds) {
      throw new DomainError('IDEMPOTENCY_KEY_REUSED', `One-off charge ${c.id} was recorded with other facts`, { field: 'input.id' });
    }
    return { created: false, waived: existing.waived_at != null };
  }
  let taxCategory = c.taxCategory ?? 'TELECOM_STANDARD';
  if (refunds != null) {
    // Under the charge's id lock (waiveOneOffCharge takes it too): two refunds of it, or a refund and
    // its waiver, are decided one after the other.
    await lockOneOffChargeId(em, refunds);
    const charge = await sql(em)('one_off_charge').where({ id: refunds, billing_account_id: c.billingAccountId }).first();
    if (!charge) throw notFound('OneOffCharge', refunds, 'input.refundsChargeId');
    if (!dec(String(charge.amount)).gt(0)) throw badInput('input.refundsChargeId', `${refunds} is a credit, not a charge`, 'ONE_OFF_REFUND_INVALID');
    if (charge.waived_at != null) throw badInput('input.refundsChargeId', `${refunds} was waived: nothing of it is billed to refund`, 'ONE_OFF_REFUND_INVALID');
    if (c.taxCategory != null && c.taxCategory !== charge.tax_category) throw badInput('input.taxCategory', `A refund is in its charge's tax category (${charge.tax_category})`, 'ONE_OFF_REFUND_TAX_CATEGORY');
    taxCategory = charge.tax_category;
    // What its other refunds and, once billed, the credit notes and open disputes of its line left of it.
    const { left, line } = await chargeLeftToRefund(em, charge);
    if (amount.negated().gt(left.refundable)) {
      const scale = minorUnits(account.currency);
      // Its invoice as a whole, when it limits more than the line (a dispute of the whole invoice holds its room too):
      // what the invoice would have left if its open disputes were upheld.
      const invoiceLimits = line != null && (dec(line.invoiceDisputed).gt(0) || dec(line.invoiceUndisputed!).lt(left.creditable!.minus(line.disputed)));
      const ofInvoice = invoiceLimits ? `; its invoice: ${dec(line.invoiceDisputed).toFixed(scale)} held by open disputes, ${dec(line.invoiceUndisputed!).toFixed(scale)} left if they are upheld in full` : '';
      const took = line ? ` (its invoice line: ${dec(line.gross).toFixed(scale)} billed, ${dec(line.credited).toFixed(scale)} credited by credit notes, ${left.refundedGross!.toFixed(scale)} refunded, ${dec(line.disputed).toFixed(scale)} held by open disputes${ofInvoice})` : '';
      throw new DomainError('ONE_OFF_REFUND_EXCEEDS_CHARGE', `At most ${left.refundable.toFixed(scale)} of ${refunds} is left to refund${took}`, { field: 'input.amount.amount', refundable: left.refundable.toFixed(scale) }, 'BAD_USER_INPUT');
    }
  }
  const waiver = await waiverInAdvance(em, c.id);
  await sql(em)('one_off_charge').insert({
    id: c.id,
    billing_account_id: c.billingAccountId,
    line_id: c.lineId ?? null,
    code: c.code,
    description: c.description,
    amount: amount.toFixed(),
    currency: account.currency,
    tax_category: taxCategory,
    occurred_at: c.occurredAt ?? c.now,
    refunds_charge_id: refunds,
    ...(waiver ? { waived_at: waiver.waived_at, waived_reason: waiver.reason } : {}),
  });
  return { created: true, waived: waiver != null };
}

export interface AddDiscountCommand {
  billingAccountId: string;
  code: string;
  description: string;
  percent?: string | null;
  amount?: string | null;
  validFrom: Date;
  validTo?: Date | null;
  /** RECURRING (default), USAGE or INVOICE. */
  target?: string | null;
}

export async function addDiscount(em: Em, c: AddDiscountCommand): Promise<void> {
  if ((c.percent == null) === (c.amount == null)) throw badInput('input.percent', 'Give either a percent or an amount', 'DISCOUNT_SHAPE_INVALID');
  if (c.percent != null && (dec(c.percent).lte(0) || dec(c.percent).gt(100))) throw badInput('input.percent', 'A percent is above 0 and at most 100', 'DISCOUNT_PERCENT_INVALID');
  if (c.amount != null && dec(c.amount).lte(0)) throw badInput('input.amount', 'A discount amount is above 0', 'DISCOUNT_AMOUNT_INVALID');
  const target = c.target ?? 'RECURRING';
  if (!['RECURRING', 'USAGE', 'INVOICE'].includes(target)) throw badInput('input.target', 'A discount targets RECURRING, USAGE or INVOICE', 'DISCOUNT_TARGET_INVALID');
  if (c.validTo != null && new Date(c.validTo) <= new Date(c.validFrom)) throw badInput('input.validTo', 'A discount ends after it starts', 'DISCOUNT_PERIOD_INVALID');
  const account = await sql(em)('billing_account').where({ id: c.billingAccountId }).first();
  if (!account) throw notFound('BillingAccount', c.billingAccountId, 'input.billingAccountId');
  if (c.amount != null && dec(c.amount).decimalPlaces() > minorUnits(account.currency)) {
    throw badInput('input.amount', `A discount amount in ${account.currency} has at most ${minorUnits(account.currency)} decimal places`, 'DISCOUNT_AMOUNT_PRECISION');
  }
  await sql(em)('discount')
    .insert({ id: `dsc_${c.billingAccountId.slice(-12)}_${c.code}`.slice(0, 40), billing_account_id: c.billingAccountId, code: c.code, description: c.description, percent: c.percent ?? null, amount: c.amount ?? null, target, valid_from: c.validFrom, valid_to: c.validTo ?? null })
    .onConflict(['billing_account_id', 'code'])
    .merge(['description', 'percent', 'amount', 'target', 'valid_from', 'valid_to']);
}

export async function upsertTaxRule(em: Em, c: { jurisdiction: string; category: string; rate: string; inclusive: boolean; name: string }): Promise<void> {
  const rate = dec(c.rate);
  if (rate.isNegative() || rate.gte(1)) throw badInput('input.rate', 'A tax rate is a fraction from 0 to below 1, e.g. 0.19', 'TAX_RATE_INVALID');
  await sql(em)('tax_rule').insert({ jurisdiction: c.jurisdiction, category: c.category, rate: rate.toFixed(), inclusive: c.inclusive, name: c.name }).onConflict(['jurisdiction', 'category']).merge(['rate', 'inclusive', 'name']);
}

export async function registerPlanVersion(em: Em, id: string, document: Record<string, unknown>, now: Date): Promise<void> {
  if (typeof document?.code !== 'string') throw badInput('input.document', 'A plan document has a code', 'PLAN_DOCUMENT_INVALID');
  await sql(em)('plan_version').insert({ id, plan_code: document.code, document: JSON.stringify(document), fetched_at: now }).onConflict('id').ignore();
}

export async function accountCredit(em: Em, billingAccountId: string): Promise<string> {
  const [r] = await rows<{ total: string | null }>(em, 'select sum(amount) as total from account_credit_entry where billing_account_id = ?', [billingAccountId]);
  return dec(r?.total ?? '0').toFixed(4);
}
