import { Decimal, deterministicId, formatAmount } from '@ledgerline/contracts';
import type { Db, Sql } from '../persistence/sql';
import { eventRow, insertOutbox, type OutboxRow } from '../persistence/sql';
import { allowanceCrossings, depleted, fellBelow, unspentMove, type AllowanceBucket } from '../domain/thresholds';
import { DEFAULT_RETRY_POLICY, FAILURES_WITHOUT_MONEY, PENDING_STATUSES, RETRIED_STATUSES, countToday, decideTopup, followUpDecision, requestedInWindows, retryDecision, ruleSetDecision, type AutoTopupRule, type RetryPolicy, type TopupDecision } from '../domain/auto-topup';
import { earliestLocalMonthStart } from '../domain/local-time';
import { fmt } from '../domain/charging';
import { insertNotifications, type NotificationInput } from './buckets';
import { accountId, accountIdSql, type AlsoWrite } from './ledger';
import { BUDGETS_BELOW_THRESHOLD, replenishBudgets, type BudgetBelowThreshold } from './budget';

export interface WalletChange {
  walletId: string;
  billingAccountId: string;
  currency: string;
  paymentMode: string;
  lowBalanceThreshold: Decimal | null;
  /** The balance (cash account) before and after the change. */
  before: Decimal;
  after: Decimal;
  /**
   * Money open reservations held of the wallet before and after the change (a commit or release
   * lowers it); thresholds judge balance + held, the unspent money (see unspentMove). Left out:
   * unchanged by the change and read here.
   */
  held?: { before: Decimal; after: Decimal };
  /** What caused it (a transaction id), so the same change always gives the same event id. */
  cause: string;
  /** Whether the wallet has an enabled budget or auto top-up rule, when the caller read it under the lock (see lockWallets); unknown = look. */
  hasRules?: boolean;
}

/**
 * A bucket of an allowance a change used units of (charged or committed; a hold uses nothing), or
 * another active bucket of that allowance (`usedNow` 0): the allowance is judged as a whole.
 */
export type BucketUse = AllowanceBucket;

/** The columns of a bucket a BucketUse is made from. */
export interface BucketUseRow {
  id: string;
  billing_account_id: string;
  line_id: string | null;
  allowance_id: string;
  unit: string;
  priority: number;
  valid_from: Date;
  valid_to: Date;
  initial_quantity: string;
  used_quantity: string;
  notified_percent: number;
}

export function bucketUse(row: BucketUseRow, usedNow: Decimal): BucketUse {
  return {
    id: row.id, billingAccountId: row.billing_account_id, lineId: row.line_id, allowanceId: row.allowance_id, unit: row.unit, priority: row.priority,
    validFrom: row.valid_from, validTo: row.valid_to, initial: new Decimal(row.initial_quantity), used: new Decimal(row.used_quantity), notifiedPercent: row.notified_percent, usedNow,
  };
}

/**
 * LOW_BALANCE text, amounts in the currency's minor unit (4.995 JOD, 480 JPY). The balance is
 * floored, as subscribers' notification texts do: it never reads as the threshold it fell below.
 */
export function lowBalanceMessage(balance: Decimal, threshold: Decimal, currency: string): string {
  return `Your balance is ${formatAmount(balance, currency, 'FLOOR')}, below ${formatAmount(threshold, currency)}. Top up to keep using the service.`;
}

/** AUTO_TOPUP_LIMIT text: the top-up that a daily or monthly limit stopped, in the currency's minor unit. */
export function autoTopupLimitMessage(amount: Decimal, limit: 'DAILY' | 'MONTHLY', currency: string): string {
  return `Automatic top-up of ${formatAmount(amount, currency)} skipped: your ${limit.toLowerCase()} limit is reached.`;
}

