/**
 * Spend alerts (domain/spend-alert.ts): where they are kept (spend_alert, migration …20270131000000_spend_alerts), how
 * the rating path reads them (loadSpendAlertSets, once per account until an alert of it changes) and counts an
 * account's spend in a bill period (loadSpendCounters, only for accounts with alerts), the SPEND_ALERT notification
 * (a usageNotificationRequested: subscribers turns it into the customer's message), and the use cases behind
 * setSpendAlert, clearSpendAlert and BillingAccount.spendAlerts.
 */
import { hash } from 'node:crypto';
import { Decimal, badInput, conflict, dec, deterministicId, minorUnits, notFound, type AllowancePeriod, type Caller } from '@ledgerline/contracts';
import { TOTAL_BUCKET, bucketOf, type LineCounters } from '../domain/live-usage';
import type { Rounding } from '../domain/ledger-money';
import { DEFAULT_BILL_TERMS, MAX_SPEND_ALERTS_PER_ACCOUNT, billPeriodAt, billPeriodsNotEnded, reachedAlerts, spendAlertAmountProblem, type BillTerms, type SpendAlert } from '../domain/spend-alert';
import { inSqlTransaction, type SqlClient } from '../persistence/sql';
import type { UsageRuntime } from '../usage-runtime';
import { eventIdOf, eventRow, insertOutbox, type OutboxRow } from './outbox-rows';

type Queryable = Pick<SqlClient, 'query'>;

/** An account's alerts and the terms its bill periods follow. */
export interface SpendAlertSet {
  terms: BillTerms;
  alerts: SpendAlert[];
}

interface AlertRow {
  id: string;
  billing_account_id: string;
  line_id: string;
  amount: string;
  currency: string;
  set_by: string;
  set_at: Date;
  bill_cycle_day: number | null;
  timezone: string | null;
}

const ALERT_COLUMNS = `a.id, a.billing_account_id, a.line_id, a.amount::text as amount, a.currency, a.set_by, a.set_at, o.bill_cycle_day, o.timezone`;

const termsOf = (r: { bill_cycle_day: number | null; timezone: string | null }): BillTerms =>
  r.bill_cycle_day !== null && r.timezone !== null ? { billCycleDay: r.bill_cycle_day, timezone: r.timezone } : DEFAULT_BILL_TERMS;

const alertOf = (r: AlertRow): SpendAlert => ({ id: r.id, billingAccountId: r.billing_account_id, lineId: r.line_id === '' ? null : r.line_id, amount: dec(r.amount), currency: r.currency });

/** The alerts of these accounts, in one statement: only accounts that have any are in the answer. */
export async function loadSpendAlertSets(sql: Queryable, accounts: readonly string[]): Promise<Map<string, SpendAlertSet>> {
  const out = new Map<string, SpendAlertSet>();
  if (accounts.length === 0) return out;
  const { rows } = await sql.query<AlertRow>(
    `select ${ALERT_COLUMNS} from spend_alert a left join account_owner o on o.billing_account_id = a.billing_account_id where a.billing_account_id = any($1::text[]) order by a.billing_account_id, a.line_id`,
    [[...accounts]],
  );
  for (const r of rows) {
    let set = out.get(r.billing_account_id);
    if (!set) out.set(r.billing_account_id, (set = { terms: termsOf(r), alerts: [] }));
    set.alerts.push(alertOf(r));
  }
  return out;
}

/** Counters key of an account's spend in the bill period that starts at `period.start` (owner `spend:<account>`, see CounterStore). */
export const spendKeyOf = (billingAccountId: string, period: AllowancePeriod): string => `${spendOwnerOf(billingAccountId)}|${period.start.toISOString()}`;
export const spendOwnerOf = (billingAccountId: string): string => `spend:${billingAccountId}`;

/** An account's bill period whose spend is counted. */
export interface SpendOf {
  billingAccountId: string;
  period: AllowancePeriod;
}

