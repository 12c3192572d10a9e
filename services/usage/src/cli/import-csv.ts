/**
 * `ledgerline usage import <file>`: a CSV CDR file into usage, in batches of `recordUsage`
 * (idempotent by (source, eventId), so a re-run never charges twice), with a progress bar, and
 * resumable: after each committed batch the last line number is written to a checkpoint file
 * next to the input (`<file>.checkpoint.json`, keyed by the file's path, size and mtime); a new
 * run skips what is behind it.
 *
 * One line is one row: a quoted field may not run on to the next line (no usage field holds a line
 * break), so a broken row never swallows the rows after it. A row that cannot be read (broken
 * quoting, more or fewer fields than the header, a value under a column the header does not name,
 * longer than MAX_ROW_BYTES) is sent as a malformed record with the reason and the row's text (a
 * row over the limit: its first and last KEPT_OF_LONG_ROW_BYTES bytes), so it ends up REJECTED
 * RECORD_MALFORMED, never silently dropped, and can be repaired with reprocessRejected. Batches are
 * cut at `batchSize` records or MAX_BATCH_BYTES of JSON, whichever comes first.
 *
 * A row without an event id gets `line<N>:<hash>`: its line number and a hash of its fields (as
 * read, trimmed, in a fixed order). The same file imported again, or resumed, gives the same ids
 * (duplicates); another file with the same name and other rows does not (new usage); two identical
 * rows of one file are two events (their line numbers differ).
 *
 * Columns (header row; snake_case or camelCase): event_id, source, line_id, msisdn, usage_type,
 * direction, quantity, occurred_at, called_number, roaming_country, visited_mcc. A header naming
 * any other column is refused before anything is sent (its values would be lost), unless the
 * column is listed in `ignoreColumns`; a column with no name is allowed if it holds no values.
 */
import { hash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import cliProgress from 'cli-progress';
import { callerHeaders, graphqlRequest, SYSTEM_CALLER, DEV_INTERNAL_SECRET } from '@ledgerline/platform';
import { MAX_RECORD_USAGE_BATCH } from '../application/record-usage';

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
  /** Header columns that are not usage fields and may be left out (any other such column stops the import). */
  ignoreColumns?: string[];
}

export interface ImportCsvReport extends ImportedBatchResult {
  file: string;
  /** Data lines skipped because a checkpoint said they were done. */
  resumedAfterLine: number;
  lastLine: number;
  complete: boolean;
}

const FIELDS: Record<string, string> = {
  event_id: 'eventId',
  eventid: 'eventId',
  source: 'source',
  line_id: 'lineId',
  lineid: 'lineId',
  msisdn: 'msisdn',
  usage_type: 'usageType',
  usagetype: 'usageType',
  direction: 'direction',
  quantity: 'quantity',
  occurred_at: 'occurredAt',
  occurredat: 'occurredAt',
  called_number: 'calledNumber',
  callednumber: 'calledNumber',
  roaming_country: 'roamingCountry',
  roamingcountry: 'roamingCountry',
  visited_mcc: 'visitedMcc',
  visitedmcc: 'visitedMcc',
};

/** Longest row read (bytes, without its line break). A CDR row is a few hundred bytes; a longer one is RECORD_MALFORMED. */
export const MAX_ROW_BYTES = 64 * 1024;
/** What a rejected row over MAX_ROW_BYTES keeps of its text: its first and its last this many bytes. */
export const KEPT_OF_LONG_ROW_BYTES = 2 * 1024;
/** Largest batch sent in one request, as JSON (the subgraph refuses request bodies over 5 MiB). */
export const MAX_BATCH_BYTES = 2 * 1024 * 1024;

/** The usage fields in a fixed order: what the default event id hashes. */
const FIELD_ORDER = [...new Set(Object.values(FIELDS))].filter((f) => f !== 'eventId');
/** One header name per usage field (the snake_case one), for messages. */
const COLUMN_NAMES = Object.keys(FIELDS).filter((k, i, keys) => keys.findIndex((o) => FIELDS[o] === FIELDS[k]) === i);

interface FileLine {
  /** 1-based. */
  line: number;
  /** Without its line break; for a line over MAX_ROW_BYTES only its first and last bytes. */
  text: string;
  /** Its length in bytes, without the line break. */
  bytes: number;
  /** Offset just past it in the file. */
  end: number;
}

/**
 * The file's lines, streamed. Memory holds at most MAX_ROW_BYTES of a line: past that only its
 * last bytes are kept, so a huge field neither exhausts memory nor reaches usage.
 */