/** AUTO_TOPUP_STOPPED text: a chain of top-ups ended at MAX_REQUESTS_PER_CROSSING with the balance still below the threshold. */
export function autoTopupStoppedMessage(requests: number, balance: Decimal, threshold: Decimal, currency: string): string {
  return `Automatic top-up stopped after ${requests} top-ups in a row: your balance is ${formatAmount(balance, currency, 'FLOOR')}, still below ${formatAmount(threshold, currency)}. Top up to keep using the service.`;
}

/**
 * Turns balance movements into threshold events and customer notifications, in the same
 * database transaction as the movement: low balance, depleted, allowance 50/80/100 % used, and the
 * auto top-up request a low balance starts. Low balance, depleted and auto top-up judge the
 * unspent money (balance + held, see unspentMove): a hold or a release is no change here, a
 * commit is. A wallet that is a committed-spend budget and fell below
 * its threshold is replenished here, in the same transaction (see budget.ts). `buckets`: the
 * buckets a change used units of, with the other active buckets of those allowances (BucketUse).
 */
export async function emitBalanceEvents(sql: Sql, now: Date, wallets: WalletChange[], buckets: BucketUse[]): Promise<void> {
  const notes: NotificationInput[] = [];
  const events: OutboxRow[] = [];
  const downs = await unspentDowns(sql, wallets);
  const ruled = downs.filter((w) => w.hasRules !== false);
  let topupRules: RuleRow[] = [];
  const budgetEvents: OutboxRow[] = [];
  let replenished = new Map<string, Decimal>();
  if (ruled.length > 0) {
    // One round trip for both rules a falling balance can trigger: budget replenishment and auto
    // top-up. The top-up requests are read back to the earliest start of a local month in any
    // zone: the account's day and month are cut in the domain (requestedInWindows), in its zone.
    const found = await sql.query<{ rule: 'BUDGET' | 'TOPUP'; row: BudgetBelowThreshold & RuleRow }>(
      `select 'BUDGET' as rule, to_jsonb(x) as row from (${BUDGETS_BELOW_THRESHOLD}) x
       union all
       select 'TOPUP', to_jsonb(y) from (${TOPUP_RULES}) y`,
      [ruled.map((w) => w.walletId), earliestLocalMonthStart(now)],
    );
    replenished = await replenishBudgets(sql, now, ruled.map((w) => ({ walletId: w.walletId, cause: w.cause })), budgetEvents, found.filter((f) => f.rule === 'BUDGET').map((f) => f.row));
    topupRules = found.filter((f) => f.rule === 'TOPUP').map((f) => f.row);
  }
  for (const w of downs) {
    // Judged on the money after a budget's replenishment in this same transaction: a budget
    // wallet a charge emptied holds its committed amount again, and nothing stops.
    const after = w.after.plus(replenished.get(w.walletId) ?? 0);
    const data = { walletId: w.walletId, billingAccountId: w.billingAccountId, balance: { amount: fmt(after), currency: w.currency } };
    if (fellBelow(w.before, after, w.lowBalanceThreshold)) {
      notes.push({ id: deterministicId('event', 'LOW_BALANCE', w.walletId, w.cause), billingAccountId: w.billingAccountId, walletId: w.walletId, bucketId: null, kind: 'LOW_BALANCE', message: lowBalanceMessage(after, w.lowBalanceThreshold!, w.currency) });
      events.push(eventRow('balanceLow', w.walletId, [w.walletId, w.cause], now, { ...data, threshold: { amount: fmt(w.lowBalanceThreshold!), currency: w.currency } }));
    }
    if (w.paymentMode === 'PREPAID' && depleted(w.before, after)) {
      notes.push({ id: deterministicId('event', 'DEPLETED', w.walletId, w.cause), billingAccountId: w.billingAccountId, walletId: w.walletId, bucketId: null, kind: 'DEPLETED', message: `Your balance is used up; service stops until you top up.` });
      // Its own key: balanceLow has the same CloudEvent type, and a movement crossing both gave one id (the outbox kept only the first).
      events.push(eventRow('balanceDepleted', w.walletId, [w.walletId, w.cause, 'DEPLETED'], now, data));
    }
  }
  if (buckets.length > 0) await notifyAllowances(sql, now, buckets, notes, events);
  events.push(...budgetEvents);
  // A wallet with an enabled budget has no top-up rule here (TOPUP_RULES): what it judges is the change itself.
  if (topupRules.length > 0) await requestAutoTopups(sql, now, ruled, notes, events, topupRules);
  await insertNotifications(sql, notes, now);
  await insertOutbox(sql, events);
}