// The money of the records rated to the account in the period, per line, as live usage sums it (the ledger's figure
// once wallets applied the charge, else the rating's estimate; DENIED counts nothing). Through the account's lines:
// usage_record has no account index (see ACCOUNT_LINES).
const SPEND_SUMS = `select k.account, k.s, r.line_id,
    sum(case when coalesce(co.outcome, r.charge_status) = 'DENIED' then 0 else coalesce(co.amount_charged, r.amount_charged, r.spend, 0) end)::text as spend
  from unnest($1::text[], $2::timestamptz[], $3::timestamptz[]) as k(account, s, e)
  join lateral (select line_id from subscription_version v where v.billing_account_id = k.account
                union select line_id from line_state l where l.billing_account_id = k.account) as a on true
  join usage_record r on r.line_id = a.line_id and r.billing_account_id = k.account and r.occurred_at >= k.s and r.occurred_at < k.e
  left join charge_outcome co on co.usage_record_id = r.id
  where r.status in ('RATED', 'RERATED', 'BILLED')
  group by k.account, k.s, r.line_id`;

/**
 * Spend counters of accounts' bill periods (spendKeyOf keys): TOTAL_BUCKET holds the account's spend, a bucket per
 * line id the line's; loaded from the records (`fromRecords` on the total: see bookSpend).
 */
export async function loadSpendCounters(sql: Queryable, keys: readonly SpendOf[]): Promise<Map<string, LineCounters>> {
  const out = new Map<string, LineCounters>();
  for (const k of keys) {
    const c: LineCounters = new Map();
    bucketOf(c, TOTAL_BUCKET).fromRecords = true;
    out.set(spendKeyOf(k.billingAccountId, k.period), c);
  }
  if (keys.length === 0) return out;
  const { rows } = await sql.query<{ account: string; s: Date; line_id: string; spend: string }>(SPEND_SUMS, [keys.map((k) => k.billingAccountId), keys.map((k) => k.period.start), keys.map((k) => k.period.end)]);
  for (const r of rows) {
    const c = out.get(`${spendOwnerOf(r.account)}|${new Date(r.s).toISOString()}`)!;
    const total = bucketOf(c, TOTAL_BUCKET);
    total.spend = total.spend.plus(r.spend);
    bucketOf(c, r.line_id).spend = dec(r.spend);
  }
  return out;
}

/** What a bill period's notice of an alert is keyed by: once per alert, amount and period, for good (emitted_event). */
const noticeKey = (alert: SpendAlert, period: AllowancePeriod): string[] => ['spendAlert', alert.id, alert.amount.toFixed(), period.start.toISOString()];

/** An amount at the currency's minor unit, as alerts show it (`mode` ROUND_DOWN for what was spent: never more than it). */
const atMinorUnit = (amount: Decimal, currency: string, mode: Rounding = Decimal.ROUND_HALF_EVEN): string => amount.toDecimalPlaces(minorUnits(currency), mode).toFixed(minorUnits(currency));

/**
 * The SPEND_ALERT notification: a usageNotificationRequested (the path plan notify rules take to the customer),
 * about the line for a line's alert (else the account), with the alert's amount, what was spent and the bill period.
 */
export function spendAlertNotice(alert: SpendAlert, spent: Decimal, period: AllowancePeriod, about: { msisdn?: string | null; usageRecordId: string | null }, now: Date): OutboxRow {
  return {
    ...eventRow('usageNotificationRequested', alert.lineId ?? alert.billingAccountId, noticeKey(alert, period), {
      lineId: alert.lineId,
      msisdn: about.msisdn ?? null,
      billingAccountId: alert.billingAccountId,
      period: period.period,
      periodStart: period.start.toISOString(),
      periodEnd: period.end.toISOString(),
      template: 'SPEND_ALERT',
      channel: null,
      threshold: null,
      allowanceId: null,
      rule: 'spendAlert',
      spendAlertId: alert.id,
      alertAmount: atMinorUnit(alert.amount, alert.currency),
      spent: atMinorUnit(spent, alert.currency, Decimal.ROUND_DOWN),
      currency: alert.currency,
      usageRecordId: about.usageRecordId,
    }, now),
    once: true,
  };
}

