import { Decimal, type BundleRenewedData, type BundleRolloverData } from '@ledgerline/contracts';
import type { Logger } from '@ledgerline/platform';
import type { Db, Sql } from '../persistence/sql';
import { eventRow, insertOutbox } from '../persistence/sql';
import type { CatalogClient, PlanTerms } from '../adapters/catalog-client';
import { periodEndOf, rolloverOf } from '../domain/allowance-period';
import { fmt } from '../domain/charging';
import { announceRollovers } from './announce-rollover';
import { BUCKET_SELECT, grantBucket, type BucketRow } from './buckets';
import { allowanceGrantKey, endedSharedPool, grantAllowance, grantAllowances, lockSharedPools, sharedPoolCovering, type Allowance, type GrantSubject } from './grant-from-subscription';
import { FEE_REFUSED, markFeeDue, markFeeRefused, payPeriodFee, periodFeeOf } from './period-fee';
import { lockAccountWallets } from './wallets';
import type { SubscriptionTermRow } from './subscription-terms';

export type RenewalOutcome = 'RENEWED' | 'FEE_NOT_COVERED' | 'FEE_REFUSED' | 'NOT_DUE';

/**
 * The renewal job: every live subscription whose allowance period has ended gets the next one,
 * each in its own transaction. Periods missed while the job was not running are skipped (nobody
 * can use a past allowance). Safe on several replicas: the subscription row is locked and the
 * due check repeated under the lock; every write is keyed by subscription and period.
 */
export async function renewDueAllowances(db: Db, catalog: CatalogClient, now: Date, logger?: Logger, limit = 200): Promise<Record<RenewalOutcome, number>> {
  const counts: Record<RenewalOutcome, number> = { RENEWED: 0, FEE_NOT_COVERED: 0, FEE_REFUSED: 0, NOT_DUE: 0 };
  const due = await db.query<{ subscription_id: string; plan_version_id: string }>(
    `select subscription_id, plan_version_id from subscription_term
      where status in ('ACTIVE', 'SCHEDULED') and period_end <= $1 and (ends_at is null or ends_at > period_end)
        and (fee_state is distinct from 'DUE' or retry_at <= $1) and fee_state is distinct from $3
      order by period_end limit $2`,
    [now, limit, FEE_REFUSED],
  );
  const plans = new Map<string, PlanTerms | null>();
  for (const row of due) {
    if (!plans.has(row.plan_version_id)) plans.set(row.plan_version_id, await catalog.planTerms(row.plan_version_id));
    const terms = plans.get(row.plan_version_id);
    if (!terms) {
      logger?.warn({ subscriptionId: row.subscription_id, planVersionId: row.plan_version_id }, 'allowance renewal skipped: the plan version is unknown to catalog');
      continue;
    }
    try {
      const outcome = await db.tx((sql) => renewSubscription(sql, row.subscription_id, terms, now));
      counts[outcome]++;
      // Not tried again (its wallet is closed): the subscription's end event is what should follow.
      if (outcome === 'FEE_REFUSED') logger?.warn({ subscriptionId: row.subscription_id }, 'bundle renewal refused: the billing account\'s wallet is closed; the subscription is left unrenewed');
    } catch (error) {
      // One subscription that cannot be renewed must not hold up the others; it is tried again next pass.
      logger?.error({ err: error, subscriptionId: row.subscription_id }, 'allowance renewal failed');
    }
  }
  return counts;
}

/**
 * Renews one subscription's allowances if its period has ended: a prepaid plan's recurring fee is
 * taken from the balance first (refused when the balance and overdraft do not cover it: nothing is
 * granted, the customer is told once, and a later pass renews from the moment a top-up covers it;
 * refused by a closed wallet, as a late charge: nothing is granted and it is never tried again);
 * then the plan's allowances are granted for the new period, and what each allowance's rollover
 * rule carries over moves from the ending bucket (a shared allowance: the account's ending pool)
 * into a bucket of the new period that is drawn first.
 */