/**
 * The write that adds what a change used of buckets to their `used_quantity` (and, for a rollover
 * bucket, units carried into it later to its `initial_quantity`), to send with the change's ledger
 * rows (postTransactions' `also`: no round trip of its own). Null when there is nothing to write.
 */
export function bucketUseWrite(buckets: readonly BucketUse[], carried: ReadonlyMap<string, Decimal> = new Map()): AlsoWrite | null {
  const rows = new Map<string, { used: Decimal; carried: Decimal }>();
  // Negative: units a rerate adjustment gave back (ADR 0019).
  for (const b of buckets) if (!b.usedNow.isZero()) rows.set(b.id, { used: b.usedNow, carried: new Decimal(0) });
  for (const [id, units] of carried) rows.set(id, { used: rows.get(id)?.used ?? new Decimal(0), carried: units });
  if (rows.size === 0) return null;
  const ids = [...rows.keys()];
  return {
    text: `update bucket b set used_quantity = b.used_quantity + t.used, initial_quantity = b.initial_quantity + t.carried
             from unnest($1::text[], $2::numeric[], $3::numeric[]) as t(id, used, carried) where b.id = t.id`,
    params: [ids, ids.map((id) => fmt(rows.get(id)!.used)), ids.map((id) => fmt(rows.get(id)!.carried))],
  };
}

/**
 * Notifies the allowances that crossed 50, 80 or 100 % used (judged per allowance on what was used,
 * see allowanceCrossings) and marks all their buckets notified. What was used is written by the
 * caller with its ledger rows (bucketUseWrite).
 */
async function notifyAllowances(sql: Sql, now: Date, buckets: BucketUse[], notes: NotificationInput[], events: OutboxRow[]): Promise<void> {
  const rows = new Map<string, number>();
  for (const c of allowanceCrossings(buckets)) {
    const b = c.bucket;
    for (const pct of c.percents) {
      notes.push({ id: deterministicId('event', 'BUCKET', b.id, String(pct)), billingAccountId: b.billingAccountId, walletId: null, bucketId: b.id, kind: pct === 100 ? 'BUCKET_100' : `BUCKET_${pct}`, message: pct === 100 ? `Your ${b.allowanceId} allowance is used up.` : `You have used ${pct}% of your ${b.allowanceId} allowance (${c.left.toFixed()} ${b.unit} left).` });
      events.push(eventRow('bucketThreshold', b.id, [b.id, String(pct)], now, { bucketId: b.id, billingAccountId: b.billingAccountId, allowanceId: b.allowanceId, percentUsed: pct, remaining: fmt(c.left), unit: b.unit }));
    }
    for (const id of c.bucketIds) rows.set(id, Math.max(...c.percents));
  }
  if (rows.size === 0) return;
  await sql.write(`update bucket b set notified_percent = greatest(b.notified_percent, t.pct) from unnest($1::text[], $2::int[]) as t(id, pct) where b.id = t.id`, [[...rows.keys()], [...rows.values()]]);
}

interface RuleRow {
  wallet_id: string;
  enabled: boolean;
  threshold: string;
  topup_amount: string | null;
  target_balance: string | null;
  payment_method_token: string;
  daily_limit: string | null;
  monthly_limit: string | null;
  /** The account's IANA time zone (from subscribers' billingaccount.created); null: unknown, the limits count UTC days. */
  timezone: string | null;
  /** The counted requests since $2 (earliestLocalMonthStart): [epoch ms, amount as text]. */
  requests: [number, string][];
  /** The wallet's latest request: [id, status, when it ended (its recharge settled, else made) in epoch ms, its recharge's failure code]; null: none. */
  last: [string, string, number, string | null] | null;
  /** Whether a request is waiting for its money (PENDING_STATUSES). */
  pending: boolean;
  /** When the declined/failed requests since $2 ended, epoch ms (the day's cap of retryDecision). */
  declined: number[];
}