/** The id of an alert's notice in a period (whether it was emitted: emitted_event). */
export const spendNoticeIdOf = (alert: SpendAlert, period: AllowancePeriod): string => eventIdOf('usageNotificationRequested', noticeKey(alert, period));

/**
 * The SPEND_ALERT notices of the account's alerts its spend reaches once a re-rate's updates are written (`db`: the
 * re-rate's transaction, so the sums read them; its adjustments count at their estimate until wallets settles them),
 * in the bill periods of the re-rated range [from, to) not ended by `now`. The rating path would tell them only at
 * the account's next event, which may never come. Keyed as that path's notices (once per alert, amount and period):
 * an alert told before is dropped by insertOutbox, and the next event finds these told. A re-rate lowering the spend
 * takes no notice back.
 */
export async function spendAlertNoticesAfterRerate(db: Queryable, billingAccountId: string, range: { from: Date; to: Date }, msisdnOf: (lineId: string) => string | null | undefined, now: Date): Promise<OutboxRow[]> {
  const set = (await loadSpendAlertSets(db, [billingAccountId])).get(billingAccountId);
  if (!set) return [];
  const periods = billPeriodsNotEnded(set.terms, range.from, range.to, now);
  if (periods.length === 0) return [];
  const counters = await loadSpendCounters(db, periods.map((period) => ({ billingAccountId, period })));
  return periods.flatMap((period) =>
    reachedAlerts(counters.get(spendKeyOf(billingAccountId, period))!, set.alerts).map(({ alert, spent }) =>
      spendAlertNotice(alert, spent, period, { msisdn: alert.lineId === null ? null : msisdnOf(alert.lineId), usageRecordId: null }, now)),
  );
}

/** A record whose ChargeResult put the ledger's figure above the rating's estimate: its account's spend rose. */
export interface SpendRise {
  usageRecordId: string;
  billingAccountId: string;
  occurredAt: Date;
}

/**
 * The SPEND_ALERT notices of the alerts (`sets`: the accounts' alerts) the spend reaches once ChargeResults raising it
 * are written (`db`: the transaction writing their outcomes, so the sums read them), in the bill periods of the raised
 * records not ended by `now`. The rating path would tell them only at the account's next rated event, which may never
 * come. Keyed as that path's notices: an alert told before is dropped by insertOutbox. The notice names the first
 * raised record of its period. Statements only for accounts with alerts: the period sums, and the numbers of lines
 * whose alerts are told.
 */
export async function spendAlertNoticesAfterCharges(db: Queryable, rises: readonly SpendRise[], sets: ReadonlyMap<string, SpendAlertSet>, now: Date): Promise<OutboxRow[]> {
  const periods = new Map<string, SpendOf & { usageRecordId: string }>();
  for (const rise of rises) {
    const set = sets.get(rise.billingAccountId);
    if (!set) continue;
    const period = billPeriodAt(set.terms, rise.occurredAt);
    // A period already over tells nothing, as in the rating path (its bill is on its way).
    if (period.end <= now) continue;
    const key = spendKeyOf(rise.billingAccountId, period);
    if (!periods.has(key)) periods.set(key, { billingAccountId: rise.billingAccountId, period, usageRecordId: rise.usageRecordId });
  }
  if (periods.size === 0) return [];
  const counters = await loadSpendCounters(db, [...periods.values()]);
  const reached = [...periods].flatMap(([key, p]) => reachedAlerts(counters.get(key)!, sets.get(p.billingAccountId)!.alerts).map((crossing) => ({ ...crossing, ...p })));
  const lines = [...new Set(reached.flatMap((r) => (r.alert.lineId === null ? [] : [r.alert.lineId])))];
  const msisdns = lines.length === 0 ? new Map<string, string | null>() : await msisdnsOf(db, lines);
  return reached.map(({ alert, spent, period, usageRecordId }) =>
    spendAlertNotice(alert, spent, period, { msisdn: alert.lineId === null ? null : msisdns.get(alert.lineId), usageRecordId }, now));
}

