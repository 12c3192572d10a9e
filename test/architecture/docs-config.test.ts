import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Command } from 'commander';
import { buildProgram } from '../../services/cli/src/program';

/**
 * What an operator types from the docs must be what the code reads and accepts:
 * 1. every environment variable a configuration table names (README, docs/operations.md,
 *    workflows/README.md: tables headed `| variable |`) and every key deploy/k8s sets is read by
 *    the code under that exact name, and a plain default the table gives (a number, or a word in
 *    backticks) is the one at the read; every variable the running code reads is in one of
 *    those tables; likewise the benchmarks (services/<service>/bench): every variable they read
 *    is in a `| benchmark variable |` table (README, Benchmarks) with its default, and every
 *    name there is read by one;
 * 2. every `ledgerline …` command line in the docs names an existing command with options it has,
 *    and every `npm run …` / `npm start -w …` names a script that exists.
 * Text only (no services): sources are scanned, the CLI's command tree is built, not run.
 */
const root = path.resolve(import.meta.dirname, '../..');
const read = (file: string): string => fs.readFileSync(path.join(root, file), 'utf8');
const docFiles = ['README.md', 'workflows/README.md', 'deploy/k8s/README.md', 'deploy/nats/README.md', ...fs.readdirSync(path.join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
const tableFiles = ['README.md', 'docs/operations.md', 'workflows/README.md'];

// ---------------------------------------------------------------------------------------------
// 1. Environment variables
// ---------------------------------------------------------------------------------------------

/** Variables of the platform or the toolchain, read by the code but not Ledgerline's to document. */
const NOT_OURS = new Set(['HOME', 'PATH', 'PYENV_ROOT', 'NODE_OPTIONS', 'CI']);
/** Services whose `<SERVICE>_…` settings a table names as one template. */
const SERVICES = ['GATEWAY', 'CATALOG', 'SUBSCRIBERS', 'USAGE', 'WALLETS', 'INVOICING', 'EVENTS_HUB'];

function walk(dir: string, out: string[] = []): string[] {
  if (!fs.existsSync(path.join(root, dir))) return out;
  for (const e of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) {
      if (e.name !== 'node_modules' && e.name !== 'dist') walk(rel, out);
    } else if (/\.(ts|mts|mjs)$/.test(e.name) && !/\.(test|d)\.m?ts$/.test(e.name) && !e.name.endsWith('.d.mts')) out.push(rel);
  }
  return out;
}

/** The code an operator runs: services, gateway, worker, `npm start` / `npm test` scripts (not tests, not benchmarks). */
function runtimeSources(): string[] {
  const services = fs.readdirSync(path.join(root, 'services')).map((d) => `services/${d}/src`);
  return [...services, 'gateway/src', 'workflows/src', 'deploy/local'].flatMap((d) => walk(d));
}

/** The benchmarks and the scripts beside them (services/<service>/bench). */
function benchSources(): string[] {
  return fs.readdirSync(path.join(root, 'services')).flatMap((d) => walk(`services/${d}/bench`));
}

export interface EnvRead {
  name: string;
  file: string;
  /** 1-based line of the read. */
  line: number;
}

const NAME = '[A-Z][A-Z0-9_]*';
const READ_PATTERNS: RegExp[] = [
  new RegExp(`\\b(?:process\\.env|env)\\??\\.(${NAME})\\b`, 'g'), // env.NAME, process.env.NAME
  new RegExp(`\\b(?:process\\.env|env)\\[\\s*['"\`](${NAME})['"\`]\\s*\\]`, 'g'), // env['NAME']
  new RegExp(`\\(\\s*(?:process\\.)?env\\s*,\\s*['"](${NAME})['"]`, 'g'), // helper(env, 'NAME', …)
  new RegExp(`\\b(?:const|let)\\s+\\w*(?:setting|SETTING)\\w*\\s*=\\s*['"](${NAME})['"]`, 'g'), // const setting = 'NAME'
  new RegExp(`\\bread\\(\\s*['"](${NAME})['"]`, 'g'), // a closure over env: read('NAME', default)
];
/** `env[\`${service}_PORT\`]` and the like: one setting per service. */
const TEMPLATE_READ = /\benv\[\s*`\$\{[^}]+\}(_[A-Z][A-Z0-9_]*)`\s*\]/g;

export function envReads(files: string[] = runtimeSources()): EnvRead[] {
  const out: EnvRead[] = [];
  for (const file of files) {
    const text = read(file);
    const lineOf = (index: number) => text.slice(0, index).split('\n').length;
    for (const re of READ_PATTERNS) {
      for (const m of text.matchAll(re)) {
        // `env.X = …` hands a setting to a child process: not a read.
        if (/^\s*=[^=]/.test(text.slice(m.index + m[0].length))) continue;
        out.push({ name: m[1]!, file, line: lineOf(m.index) });
      }
    }
    for (const m of text.matchAll(TEMPLATE_READ)) out.push({ name: `<SERVICE>${m[1]!}`, file, line: lineOf(m.index) });
  }
  return out.filter((r) => !NOT_OURS.has(r.name));
}

export interface DocumentedVariable {
  name: string;
  /** `README.md:70`. */
  where: string;
  /** The table's default, when the row names one variable and gives a plain one. */
  default?: string;
  /** The other value the table offers: `[on; \`off\`]` → `off`. */
  alternative?: string;
}

/** Cells of one markdown table row, `|` inside backticks kept. */
function cells(row: string): string[] {
  const out: string[] = [];
  let cell = '';
  let code = false;
  for (const ch of row.trim().replace(/^\|/, '').replace(/\|$/, '')) {
    if (ch === '`') code = !code;
    if (ch === '|' && !code) {
      out.push(cell.trim());
      cell = '';
    } else cell += ch;
  }
  out.push(cell.trim());
  return out;
}

/** A default written plainly: `10`, `` `on` ``, `72` of `[72]`, `on` of `[on; `off`]`; otherwise (prose) undefined. */
export function plainDefault(text: string): string | undefined {
  const t = text.trim();
  const quoted = /^`([\w.:/-]+)`(?=$|[\s;:(])/.exec(t);
  if (quoted) return quoted[1];
  return /^(\d+(?:\.\d+)?|on|off)(?=$|[\s;:(])/.exec(t)?.[1];
}

/**
 * Variables the configuration tables of `file` (a markdown text) name: tables whose first column is
 * headed `heading`. A one-word name counts in a benchmark table only (the profiling script reads
 * `RUNS`, `ONLY`), and as `HOST` elsewhere.
 */
export function documentedVariables(file: string, text: string, heading: 'variable' | 'benchmark variable' = 'variable'): DocumentedVariable[] {
  const out: DocumentedVariable[] = [];
  const lines = text.split('\n');
  let columns: string[] | undefined;
  lines.forEach((l, i) => {
    if (!l.trim().startsWith('|')) {
      columns = undefined;
      return;
    }
    const row = cells(l);
    if (!columns) {
      columns = row.map((c) => c.toLowerCase());
      return;
    }
    if (columns[0] !== heading || /^-+$/.test(row[0]!.replace(/[:\s|]/g, '') || '-')) return;
    const first = row[0]!;
    // `EVENTS_HUB_MAX_ATTEMPTS` [8], `EVENTS_HUB_RETRY_BASE_MS` [5000]: default in brackets after each name.
    const named = [...first.matchAll(/`(<SERVICE>_[A-Z0-9_]+|[A-Z][A-Z0-9_]*)`(?:\s*\[([^\]]*(?:\[[^\]]*\][^\]]*)*)\])?/g)];
    const names = named.filter((m) => !/^[a-z]/.test(m[1]!));
    const defaultColumn = columns.indexOf('default');
    for (const m of names) {
      const name = m[1]!;
      if (!/_/.test(name) && !['HOST'].includes(name) && heading === 'variable') continue;
      const raw = m[2] ?? (names.length === 1 && defaultColumn > 0 ? row[defaultColumn] : undefined);
      const alternative = raw === undefined ? undefined : /;\s*`([\w.-]+)`\s*$/.exec(raw.trim())?.[1];
      out.push({ name, where: `${file}:${i + 1}`, default: raw === undefined ? undefined : plainDefault(raw), alternative });
    }
    // `CATALOG_PORT` … `INVOICING_PORT`: every service's.
    const range = /`([A-Z]+)(_[A-Z_]+)`\s*…\s*`([A-Z]+)\2`/.exec(first);
    if (range) for (const s of SERVICES) out.push({ name: `${s}${range[2]}`, where: `${file}:${i + 1}` });
  });
  return out;
}