/**
 * Enabled auto top-up rules of the wallets in $1, with the account's time zone and the counted
 * requests since $2; numbers as text. Not of a wallet that is a committed-spend budget: its budget
 * replenishes it (a rule stored before the two were refused together would have paid for the same
 * low balance a second time, by card).
 */
const COUNTED = `t.wallet_id = r.wallet_id and t.status not in ('LIMIT_REACHED', 'RECHARGE_DECLINED', 'RECHARGE_FAILED', 'RECHARGE_REFUNDED', 'RECHARGE_REFUSED', 'CANCELLED')`;
const ENDED = `coalesce(c.updated_at, t.requested_at)`;
export const TOPUP_RULES = `select r.wallet_id, r.enabled, r.threshold::text as threshold, r.topup_amount::text as topup_amount, r.target_balance::text as target_balance, r.payment_method_token,
    r.daily_limit::text as daily_limit, r.monthly_limit::text as monthly_limit, o.timezone,
    coalesce((select jsonb_agg(jsonb_build_array((extract(epoch from t.requested_at) * 1000)::bigint, t.amount::text)) from topup_request t where ${COUNTED} and t.requested_at >= $2), '[]'::jsonb) as requests,
    (select jsonb_build_array(t.id, t.status, (extract(epoch from ${ENDED}) * 1000)::bigint, c.failure) from topup_request t left join recharge c on c.id = t.recharge_id
      where t.wallet_id = r.wallet_id order by t.requested_at desc, t.id desc limit 1) as last,
    exists (select 1 from topup_request t where t.wallet_id = r.wallet_id and t.status = any('{${PENDING_STATUSES.join(',')}}'::text[])) as pending,
    coalesce((select jsonb_agg((extract(epoch from ${ENDED}) * 1000)::bigint) from topup_request t left join recharge c on c.id = t.recharge_id
      where t.wallet_id = r.wallet_id and t.status in ('RECHARGE_DECLINED', 'RECHARGE_FAILED') and t.requested_at >= $2), '[]'::jsonb) as declined
  from auto_topup_rule r join wallet w on w.id = r.wallet_id left join account_owner o on o.billing_account_id = w.billing_account_id
  where r.wallet_id = any($1::text[]) and r.enabled
    and not exists (select 1 from budget b where b.wallet_id = r.wallet_id and b.enabled)`;

/**
 * The changes that lowered the unspent money, as changes of it (`before`/`after` unspent). The held
 * money of those that did not say is read in one statement (not for a change that raised its
 * balance, and held money it did not change cannot make it fall).
 */
async function unspentDowns(sql: Sql, wallets: WalletChange[]): Promise<WalletChange[]> {
  const unknown = wallets.filter((w) => !w.held && w.after.lessThan(w.before));
  const heldOf = new Map<string, Decimal>();
  if (unknown.length > 0) {
    const ids = unknown.map((w) => accountId(w.billingAccountId, 'RESERVED', w.currency));
    for (const r of await sql.query<{ id: string; balance: string }>(`select id, balance::text as balance from ledger_account where id = any($1::text[])`, [ids])) heldOf.set(r.id, new Decimal(r.balance));
  }
  const downs: WalletChange[] = [];
  for (const w of wallets) {
    const held = w.held ?? (() => {
      const h = heldOf.get(accountId(w.billingAccountId, 'RESERVED', w.currency)) ?? new Decimal(0);
      return { before: h, after: h };
    })();
    const unspent = unspentMove({ before: w.before, after: w.after }, held);
    // From here `before`/`after` are the unspent money: what the notices say and the top-up tops up to.
    if (unspent.after.lessThan(unspent.before)) downs.push({ ...w, before: unspent.before, after: unspent.after });
  }
  return downs;
}

