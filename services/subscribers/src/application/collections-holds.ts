// Collections holds (see domain/collections-holds.ts): dunning holds an account's lines while its
// invoice is unpaid, one hold per dunning (holder) and line, and lifts them when it ends.
//
// Idempotent under retries: a request's key is kept on the holds it placed (or lifted), and a
// request seen again only finishes what it started (a bar or resumption that had to wait for
// another order of the line); it never places or lifts anything else, so a late retry of a
// placement that has been lifted since changes nothing. Bars and resumptions are ordinary line
// orders (BAR, RESUME) keyed `${key}:${lineId}`, fulfilled like any other.
//
// A bar or resumption the network refuses fails its order (FAILED: the line is not barred, or
// not resumed). The hold keeps that attempt (`barOrderId`, `resumeOrderId`), the request answers
// the line in `waiting` (not done: ask again with the key), and the request asked again places a
// new attempt, keyed after the refused one (`retryKey`), so callers asking at once place one
// order, and a line barred or resumed meanwhile (another hold, an agent) gets none. The retries
// and their backoff are the caller's, as for a line waiting for another order (the dunning
// workflow's activity retry policy, the orphaned-holds sweep's next pass), and, for a refusal no
// caller hears of (after the hand-over, a line gone live on a held account), the service's sweep,
// which asks again with the request's key (retry-collections-orders.ts).
import { createHash } from 'node:crypto';
import { LockMode, raw } from '@mikro-orm/core';
import { badInput, conflict, notFound } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { isHoldable, liftStep, placeStep, type OpenOrder } from '../domain/collections-holds';
import type { LineStatus } from '../domain/lifecycle';
import { assertIdempotencyKey } from '../domain/validation';
import { BillingAccount, CollectionsHold, Line, ProductOrder } from '../persistence/entities';
import { onPostgres } from '../persistence/platform';
import { requestLineChange } from './line-orders';

export interface CollectionsHoldCommand {
  billingAccountId: string;
  /** Who holds, e.g. `dunning-<invoiceId>`: one hold per holder and line. */
  holder: string;
  reason?: string | null;
  idempotencyKey: string;
  now: Date;
}

export interface CollectionsHoldOutcome {
  /** Place: the holder's holds on the account. Lift: the holds this request lifted. */
  holds: CollectionsHold[];
  /** The BAR (place) or RESUME (lift) orders of this request, with those of earlier attempts. */
  orders: ProductOrder[];
  /**
   * Lines whose bar or resumption is not done: it waits for another order of the line, or the
   * network refused its last attempt (the resolver adds those refused when handed over now): ask
   * again with the same key.
   */
  waiting: string[];
}

/** The key of the attempt that follows a refused (FAILED) one: one per refusal, whoever asks. */
export const retryKey = (refused: ProductOrder): string => `retry:${refused.id}`;

/**
 * The latest attempt of a hold's bar or resumption: the order the hold records, else (rows from
 * before it recorded them) the one keyed `firstKey`, following the retries of refused attempts.
 * Keys are scoped to the billing account (as every order key): the hold's, which is its line's and
 * so every attempt's (`requestLineChange` places them on the line's account).
 */
async function latestAttempt(em: Em, hold: CollectionsHold, recorded: string | null | undefined, firstKey: string): Promise<ProductOrder | null> {
  const billingAccountId = hold.billingAccountId;
  let order = recorded ? await em.findOne(ProductOrder, { id: recorded }) : await em.findOne(ProductOrder, { billingAccountId, idempotencyKey: firstKey });
  // A retry placed but not recorded cannot happen (same transaction); older rows may lack it.
  while (order?.status === 'FAILED') {
    const next = await em.findOne(ProductOrder, { billingAccountId, idempotencyKey: retryKey(order) });
    if (!next) break;
    order = next;
  }
  return order;
}

const OPEN = ['ACKNOWLEDGED', 'IN_PROGRESS'];
/** Keys and holders leave room for `:${lineId}` within the order key's 200 characters. */
const MAX_KEY = 160;