export async function renewSubscription(sql: Sql, subscriptionId: string, terms: PlanTerms, now: Date): Promise<RenewalOutcome> {
  const [term] = await sql.query<SubscriptionTermRow>(`select * from subscription_term where subscription_id = $1 for update`, [subscriptionId]);
  if (!term || !['ACTIVE', 'SCHEDULED'].includes(term.status) || term.fee_state === FEE_REFUSED || term.period_end > now || (term.ends_at && term.ends_at <= term.period_end)) return 'NOT_DUE';
  const feePeriod = terms.recurringFee?.period;
  // On time: the next period follows the last one (skipping any that passed unseen). Late for want of balance: it starts now.
  const late = term.fee_state === 'DUE';
  let start = late ? now : term.period_end;
  // Calendar months keep the subscription's day of the month; a late renewal starts a new anchor.
  const anchor = late ? now : term.anchor_at;
  while (periodEndOf(start, feePeriod, anchor) <= now) start = periodEndOf(start, feePeriod, anchor);
  const end = periodEndOf(start, feePeriod, anchor);

  // Before the fee and the rollover (which reads what the ending bucket has left), whatever the fee.
  await lockAccountWallets(sql, term.billing_account_id);
  const payment = await payPeriodFee(sql, term, terms, start, now);
  if ('refused' in payment) {
    await markFeeRefused(sql, term, now);
    return 'FEE_REFUSED';
  }
  if (!payment.paid) {
    await markFeeDue(sql, term, payment, term.period_end, term.fee_state === 'DUE', now);
    return 'FEE_NOT_COVERED';
  }
  const fee = periodFeeOf(term, terms);

  const subject = { subscriptionId, billingAccountId: term.billing_account_id, lineId: term.line_id, planVersionId: term.plan_version_id };
  if (terms.allowances.some((a) => a.shared)) await lockSharedPools(sql, term.billing_account_id);
  // Said in bundle.renewed, so usage counts the carried units in the allowance's size for the period.
  const rolled: BundleRolloverData[] = [];
  for (const a of terms.allowances) {
    const carried = await carryOver(sql, subject, term.period_start, a, start, end, now);
    if (carried) rolled.push({ allowanceId: a.id, quantity: carried.quantity, shared: a.shared === true });
  }
  const granted = await grantAllowances(sql, subject, terms, start, end, now);
  await sql.query(
    `update subscription_term set period_start = $2, period_end = $3, anchor_at = $4, fee_state = null, renewals = renewals + 1, updated_at = $5 where subscription_id = $1`,
    [subscriptionId, start, end, anchor, now],
  );
  const renewed: BundleRenewedData = {
    subscriptionId, billingAccountId: term.billing_account_id, lineId: term.line_id, planVersionId: term.plan_version_id,
    // anchorAt: where this subscription's periods now run from (a renewal late for want of balance restarts them);
    // lapsedAt: when late, where its last paid period had ended (it had no allowances from then until periodStart).
    periodStart: start.toISOString(), periodEnd: end.toISOString(), anchorAt: anchor.toISOString(), lapsedAt: late ? term.period_end.toISOString() : null, fee: fee.greaterThan(0) ? { amount: fmt(fee), currency: term.currency } : null, allowancesGranted: granted, rollover: rolled,
  };
  await insertOutbox(sql, [eventRow('bundleRenewed', subscriptionId, [subscriptionId, start.toISOString()], now, renewed)]);
  return 'RENEWED';
}

/**
 * What an allowance's rollover rule carries over from its ending bucket (a shared allowance: the
 * account's ending pool) moves into a bucket of the new period [start, end) that is drawn first.
 * A shared pool rolls over once, with whatever opens the account's next pool (the lines renewed
 * after it find that pool covering them and carry nothing). Returns the quantity carried and the
 * rollover bucket, if any.
 */