let retryPolicy: RetryPolicy = DEFAULT_RETRY_POLICY;
/** The service's auto top-up retry policy (WALLETS_AUTO_TOPUP_RETRY_*, set once at start): a debit and the jobs pass judge alike. */
export function setAutoTopupRetryPolicy(policy: RetryPolicy): void {
  retryPolicy = policy;
}
export const autoTopupRetryPolicy = (): RetryPolicy => retryPolicy;

/** The wallet a top-up decision is for, with its unspent money before and after the movement (equal: nothing moved, the jobs pass). */
export interface TopupSubject {
  walletId: string;
  billingAccountId: string;
  currency: string;
  before: Decimal;
  after: Decimal;
  /** The movement (its id makes the request's); null: the jobs pass, which only asks again. */
  cause: string | null;
  /** The rule was just set or changed (cause null): below its threshold it asks now (ruleSetDecision), else as the jobs pass. */
  ruleSet?: boolean;
}

async function requestAutoTopups(sql: Sql, now: Date, downs: WalletChange[], notes: NotificationInput[], events: OutboxRow[], rules: RuleRow[]): Promise<void> {
  for (const r of rules) {
    const w = downs.find((d) => d.walletId === r.wallet_id)!;
    await requestAutoTopup(sql, now, w, r, notes, events, retryPolicy);
  }
}

/**
 * Decides and records one wallet's auto top-up: a request when the movement took the unspent money
 * across the threshold (id from the movement), else, still below it, a retry of the last request
 * that ended without money (retryDecision; id from that request, so a debit and the jobs pass, or
 * two replicas, ask once per request retried).
 */
export async function requestAutoTopup(sql: Sql, now: Date, w: TopupSubject, r: RuleRow, notes: NotificationInput[], events: OutboxRow[], policy: RetryPolicy): Promise<boolean> {
  const rule = ruleOf(r, w.currency);
  const requested = requestedOf(r, now);
  let decision: TopupDecision = w.cause === null ? { kind: 'NONE' } : decideTopup(rule, w.before, w.after, requested.today, requested.month, r.pending);
  let id = w.cause === null ? '' : deterministicId('event', 'AUTO_TOPUP', w.walletId, w.cause).replace(/^evt_/, 'atu_');
  if (w.ruleSet) {
    // Id from the wallet's latest request (none: the first): a rule set twice, or by two calls at once, asks once.
    decision = ruleSetDecision(rule, w.after, r.last ? { status: r.last[1] } : null, r.pending, requested.today, requested.month);
    id = deterministicId('event', 'AUTO_TOPUP_RULE_SET', w.walletId, r.last?.[0] ?? '').replace(/^evt_/, 'atu_');
  }
  if (decision.kind === 'NONE' && w.before.lessThan(rule.threshold) && r.last) {
    const [lastId, status, endedAt, failure] = r.last;
    const declinedToday = countToday(r.declined.map((t) => new Date(Number(t))), now, r.timezone);
    decision = retryDecision(rule, w.after, { id: lastId, status, endedAt: new Date(Number(endedAt)), failure: failure ?? null }, r.pending, declinedToday, requested.today, requested.month, now, policy);
    id = deterministicId('event', 'AUTO_TOPUP_RETRY', w.walletId, lastId).replace(/^evt_/, 'atu_');
  }
  if (decision.kind === 'NONE') return false;
  await recordTopup(sql, now, w, r, id, decision, notes, events);
  return true;
}

/** What the rule's requests asked today and this month, in the account's time zone (its limits' windows). */
function requestedOf(r: RuleRow, now: Date) {
  return requestedInWindows(r.requests.map(([at, amount]) => ({ at: new Date(Number(at)), amount: new Decimal(amount) })), now, r.timezone);
}