async function* fileLines(file: string): AsyncGenerator<FileLine> {
  const keep = KEPT_OF_LONG_ROW_BYTES;
  let head: Buffer[] = [];
  let headBytes = 0;
  let tail = Buffer.alloc(0);
  let bytes = 0;
  let line = 0;
  let offset = 0;
  const take = (piece: Buffer) => {
    bytes += piece.length;
    if (headBytes <= MAX_ROW_BYTES) {
      const part = piece.subarray(0, MAX_ROW_BYTES + 1 - headBytes);
      head.push(part);
      headBytes += part.length;
      piece = piece.subarray(part.length);
    }
    if (piece.length > 0) tail = Buffer.concat([tail, piece.subarray(-keep)]).subarray(-keep);
  };
  const finish = (end: number): FileLine => {
    line++;
    let text: string;
    if (bytes <= MAX_ROW_BYTES) {
      const buf = head.length === 1 ? head[0] : Buffer.concat(head, headBytes);
      text = buf.toString('utf8', 0, buf.length > 0 && buf[buf.length - 1] === 0x0d ? buf.length - 1 : buf.length);
    } else {
      const first = Buffer.concat(head, headBytes);
      // `tail` holds the last bytes after `first`; fewer than `keep` only if none were left out.
      const last = Buffer.concat([first, tail]).subarray(-keep);
      text = `${first.toString('utf8', 0, keep)}…[${bytes - 2 * keep} bytes left out]…${last.toString('utf8').replace(/\r$/, '')}`;
    }
    const result = { line, text, bytes, end };
    head = [];
    headBytes = 0;
    tail = Buffer.alloc(0);
    bytes = 0;
    return result;
  };
  for await (const chunk of fs.createReadStream(file) as AsyncIterable<Buffer>) {
    let start = 0;
    for (let nl = chunk.indexOf(0x0a); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
      take(chunk.subarray(start, nl));
      yield finish(offset + nl + 1);
      start = nl + 1;
    }
    take(chunk.subarray(start));
    offset += chunk.length;
  }
  if (bytes > 0) yield finish(offset);
}

/**
 * The fields of one row (one line), trimmed. Rows with a quote go through csv-parse (RFC 4180:
 * quoted fields, `""` escapes), one row at a time, so a quote left open breaks this row only.
 */
function fieldsOf(text: string): string[] {
  if (!text.includes('"')) return text.split(',').map((f) => f.trim());
  let rows: string[][];
  try {
    rows = parseCsv(text, { trim: true, relax_column_count: true, record_delimiter: '\n' }) as string[][];
  } catch (error) {
    const e = error as Error & { code?: string; column?: number };
    const field = typeof e.column === 'number' ? `field ${e.column + 1}` : 'a field';
    throw new Error(
      e.code === 'CSV_QUOTE_NOT_CLOSED'
        ? `${field} opens a quote that is not closed on its line`
        : e.code === 'INVALID_OPENING_QUOTE'
          ? `${field} has a quote inside an unquoted value`
          : e.code === 'CSV_INVALID_CLOSING_QUOTE'
            ? `${field} has text after its closing quote`
            : e.message.replace(/ at line \d+/, ''),
    );
  }
  return rows[0] ?? [];
}

/** What each header column holds: a usage field, '' (no name: must stay empty) or null (ignored). */
function columnsOf(file: string, text: string, ignore: string[]): (string | null)[] {
  let names: string[];
  try {
    names = fieldsOf(text.replace(/^\uFEFF/, ''));
  } catch (error) {
    throw new Error(`${file}: the header (first line) is not valid CSV: ${(error as Error).message}`);
  }
  const ignored = new Set(ignore.map((c) => c.trim().toLowerCase()));
  const columns = names.map((n) => (n === '' ? '' : (FIELDS[n.toLowerCase()] ?? (ignored.has(n.toLowerCase()) ? null : undefined))));
  const unknown = names.filter((_, i) => columns[i] === undefined);
  if (unknown.length > 0) {
    throw new Error(
      `${file}: the header names columns that are not usage fields: ${unknown.join(', ')} (usage fields: ${COLUMN_NAMES.join(', ')}); ` +
        `rename them, or import without them with --ignore-columns ${unknown.join(',')}`,
    );
  }
  const fields = columns.filter((c): c is string => !!c);
  const twice = fields.find((c, i) => fields.indexOf(c) !== i);
  if (twice) throw new Error(`${file}: the header names ${twice} twice`);
  return columns as (string | null)[];
}

const digest = (text: string) => hash('sha256', text).slice(0, 32);