function validate(c: CollectionsHoldCommand): void {
  if (!c.holder.trim() || c.holder.length > MAX_KEY) throw badInput('input.holder', `holder is 1 to ${MAX_KEY} characters`, 'HOLDER_INVALID');
  assertIdempotencyKey(c.idempotencyKey, MAX_KEY);
  if (c.reason && c.reason.length > 300) throw badInput('input.reason', 'reason is at most 300 characters', 'REASON_TOO_LONG');
}

/** The account's lines, each row-locked (in id order, so two requests never lock them crosswise). */
async function lockAccountLines(em: Em, billingAccountId: string): Promise<Line[]> {
  const account = await em.findOne(BillingAccount, { id: billingAccountId });
  if (!account) throw notFound('BillingAccount', billingAccountId, 'input.billingAccountId');
  // As lockLine does for one line: PostgreSQL `for update`, fresh; SQLite runs one writer at a time.
  const postgres = onPostgres(em);
  return em.find(Line, { billingAccountId }, { orderBy: { id: 'asc' }, ...(postgres ? { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true } : {}) });
}

/** A key already used by another holder is refused (rule 5). */
function assertSameHolder(holds: CollectionsHold[], c: CollectionsHoldCommand): void {
  if (holds.some((h) => h.holder !== c.holder)) {
    throw conflict('IDEMPOTENCY_KEY_REUSED', `Idempotency key ${c.idempotencyKey} was already used for a different request`, { field: 'input.idempotencyKey' });
  }
}

async function isCollectionsBar(em: Em, orderId: string): Promise<boolean> {
  return (await em.count(CollectionsHold, { barOrderId: orderId })) > 0;
}

async function openOrder(em: Em, lineId: string): Promise<OpenOrder | null> {
  const open = await em.findOne(ProductOrder, { lineId, status: { $in: OPEN } });
  return open ? { kind: open.kind, collectionsBar: open.kind === 'BAR' && (await isCollectionsBar(em, open.id)) } : null;
}

const holdId = (lineId: string, holder: string, key: string) =>
  `hld_${createHash('sha256').update(`${lineId}\u001f${holder}\u001f${key}`).digest('hex').slice(0, 32)}`;

/**
 * Holds every live line of the account for `holder` (PENDING and TERMINATED lines are not held)
 * and bars the ACTIVE ones. A line already suspended or barred, for whatever reason, is held as it
 * is. A line with another order open is held, and barred on a later call with the same key.
 */
export async function placeCollectionsHold(em: Em, c: CollectionsHoldCommand): Promise<CollectionsHoldOutcome> {
  validate(c);
  const lines = await lockAccountLines(em, c.billingAccountId);
  const placed = await em.find(CollectionsHold, { billingAccountId: c.billingAccountId, placedKey: c.idempotencyKey });
  assertSameHolder(placed, c);
  // Seen before and lifted since: a late retry, nothing to do.
  if (placed.some((h) => h.liftedAt)) return { holds: placed, orders: [], waiting: [] };
  const active = new Map(
    (await em.find(CollectionsHold, { billingAccountId: c.billingAccountId, holder: c.holder, liftedAt: null })).map((h) => [h.lineId, h]),
  );
  const out: CollectionsHoldOutcome = { holds: [], orders: [], waiting: [] };
  for (const line of lines) {
    let hold = active.get(line.id);
    if (!hold) {
      if (placed.length > 0 || !isHoldable(line.status as LineStatus)) continue; // a retry takes no new lines
      hold = em.create(CollectionsHold, {
        id: holdId(line.id, c.holder, c.idempotencyKey),
        lineId: line.id,
        billingAccountId: c.billingAccountId,
        holder: c.holder,
        reason: c.reason ?? null,
        placedKey: c.idempotencyKey,
        barOrderId: null,
        placedAt: c.now,
        liftedKey: null,
        liftedAt: null,
        resumeOrderId: null,
      });
    }
    out.holds.push(hold);
    const barKey = `${c.idempotencyKey}:${line.id}`;
    const step = placeStep(line.status as LineStatus, await openOrder(em, line.id));
    if (step === 'WAIT') out.waiting.push(line.id);
    // This hold's bar so far (a refused attempt is not a bar: the line is barred or not by now).
    const earlier = await latestAttempt(em, hold, hold.barOrderId, barKey);
    // A bar an earlier call placed is replayed, not placed again (the line ACTIVE after it: an
    // agent resumed it before holds refused that).
    if (earlier && earlier.status !== 'FAILED') out.orders.push(earlier);
    if (step !== 'BAR' || (earlier && earlier.status !== 'FAILED')) continue;
    // The line is ACTIVE with nothing open and no bar of this hold went through: bar it, or, the
    // network having refused the last attempt, try again under the next key.
    const key = earlier ? retryKey(earlier) : barKey;
    const { order } = await requestLineChange(em, { kind: 'BAR', lineId: line.id, reason: c.reason ?? null, idempotencyKey: key, now: c.now });
    hold.barOrderId = order.id;
    out.orders.push(order);
  }
  await em.flush();
  return out;
}