async function carryOver(sql: Sql, subject: GrantSubject, endingPeriodStart: Date, a: Allowance, start: Date, end: Date, now: Date): Promise<{ quantity: string; bucketId: string } | undefined> {
  if (!a.rollover) return undefined;
  if (a.shared && (await sharedPoolCovering(sql, subject, a.id, start))) return undefined;
  // The ending bucket and its ledger account are locked (after the wallets, as charging locks
  // buckets): the expiry job takes no wallet lock, and at the end of the late-usage grace it used
  // to forfeit the units this renewal was carrying over (the bucket below zero). Now it skips a
  // bucket held here, or this waits for it and finds the bucket expired (nothing to carry).
  const ending = a.shared
    ? await endedSharedPool(sql, subject, a.id, start)
    : (await sql.query<BucketRow>(`${BUCKET_SELECT} where b.grant_key = $1 and b.status = 'ACTIVE' for update of b, a`, [allowanceGrantKey(subject, a.id, false, endingPeriodStart)]))[0];
  if (!ending) return undefined;
  const carried = rolloverOf(new Decimal(ending.remaining), a.rollover);
  if (carried.isZero()) {
    // Nothing to carry now (an open session may hold all that was left): the rule stays on the
    // ending bucket, so units the session gives back later roll over by it (closeMany makes the
    // rollover bucket then, see rolloverTargetOf). Its `carried_from` is null: not a rollover bucket.
    await sql.query(`update bucket set carried_percent = $2, carried_max = $3 where id = $1`, [ending.id, a.rollover.percent ?? '100', a.rollover.maxQuantity ?? null]);
    return undefined;
  }
  const bucket = await grantRollover(sql, subject, { ...a, rollover: a.rollover }, ending.id, carried, start, end, now);
  return { quantity: fmt(carried), bucketId: bucket.id };
}

/** What a rollover bucket is made from: its allowance (name, unit, shared) and the rule that carries units into it. */
export type RolloverAllowance = Pick<Allowance, 'id' | 'name' | 'unit' | 'shared'> & { rollover: NonNullable<Allowance['rollover']> };

/** The grant key of the rollover bucket of an allowance's period starting at `start`: one per allowance and period. */
export function rolloverGrantKey(subject: GrantSubject, allowanceId: string, shared: boolean, start: Date): string {
  // A shared rollover's key must not look like a pool's (`shared:…`), or it would count as the next period's pool.
  return shared ? `rollover:${allowanceGrantKey(subject, allowanceId, true, start)}` : `${subject.subscriptionId}:${allowanceId}:rollover:${start.toISOString()}`;
}

/**
 * The rollover bucket of the period [start, end): `carried` units moved from the ending bucket
 * `fromBucketId` (ledger `BUCKET_ROLLOVER`), drawn before the period's own allowance, with the rule
 * that carried them. Made by the renewal, or, when the renewal carried nothing because an open
 * session held what was left, by the close that gives units back (closeMany); the grant key makes
 * it one per allowance and period either way.
 */
export async function grantRollover(sql: Sql, subject: GrantSubject, a: RolloverAllowance, fromBucketId: string, carried: Decimal, start: Date, end: Date, now: Date): Promise<BucketRow> {
  const rollover = await grantBucket(sql, {
    billingAccountId: subject.billingAccountId, lineId: a.shared ? null : subject.lineId, allowanceId: a.id, name: `${a.name ?? a.id} (rollover)`, unit: a.unit, quantity: fmt(carried),
    // Drawn before the period's own allowance (lower priority first): what was carried over goes first.
    priority: 50, validFrom: start, validTo: end, grantKey: rolloverGrantKey(subject, a.id, a.shared === true, start), fromBucketId, now,
  });
  // The rule that carried them: units an open session gives back to the ending bucket later carry over by it too (closeMany).
  await sql.query(`update bucket set carried_percent = $2, carried_max = $3 where id = $1`, [rollover.id, a.rollover.percent ?? '100', a.rollover.maxQuantity ?? null]);
  return rollover;
}

/** A bucket whose period ended and whose renewal carried nothing over, with the rule it left on it (carryOver). */
export interface UncarriedBucket {
  id: string;
  billing_account_id: string;
  line_id: string | null;
  allowance_id: string;
  name: string | null;
  unit: string;
  grant_key: string;
  valid_from: Date;
  valid_to: Date;
  carried_percent: string;
  carried_max: string | null;
}

/** Where units given back to an ended bucket roll over to when its renewal made no rollover bucket (see rolloverTargetOf). */
export interface RolloverTarget {
  subject: GrantSubject;
  allowance: RolloverAllowance;
  start: Date;
  end: Date;
}

/**
 * The rollover bucket the renewal of `b` would have made had it carried something: same subject,
 * grant key, validity and rule. A line's: its subscription's period, which the renewal moved on
 * (to where its bucket ends if the subscription ends inside it, as endSubscriptionBuckets ends
 * the period's buckets). A shared pool's: the next pool's period, which the same renewal opened.
 * Undefined when there is none to make: `b` is not a period's allowance bucket, or the period has
 * a rollover bucket (then it was made and has ended: what comes back to `b` is forfeited).
 */