/** Every variable name in backticks in the first cell of a `| variable |` table row (earlier names in brackets too). */
export function mentionedVariables(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => /^\|\s*`/.test(l))
    .flatMap((l) => [...cells(l)[0]!.matchAll(/`([A-Z][A-Z0-9_]*_[A-Z0-9_]+)`/g)].map((m) => m[1]!));
}

/** Keys deploy/k8s sets: ConfigMap / Secret data and `env:` entries of the manifests. */
export function manifestVariables(): DocumentedVariable[] {
  const out: DocumentedVariable[] = [];
  for (const f of fs.readdirSync(path.join(root, 'deploy/k8s')).filter((n) => n.endsWith('.yaml'))) {
    const lines = read(`deploy/k8s/${f}`).split('\n');
    let inData = false;
    lines.forEach((l, i) => {
      if (/^(data|stringData):\s*$/.test(l)) inData = true;
      else if (/^\S/.test(l)) inData = false;
      const key = inData ? /^ {2}([A-Z][A-Z0-9_]*):/.exec(l) : undefined;
      const env = /^\s*- name:\s*([A-Z][A-Z0-9_]*)\s*$/.exec(l);
      const name = key?.[1] ?? env?.[1];
      if (name) out.push({ name, where: `deploy/k8s/${f}:${i + 1}` });
    });
  }
  return out;
}

function allDocumented(heading: 'variable' | 'benchmark variable' = 'variable'): DocumentedVariable[] {
  return tableFiles.flatMap((f) => documentedVariables(f, read(f), heading));
}

/** Whether `name` (a table's name) is read: exactly, or as its service's `<SERVICE>_…` template. */
function isRead(name: string, reads: Set<string>): boolean {
  if (reads.has(name)) return true;
  if (name.startsWith('<SERVICE>')) return reads.has(name);
  const service = SERVICES.find((s) => name.startsWith(`${s}_`) && reads.has(`<SERVICE>${name.slice(s.length)}`));
  return service !== undefined;
}

/** Numbers as code writes them: `5 * 60_000`, `86_400_000`. */
function numbersIn(text: string): string[] {
  const out = [...text.matchAll(/\d[\d_]*(?:\.\d+)?/g)].map((m) => m[0].replace(/_/g, ''));
  for (const m of text.matchAll(/(\d[\d_]*)\s*\*\s*(\d[\d_]*)(?:\s*\*\s*(\d[\d_]*))?/g)) {
    out.push(String([m[1], m[2], m[3]].filter(Boolean).reduce((a, b) => a * Number(b!.replace(/_/g, '')), 1)));
  }
  return out;
}

/** Top-level `const X =` / `function X(` of the runtime sources: where a read's default may live. */
function definitions(): Map<string, string> {
  const out = new Map<string, string>();
  for (const file of runtimeSources()) {
    const lines = read(file).split('\n');
    lines.forEach((l, i) => {
      const m = /^(?:export )?(?:const|function|async function) ([A-Za-z_]\w*)\b/.exec(l);
      if (!m) return;
      let end = i;
      while (end < i + 12 && end < lines.length - 1 && !/(;|^\})\s*$/.test(lines[end]!)) end++;
      out.set(m[1]!, `${out.get(m[1]!) ?? ''}\n${lines.slice(i, end + 1).join('\n')}`);
    });
  }
  return out;
}

/** The text at a read (its line and the two after it) and, two levels deep, the constants and functions it names. */
function readContext(r: EnvRead, defs: Map<string, string>): string {
  const lines = read(r.file).split('\n');
  let text = lines.slice(r.line - 1, r.line + 2).join('\n');
  let frontier = text;
  for (let depth = 0; depth < 2; depth++) {
    const found = [...new Set(frontier.match(/\b[A-Za-z_]\w*\b/g) ?? [])].map((id) => defs.get(id)).filter((d): d is string => d !== undefined && !text.includes(d));
    frontier = found.join('\n');
    text += `\n${frontier}`;
  }
  return text;
}

/**
 * Defaults the scan cannot see at the read (another variable's value, or a default parameter some
 * calls away), with the code that gives them: each snippet must be in its file as written here,
 * and the documented default in one of them.
 */
const DEFAULT_ELSEWHERE: Record<string, [file: string, snippet: string][]> = {
  WALLETS_GRAPHQL_URL: [
    ['workflows/src/main.ts', 'const gateway = env.GATEWAY_URL || undefined;'],
    ['workflows/src/main.ts', 'walletsUrl: env.WALLETS_GRAPHQL_URL || gateway,'],
  ],
  INVOICING_GRAPHQL_URL: [
    ['workflows/src/main.ts', 'const gateway = env.GATEWAY_URL || undefined;'],
    ['workflows/src/main.ts', 'invoicingUrl: env.INVOICING_GRAPHQL_URL || gateway,'],
  ],
  WALLETS_LATE_USAGE_GRACE_MS: [
    ['services/wallets/src/service.ts', 'lateUsageGraceMs: env.WALLETS_LATE_USAGE_GRACE_MS ? Number(env.WALLETS_LATE_USAGE_GRACE_MS) : undefined'],
    ['services/wallets/src/jobs/jobs.ts', 'expireBuckets(sql, now, undefined, undefined, options.lateUsageGraceMs)'],
    ['services/wallets/src/application/buckets.ts', 'graceMs = LATE_USAGE_GRACE_MS'],
    ['services/wallets/src/application/buckets.ts', 'export const LATE_USAGE_GRACE_MS = 48 * 3600_000;'],
  ],
};

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Whether the documented default is the one at one of the reads (or in what the read names). */
function defaultAtRead(v: DocumentedVariable, at: EnvRead[], defs: Map<string, string>): boolean {
  const d = v.default!;
  const elsewhere = DEFAULT_ELSEWHERE[v.name];
  if (elsewhere) {
    const snippets = elsewhere.map(([, snippet]) => snippet).join('\n');
    return elsewhere.every(([file, snippet]) => read(file).includes(snippet)) && (numbersIn(snippets).includes(d) || snippets.includes(d));
  }
  return at.some((r) => {
    // `env.X ?? 1000`, `env.X || 'off'`: the fallback at the read decides.
    const line = read(r.file).split('\n')[r.line - 1]!;
    const fallback = /^\w*['"`\]]?\)?\s*(?:\?\?|\|\|)\s*(?:(['"`])([^'"`]*)\1|(\d[\d_]*(?:\s*\*\s*\d[\d_]*)*)\b(?!\s*[.(]))/.exec(line.slice(line.indexOf(v.name) + v.name.length));
    if (fallback) return fallback[2] !== undefined ? fallback[2] === d : numbersIn(fallback[3]!).includes(d);
    const text = readContext(r, defs);
    if (/^\d+(\.\d+)?$/.test(d)) return numbersIn(text).includes(d);
    const quoted = (w: string) => `['"\`]${escape(w)}['"\`]`;
    // `env.X ?? 'd'`, `env.X || 'd'`, `const Q = 'd'`, a parameter's `= 'd'`.
    if (new RegExp(`(?:\\?\\?|\\|\\||[^=!<>]=)\\s*${quoted(d)}`).test(text)) return true;
    // `env.X !== 'off'`: the code tests for the value that is not the default.
    const opposite = v.alternative ?? ({ on: 'off', off: 'on' } as Record<string, string>)[d];
    const compares = (w: string) => new RegExp(`[!=]==\\s*${quoted(w)}`).test(text);
    const withDefault = compares(d);
    const withOpposite = opposite !== undefined && compares(opposite);
    if (withDefault !== withOpposite) return withOpposite;
    return new RegExp(quoted(d)).test(text);
  });
}

