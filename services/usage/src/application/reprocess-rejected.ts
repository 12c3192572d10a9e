import { badInput, dec, decodeCursor, encodeCursor } from '@ledgerline/contracts';
import type { Logger } from '@ledgerline/platform';
import { LINE_NOT_PARTNERS } from '../domain/partner-usage';
import { versionAt } from '../domain/subscriber';
import { WAITING_CODES } from '../domain/waiting-codes';
import type { Sql } from '../persistence/sql';
import type { LineDirectory } from './line-directory';
import { recordId, type IncomingUsage, type Precharged, type UnpaidOverage, type UsageOutcome, type UsagePipeline } from './usage-pipeline';

export interface ReprocessCommand {
  ids?: string[] | null;
  rejectionCode?: string | null;
  lineId?: string | null;
  patch?: Record<string, unknown> | null;
  limit?: number | null;
  /** The pageInfo.endCursor of the call before: go on past the records it looked at (those still rejected too). */
  after?: string | null;
}

/** What one reprocessRejected call did, and where the next one goes on (Relay's PageInfo). */
export interface ReprocessPage {
  outcomes: UsageOutcome[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
}

/** A time as PostgreSQL holds it (microseconds, UTC): a cursor's position, read back exactly. */
const CURSOR_TIME = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\.\d{6}Z$/;
/** `r/` tells it from the cursors before (occurredAt's place), which a patch could move a record past. */
const CURSOR = /^r\/([^/]+)\/(usg_[0-9a-f]{32})$/;
/** A time column as CURSOR_TIME writes it. */
const CURSOR_TIME_SQL = (column: string) => `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/**
 * A record's place in the paging order: its receipt time and id (`r/<receivedAt>/<id>`), which no reprocess changes
 * (the replacement row keeps the first receipt's time; a patch may move occurredAt), so a run takes each record once.
 */
function reprocessCursor(receivedAt: string, id: string): string {
  return encodeCursor(`r/${receivedAt}/${id}`);
}

/** The position in `after`, or BAD_USER_INPUT naming input.after when it is not a cursor reprocessRejected hands out. */
function positionOf(after: string): { receivedAt: string; id: string } {
  const invalid = () => badInput('input.after', 'after is not a cursor of reprocessRejected: pass pageInfo.endCursor as it was given', 'CURSOR_INVALID');
  const m = CURSOR.exec(decodeCursor(after));
  if (!m || encodeCursor(m[0]) !== after) throw invalid();
  const t = CURSOR_TIME.exec(m[1]);
  // A real instant (no 2026-13-01): PostgreSQL would refuse it as a query error.
  if (!t || Number.isNaN(Date.parse(`${t[1]}Z`)) || new Date(`${t[1]}Z`).toISOString().slice(0, 19) !== t[1]) throw invalid();
  return { receivedAt: m[1], id: m[2] };
}

/** The order a page is rated in: occurredAt (nulls first), then id, so one line's usage is rated in time order. */
function byOccurrence(a: RejectedRow, b: RejectedRow): number {
  if (a.occurred_at !== b.occurred_at) return a.occurred_at === null ? -1 : b.occurred_at === null ? 1 : a.occurred_at < b.occurred_at ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Rejections for the record's ids themselves (see unratableIds). */
const ID_REJECTIONS = new Set(['EVENT_ID_INVALID', 'SOURCE_INVALID']);

interface RejectedRow {
  id: string;
  /** occurred_at as CURSOR_TIME writes it (null: the record has none). */
  occurred_at: string | null;
  /** received_at as CURSOR_TIME writes it. */
  received_at: string;
  source: string;
  event_id: string;
  raw: string | null;
  rejection_code: string | null;
  rejection_reason: string | null;
  fingerprint: string | null;
  charge_status: string;
  amount_charged: string | null;
  units_from_allowances: string | null;
  /** A session's units past their grant: what the balance did not pay (null for every other record), and the ledger's outcome of them. */
  unpaid_amount: string | null;
  outcome: string | null;
  reason: string | null;
  granted_units: string | null;
  rating: string | null;
  /** The partner whose recordUsage sent it (record_sender); null: the platform's. */
  sender: string | null;
}

/**
 * A REJECTED record the ledger charged already (charge_status APPLIED: an online session's record,
 * whose commit took its money through the reservation before the record was rejected; see
 * IncomingUsage.precharged): reprocessed as charged, with the commit's figures, never with a
 * ChargeRequest of its own. A rejected record from before this was kept (NONE) is reprocessed as
 * ordinary usage, as it always was.
 */
function prechargedOf(r: RejectedRow): Precharged | undefined {
  if (r.charge_status !== 'APPLIED') return undefined;
  const unpaid = unpaidOf(r);
  return { amountCharged: r.amount_charged, unitsFromAllowances: r.units_from_allowances, ...(unpaid ? { unpaid } : {}) };
}

/**
 * What a session's units past their grant left unpaid, as the REJECTED record keeps it (unpaid_amount, its
 * charge_outcome row, its trace's `overage`): the reprocess writes it with the rated record, or the lost revenue would
 * vanish from it while its outcome stays PARTIAL / DENIED. No event: it was told when the units were reported.
 */
function unpaidOf(r: RejectedRow): UnpaidOverage | undefined {
  if (r.unpaid_amount === null) return undefined;
  let overage: unknown;
  try {
    overage = r.rating === null ? undefined : (JSON.parse(r.rating) as { overage?: unknown }).overage;
  } catch {
    overage = undefined;
  }
  const paidUnits = r.granted_units ?? '0';
  return {
    unpaidAmount: r.unpaid_amount,
    outcome: r.outcome === 'PARTIAL' || r.outcome === 'DENIED' ? r.outcome : dec(paidUnits).gt(0) ? 'PARTIAL' : 'DENIED',
    reason: r.reason ?? 'WALLET_INSUFFICIENT_BALANCE',
    paidUnits,
    trace: typeof overage === 'object' && overage !== null ? (overage as Record<string, unknown>) : { unpaidAmount: r.unpaid_amount },
  };
}

/**
 * A record whose source or eventId could not be stored as sent (too long: cut to the column; a NUL:
 * shown as U+FFFD) has no id of its own to be rated under: sent again with the stored ids it would
 * be rated and charged under an eventId the source never used and a new record id, beside the
 * REJECTED one. It stays REJECTED; the source sends the usage again under a valid eventId.
 */
function unratableIds(r: RejectedRow, raw: unknown): boolean {
  if (r.rejection_code !== null && ID_REJECTIONS.has(r.rejection_code)) return true;
  if (recordId(r.source, r.event_id) !== r.id) return true;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return false;
  const o = raw as Record<string, unknown>;
  return [o.source, o.eventId].some((x) => typeof x === 'string' && x.includes('\u0000'));
}

/**
 * Runs REJECTED records through the pipeline again (after the line, plan or data was fixed), from
 * their stored original payload with `patch` merged in. Source and eventId stay: the record keeps
 * its id (and the fingerprint it was received with), and a record that rates now is charged once
 * like any other; one the ledger charged already (an online session's, prechargedOf) is rated as
 * charged, with no ChargeRequest. Records rejected for their ids themselves stay REJECTED
 * (unratableIds): their result says so. A partner's record (record_sender) goes through as that
 * partner's, whoever reprocesses it: with the OWN_CUSTOMERS entitlement (read now) it is rated only
 * when its line's account (the line patched in, if any) is the partner's now, else it is REJECTED
 * LINE_NOT_PARTNERS (see UsagePipeline.partnerRejections).
 */
export async function reprocessRejected(sql: Sql, pipeline: UsagePipeline, c: ReprocessCommand): Promise<UsageOutcome[]> {
  return (await reprocessRejectedPage(sql, pipeline, c)).outcomes;
}

/**
 * reprocessRejected with where it stopped: the records are taken in (receivedAt, id) order, at most `limit`, after
 * `c.after`, and rated in (occurredAt nulls first, id) order; `pageInfo.endCursor` is the last one taken,
 * `hasNextPage` says more REJECTED records of the selection come after it. Records that stay rejected stay REJECTED
 * in front of the rest: without `after` each call would take them again and never reach the records behind them.
 * The pages are not in occurredAt order: a patch of occurredAt would move a record a page left REJECTED past the
 * cursor, and a later page of the run would take it again.
 */
export async function reprocessRejectedPage(sql: Sql, pipeline: UsagePipeline, c: ReprocessCommand): Promise<ReprocessPage> {
  const limit = c.limit ?? 1000;
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw badInput('input.limit', 'limit must be between 1 and 10000', 'LIMIT_INVALID');
  if (!c.ids?.length && !c.rejectionCode && !c.lineId) throw badInput('input', 'name the records: ids, rejectionCode or lineId', 'REPROCESS_SELECTION_EMPTY');
  if (c.patch !== undefined && c.patch !== null && (typeof c.patch !== 'object' || Array.isArray(c.patch))) throw badInput('input.patch', 'patch must be a JSON object of record fields', 'PATCH_INVALID');
  // PostgreSQL refuses the NUL character in any text: refused here, naming the field, instead of failing the query.
  if (c.ids?.some((id) => id.includes('\u0000'))) throw badInput('input.ids', 'an id contains a NUL character', 'TEXT_INVALID');
  for (const field of ['rejectionCode', 'lineId'] as const) if (c[field]?.includes('\u0000')) throw badInput(`input.${field}`, `${field} contains a NUL character`, 'TEXT_INVALID');
  const after = c.after ? positionOf(c.after) : undefined;
  const where = ["u.status = 'REJECTED'"];
  const params: unknown[] = [];
  if (c.ids?.length) where.push(`u.id = any($${params.push(c.ids)}::text[])`);
  if (c.rejectionCode) where.push(`u.rejection_code = $${params.push(c.rejectionCode)}`);
  if (c.lineId) where.push(`u.line_id = $${params.push(c.lineId)}`);
  if (after) where.push(`(u.received_at, u.id) > ($${params.push(after.receivedAt)}::timestamptz, $${params.push(after.id)})`);
  // With its sender: a partner's record is checked again as the partner's (its entitlement and the line's account now).
  const { rows } = await sql.query<RejectedRow>(
    `select u.id, ${CURSOR_TIME_SQL('u.occurred_at')} as occurred_at, ${CURSOR_TIME_SQL('u.received_at')} as received_at, u.source, u.event_id, u.raw, u.rejection_code, u.rejection_reason, u.fingerprint, u.charge_status, u.amount_charged::text as amount_charged, u.units_from_allowances::text as units_from_allowances,
            u.unpaid_amount::text as unpaid_amount, o.outcome, o.reason, o.granted_units::text as granted_units, case when u.unpaid_amount is not null then u.rating end as rating, s.partner_id as sender
       from usage_record u left join record_sender s on s.record_id = u.id left join charge_outcome o on o.usage_record_id = u.id where ${where.join(' and ')} order by u.received_at, u.id limit ${limit + 1}`,
    params,
  );
  // The row past the limit only says there is more.
  const hasNextPage = rows.length > limit;
  if (hasNextPage) rows.pop();
  const first = rows[0];
  const last = rows.at(-1);
  const pageInfo = {
    hasNextPage,
    hasPreviousPage: after !== undefined,
    startCursor: first ? reprocessCursor(first.received_at, first.id) : null,
    endCursor: last ? reprocessCursor(last.received_at, last.id) : null,
  };
  if (rows.length === 0) return { outcomes: [], pageInfo };
  rows.sort(byOccurrence);
  const outcomes: (UsageOutcome | undefined)[] = new Array<undefined>(rows.length).fill(undefined);
  const items: IncomingUsage[] = [];
  rows.forEach((r, i) => {
    let raw: unknown = r.raw;
    try {
      raw = r.raw === null ? {} : JSON.parse(r.raw);
    } catch {
      /* a payload that was never JSON stays text unless the patch replaces it */
    }
    if (unratableIds(r, raw)) {
      const reason = `not reprocessed: its source or eventId could not be stored as sent, so it cannot be rated under its own id; the source must send the usage again under a valid eventId (${r.rejection_reason ?? 'no reason stored'})`;
      outcomes[i] = { id: r.id, source: r.source, eventId: r.event_id, status: 'REJECTED', duplicate: false, rejectionCode: r.rejection_code ?? 'RECORD_MALFORMED', rejectionReason: reason };
      return;
    }
    const base = typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>) : c.patch ? {} : raw;
    const fixed = typeof base === 'object' && base !== null ? { ...(base as object), ...(c.patch ?? {}), source: r.source, eventId: r.event_id } : base;
    const precharged = prechargedOf(r);
    items.push({ raw: fixed, source: r.source, eventId: r.event_id, fingerprint: r.fingerprint, ...(precharged ? { precharged } : {}), ...(r.sender !== null ? { sender: r.sender } : {}) });
  });
  const processed = items.length > 0 ? await pipeline.process(items, { reprocess: true }) : [];
  let next = 0;
  return { outcomes: outcomes.map((o) => o ?? processed[next++]), pageInfo };
}

/** How many waiting records one subscribers batch rates again (the rest wait for a manual `reprocessRejected`). */
const WAITING_LIMIT = 10_000;

/**
 * Usage that came before the events provisioning its line (WAITING_CODES) is rated once those
 * events have been applied: the records of these lines and MSISDNs that were rejected only for
 * that. A partner's record is checked as the partner's (reprocessRejected): one that waited for a
 * line that turns up as another partner's customer, or the operator's own, becomes LINE_NOT_PARTNERS
 * (not a waiting code: it is not looked at again), never rated. A record still not ratable stays
 * REJECTED with its new reason. Failures are logged, not thrown: the read model must keep up even
 * when rating cannot (the records stay for a manual `reprocessRejected`).
 *
 * They are looked for once the batches rated so far are written: a batch rated before the events
 * were applied but committed after the look-up would otherwise stay REJECTED for good (nothing else
 * retries it; no other event about the line may come for months). Batches rated after the events
 * know the line.
 */
export async function reprocessWaiting(sql: Sql, pipeline: UsagePipeline, lines: { lineIds: string[]; msisdns: string[] }, logger: Logger): Promise<UsageOutcome[]> {
  if (lines.lineIds.length === 0 && lines.msisdns.length === 0) return [];
  try {
    await pipeline.writesSettled();
    const { rows } = await sql.query<{ id: string }>(
      `select id from usage_record where status = 'REJECTED' and rejection_code = any($1::text[]) and line_id = any($2::text[])
       union
       select id from usage_record where status = 'REJECTED' and rejection_code = any($1::text[]) and msisdn = any($3::text[])
       limit ${WAITING_LIMIT}`,
      [WAITING_CODES, lines.lineIds, lines.msisdns],
    );
    if (rows.length === 0) return [];
    if (rows.length === WAITING_LIMIT) logger.warn({ limit: WAITING_LIMIT }, 'more usage waits for these lines than one pass rates; reprocessRejected rates the rest');
    const outcomes = await reprocessRejected(sql, pipeline, { ids: rows.map((r) => r.id), limit: WAITING_LIMIT });
    logger.info({ records: outcomes.length, rated: outcomes.filter((o) => o.status === 'RATED').length }, 'rated usage that had come before its line');
    return outcomes;
  } catch (error) {
    logger.error({ err: error, lines: lines.lineIds.length, msisdns: lines.msisdns.length }, 'rating usage that waited for its line failed; it stays REJECTED for reprocessRejected');
    return [];
  }
}

/** How many of a partner's refused records one account event rates again (the rest wait for a manual `reprocessRejected`). */
const PARTNER_RECORDS_LIMIT = 1000;

/** An account that subscribers' billingaccount event assigns to a partner (consumer `owners`). */
export interface PartnerAccount {
  billingAccountId: string;
  partnerId: string;
}

/**
 * A partner's records for its own new customer that came before usage knew the customer was its: the line's events
 * (consumer `subscribers`) applied before the account's billingaccount.created or the billingaccount.changed giving it
 * to the partner (consumer `owners`), so the record was stored LINE_NOT_PARTNERS (not a waiting code: nothing else
 * looks at it again). Called once the `owners` consumer recorded the events of a batch, with the accounts they
 * assigned to a partner: for each whose partner is still that one (an older event read again does not count), the
 * LINE_NOT_PARTNERS records that partner sent (record_sender) for lines whose subscription at the record's time
 * billed the account, at most PARTNER_RECORDS_LIMIT per account, go through reprocessRejected - the check is the
 * pipeline's (partnerRejections), made there as for staff's reprocess. Idempotent: a record rated is REJECTED no
 * more, so the same event read again finds nothing. Other partners' records, and records of lines billed to another
 * account at their time, are not looked at. An account moved away from a partner later takes nothing back: only
 * REJECTED records are ever reprocessed. Failures are logged, not thrown (as reprocessWaiting): the owners read model
 * must keep up; the records stay for a manual `reprocessRejected`.
 */
export async function reprocessPartnersRecords(sql: Sql, pipeline: UsagePipeline, directory: LineDirectory, accounts: PartnerAccount[], logger: Logger): Promise<UsageOutcome[]> {
  const outcomes: UsageOutcome[] = [];
  if (accounts.length === 0) return outcomes;
  try {
    // A batch of the partner's rated while the account was no one's yet, written after this look-up, would be missed.
    await pipeline.writesSettled();
    for (const { billingAccountId, partnerId } of accounts) {
      // The code written out, so that the partial index usage_record_line_not_partners_idx serves it.
      const { rows } = await sql.query<{ id: string; line_id: string; occurred_at: Date }>(
        `select u.id, u.line_id, u.occurred_at from usage_record u join record_sender s on s.record_id = u.id and s.partner_id = $2
          where u.status = 'REJECTED' and u.rejection_code = '${LINE_NOT_PARTNERS}' and u.occurred_at is not null
            and u.line_id in (select v.line_id from subscription_version v where v.billing_account_id = $1)
            and exists (select 1 from account_owner o where o.billing_account_id = $1 and o.partner_id = $2)
          order by u.occurred_at, u.id limit ${PARTNER_RECORDS_LIMIT}`,
        [billingAccountId, partnerId],
      );
      if (rows.length === 0) continue;
      if (rows.length === PARTNER_RECORDS_LIMIT) logger.warn({ billingAccountId, partnerId, limit: PARTNER_RECORDS_LIMIT }, "more of a partner's refused usage is this account's than one pass rates; reprocessRejected rates the rest");
      // Only the records whose line billed this account at their time (another account's then: not this event's business).
      await directory.prefetch(new Set(rows.map((r) => r.line_id)), []);
      const ids = rows.filter((r) => {
        const line = directory.get(r.line_id, undefined);
        return line === undefined || versionAt(line, r.occurred_at)?.billingAccountId === billingAccountId;
      }).map((r) => r.id);
      if (ids.length === 0) continue;
      const done = await reprocessRejected(sql, pipeline, { ids, limit: PARTNER_RECORDS_LIMIT });
      logger.info({ billingAccountId, partnerId, records: done.length, rated: done.filter((o) => o.status === 'RATED').length }, "rated a partner's usage that had come before its account was the partner's");
      outcomes.push(...done);
    }
  } catch (error) {
    logger.error({ err: error, accounts: accounts.length }, "rating a partner's usage that came before its account was the partner's failed; it stays REJECTED LINE_NOT_PARTNERS for reprocessRejected");
  }
  return outcomes;
}