/** The lines' numbers now (the read model's line_state: what the rating path's LineInfo carries). */
async function msisdnsOf(db: Queryable, lineIds: readonly string[]): Promise<Map<string, string | null>> {
  const { rows } = await db.query<{ line_id: string; msisdn: string | null }>('select line_id, msisdn from line_state where line_id = any($1::text[])', [[...lineIds]]);
  return new Map(rows.map((r) => [r.line_id, r.msisdn]));
}

// --- use cases -------------------------------------------------------------------------------------------------

export interface SpendAlertView {
  id: string;
  billingAccountId: string;
  lineId: string | null;
  amount: { amount: string; currency: string };
  period: string;
  periodStart: Date | string;
  periodEnd: Date | string;
  spent: { amount: string; currency: string };
  notified: boolean;
  setBy: string;
  setAt: Date | string;
}

export interface SetSpendAlertInput {
  billingAccountId?: unknown;
  lineId?: unknown;
  amount?: { amount?: unknown; currency?: unknown } | null;
  idempotencyKey?: unknown;
}

const MAX_ID = 40;
const MAX_KEY = 200;

function idField(value: unknown, field: string, optional: boolean): string | null {
  if (optional && (value === undefined || value === null)) return null;
  if (typeof value !== 'string' || !value.trim() || value.length > MAX_ID || value.includes('\u0000')) throw badInput(field, `${field} must name one (1-${MAX_ID} characters)`, 'ID_INVALID');
  return value;
}

function keyField(value: unknown): string {
  if (typeof value !== 'string' || !value.trim() || value.length > MAX_KEY || value.includes('\u0000')) throw badInput('input.idempotencyKey', `idempotencyKey must be 1-${MAX_KEY} characters: the same key with the same input answers the same, never twice`, 'IDEMPOTENCY_KEY_INVALID');
  return value;
}

/** The account's currency and terms: from billingaccount.created; until it is read, its subscriptions' currency (calendar months: DEFAULT_BILL_TERMS). */
async function accountOf(db: Queryable, billingAccountId: string): Promise<{ currency: string; terms: BillTerms } | undefined> {
  const { rows } = await db.query<{ currency: string | null; bill_cycle_day: number | null; timezone: string | null }>(
    `select coalesce(o.currency, (select v.currency from subscription_version v where v.billing_account_id = $1 order by v.valid_from desc limit 1)) as currency, o.bill_cycle_day, o.timezone
     from (select 1) one left join account_owner o on o.billing_account_id = $1`,
    [billingAccountId],
  );
  const r = rows[0];
  return r?.currency ? { currency: r.currency, terms: termsOf(r) } : undefined;
}

/** Whether the account holds the line now (the read model's line_state; a line seen only in a subscription: its latest). */
async function holdsLine(db: Queryable, billingAccountId: string, lineId: string): Promise<boolean> {
  const { rows } = await db.query<{ billing_account_id: string | null }>(
    `select coalesce((select billing_account_id from line_state where line_id = $1),
       (select billing_account_id from subscription_version where line_id = $1 order by valid_from desc limit 1)) as billing_account_id`,
    [lineId],
  );
  return rows[0]?.billing_account_id === billingAccountId;
}

/** Same key, same request: the answer given; same key, another request: CONFLICT. Undefined: a new key. */
async function replayed(db: Queryable, billingAccountId: string, key: string, fingerprint: string): Promise<unknown> {
  const { rows } = await db.query<{ fingerprint: string; result: string }>('select fingerprint, result from spend_alert_request where billing_account_id = $1 and idempotency_key = $2', [billingAccountId, key]);
  if (rows.length === 0) return undefined;
  if (rows[0]!.fingerprint !== fingerprint) throw conflict('IDEMPOTENCY_KEY_REUSED', `idempotencyKey "${key.slice(0, 64)}" was used for another spend alert request of this account: use a new key for a new request`, { field: 'input.idempotencyKey' });
  return JSON.parse(rows[0]!.result);
}