function ruleOf(r: RuleRow, currency: string): AutoTopupRule {
  return {
    enabled: r.enabled,
    threshold: new Decimal(r.threshold),
    topupAmount: r.topup_amount === null ? null : new Decimal(r.topup_amount),
    targetBalance: r.target_balance === null ? null : new Decimal(r.target_balance),
    paymentMethodToken: r.payment_method_token,
    dailyLimit: r.daily_limit === null ? null : new Decimal(r.daily_limit),
    monthlyLimit: r.monthly_limit === null ? null : new Decimal(r.monthly_limit),
    currency,
  };
}

/**
 * Writes a request (REQUESTED + `autoTopupRequested`) or a limit reached (LIMIT_REACHED + notice)
 * under `id` (once: on conflict nothing), `followUp` its place in its chain (followUpDecision).
 */
async function recordTopup(
  sql: Sql, now: Date, w: { walletId: string; billingAccountId: string; currency: string }, r: RuleRow, id: string,
  decision: Exclude<TopupDecision, { kind: 'NONE' }>, notes: NotificationInput[], events: OutboxRow[], followUp = 0,
): Promise<void> {
  const status = decision.kind === 'REQUEST' ? 'REQUESTED' : 'LIMIT_REACHED';
  const reason = decision.kind === 'LIMIT_REACHED' ? `${decision.limit}_LIMIT_REACHED` : null;
  await sql.write(
    `insert into topup_request (id, wallet_id, billing_account_id, amount, currency, payment_method_token, status, reason, requested_at, follow_up) values ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) on conflict (id) do nothing`,
    [id, w.walletId, w.billingAccountId, fmt(decision.amount), w.currency, r.payment_method_token, status, reason, now, followUp],
  );
  if (decision.kind === 'REQUEST') {
    events.push(eventRow('autoTopupRequested', w.walletId, [id], now, { topupRequestId: id, walletId: w.walletId, billingAccountId: w.billingAccountId, amount: { amount: fmt(decision.amount), currency: w.currency }, paymentMethodToken: r.payment_method_token }));
  } else {
    notes.push({ id: deterministicId('event', 'AUTO_TOPUP_LIMIT', id), billingAccountId: w.billingAccountId, walletId: w.walletId, bucketId: null, kind: 'AUTO_TOPUP_LIMIT', message: autoTopupLimitMessage(decision.amount, decision.limit, w.currency) });
  }
}

/**
 * Top-up requests that have just COMPLETED (settleRecharge, or linkRecharge when the recharge was
 * settled first; in their transaction, after the status is written): a wallet whose unspent money
 * (balance + held, as crossings judge it) is still below its rule's threshold asks the next request
 * at once (followUpDecision: the limits, at most MAX_REQUESTS_PER_CROSSING in a row, then a
 * notice). Auto top-up is triggered by a crossing, and a wallet a completed request left below the
 * threshold makes none: it was never asked again. Under the wallet lock (own statement, so the
 * balance read next sees every credit committed before it; the lock comes after the recharge and
 * request rows, as confirmBankTransfer takes them). The follow-up's id is derived from the completed
 * request's: the completion recorded twice (both paths at once) asks once. How many it asked.
 */
