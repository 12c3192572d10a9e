/**
 * `ledgerline usage import <file>`: a CSV CDR file into usage, in batches of `recordUsage`
 * (idempotent by (source, eventId), so a re-run never charges twice), with a progress bar, and
 * resumable: after each committed batch the last line number is written to a checkpoint file
 * next to the input (`<file>.checkpoint.json`) or where `checkpoint` (`--checkpoint <path>`) says;
 * a new run skips what is behind it. The checkpoint is written once before the first batch (at
 * where the run starts), so a place that cannot be written stops the run before anything is sent
 * (it used to fail after the first batch, every run, never getting past it).
 *
 * The checkpoint records the source the lines were sent under: a run under another source does not
 * resume from it (those lines were never sent under the new source) but is refused, naming both;
 * `restart` starts the file over under the new one. An explicit source is checked as usage stores
 * it (trimmed; not empty - usage would take `api` -, at most MAX_SOURCE_LENGTH characters); the
 * default `csv:<file name>` of a longer name is cut to fit and ends in `~` and 8 hex digits of a
 * hash of the whole default, the same for the same name in every run (`defaultSource`).
 *
 * A run that cannot finish - a batch usage does not take (usage down, a request refused), or
 * `signal` aborted (the CLI's Ctrl-C; a batch in flight is cut off) - does not throw: it returns
 * the report of what usage took so far, `stopped` saying why and after which line the next run
 * resumes (the checkpoint's line: the last batch usage took), `interrupted` for the signal.
 *
 * The checkpoint names the file the run read: its path, size and mtime taken once, when the run
 * opens it (they used to be read again when each checkpoint was written, so a file replaced
 * mid-run got a checkpoint naming the new file with the old one's line count, and the next run
 * skipped rows of the new file that were never sent), plus the byte offset of the checkpointed
 * line's end and a sha256 of the bytes up to it, as read. A run resumes only if the key (or, for a
 * file that has grown since, its path) matches and the file's first bytes still hash the same (a
 * replacement with the same size and mtime); else it starts from the first line. A run that finds the file changed while it read it (path or
 * open file no longer of the size, mtime or inode it opened) stops at the next batch boundary with
 * `stopped` saying so and removes the checkpoint: the next run reads the file from its first line.
 * That is safe because usage keys a record by (source, event id) and the ids below depend only on
 * the row's source, line number and fields: what was sent before comes back as duplicates.
 *
 * A last line without a line break is held back (the mediation may still be writing the file, or
 * the copy was cut short: `1234` of `123456` would be rated as a whole row): it is not sent, the
 * checkpoint stops before it, the run is not `complete` and `stopped` says so. The next run, once the
 * line is complete, resumes at it (a checkpoint of a file that has grown since is taken when the
 * bytes it covers hash the same) and imports it once. `final` (`--final`) takes such a line as a
 * row, for a file known to end without a line break.
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
import { createHash, hash, type Hash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import cliProgress from 'cli-progress';
import { callerHeaders, graphqlRequest, SYSTEM_CALLER, DEV_INTERNAL_SECRET } from '@ledgerline/platform';
import { MAX_RECORD_USAGE_BATCH, MAX_SOURCE_LENGTH } from '../application/record-usage';
import { wholeNumberOption } from './whole-number-option';
import { sourceOption } from './source-option';

export interface ImportedBatchResult {
  rated: number;
  rejected: number;
  duplicates: number;
}

/** Where batches go; default: the usage subgraph's recordUsage. */
export type UsageSink = (source: string, records: Record<string, unknown>[], signal?: AbortSignal) => Promise<ImportedBatchResult>;

export interface ImportCsvOptions {
  /** Source of rows that name none (default `csv:<file name>`, see defaultSource). */
  source?: string;
  /** Where the checkpoint is kept (default `<file>.checkpoint.json`). */
  checkpoint?: string;
  /** Stops the run (a batch in flight is cut off); the report says so (`interrupted`). */
  signal?: AbortSignal;
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
  /**
   * The file is complete: a last line without a line break is imported as a row (the CLI's
   * `--final`). Without it such a line is held back (the file may still be being written, or be cut
   * short): not sent, the checkpoint stops before it, and the run is not complete.
   */
  final?: boolean;
}