export async function rolloverTargetOf(sql: Sql, b: UncarriedBucket): Promise<RolloverTarget | undefined> {
  const shared = b.line_id === null;
  const suffix = `:${b.allowance_id}:${b.valid_from.toISOString()}`;
  if (!b.grant_key.endsWith(suffix)) return undefined;
  const head = b.grant_key.slice(0, -suffix.length);
  let subject: GrantSubject;
  let start: Date;
  let end: Date;
  if (shared) {
    const pools = `shared:${b.billing_account_id}:`;
    if (!head.startsWith(pools)) return undefined;
    subject = { subscriptionId: '', billingAccountId: b.billing_account_id, lineId: '', planVersionId: head.slice(pools.length) };
    const [next] = await sql.query<{ valid_from: Date; valid_to: Date }>(
      `select valid_from, valid_to from bucket where billing_account_id = $1 and line_id is null and allowance_id = $2 and starts_with(grant_key, $3) and valid_from > $4 order by valid_from limit 1`,
      [b.billing_account_id, b.allowance_id, `${head}:${b.allowance_id}:`, b.valid_from],
    );
    if (!next) return undefined;
    ({ valid_from: start, valid_to: end } = next);
  } else {
    const [term] = await sql.query<SubscriptionTermRow>(`select * from subscription_term where subscription_id = $1`, [head]);
    if (!term || term.billing_account_id !== b.billing_account_id || term.line_id !== b.line_id || term.period_start <= b.valid_from) return undefined;
    subject = { subscriptionId: term.subscription_id, billingAccountId: term.billing_account_id, lineId: term.line_id, planVersionId: term.plan_version_id };
    start = term.period_start;
    end = term.ends_at && term.ends_at < term.period_end ? term.ends_at : term.period_end;
  }
  if (allowanceGrantKey(subject, b.allowance_id, shared, b.valid_from) !== b.grant_key || !(end > start)) return undefined;
  // Made already (and ended since, or it would have been found), or a period between (a session open over two renewals): nothing to make.
  const [found] = await sql.query<{ taken: boolean }>(
    `select exists (select 1 from bucket where grant_key = $1)
         or exists (select 1 from bucket where billing_account_id = $2 and allowance_id = $3 and starts_with(grant_key, $4) and valid_from > $5 and valid_from < $6) as taken`,
    [rolloverGrantKey(subject, b.allowance_id, shared, start), b.billing_account_id, b.allowance_id, `${head}:${b.allowance_id}:`, b.valid_from, start],
  );
  if (found?.taken) return undefined;
  const rule = { percent: b.carried_percent, ...(b.carried_max === null ? {} : { maxQuantity: b.carried_max }) };
  return { subject, allowance: { id: b.allowance_id, name: b.name ?? undefined, unit: b.unit, shared, rollover: rule }, start, end };
}

/** A shared pool whose period has ended, with the member whose paid period covers that end. */
interface EndedPool {
  billing_account_id: string;
  allowance_id: string;
  valid_to: Date;
  subscription_id: string;
  line_id: string;
  plan_version_id: string;
}

/**
 * A shared pool belongs to the account, not to the line whose subscription opened it: when its
 * period ends it opens the next one on its own cadence, as long as a member line's paid period
 * covers that moment. Without this the account's other lines were left without their pool from its
 * end until one of them renewed (the line that opened it gone, or not renewed for want of
 * balance), and paid out of bundle meanwhile. A member whose own period ends at the same moment
 * renews first (renewDueAllowances runs before this) and opens the same pool; under
 * lockSharedPools the second finds it covering and grants nothing. Pools of allowances valid
 * `{days}` follow their lines' grants only. No fee: the members' recurring fees pay for the pool.
 */