/**
 * A line that goes live (its NEW_LINE order completed, PENDING → ACTIVE) on an account some
 * dunnings hold: it was still PENDING when they placed their holds, so none took it. Each holder
 * with holds left on the account's other lines now holds it too, under the key of its latest
 * placement there (so a retry of that placement sees the hold as its own), and the line is barred:
 * a BAR order keyed `${placedKey}:${lineId}` like a placement's, recorded as the first holder's
 * bar, so lifting the holds resumes it as it resumes the others. Called by `completeOrder` in the
 * completion's transaction, after the NEW_LINE order is flushed COMPLETED (one open order per line)
 * and under the line's lock, which placing and lifting holds take too. Returns the BAR order
 * (ACKNOWLEDGED, for the caller to hand to fulfilment) or null when nobody holds the account.
 */
export async function holdActivatedLine(em: Em, line: Line, now: Date): Promise<ProductOrder | null> {
  if (line.status !== 'ACTIVE') return null;
  const others = await em.find(
    CollectionsHold,
    { billingAccountId: line.billingAccountId, lineId: { $ne: line.id }, liftedAt: null },
    { orderBy: { placedAt: 'desc', id: 'desc' } },
  );
  if (others.length === 0) return null;
  const mine = new Set((await em.find(CollectionsHold, { lineId: line.id, liftedAt: null })).map((h) => h.holder));
  // Each holder's latest placement on the account, holders in the order they first held it.
  const latest = new Map<string, CollectionsHold>();
  for (const h of others) if (!latest.has(h.holder) && !mine.has(h.holder)) latest.set(h.holder, h);
  const placements = [...latest.values()].sort((a, b) => a.placedAt.getTime() - b.placedAt.getTime() || a.id.localeCompare(b.id));
  if (placements.length === 0) return null;
  const holds = placements.map((p) =>
    em.create(CollectionsHold, {
      id: holdId(line.id, p.holder, p.placedKey),
      lineId: line.id,
      billingAccountId: line.billingAccountId,
      holder: p.holder,
      reason: p.reason ?? null,
      placedKey: p.placedKey,
      barOrderId: null,
      placedAt: now,
      liftedKey: null,
      liftedAt: null,
      resumeOrderId: null,
    }),
  );
  const first = holds[0]!;
  const { order } = await requestLineChange(em, { kind: 'BAR', lineId: line.id, reason: first.reason ?? null, idempotencyKey: `${first.placedKey}:${line.id}`, now });
  first.barOrderId = order.id;
  await em.flush();
  return order;
}

/**
 * Lifts `holder`'s holds on the account. A line whose last hold this was is resumed when it is
 * BARRED by a collections bar; a line still held by someone else stays barred, and a line suspended
 * or barred for another reason stays as it is. A resumption that must wait for another open order
 * of the line is made on a later call with the same key.
 */