export interface ImportCsvReport extends ImportedBatchResult {
  file: string;
  /** Data lines skipped because a checkpoint said they were done. */
  resumedAfterLine: number;
  lastLine: number;
  complete: boolean;
  /** The checkpoint file. */
  checkpoint: string;
  /**
   * Why the run stopped before the file's end, when not by `maxBatches`: the file changed while it
   * was read, a batch usage did not take, the signal, or its last line has no line break (held
   * back, see `heldBackLine`).
   */
  stopped?: string;
  /** Stopped by the signal (the CLI: Ctrl-C). */
  interrupted?: boolean;
  /** The last line, not imported because it has no line break (without `final`). */
  heldBackLine?: number;
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

const CHUNK_BYTES = 64 * 1024;

/**
 * The bytes of the open file `fd` from `start` to `end` (or its end), by positional reads: the fd
 * stays open for the run (a read stream closes it when a loop over it stops early).
 */
async function* chunksOf(fd: number, start: number, end: number): AsyncGenerator<Buffer> {
  for (let position = start; position < end; ) {
    const buffer = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, end - position));
    const n = await new Promise<number>((resolve, reject) => fs.read(fd, buffer, 0, buffer.length, position, (e, bytes) => (e ? reject(e) : resolve(bytes))));
    if (n === 0) return;
    position += n;
    yield n === buffer.length ? buffer : buffer.subarray(0, n);
  }
}

interface FileLine {
  /** 1-based. */
  line: number;
  /** Without its line break; for a line over MAX_ROW_BYTES only its first and last bytes. */
  text: string;
  /** Its length in bytes, without the line break. */
  bytes: number;
  /** Offset just past it in the file. */
  end: number;
  /** False for a last line without a line break (the file may be cut short, or still being written). */
  terminated: boolean;
}

/**
 * The file's lines, streamed from the open file `fd`. Memory holds at most MAX_ROW_BYTES of a
 * line: past that only its last bytes are kept, so a huge field neither exhausts memory nor
 * reaches usage. `read` is given every byte of a line (its line break included) before the line
 * is yielded: a hash of the bytes up to that line's end.
 */
