/**
 * `ledgerline usage import <file>`: a CSV CDR file into usage, in batches of `recordUsage`
 * (idempotent by (source, eventId), so a re-run never charges twice), with a progress bar, and
 * resumable: after each committed batch the last line number is written to a checkpoint file
 * next to the input (`<file>.checkpoint.json`, keyed by the file's path, size and mtime); a new
 * run skips what is behind it. Rows with a broken CSV syntax are sent as malformed records, so
 * they end up REJECTED with their reason like any other bad record, never silently dropped.
 *
 * Columns (header row; snake_case or camelCase): event_id, source, line_id, msisdn, usage_type,
 * direction, quantity, occurred_at, called_number, roaming_country, visited_mcc.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse';
import cliProgress from 'cli-progress';
import { callerHeaders, graphqlRequest, SYSTEM_CALLER, DEV_INTERNAL_SECRET } from '@ledgerline/platform';

export interface ImportedBatchResult {
  rated: number;
  rejected: number;
  duplicates: number;
}

/** Where batches go; default: the usage subgraph's recordUsage. */
export type UsageSink = (source: string, records: Record<string, unknown>[]) => Promise<ImportedBatchResult>;

export interface ImportCsvOptions {
  /** Source of rows that name none (default `csv:<file name>`). */
  source?: string;
  /** Usage subgraph (or gateway) GraphQL URL; default USAGE_URL or http://127.0.0.1:4003/graphql. */
  url?: string;
  secret?: string;
  sink?: UsageSink;
  batchSize?: number;
  progress?: boolean;
  /** Ignore an existing checkpoint and start from the first line. */
  restart?: boolean;
  /** Stop after this many batches (to test resuming). */
  maxBatches?: number;
}

export interface ImportCsvReport extends ImportedBatchResult {
  file: string;
  /** Data lines skipped because a checkpoint said they were done. */
  resumedAfterLine: number;
  lastLine: number;
  complete: boolean;
}

const FIELDS: Record<string, string> = {
  event_id: 'eventId', eventid: 'eventId', source: 'source', line_id: 'lineId', lineid: 'lineId', msisdn: 'msisdn', usage_type: 'usageType', usagetype: 'usageType',
  direction: 'direction', quantity: 'quantity', occurred_at: 'occurredAt', occurredat: 'occurredAt', called_number: 'calledNumber', callednumber: 'calledNumber',
  roaming_country: 'roamingCountry', roamingcountry: 'roamingCountry', visited_mcc: 'visitedMcc', visitedmcc: 'visitedMcc',
};

export function checkpointPath(file: string): string {
  return `${file}.checkpoint.json`;
}

function fileKey(file: string): string {
  const st = fs.statSync(file);
  return `${path.resolve(file)}|${st.size}|${st.mtimeMs}`;
}

function readCheckpoint(file: string): number {
  try {
    const c = JSON.parse(fs.readFileSync(checkpointPath(file), 'utf8')) as { fileKey: string; lineOffset: number };
    return c.fileKey === fileKey(file) ? c.lineOffset : 0;
  } catch {
    return 0;
  }
}

function writeCheckpoint(file: string, lineOffset: number): void {
  const tmp = `${checkpointPath(file)}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify({ fileKey: fileKey(file), lineOffset, updatedAt: new Date().toISOString() }));
  fs.renameSync(tmp, checkpointPath(file));
}

export function graphqlSink(url: string, secret: string): UsageSink {
  return async (source, records) => {
    const res = await graphqlRequest<{ recordUsage: ImportedBatchResult }>(
      url,
      'mutation Import($input: RecordUsageInput!) { recordUsage(input: $input) { rated rejected duplicates } }',
      { input: { source, records } },
      { headers: callerHeaders(SYSTEM_CALLER, secret) },
    );
    if (res.errors?.length || !res.data) throw new Error(`usage refused the batch: ${res.errors?.[0]?.message ?? 'no data'}`);
    return res.data.recordUsage;
  };
}

export async function importUsageCsv(file: string, options: ImportCsvOptions = {}): Promise<ImportCsvReport> {
  if (!fs.existsSync(file)) throw new Error(`${file}: no such file`);
  const source = options.source ?? `csv:${path.basename(file)}`;
  const sink = options.sink ?? graphqlSink(options.url ?? process.env.USAGE_URL ?? 'http://127.0.0.1:4003/graphql', options.secret ?? process.env.LEDGERLINE_INTERNAL_SECRET ?? DEV_INTERNAL_SECRET);
  const batchSize = Math.min(options.batchSize ?? 1000, 1000);
  const resumeAfter = options.restart ? 0 : readCheckpoint(file);
  const totals: ImportedBatchResult = { rated: 0, rejected: 0, duplicates: 0 };
  const size = fs.statSync(file).size;
  const bar = options.progress === false ? undefined : new cliProgress.SingleBar({ format: 'usage import |{bar}| {percentage}% | line {line} | rated {rated} rejected {rejected} duplicates {duplicates}', hideCursor: true }, cliProgress.Presets.shades_classic);
  bar?.start(size, 0, { line: resumeAfter, ...totals });

  let batch: Record<string, unknown>[] = [];
  let batchLastLine = resumeAfter;
  let lastLine = resumeAfter;
  let batches = 0;
  let stopped = false;
  const skipped: { line: number; raw: string }[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const r = await sink(source, batch);
    totals.rated += r.rated;
    totals.rejected += r.rejected;
    totals.duplicates += r.duplicates;
    writeCheckpoint(file, batchLastLine);
    batch = [];
    batches++;
  };

  const parser = fs.createReadStream(file).pipe(
    parse({
      columns: (header: string[]) => header.map((h) => FIELDS[h.trim().toLowerCase()] ?? h.trim()),
      info: true,
      trim: true,
      skip_empty_lines: true,
      relax_column_count: true,
      skip_records_with_error: true,
      on_skip: (err, raw) => {
        skipped.push({ line: Number((err as { lines?: number } | undefined)?.lines ?? 0), raw: String(raw ?? err?.message ?? '') });
        return undefined;
      },
    }),
  );
  for await (const { record, info } of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number; bytes: number } }>) {
    for (const s of skipped.splice(0)) {
      if (s.line > resumeAfter) batch.push({ eventId: `${path.basename(file)}:${s.line}`, unparseable: `CSV line ${s.line}: ${s.raw.slice(0, 500)}` });
    }
    lastLine = info.lines;
    if (info.lines <= resumeAfter) continue;
    const clean: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(record)) if (Object.values(FIELDS).includes(k) && v !== '') clean[k] = v;
    clean.eventId ??= `${path.basename(file)}:${info.lines}`;
    batch.push(clean);
    batchLastLine = info.lines;
    if (batch.length >= batchSize) {
      await flush();
      bar?.update(info.bytes, { line: info.lines, ...totals });
      if (options.maxBatches !== undefined && batches >= options.maxBatches) {
        stopped = true;
        parser.destroy();
        break;
      }
    }
  }
  if (!stopped) {
    for (const s of skipped.splice(0)) if (s.line > resumeAfter) batch.push({ eventId: `${path.basename(file)}:${s.line}`, unparseable: `CSV line ${s.line}: ${s.raw.slice(0, 500)}` });
    batchLastLine = Math.max(batchLastLine, lastLine);
    await flush();
  }
  bar?.update(stopped ? 0 : size, { line: batchLastLine, ...totals });
  bar?.stop();
  return { file, ...totals, resumedAfterLine: resumeAfter, lastLine: batchLastLine, complete: !stopped };
}
