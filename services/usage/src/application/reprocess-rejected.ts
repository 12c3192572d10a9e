import { badInput } from '@ledgerline/contracts';
import type { Logger } from '@ledgerline/platform';
import { WAITING_CODES } from '../domain/waiting-codes';
import type { Sql } from '../persistence/sql';
import type { UsageOutcome, UsagePipeline } from './usage-pipeline';

export interface ReprocessCommand {
  ids?: string[] | null;
  rejectionCode?: string | null;
  lineId?: string | null;
  patch?: Record<string, unknown> | null;
  limit?: number | null;
}

/**
 * Runs REJECTED records through the pipeline again (after the line, plan or data was fixed), from
 * their stored original payload with `patch` merged in. Source and eventId stay: the record keeps
 * its id, and a record that rates now is charged once like any other.
 */
export async function reprocessRejected(sql: Sql, pipeline: UsagePipeline, c: ReprocessCommand): Promise<UsageOutcome[]> {
  const limit = c.limit ?? 1000;
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw badInput('input.limit', 'limit must be between 1 and 10000', 'LIMIT_INVALID');
  if (!c.ids?.length && !c.rejectionCode && !c.lineId) throw badInput('input', 'name the records: ids, rejectionCode or lineId', 'REPROCESS_SELECTION_EMPTY');
  if (c.patch !== undefined && c.patch !== null && (typeof c.patch !== 'object' || Array.isArray(c.patch))) throw badInput('input.patch', 'patch must be a JSON object of record fields', 'PATCH_INVALID');
  const where = ["status = 'REJECTED'"];
  const params: unknown[] = [];
  if (c.ids?.length) where.push(`id = any($${params.push(c.ids)}::text[])`);
  if (c.rejectionCode) where.push(`rejection_code = $${params.push(c.rejectionCode)}`);
  if (c.lineId) where.push(`line_id = $${params.push(c.lineId)}`);
  const { rows } = await sql.query<{ id: string; source: string; event_id: string; raw: string | null }>(
    `select id, source, event_id, raw from usage_record where ${where.join(' and ')} order by occurred_at nulls first, id limit ${limit}`,
    params,
  );
  if (rows.length === 0) return [];
  const items = rows.map((r) => {
    let raw: unknown = r.raw;
    try {
      raw = r.raw === null ? {} : JSON.parse(r.raw);
    } catch {
      /* a payload that was never JSON stays text unless the patch replaces it */
    }
    const base = typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>) : c.patch ? {} : raw;
    const fixed = typeof base === 'object' && base !== null ? { ...(base as object), ...(c.patch ?? {}), source: r.source, eventId: r.event_id } : base;
    return { raw: fixed, source: r.source, eventId: r.event_id };
  });
  return pipeline.process(items, { reprocess: true });
}

/** How many waiting records one subscribers batch rates again (the rest wait for a manual `reprocessRejected`). */
const WAITING_LIMIT = 10_000;

/**
 * Usage that came before the events provisioning its line (WAITING_CODES) is rated once those
 * events have been applied: the records of these lines and MSISDNs that were rejected only for
 * that. A record still not ratable stays REJECTED with its new reason. Failures are logged, not
 * thrown: the read model must keep up even when rating cannot (the records stay for a manual
 * `reprocessRejected`).
 */
export async function reprocessWaiting(sql: Sql, pipeline: UsagePipeline, lines: { lineIds: string[]; msisdns: string[] }, logger: Logger): Promise<UsageOutcome[]> {
  if (lines.lineIds.length === 0 && lines.msisdns.length === 0) return [];
  try {
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