export async function followUpCompletedTopups(sql: Sql, now: Date, requestIds: readonly string[]): Promise<number> {
  let asked = 0;
  for (const requestId of requestIds) {
    const [done] = await sql.query<{ wallet_id: string; follow_up: number }>(`select wallet_id, follow_up from topup_request where id = $1 and status = 'COMPLETED'`, [requestId]);
    if (!done) continue;
    const w = await lockedUnspent(sql, done.wallet_id);
    if (!w) continue;
    const [r] = await sql.query<RuleRow>(`select * from (${TOPUP_RULES}) y`, [[w.id], earliestLocalMonthStart(now)]);
    if (!r) continue;
    const requested = requestedOf(r, now);
    const rule = ruleOf(r, w.currency);
    const decision = followUpDecision(rule, w.unspent, r.pending, done.follow_up, requested.today, requested.month);
    if (decision.kind === 'NONE') continue;
    const notes: NotificationInput[] = [];
    const events: OutboxRow[] = [];
    const subject = { walletId: w.id, billingAccountId: w.billing_account_id, currency: w.currency };
    if (decision.kind === 'STOPPED') {
      notes.push({ id: deterministicId('event', 'AUTO_TOPUP_STOPPED', requestId), billingAccountId: w.billing_account_id, walletId: w.id, bucketId: null, kind: 'AUTO_TOPUP_STOPPED', message: autoTopupStoppedMessage(decision.requests, w.unspent, rule.threshold, w.currency) });
    } else {
      const id = deterministicId('event', 'AUTO_TOPUP_FOLLOW_UP', w.id, requestId).replace(/^evt_/, 'atu_');
      await recordTopup(sql, now, subject, r, id, decision, notes, events, done.follow_up + 1);
      asked++;
    }
    await insertNotifications(sql, notes, now);
    await insertOutbox(sql, events);
  }
  return asked;
}

/**
 * Locks the wallet (a statement of its own: a statement's snapshot is taken before it waits for a
 * lock, so a balance read in the locking statement would miss a top-up that committed meanwhile)
 * and reads its unspent money (balance + held) in the next statement, which sees it.
 */
async function lockedUnspent(sql: Sql, walletId: string): Promise<{ id: string; billing_account_id: string; currency: string; unspent: Decimal } | null> {
  await sql.query('select id from wallet where id = $1 for update', [walletId]);
  const [w] = await sql.query<{ id: string; billing_account_id: string; currency: string; unspent: string }>(
    `with l as (select id, billing_account_id, currency from wallet where id = $1)
     select l.id, l.billing_account_id, l.currency,
            (coalesce((select a.balance from ledger_account a where a.id = l.id), 0)
             + coalesce((select a.balance from ledger_account a where a.id = ${accountIdSql('l.billing_account_id', 'RESERVED', 'l.currency')}), 0))::text as unspent
       from l`,
    [walletId],
  );
  return w ? { ...w, unspent: new Decimal(w.unspent) } : null;
}

/**
 * A rule just set or changed (setAutoTopup, in its transaction, under the wallet lock, after the
 * rule is stored) on a wallet whose unspent money (balance + held, as a crossing is judged) is
 * `unspent`: below the threshold it asks now, or after a request that ended without money as the
 * retry would (see requestAutoTopup). Whether it wrote a request.
 */
export async function requestAutoTopupOnRuleSet(sql: Sql, now: Date, w: { walletId: string; billingAccountId: string; currency: string; unspent: Decimal }): Promise<boolean> {
  const [rule] = await sql.query<RuleRow>(`select * from (${TOPUP_RULES}) y`, [[w.walletId], earliestLocalMonthStart(now)]);
  if (!rule) return false;
  const notes: NotificationInput[] = [];
  const events: OutboxRow[] = [];
  const subject: TopupSubject = { walletId: w.walletId, billingAccountId: w.billingAccountId, currency: w.currency, before: w.unspent, after: w.unspent, cause: null, ruleSet: true };
  const made = await requestAutoTopup(sql, now, subject, rule, notes, events, retryPolicy);
  await insertNotifications(sql, notes, now);
  await insertOutbox(sql, events);
  return made;
}

/** Where each database's last bounded pass of retryAutoTopups stopped (the next resumes there); absent: the start. */
const retryCursors = new WeakMap<Db, string>();