const remember = (db: Queryable, billingAccountId: string, key: string, fingerprint: string, result: unknown, now: Date) =>
  db.query('insert into spend_alert_request (billing_account_id, idempotency_key, fingerprint, result, created_at) values ($1, $2, $3, $4, $5)', [billingAccountId, key, fingerprint, JSON.stringify(result), now]);

const fingerprintOf = (parts: unknown[]) => hash('sha256', JSON.stringify(parts), 'hex');

/** How an alert reads now: its bill period at `now`, what was spent in it, and whether the customer was told. */
async function viewsOf(db: Queryable, rows: AlertRow[], now: Date): Promise<SpendAlertView[]> {
  if (rows.length === 0) return [];
  const terms = termsOf(rows[0]!);
  const period = billPeriodAt(terms, now);
  const account = rows[0]!.billing_account_id;
  const counters = (await loadSpendCounters(db, [{ billingAccountId: account, period }])).get(spendKeyOf(account, period))!;
  const alerts = rows.map(alertOf);
  const { rows: told } = await db.query<{ id: string }>('select id from emitted_event where id = any($1::text[])', [alerts.map((a) => spendNoticeIdOf(a, period))]);
  const notified = new Set(told.map((r) => r.id));
  return alerts.map((a, i) => {
    const spent = a.lineId === null ? counters.get(TOTAL_BUCKET)!.spend : (counters.get(a.lineId)?.spend ?? dec('0'));
    return {
      id: a.id,
      billingAccountId: a.billingAccountId,
      lineId: a.lineId,
      amount: { amount: atMinorUnit(a.amount, a.currency), currency: a.currency },
      period: period.period,
      periodStart: period.start,
      periodEnd: period.end,
      spent: { amount: atMinorUnit(spent, a.currency, Decimal.ROUND_DOWN), currency: a.currency },
      notified: notified.has(spendNoticeIdOf(a, period)),
      setBy: rows[i]!.set_by,
      setAt: rows[i]!.set_at,
    };
  });
}

/** The account's alerts (its own first, then its lines'), each with its bill period's spend at `now`. */
export async function spendAlertsOf(db: Queryable, billingAccountId: string, now: Date): Promise<SpendAlertView[]> {
  const { rows } = await db.query<AlertRow>(`select ${ALERT_COLUMNS} from spend_alert a left join account_owner o on o.billing_account_id = a.billing_account_id where a.billing_account_id = $1 order by a.line_id`, [billingAccountId]);
  return viewsOf(db, rows, now);
}

/**
 * Sets (or changes the amount of) the alert of an account (no lineId) or of one of its lines now. Between rating
 * batches (pipeline.exclusive): the spend it reads is every rated event's, and the next batch reads the alerts
 * again. An alert whose amount the period's spend already reached is told at once (the same notice, once per alert,
 * amount and period: an amount told before in the period is not told again).
 */