/** Documented variables (tables and manifests) that no code reads. */
export function unreadVariables(documented: DocumentedVariable[], reads: EnvRead[]): string[] {
  const readNames = new Set(reads.map((r) => r.name));
  return documented.filter((v) => !isRead(v.name, readNames)).map((v) => `${v.where} ${v.name}`);
}

/** Variables the code reads that `names` (every name the tables mention) leaves out. */
export function undocumentedReads(names: Set<string>, reads: EnvRead[]): string[] {
  // `<SERVICE>_URL` documents USAGE_URL; `<SERVICE>_PORT` as read is documented by GATEWAY_PORT, CATALOG_PORT, …
  const template = (n: string) => SERVICES.some((s) => n.startsWith(`${s}_`) && names.has(`<SERVICE>${n.slice(s.length)}`));
  const perService = (n: string) => n.startsWith('<SERVICE>') && SERVICES.some((s) => names.has(`${s}${n.slice(9)}`));
  return [...new Set(reads.filter((r) => !names.has(r.name) && !template(r.name) && !perService(r.name)).map((r) => `${r.name} (${r.file}:${r.line})`))];
}

/** Documented plain defaults that are not the code's. */
export function wrongDefaults(documented: DocumentedVariable[], reads: EnvRead[], defs: Map<string, string>): string[] {
  const wrong: string[] = [];
  for (const v of documented.filter((d) => d.default !== undefined)) {
    const at = reads.filter((r) => r.name === v.name);
    if (at.length === 0) continue; // unreadVariables names it
    if (!defaultAtRead(v, at, defs)) wrong.push(`${v.where} ${v.name}: documented default ${v.default}, not at ${at.map((r) => `${r.file}:${r.line}`).join(', ')}`);
  }
  return wrong;
}