export async function renewDueSharedPools(db: Db, catalog: CatalogClient, now: Date, logger?: Logger, limit = 200): Promise<number> {
  // Still ACTIVE: ended pools keep late usage's units for a grace time (see expireBuckets); those
  // followed by a pool already are done.
  const ended = await db.query<EndedPool>(
    `select p.billing_account_id, p.allowance_id, p.valid_to, t.subscription_id, t.line_id, t.plan_version_id
       from bucket p
       join lateral (
         select t.subscription_id, t.line_id, t.plan_version_id from subscription_term t
          where t.billing_account_id = p.billing_account_id
            and starts_with(p.grant_key, 'shared:' || t.billing_account_id || ':' || t.plan_version_id || ':' || p.allowance_id || ':')
            and t.status in ('ACTIVE', 'SCHEDULED') and t.period_start <= p.valid_to and t.period_end > p.valid_to
            and (t.ends_at is null or t.ends_at > p.valid_to)
          order by t.starts_at, t.subscription_id limit 1
       ) t on true
      where p.status = 'ACTIVE' and p.line_id is null and p.valid_to <= $1 and starts_with(p.grant_key, 'shared:')
        and not exists (select 1 from bucket n where n.billing_account_id = p.billing_account_id and n.line_id is null and n.allowance_id = p.allowance_id
                          and n.valid_from >= p.valid_to and starts_with(n.grant_key, 'shared:' || p.billing_account_id || ':' || t.plan_version_id || ':' || p.allowance_id || ':'))
      order by p.valid_to limit $2`,
    [now, limit],
  );
  let renewed = 0;
  const plans = new Map<string, PlanTerms | null>();
  for (const pool of ended) {
    if (!plans.has(pool.plan_version_id)) plans.set(pool.plan_version_id, await catalog.planTerms(pool.plan_version_id));
    const terms = plans.get(pool.plan_version_id);
    const a = terms?.allowances.find((x) => x.id === pool.allowance_id && x.shared && x.validity === 'PERIOD');
    if (!terms || !a) continue;
    try {
      if (await db.tx((sql) => renewSharedPool(sql, pool, terms, a, now))) renewed++;
    } catch (error) {
      logger?.error({ err: error, billingAccountId: pool.billing_account_id, allowanceId: pool.allowance_id }, 'shared pool renewal failed');
    }
  }
  return renewed;
}

async function renewSharedPool(sql: Sql, pool: EndedPool, terms: PlanTerms, a: Allowance, now: Date): Promise<boolean> {
  const subject = { subscriptionId: pool.subscription_id, billingAccountId: pool.billing_account_id, lineId: pool.line_id, planVersionId: pool.plan_version_id };
  // Wallets first, as a line's renewal takes them (before the pools' lock): the rollover reads the ending pool.
  await lockAccountWallets(sql, pool.billing_account_id);
  await lockSharedPools(sql, pool.billing_account_id);
  const feePeriod = terms.recurringFee?.period;
  // The cadence of this run of pools (calendar months keep its first day of the month); periods that
  // passed unseen are skipped, as for a line.
  const anchor = await poolRunStart(sql, subject, a.id, pool.valid_to);
  let start = pool.valid_to;
  while (periodEndOf(start, feePeriod, anchor) <= now) start = periodEndOf(start, feePeriod, anchor);
  if (await sharedPoolCovering(sql, subject, a.id, start)) return false;
  const end = periodEndOf(start, feePeriod, anchor);
  const carried = await carryOver(sql, subject, start, a, start, end, now);
  // No member's renewal opened this pool, so no bundle.renewed says what it carried: usage hears it here.
  if (carried) await announceRollovers(sql, [{ bucketId: carried.bucketId, subscriptionId: subject.subscriptionId, planVersionId: subject.planVersionId }], now);
  return grantAllowance(sql, subject, a, start, end, now);
}

/** Where the run of back-to-back pools ending at `end` began (the start of its first period). */
async function poolRunStart(sql: Sql, subject: GrantSubject, allowanceId: string, end: Date): Promise<Date> {
  const pools = await sql.query<{ valid_from: Date; valid_to: Date }>(
    `select valid_from, valid_to from bucket where billing_account_id = $1 and line_id is null and allowance_id = $2 and starts_with(grant_key, $3) and valid_to <= $4 order by valid_to desc`,
    [subject.billingAccountId, allowanceId, `shared:${subject.billingAccountId}:${subject.planVersionId}:${allowanceId}:`, end],
  );
  let start = end;
  for (const p of pools) {
    if (p.valid_to.getTime() !== start.getTime()) break;
    start = p.valid_from;
  }
  return start;
}