export async function liftCollectionsHold(em: Em, c: CollectionsHoldCommand): Promise<CollectionsHoldOutcome> {
  validate(c);
  const lines = new Map((await lockAccountLines(em, c.billingAccountId)).map((l) => [l.id, l]));
  let lifted = await em.find(CollectionsHold, { billingAccountId: c.billingAccountId, liftedKey: c.idempotencyKey }, { orderBy: { lineId: 'asc' } });
  assertSameHolder(lifted, c);
  if (lifted.length === 0) {
    // First time: this request lifts the holder's holds there are now (a retry lifts no others).
    lifted = await em.find(CollectionsHold, { billingAccountId: c.billingAccountId, holder: c.holder, liftedAt: null }, { orderBy: { lineId: 'asc' } });
    for (const h of lifted) Object.assign(h, { liftedAt: c.now, liftedKey: c.idempotencyKey });
    await em.flush();
  }
  const out: CollectionsHoldOutcome = { holds: lifted, orders: [], waiting: [] };
  for (const hold of lifted) {
    const line = lines.get(hold.lineId)!;
    const resumeKey = `${c.idempotencyKey}:${line.id}`;
    const earlier = await latestAttempt(em, hold, hold.resumeOrderId, resumeKey);
    if (earlier && earlier.status !== 'FAILED') {
      out.orders.push(earlier);
      continue;
    }
    // No resumption yet, or the network refused the last attempt: decided again from the line as
    // it is now (another dunning may hold it since, an agent may have resumed it).
    const latestBar = await em.findOne(ProductOrder, { lineId: line.id, kind: 'BAR', status: 'COMPLETED' }, { orderBy: { createdAt: 'desc', id: 'desc' } });
    const step = liftStep({
      status: line.status as LineStatus,
      otherHolds: await em.count(CollectionsHold, { lineId: line.id, liftedAt: null }),
      open: await openOrder(em, line.id),
      latestBarIsCollections: latestBar ? await isCollectionsBar(em, latestBar.id) : false,
    });
    if (step === 'WAIT') out.waiting.push(line.id);
    if (step !== 'RESUME') continue;
    const key = earlier ? retryKey(earlier) : resumeKey;
    const { order } = await requestLineChange(em, { kind: 'RESUME', lineId: line.id, reason: c.reason ?? null, idempotencyKey: key, now: c.now });
    hold.resumeOrderId = order.id;
    out.orders.push(order);
  }
  await em.flush();
  return out;
}

/**
 * The holds still in force, in id order after `after` (a hold id), at most `limit`; with
 * `holderPrefix`, only holders starting with it (e.g. `dunning-`: what the worker's sweep of holds
 * whose dunning ended reads). `totalCount` counts them all, `after` aside.
 */
export async function listOpenCollectionsHolds(
  em: Em,
  q: { holderPrefix?: string | null; after?: string | null; limit: number },
): Promise<{ rows: CollectionsHold[]; totalCount: number }> {
  // The partial unique index (line, holder) where lifted_at is null covers exactly these rows.
  const where: Record<string, unknown> = { liftedAt: null };
  const prefix = q.holderPrefix;
  // A literal, case-sensitive prefix on PostgreSQL and SQLite alike (SQLite's LIKE ignores case);
  // a raw fragment is consumed by the query that uses it: one per query.
  const withPrefix = (w: Record<string, unknown>) => (prefix ? { ...w, [raw((alias) => `substr(${alias}.holder, 1, ?) = ?`, [prefix.length, prefix])]: [] } : w);
  const totalCount = await em.count(CollectionsHold, withPrefix(where));
  if (q.after) where.id = { $gt: q.after };
  const rows = await em.find(CollectionsHold, withPrefix(where), { orderBy: { id: 'asc' }, limit: q.limit });
  return { rows, totalCount };
}