describe('environment variables in the docs and in the code', () => {
  const reads = envReads();
  const documented = allDocumented();

  it('finds the tables and the reads (the scan itself works)', () => {
    const readNames = new Set(reads.map((r) => r.name));
    expect(documented.length).toBeGreaterThan(100);
    expect(readNames).toContain('DATABASE_URL');
    expect(readNames).toContain('<SERVICE>_PORT');
    expect(readNames).toContain('WALLETS_VOUCHER_MAX_FAILED_GLOBAL');
    expect(manifestVariables().map((v) => v.name)).toContain('CATALOG_DB_SCHEMA');
  });

  it('reads every variable the configuration tables and deploy/k8s name, under that exact name', () => {
    expect(unreadVariables([...documented, ...manifestVariables()], reads), 'documented but read by no code (misspelt in the docs, or a setting removed)').toEqual([]);
  });

  it('documents every variable the running code reads', () => {
    const names = new Set([...documented.map((v) => v.name), ...tableFiles.flatMap((f) => mentionedVariables(read(f)))]);
    expect(undocumentedReads(names, reads), 'read by the code but in no configuration table (README, docs/operations.md, workflows/README.md)').toEqual([]);
  });

  it('gives the default the code uses', () => {
    expect(wrongDefaults(documented, reads, definitions())).toEqual([]);
  });

  it('documents every variable a benchmark reads, in a benchmark table with its default (settings of the services they start: the configuration tables)', () => {
    const benchReads = envReads(benchSources());
    const benchDocumented = allDocumented('benchmark variable');
    expect(benchDocumented.length, 'a `| benchmark variable |` table (README, Benchmarks)').toBeGreaterThan(10);
    expect(unreadVariables(benchDocumented, benchReads), 'in a benchmark table but read by no benchmark').toEqual([]);
    const names = new Set([...documented, ...benchDocumented].map((v) => v.name).concat(tableFiles.flatMap((f) => mentionedVariables(read(f)))));
    expect(undocumentedReads(names, benchReads), 'read by a benchmark but in no table').toEqual([]);
    expect(wrongDefaults(benchDocumented, benchReads, definitions())).toEqual([]);
  });

  it('reads every variable the docs set in a command (`NAME=value …`), benchmarks and nats-server included', () => {
    const names = new Set([...reads, ...envReads(benchSources())].map((r) => r.name));
    for (const m of read('deploy/nats/authorization.conf').matchAll(/\$([A-Z][A-Z0-9_]*)/g)) names.add(m[1]!);
    const adrs = fs.readdirSync(path.join(root, 'docs/adr')).filter((f) => f.endsWith('.md')).map((f) => `docs/adr/${f}`);
    const unread = [...docFiles, ...adrs].flatMap((f) =>
      read(f)
        .split('\n')
        .flatMap((l, i) => [...l.matchAll(/(?:^|[\s`(])([A-Z][A-Z0-9]*_[A-Z0-9_]+)=/g)].map((m) => ({ where: `${f}:${i + 1}`, name: m[1]! })))
        .filter((v) => !names.has(v.name) && !isRead(v.name, names) && !NOT_OURS.has(v.name))
        .map((v) => `${v.where} ${v.name}`),
    );
    expect(unread).toEqual([]);
  });

  it('catches a wrong table row: a misspelt name, a wrong default, a setting left out', () => {
    const table = [
      '| variable | default | meaning |',
      '|---|---|---|',
      '| `EVENTS_HUB_MAX_ATEMPTS` | `8` | misspelt |',
      '| `EVENTS_HUB_MAX_ATTEMPTS` | `10` | the code says 8 |',
      '| `WALLETS_JOBS` [`off`; `on`] | | the code says on |',
      '| `USAGE_CHARGE_PUBLISH` [`fire`] | | the code says ack |',
      '| `BILL_CYCLE_BACKFILL` | `on` | the code says off |',
      '| `WALLETS_CHARGE_BATCH` [100] | | the code says 1000 |',
      '| `HEALTH_CHECK_TIMEOUT_MS` [2000], `TEMPORAL_NAMESPACE` [`default`], `WALLETS_CHARGE_LANES` [2] | | right |',
    ].join('\n');
    const rows = documentedVariables('fake.md', table);
    expect(unreadVariables(rows, reads)).toEqual(['fake.md:3 EVENTS_HUB_MAX_ATEMPTS']);
    expect(wrongDefaults(rows, reads, definitions()).map((w) => w.split(':')[0] + ':' + w.split(':')[1])).toEqual([
      'fake.md:4 EVENTS_HUB_MAX_ATTEMPTS',
      'fake.md:5 WALLETS_JOBS',
      'fake.md:6 USAGE_CHARGE_PUBLISH',
      'fake.md:7 BILL_CYCLE_BACKFILL',
      'fake.md:8 WALLETS_CHARGE_BATCH',
    ]);
    const names = new Set([...documented.map((v) => v.name), ...tableFiles.flatMap((f) => mentionedVariables(read(f)))]);
    names.delete('USAGE_SQL_POOL_MAX');
    expect(undocumentedReads(names, reads)).toEqual([expect.stringMatching(/^USAGE_SQL_POOL_MAX \(services\/usage\/src\//)]);

    const benchTable = ['| benchmark variable | default | meaning |', '|---|---|---|', '| `BILLRUN_ACOUNTS` | `100000` | misspelt |', '| `BILLRUN_BATCH` | `500` | the bench says 1000 |', '| `RUNS` | `5` | right |'].join('\n');
    const benchRows = documentedVariables('fake.md', benchTable, 'benchmark variable');
    const benchReads = envReads(benchSources());
    expect(unreadVariables(benchRows, benchReads)).toEqual(['fake.md:3 BILLRUN_ACOUNTS']);
    expect(wrongDefaults(benchRows, benchReads, definitions()).map((w) => w.split(':')[0] + ':' + w.split(':')[1])).toEqual(['fake.md:4 BILLRUN_BATCH']);
    expect(documentedVariables('fake.md', benchTable), 'a benchmark table is not a configuration table').toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// 2. Commands
// ---------------------------------------------------------------------------------------------

export interface DocCommand {
  where: string;
  words: string[];
}

/** `ledgerline …` command lines in a markdown text: in code blocks and in backticks. */
export function ledgerlineCommands(file: string, text: string): DocCommand[] {
  const out: DocCommand[] = [];
  text.split('\n').forEach((l, i) => {
    const spans = [...l.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
    const candidates = /^\s*(npx |\$ )?ledgerline /.test(l) || /\$\(npx ledgerline /.test(l) ? [l, ...spans] : spans;
    for (const c of candidates) {
      for (const m of c.matchAll(/(?:^|[\s($'"])(?:npx )?ledgerline ((?:[\w:.<>…/=-]|\[[^\]]*\]|\s(?!#)(?!\|))+)/g)) {
        const words = m[1]!.replace(/\[|\]/g, ' ').split(/\s+/).filter(Boolean);
        // `ledgerline gateway: configuration error: …` is a message the processes print, not a command.
        if (words.length && !words[0]!.endsWith(':')) out.push({ where: `${file}:${i + 1}`, words });
      }
    }
  });
  return out;
}

/**
 * Flags the docs name on their own (`` `--final` ``), with the line they are on: each must be an
 * option of a `ledgerline` command, or of a script that line or the one before names (`cpu-by-process.py`).
 */
export function loneFlags(file: string, text: string): { where: string; flag: string; line: string }[] {
  const lines = text.split('\n');
  return lines.flatMap((l, i) => [...l.matchAll(/`(--[a-z][\w-]*)(?:[ =][^`]*)?`/g)].map((m) => ({ where: `${file}:${i + 1}`, flag: m[1]!, line: `${lines[i - 1] ?? ''}\n${l}` })));
}

function allOptions(cmd: Command): Set<string> {
  const out = new Set<string>(cmd.options.map((o) => o.long).filter(Boolean) as string[]);
  for (const sub of cmd.commands) for (const o of allOptions(sub)) out.add(o);
  return out;
}

/** What is wrong with one documented command line, or undefined. */
export function checkCommand(program: Command, words: string[]): string | undefined {
  let cmd = program;
  let i = 0;
  while (i < words.length && !words[i]!.startsWith('-')) {
    const sub = cmd.commands.find((c) => c.name() === words[i] || c.aliases().includes(words[i]!));
    if (!sub) {
      if (cmd === program || cmd.commands.length > 0) return `no command "${words.slice(0, i + 1).join(' ')}"`;
      break; // an argument of the leaf command
    }
    cmd = sub;
    i++;
  }
  if (cmd === program) return `no command "${words[0]}"`;
  if (cmd.commands.length > 0 && !words.slice(i).every((w) => w.startsWith('-') || /^(-h|--help)$/.test(w))) return `"${cmd.name()}" needs a subcommand: ${cmd.commands.map((c) => c.name()).join(', ')}`;
  const flags = new Set(cmd.options.flatMap((o) => [o.long, o.short].filter(Boolean) as string[]).concat(['--help', '-h']));
  for (const w of words.slice(i)) {
    const flag = /^(--?[\w-]+)/.exec(w)?.[1];
    if (flag && !flags.has(flag)) return `"${words.slice(0, i).join(' ')}" has no option ${flag} (it has ${[...flags].join(', ')})`;
  }
  return undefined;
}

/** `npm run x`, `npm start -w pkg`, `npm run build -w pkg`, and `bench:*` names in backticks. */
export function npmScripts(file: string, text: string): { where: string; script: string; workspace?: string }[] {
  const out: { where: string; script: string; workspace?: string }[] = [];
  text.split('\n').forEach((l, i) => {
    for (const m of l.matchAll(/\bnpm (?:run ([\w:.-]+)|(start|test))((?:\s+-w\s+[@\w/.-]+)?)/g)) {
      const workspace = /-w\s+([@\w/.-]+)/.exec(m[3] ?? '')?.[1];
      out.push({ where: `${file}:${i + 1}`, script: (m[1] ?? m[2])!, workspace });
    }
    if (/npm run bench:/.test(l)) for (const m of l.matchAll(/`(bench:[\w-]+)/g)) out.push({ where: `${file}:${i + 1}`, script: m[1]! });
  });
  return out;
}

function workspaceScripts(): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  const dirs = ['gateway', 'workflows', 'test', ...fs.readdirSync(path.join(root, 'services')).map((d) => `services/${d}`)];
  for (const d of dirs) {
    const file = path.join(root, d, 'package.json');
    if (!fs.existsSync(file)) continue;
    const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name: string; scripts?: Record<string, string> };
    out.set(pkg.name, pkg.scripts ?? {});
  }
  return out;
}

describe('commands in the docs', () => {
  const program = buildProgram();

  it('finds the command lines (the scan itself works)', () => {
    const all = docFiles.flatMap((f) => ledgerlineCommands(f, read(f)));
    expect(all.length).toBeGreaterThan(10);
    expect(all.some((c) => c.words.join(' ').startsWith('usage import'))).toBe(true);
  });

  it('every `ledgerline …` command line names an existing command with its options', () => {
    const wrong = docFiles.flatMap((f) => ledgerlineCommands(f, read(f))).flatMap((c) => {
      const problem = checkCommand(program, c.words);
      return problem ? [`${c.where} ledgerline ${c.words.join(' ')}: ${problem}`] : [];
    });
    expect(wrong).toEqual([]);
  });

  it('every flag the docs name on its own is an option of a ledgerline command or of the script beside it', () => {
    const options = allOptions(program);
    const wrong = docFiles.flatMap((f) => loneFlags(f, read(f))).flatMap((f) => {
      if (options.has(f.flag)) return [];
      const scripts = [...f.line.matchAll(/([\w/.-]+\.(?:py|ts|mjs))\b/g)].map((m) => m[1]!);
      const inScript = scripts.some((name) => {
        const file = [name, `services/usage/bench/${path.basename(name)}`].find((c) => fs.existsSync(path.join(root, c)));
        return file !== undefined && read(file).includes(f.flag);
      });
      return inScript ? [] : [`${f.where} ${f.flag}: no ledgerline command or script on that line has it`];
    });
    expect(wrong).toEqual([]);
  });

  it('catches a wrong command line: an unknown command, a misspelt flag, a missing script', () => {
    const text = [
      '`npx ledgerline usage import calls.csv --batchsize 500`',
      '```sh',
      'npx ledgerline billrun stat 2026-12-01',
      'npx ledgerline billcycle backfill --dry-run --page-size 50',
      'npm run bench:ratings',
      '```',
    ].join('\n');
    const problems = ledgerlineCommands('fake.md', text).map((c) => `${c.where} ${checkCommand(program, c.words) ?? 'ok'}`);
    expect(problems).toEqual([expect.stringMatching(/^fake\.md:1 .*has no option --batchsize/), expect.stringMatching(/^fake\.md:3 no command "billrun stat"/), 'fake.md:4 ok']);
    const rootScripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
    expect(npmScripts('fake.md', text).filter((s) => rootScripts[s.script] === undefined).map((s) => s.script)).toEqual(['bench:ratings']);
  });

  it('every npm script the docs run exists', () => {
    const rootScripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
    const workspaces = workspaceScripts();
    const wrong = docFiles.flatMap((f) => npmScripts(f, read(f))).flatMap((s) => {
      const scripts = s.workspace ? workspaces.get(s.workspace) : rootScripts;
      if (!scripts) return [`${s.where} npm … -w ${s.workspace}: no such workspace`];
      return scripts[s.script] === undefined ? [`${s.where} npm run ${s.script}${s.workspace ? ` -w ${s.workspace}` : ''}: no such script`] : [];
    });
    expect(wrong).toEqual([]);
  });
});
