import { badInput } from '@ledgerline/contracts';
import type { UsageOutcome, UsagePipeline } from './usage-pipeline';

/** The documented maximum of `recordUsage`: larger feeds go to JetStream or the CSV import. */
export const MAX_RECORD_USAGE_BATCH = 1000;
/** The longest source usage stores (its column's width). */
export const MAX_SOURCE_LENGTH = 64;

/**
 * `sender`: the partner calling (a PARTNER's partnerId), kept beside each record it stores and checked against its
 * usage entitlement (OWN_CUSTOMERS: its own customers' lines only; see UsagePipeline.partnerRejections). Absent for
 * the platform's calls (SYSTEM, ADMIN; the CSV import calls as SYSTEM), which rate any line.
 */
export async function recordUsage(pipeline: UsagePipeline, input: { source?: string | null; records: unknown[] }, sender?: string): Promise<UsageOutcome[]> {
  if (input.records.length === 0) throw badInput('input.records', 'records is empty', 'USAGE_BATCH_EMPTY');
  if (input.records.length > MAX_RECORD_USAGE_BATCH) throw badInput('input.records', `at most ${MAX_RECORD_USAGE_BATCH} records per call (got ${input.records.length}); use JetStream or the CSV import for larger feeds`, 'USAGE_BATCH_TOO_LARGE');
  const source = input.source?.trim() || 'api';
  if (source.length > MAX_SOURCE_LENGTH) throw badInput('input.source', `source is longer than ${MAX_SOURCE_LENGTH} characters`, 'SOURCE_INVALID');
  // Every record naming no source of its own carries it into the batch's insert, which PostgreSQL would refuse whole.
  if (source.includes('\u0000')) throw badInput('input.source', 'source contains a NUL character', 'SOURCE_INVALID');
  // GraphQL gives absent fields as null; the validator treats null as missing.
  return pipeline.process(input.records.map((raw) => ({ raw: { ...(raw as object) }, source, ...(sender !== undefined ? { sender } : {}) })));
}