/**
 * The jobs pass's half of asking again (see retryDecision): wallets with an enabled rule (no
 * budget) whose unspent money is below its threshold and whose latest request ended without money
 * and none is pending, each in its own transaction under the wallet lock (the same lock charging
 * takes, so a debit asking at the same moment finds the request, same id), judged again there.
 * For a wallet nobody charges any more: a used-up balance refuses every charge, so no debit asks.
 * Most candidates are not due (a limit still reached until the account's local day or month turns,
 * a card within its backoff): SQL cannot cut the local day, so it over-approximates and the domain
 * decides. The candidates are read in pages of `pageSize` by a keyset cursor on the wallet id
 * through to the last one: a first page of wallets that are not due read again at every pass (it
 * was `limit 500`) left every wallet after them unasked for good (review 9). A pass judges at most
 * `maxPerPass` candidates; the next pass resumes after the last one judged, and after the last
 * candidate the cursor goes back to the start, so every candidate is judged every few passes.
 */
export async function retryAutoTopups(db: Db, now: Date, policy: RetryPolicy = retryPolicy, options: { pageSize?: number; maxPerPass?: number } = {}): Promise<number> {
  const pageSize = options.pageSize ?? 500;
  const maxPerPass = options.maxPerPass ?? 5_000;
  let after = retryCursors.get(db) ?? '';
  let judged = 0;
  let asked = 0;
  for (;;) {
    const page = await retryCandidates(db, after, pageSize);
    for (const c of page) {
      if (judged >= maxPerPass) {
        retryCursors.set(db, after);
        return asked;
      }
      judged++;
      if (await retryOne(db, now, policy, c.wallet_id)) asked++;
      after = c.wallet_id;
    }
    if (page.length < pageSize) break;
  }
  retryCursors.delete(db);
  return asked;
}

/** The next `limit` candidates (see retryAutoTopups) whose wallet id sorts after `after`. */
async function retryCandidates(db: Db, after: string, limit: number): Promise<{ wallet_id: string }[]> {
  return db.query<{ wallet_id: string }>(
    `select r.wallet_id from auto_topup_rule r join wallet w on w.id = r.wallet_id
      where r.enabled and w.payment_mode = 'PREPAID' and r.wallet_id > $4
        and not exists (select 1 from budget b where b.wallet_id = r.wallet_id and b.enabled)
        and coalesce((select a.balance from ledger_account a where a.id = w.id), 0)
            + coalesce((select a.balance from ledger_account a where a.id = ${accountIdSql('w.billing_account_id', 'RESERVED', 'w.currency')}), 0) < r.threshold
        and (select case when t.status = 'RECHARGE_FAILED' and coalesce(c.failure, '') <> all($5::text[]) then 'LEFT_TO_OPERATOR' else t.status end
               from topup_request t left join recharge c on c.id = t.recharge_id where t.wallet_id = r.wallet_id order by t.requested_at desc, t.id desc limit 1) = any($1::text[])
        and not exists (select 1 from topup_request t where t.wallet_id = r.wallet_id and t.status = any($2::text[]))
      order by r.wallet_id limit $3`,
    [RETRIED_STATUSES, PENDING_STATUSES, limit, after, FAILURES_WITHOUT_MONEY],
  );
}

/** Judges one candidate again in its own transaction, under the wallet lock; whether it wrote a request. */
async function retryOne(db: Db, now: Date, policy: RetryPolicy, walletId: string): Promise<boolean> {
  return db.tx(async (sql) => {
    // Locked before the balance is read, in its own statement (lockedUnspent): a balance read in the
    // locking statement would miss a top-up that committed meanwhile (and ask the card again for
    // money the wallet already has).
    const w = await lockedUnspent(sql, walletId);
    if (!w) return false;
    const [rule] = await sql.query<RuleRow>(`select * from (${TOPUP_RULES}) y`, [[w.id], earliestLocalMonthStart(now)]);
    if (!rule) return false;
    const notes: NotificationInput[] = [];
    const events: OutboxRow[] = [];
    const made = await requestAutoTopup(sql, now, { walletId: w.id, billingAccountId: w.billing_account_id, currency: w.currency, before: w.unspent, after: w.unspent, cause: null }, rule, notes, events, policy);
    await insertNotifications(sql, notes, now);
    await insertOutbox(sql, events);
    return made;
  });
}