async function* fileLines(fd: number, read: Hash): AsyncGenerator<FileLine> {
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
  const finish = (end: number, terminated: boolean): FileLine => {
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
    const result = { line, text, bytes, end, terminated };
    head = [];
    headBytes = 0;
    tail = Buffer.alloc(0);
    bytes = 0;
    return result;
  };
  for await (const chunk of chunksOf(fd, 0, Number.POSITIVE_INFINITY)) {
    let start = 0;
    for (let nl = chunk.indexOf(0x0a); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
      take(chunk.subarray(start, nl));
      read.update(chunk.subarray(start, nl + 1));
      yield finish(offset + nl + 1, true);
      start = nl + 1;
    }
    take(chunk.subarray(start));
    read.update(chunk.subarray(start));
    offset += chunk.length;
  }
  if (bytes > 0) yield finish(offset, false);
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

/**
 * `csv:<file name>`, or for a name too long for a source its first characters, `~` and 8 hex
 * digits of a hash of the whole: the same in every run (the ids usage keys records by), and two
 * long names that share their start stay two sources.
 */
export function defaultSource(file: string): string {
  const source = `csv:${path.basename(file)}`;
  if (source.length <= MAX_SOURCE_LENGTH) return source;
  const tag = `~${hash('sha256', source).slice(0, 8)}`;
  const cut = source.slice(0, MAX_SOURCE_LENGTH - tag.length);
  // Not half of a character outside the BMP.
  return `${/[\uD800-\uDBFF]$/.test(cut) ? cut.slice(0, -1) : cut}${tag}`;
}

/** What names the file a run read: its path, size and mtime (`fileKey`), and the inode, to see a replacement. */
interface FileStamp {
  key: string;
  size: number;
  mtimeMs: number;
  ino: number;
  dev: number;
}

function stampOf(file: string, st: fs.Stats): FileStamp {
  return { key: `${path.resolve(file)}|${st.size}|${st.mtimeMs}`, size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, dev: st.dev };
}

/** How the file differs from the one the run opened (by its path, or the open file itself), or null. */
function changeOf(file: string, fd: number, opened: FileStamp): string | null {
  let now: fs.Stats;
  try {
    now = fs.statSync(file);
  } catch {
    return 'it is gone';
  }
  if (now.ino !== opened.ino || now.dev !== opened.dev) return 'another file has taken its name';
  const open = fs.fstatSync(fd);
  for (const st of [now, open]) {
    if (st.size !== opened.size) return `its size went from ${opened.size} to ${st.size} bytes`;
    if (st.mtimeMs !== opened.mtimeMs) return `it was written to (mtime ${new Date(opened.mtimeMs).toISOString()} → ${new Date(st.mtimeMs).toISOString()})`;
  }
  return null;
}

interface Checkpoint {
  fileKey: string;
  /** The source the lines were sent under: a run under another one may not skip them. */
  source: string;
  /** The file's resolved path: a checkpoint of a file that has grown since (a line completed, rows appended) still resumes if its bytes up to byteOffset hash the same. */
  file: string;
  /** Data lines done (the last line number sent, or skipped as blank). */
  lineOffset: number;
  /** The offset just past that line. */
  byteOffset: number;
  /** sha256 (hex) of the file's bytes before byteOffset, as the run that wrote it read them. */
  sha256: string;
}

/** The sha256 of the file's first `bytes` bytes, or null if it is shorter. */
async function prefixHash(fd: number, bytes: number): Promise<string | null> {
  if (bytes === 0) return createHash('sha256').digest('hex');
  const h = createHash('sha256');
  let read = 0;
  for await (const chunk of chunksOf(fd, 0, bytes)) {
    h.update(chunk);
    read += chunk.length;
  }
  return read === bytes ? h.digest('hex') : null;
}

/**
 * Where to resume: the checkpoint if it names the file as opened (path, size, mtime), or its path
 * and the file has not shrunk below the checkpoint (it grew: the mediation completed the last line
 * or appended rows), and the file's bytes up to the checkpoint hash as they did (one read of that
 * part of the file); else the start. Resuming a grown file is safe for the same reason a replaced
 * one is: the lines skipped are byte for byte the ones sent, so their records are the ones sent.
 * A checkpoint without a hash (written before it had one) is not trusted: the run starts over.
 */
interface ResumePoint {
  lineOffset: number;
  byteOffset: number;
  sha256: string;
  /** The checkpoint's source (none at the start). */
  source?: string;
}

const START: ResumePoint = { lineOffset: 0, byteOffset: 0, sha256: createHash('sha256').digest('hex') };

/**
 * A checkpoint without a hash or a source (written before they were recorded) is not trusted
 * either: the run starts over (what was sent comes back as duplicates).
 */
async function readCheckpoint(checkpoint: string, file: string, fd: number, opened: FileStamp): Promise<ResumePoint> {
  let c: Partial<Checkpoint>;
  try {
    c = JSON.parse(fs.readFileSync(checkpoint, 'utf8')) as Partial<Checkpoint>;
  } catch {
    return START;
  }
  const { lineOffset, byteOffset, sha256, source } = c;
  if ((c.fileKey !== opened.key && c.file !== path.resolve(file)) || typeof sha256 !== 'string' || typeof source !== 'string') return START;
  if (!Number.isSafeInteger(lineOffset) || !Number.isSafeInteger(byteOffset) || lineOffset! < 0 || byteOffset! < 0 || byteOffset! > opened.size) return START;
  return (await prefixHash(fd, byteOffset!)) === sha256 ? { lineOffset: lineOffset!, byteOffset: byteOffset!, sha256, source } : START;
}

function writeCheckpoint(checkpoint: string, c: Checkpoint): void {
  const tmp = `${checkpoint}.tmp`;
  try {
    fs.writeFileSync(tmp, JSON.stringify({ ...c, updatedAt: new Date().toISOString() }));
    fs.renameSync(tmp, checkpoint);
  } catch (error) {
    fs.rmSync(tmp, { force: true });
    throw error;
  }
}

function dropCheckpoint(checkpoint: string): void {
  fs.rmSync(checkpoint, { force: true });
}

/** An error's message, with its cause's (fetch's "fetch failed" says nothing of ECONNREFUSED). */
function messageOf(error: unknown): string {
  const e = error as Error & { cause?: { message?: string; code?: string } };
  const cause = e.cause?.code ?? e.cause?.message;
  return cause ? `${e.message} (${cause})` : e.message;
}

export function graphqlSink(url: string, secret: string): UsageSink {
  return async (source, records, signal) => {
    const res = await graphqlRequest<{ recordUsage: ImportedBatchResult }>(
      url,
      'mutation Import($input: RecordUsageInput!) { recordUsage(input: $input) { rated rejected duplicates } }',
      { input: { source, records } },
      { headers: callerHeaders(SYSTEM_CALLER, secret), signal },
    );
    if (res.errors?.length || !res.data) throw new Error(`usage refused the batch: ${res.errors?.[0]?.message ?? 'no data'}`);
    return res.data.recordUsage;
  };
}

export async function importUsageCsv(file: string, options: ImportCsvOptions = {}): Promise<ImportCsvReport> {
  // Checked before anything is read or sent: NaN (`--batch-size abc`) never filled a batch, so
  // batches were cut only at MAX_BATCH_BYTES and could exceed what recordUsage takes mid-import.
  const batchSize = wholeNumberOption('batchSize', options.batchSize ?? MAX_RECORD_USAGE_BATCH, MAX_RECORD_USAGE_BATCH);
  if (options.maxBatches !== undefined) wholeNumberOption('maxBatches', options.maxBatches, Number.MAX_SAFE_INTEGER);
  if (!fs.existsSync(file)) throw new Error(`${file}: no such file`);
  const source = options.source === undefined ? defaultSource(file) : sourceOption('source', options.source);
  const sink =
    options.sink ??
    graphqlSink(
      options.url ?? process.env.USAGE_URL ?? 'http://127.0.0.1:4003/graphql',
      options.secret ?? process.env.LEDGERLINE_INTERNAL_SECRET ?? DEV_INTERNAL_SECRET,
    );
  // One open file for the whole run: every line, and the checkpoint's key, come from it.
  const fd = fs.openSync(file, 'r');
  try {
    return await importOpened(file, fd, { ...options, batchSize }, source, options.checkpoint ?? checkpointPath(file), sink);
  } finally {
    fs.closeSync(fd);
  }
}

async function importOpened(
  file: string,
  fd: number,
  options: ImportCsvOptions & { batchSize: number },
  source: string,
  checkpoint: string,
  sink: UsageSink,
): Promise<ImportCsvReport> {
  const { batchSize, signal } = options;
  // The key the checkpoints name: taken once, now, of the file this run reads.
  const opened = stampOf(file, fs.fstatSync(fd));
  const resume = options.restart ? START : await readCheckpoint(checkpoint, file, fd, opened);
  if (resume.lineOffset > 0 && resume.source !== source) {
    throw new Error(
      `${checkpoint} is the checkpoint of importing ${file} under the source "${resume.source}" (up to line ${resume.lineOffset}), not "${source}": ` +
        `those lines were never sent under "${source}", and a resume would skip them. Nothing was sent; run with --source ${JSON.stringify(resume.source)} to resume, ` +
        `or with --restart to import the file from its first line under "${source}"`,
    );
  }
  const resumeAfter = resume.lineOffset;
  const checkpointAt = (lineOffset: number, byteOffset: number, sha256: string): Checkpoint => ({ fileKey: opened.key, file: path.resolve(file), source, lineOffset, byteOffset, sha256 });
  // Written where the run starts before anything is sent: a place that cannot be written would
  // otherwise fail after the first batch on every run, never getting past it.
  try {
    writeCheckpoint(checkpoint, checkpointAt(resume.lineOffset, resume.byteOffset, resume.sha256));
  } catch (error) {
    throw new Error(
      `cannot write the checkpoint ${checkpoint} (${messageOf(error)}): nothing was sent; make its folder writable, or name another place for it with --checkpoint <path>`,
    );
  }
  const totals: ImportedBatchResult = { rated: 0, rejected: 0, duplicates: 0 };
  const size = opened.size;
  const bar =
    options.progress === false
      ? undefined
      : new cliProgress.SingleBar(
          { format: 'usage import |{bar}| {percentage}% | line {line} | rated {rated} rejected {rejected} duplicates {duplicates}', hideCursor: true },
          cliProgress.Presets.shades_classic,
        );
  bar?.start(size, resume.byteOffset, { line: resumeAfter, ...totals });
  // Stopped on every way out, a throw too: it hid the terminal's cursor.
  try {
    return await importLines();
  } finally {
    bar?.stop();
  }

  async function importLines(): Promise<ImportCsvReport> {
    /** sha256 of the bytes read so far (up to the end of the last line read). */
    const read = createHash('sha256');
    let batch: Record<string, unknown>[] = [];
    let batchBytes = 0;
    let batchFirstLine = 0;
    let batchLastLine = resumeAfter;
    let batchEnd = resume.byteOffset;
    /** `read` as it was at batchEnd (the batch's last line's end). */
    let batchRead: Hash | undefined;
    /** Where the checkpoint is: the last batch usage took. */
    let doneLine = resumeAfter;
    let doneEnd = resume.byteOffset;
    let lastLine = resumeAfter;
    let batches = 0;
    let stopped = false;
    let changed: string | undefined;
    /** Why a batch did not go through (usage's answer, or the signal). */
    let failed: string | undefined;
    let interrupted = false;
    /** True (and no checkpoint) if the file is not the one opened any more. */
    const fileChanged = (): boolean => {
      const change = changeOf(file, fd, opened);
      if (!change) return false;
      dropCheckpoint(checkpoint);
      changed =
        `${file} changed while it was being imported (${change}): stopped after line ${batchLastLine} and removed the checkpoint; ` +
        'run the import again: it reads the file from its first line (rows already sent come back as duplicates, never charged twice)';
      return true;
    };
    /** Sends the batch; true when the run stops here (maxBatches, the file changed, the batch failed). */
    const flush = async (): Promise<boolean> => {
      if (batch.length === 0) return false;
      let r: ImportedBatchResult;
      try {
        r = await sink(source, batch, signal);
      } catch (error) {
        interrupted = signal?.aborted === true;
        failed = interrupted
          ? `the batch of lines ${batchFirstLine}–${batchLastLine} was cut off in flight: usage may have stored it, the next run sends it again (what usage stored comes back as duplicates, never charged twice)`
          : `usage did not take the batch of lines ${batchFirstLine}–${batchLastLine}: ${messageOf(error)}`;
        return true;
      }
      totals.rated += r.rated;
      totals.rejected += r.rejected;
      totals.duplicates += r.duplicates;
      if (fileChanged()) return true;
      try {
        writeCheckpoint(checkpoint, checkpointAt(batchLastLine, batchEnd, batchRead!.digest('hex')));
      } catch (error) {
        failed = `usage took the batch of lines ${batchFirstLine}–${batchLastLine}, but the checkpoint could not be written (${messageOf(error)}); the next run sends it again (as duplicates)`;
        return true;
      }
      doneLine = batchLastLine;
      doneEnd = batchEnd;
      batch = [];
      batchBytes = 0;
      batches++;
      bar?.update(batchEnd, { line: batchLastLine, ...totals });
      return options.maxBatches !== undefined && batches >= options.maxBatches;
    };
    const halted = () => changed !== undefined || failed !== undefined || interrupted;

    let columns: (string | null)[] | undefined;
    let end = 0;
    /** A last line without a line break, held back (not sent, the checkpoint stays before it). */
    let heldBack: FileLine | undefined;
    /** The loop ended at a last line without a line break (`read` holds its bytes too). */
    let cutShort = false;
    for await (const row of fileLines(fd, read)) {
      if (signal?.aborted) {
        interrupted = true;
        stopped = true;
        break;
      }
      if (!row.terminated && !options.final) {
        // The file may still be being written (or was cut short): `1234` of `123456` would be rated as
        // a whole row. Blanks are nothing to import yet, but may be the start of a row: not passed either.
        if (row.bytes > MAX_ROW_BYTES || row.text.trim() !== '') heldBack = row;
        cutShort = true;
        break;
      }
      lastLine = row.line;
      end = row.end;
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
      if (batch.length === 0) batchFirstLine = row.line;
      batch.push(record);
      batchBytes += bytes;
      batchLastLine = row.line;
      batchEnd = row.end;
      batchRead = read.copy();
      if (batch.length >= batchSize && (await flush())) {
        stopped = true;
        break;
      }
    }
    if (!stopped && signal?.aborted) {
      interrupted = true;
      stopped = true;
    }
    if (!stopped) {
      if (lastLine > batchLastLine && !cutShort) {
        // Blank lines after the last row: the last batch's checkpoint goes past them (not when the
        // file ends in a line without a line break: `read` holds that line's bytes too; the blank lines are read again).
        batchLastLine = lastLine;
        batchEnd = end;
        batchRead = read.copy();
      }
      stopped = (await flush()) && halted();
      // Changed after the last batch (a line read from the new content would be in it): not complete either.
      if (!stopped) stopped = fileChanged();
    }
    const cutOff = failed !== undefined || interrupted;
    const resumes = `lines up to ${doneLine} are done (checkpoint ${checkpoint}): run the import again and it resumes after line ${doneLine}`;
    const why = changed
      ? changed
      : cutOff
        ? interrupted
          ? `interrupted: ${resumes}${failed ? `; ${failed}` : ''}`
          : `${failed}; ${resumes}`
        : heldBack
          ? `line ${heldBack.line} of ${file} has no line break at its end (the file is still being written, or was cut short): not imported, ` +
            `the checkpoint stops before it; run the import again when the file is complete (it resumes at that line), ` +
            'or with --final if the file is complete and only lacks a line break at its end'
          : undefined;
    const held = !changed && !cutOff && heldBack !== undefined;
    bar?.update(cutOff ? doneEnd : stopped || held ? batchEnd : size, { line: cutOff ? doneLine : batchLastLine, ...totals });
    return {
      file,
      ...totals,
      resumedAfterLine: resumeAfter,
      lastLine: cutOff ? doneLine : batchLastLine,
      complete: !stopped && !held,
      checkpoint,
      ...(why ? { stopped: why } : {}),
      ...(held ? { heldBackLine: heldBack!.line } : {}),
      ...(interrupted ? { interrupted: true } : {}),
    };
  }
}