/** The record sent for one row: its usage fields, or a malformed record with the reason and the row's text. */
function recordOf(row: FileLine, columns: (string | null)[]): Record<string, string> {
  const malformed = (problem: string) => ({
    eventId: `line${row.line}:${digest(row.text)}`,
    unparseable: `line ${row.line}: ${problem}; the row: ${row.text}`,
  });
  if (row.bytes > MAX_ROW_BYTES) {
    return malformed(
      `the row is ${row.bytes} bytes long, over the limit of ${MAX_ROW_BYTES}; only its first and last ${KEPT_OF_LONG_ROW_BYTES} bytes are kept`,
    );
  }
  let fields: string[];
  try {
    fields = fieldsOf(row.text);
  } catch (error) {
    return malformed((error as Error).message);
  }
  if (fields.length !== columns.length) return malformed(`the row has ${fields.length} fields, the header ${columns.length} columns`);
  const record: Record<string, string> = {};
  for (let i = 0; i < fields.length; i++) {
    const column = columns[i];
    if (fields[i] === '' || column === null) continue;
    if (column === '') return malformed(`field ${i + 1} has a value, but its column has no name in the header`);
    record[column] = fields[i];
  }
  record.eventId ??= `line${row.line}:${digest(JSON.stringify(FIELD_ORDER.map((f) => record[f] ?? null)))}`;
  return record;
}

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

/**
 * A count option (`batchSize`, the CLI's `--batch-size`): a whole number from 1 to `max`, given
 * as a number or as the text typed; anything else throws, naming `name`.
 */
export function wholeNumberOption(name: string, value: number | string, max: number): number {
  const n = typeof value === 'number' ? value : /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > max) {
    const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 40)) : String(value);
    throw new Error(`${name} must be a whole number from 1 to ${max} (got ${shown})`);
  }
  return n;
}

export async function importUsageCsv(file: string, options: ImportCsvOptions = {}): Promise<ImportCsvReport> {
  // Checked before anything is read or sent: NaN (`--batch-size abc`) never filled a batch, so
  // batches were cut only at MAX_BATCH_BYTES and could exceed what recordUsage takes mid-import.
  const batchSize = wholeNumberOption('batchSize', options.batchSize ?? MAX_RECORD_USAGE_BATCH, MAX_RECORD_USAGE_BATCH);
  if (options.maxBatches !== undefined) wholeNumberOption('maxBatches', options.maxBatches, Number.MAX_SAFE_INTEGER);
  if (!fs.existsSync(file)) throw new Error(`${file}: no such file`);
  const source = options.source ?? `csv:${path.basename(file)}`;
  const sink =
    options.sink ??
    graphqlSink(
      options.url ?? process.env.USAGE_URL ?? 'http://127.0.0.1:4003/graphql',
      options.secret ?? process.env.LEDGERLINE_INTERNAL_SECRET ?? DEV_INTERNAL_SECRET,
    );
  const resumeAfter = options.restart ? 0 : readCheckpoint(file);
  const totals: ImportedBatchResult = { rated: 0, rejected: 0, duplicates: 0 };
  const size = fs.statSync(file).size;
  const bar =
    options.progress === false
      ? undefined
      : new cliProgress.SingleBar(
          { format: 'usage import |{bar}| {percentage}% | line {line} | rated {rated} rejected {rejected} duplicates {duplicates}', hideCursor: true },
          cliProgress.Presets.shades_classic,
        );
  bar?.start(size, 0, { line: resumeAfter, ...totals });

  let batch: Record<string, unknown>[] = [];
  let batchBytes = 0;
  let batchLastLine = resumeAfter;
  let batchEnd = 0;
  let lastLine = resumeAfter;
  let batches = 0;
  let stopped = false;
  /** Sends the batch; true when maxBatches says to stop here. */
  const flush = async (): Promise<boolean> => {
    if (batch.length === 0) return false;
    const r = await sink(source, batch);
    totals.rated += r.rated;
    totals.rejected += r.rejected;
    totals.duplicates += r.duplicates;
    writeCheckpoint(file, batchLastLine);
    batch = [];
    batchBytes = 0;
    batches++;
    bar?.update(batchEnd, { line: batchLastLine, ...totals });
    return options.maxBatches !== undefined && batches >= options.maxBatches;
  };

  let columns: (string | null)[] | undefined;
  for await (const row of fileLines(file)) {
    lastLine = row.line;
    if (row.bytes <= MAX_ROW_BYTES && row.text.trim() === '') continue;
    if (!columns) {
      columns = columnsOf(file, row.text, options.ignoreColumns ?? []);
      continue;
    }
    if (row.line <= resumeAfter) continue;
    const record = recordOf(row, columns);
    // The JSON of a record is as long in the request as here (+1 for the comma between records).
    const bytes = Buffer.byteLength(JSON.stringify(record)) + 1;
    if (batchBytes + bytes > MAX_BATCH_BYTES && (await flush())) {
      stopped = true;
      break;
    }
    batch.push(record);
    batchBytes += bytes;
    batchLastLine = row.line;
    batchEnd = row.end;
    if (batch.length >= batchSize && (await flush())) {
      stopped = true;
      break;
    }
  }
  if (!stopped) {
    batchLastLine = Math.max(batchLastLine, lastLine);
    await flush();
  }
  bar?.update(stopped ? 0 : size, { line: batchLastLine, ...totals });
  bar?.stop();
  return { file, ...totals, resumedAfterLine: resumeAfter, lastLine: batchLastLine, complete: !stopped };
}