export async function setSpendAlert(usage: UsageRuntime, input: SetSpendAlertInput, caller: Caller, now: Date): Promise<SpendAlertView> {
  const billingAccountId = idField(input?.billingAccountId, 'input.billingAccountId', false)!;
  const lineId = idField(input.lineId, 'input.lineId', true);
  const key = keyField(input.idempotencyKey);
  const amountText = String(input.amount?.amount ?? '');
  const currency = String(input.amount?.currency ?? '');
  return usage.pipeline.exclusive(async () => {
    const view = await inSqlTransaction(usage.sql, async (db) => {
      await db.query('select pg_advisory_xact_lock(hashtext($1))', [`spend_alert:${billingAccountId}`]);
      const fingerprint = fingerprintOf(['set', lineId ?? '', amountText && dec(amountText).isFinite() ? dec(amountText).toFixed() : amountText, currency]);
      const before = await replayed(db, billingAccountId, key, fingerprint);
      if (before) return before as SpendAlertView;
      const account = await accountOf(db, billingAccountId);
      if (!account) throw notFound('BillingAccount', billingAccountId, 'input.billingAccountId');
      const problem = spendAlertAmountProblem(amountText, currency, account.currency);
      if (problem) throw badInput(problem.field, problem.message, problem.code);
      if (lineId !== null && !(await holdsLine(db, billingAccountId, lineId))) throw badInput('input.lineId', `line ${lineId} is not a line of billing account ${billingAccountId}`, 'LINE_NOT_OF_ACCOUNT');
      const { rows: others } = await db.query<{ n: number }>('select count(*)::int as n from spend_alert where billing_account_id = $1 and line_id <> $2', [billingAccountId, lineId ?? '']);
      if (others[0]!.n >= MAX_SPEND_ALERTS_PER_ACCOUNT) throw badInput('input.billingAccountId', `billing account ${billingAccountId} has ${MAX_SPEND_ALERTS_PER_ACCOUNT} spend alerts, the most it may have: clear one first`, 'SPEND_ALERT_LIMIT');
      const { rows } = await db.query<AlertRow>(
        `with saved as (
           insert into spend_alert (id, billing_account_id, line_id, amount, currency, set_by, set_at) values ($1, $2, $3, $4, $5, $6, $7)
           on conflict (billing_account_id, line_id) do update set amount = excluded.amount, currency = excluded.currency, set_by = excluded.set_by, set_at = excluded.set_at
           returning *)
         select ${ALERT_COLUMNS} from saved a left join account_owner o on o.billing_account_id = a.billing_account_id`,
        [deterministicId('spendAlert', billingAccountId, lineId ?? ''), billingAccountId, lineId ?? '', dec(amountText).toFixed(), currency, caller.subject.slice(0, 200), now],
      );
      const alert = alertOf(rows[0]!);
      const period = billPeriodAt(termsOf(rows[0]!), now);
      const counters = (await loadSpendCounters(db, [{ billingAccountId, period }])).get(spendKeyOf(billingAccountId, period))!;
      const spent = lineId === null ? counters.get(TOTAL_BUCKET)!.spend : (counters.get(lineId)?.spend ?? dec('0'));
      // Already reached: told now (emitted_event keeps it once; the rating path would otherwise tell it at the next event).
      if (spent.gte(alert.amount)) await insertOutbox(db, [spendAlertNotice(alert, spent, period, { usageRecordId: null }, now)]);
      const [view] = await viewsOf(db, rows, now);
      await remember(db, billingAccountId, key, fingerprint, view, now);
      return view!;
    });
    usage.pipeline.forgetSpendAlerts(billingAccountId);
    return view;
  });
}

/** Clears the alert of an account (no lineId) or of one of its lines; `cleared` is false when there was none. */
export async function clearSpendAlert(usage: UsageRuntime, input: Omit<SetSpendAlertInput, 'amount'>, now: Date): Promise<{ cleared: boolean; billingAccountId: string; lineId: string | null }> {
  const billingAccountId = idField(input?.billingAccountId, 'input.billingAccountId', false)!;
  const lineId = idField(input.lineId, 'input.lineId', true);
  const key = keyField(input.idempotencyKey);
  return usage.pipeline.exclusive(async () => {
    const result = await inSqlTransaction(usage.sql, async (db) => {
      await db.query('select pg_advisory_xact_lock(hashtext($1))', [`spend_alert:${billingAccountId}`]);
      const fingerprint = fingerprintOf(['clear', lineId ?? '']);
      const before = await replayed(db, billingAccountId, key, fingerprint);
      if (before) return before as { cleared: boolean; billingAccountId: string; lineId: string | null };
      const { rowCount } = await db.query('delete from spend_alert where billing_account_id = $1 and line_id = $2', [billingAccountId, lineId ?? '']);
      const answer = { cleared: (rowCount ?? 0) > 0, billingAccountId, lineId };
      await remember(db, billingAccountId, key, fingerprint, answer, now);
      return answer;
    });
    usage.pipeline.forgetSpendAlerts(billingAccountId);
    return result;
  });
}
