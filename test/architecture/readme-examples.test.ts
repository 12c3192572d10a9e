import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildSchema, Kind, parse, specifiedRules, validate, type DocumentNode, type GraphQLSchema } from 'graphql';
import { printSchema, Supergraph } from '@apollo/federation-internals';
import { queryLimitsRule, queryLimitsSetting } from '@ledgerline/platform';

/**
 * The GraphQL examples in the README and docs must run against the graph as it is: each is
 * validated against the API schema the gateway serves (the checked-in supergraph, built the way
 * @apollo/gateway builds it). Examples are ```graphql blocks (one marked ```graphql schema is SDL
 * and skipped) and the `"query":"…"` of a curl to a /graphql URL in ```sh / ```bash blocks. The gateway's
 * default query limits (depth, fields, aliases: GATEWAY_MAX_QUERY_*) are checked with the other rules, its token
 * limit (GATEWAY_MAX_QUERY_TOKENS) by the parse, as the gateway parses.
 */
const root = path.resolve(import.meta.dirname, '../..');
const docs = ['README.md', ...fs.readdirSync(path.join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

function apiSchema(): GraphQLSchema {
  const sdl = fs.readFileSync(path.join(root, 'gateway/supergraph.graphql'), 'utf8');
  // Printed and built again: federation-internals (CommonJS) holds its own graphql-js instance.
  return buildSchema(printSchema(Supergraph.build(sdl).apiSchema()));
}

interface Example {
  /** `README.md:507`: where the operation starts. */
  where: string;
  source: string;
  /** Line in the file of the source's first line. */
  line: number;
  kind: 'graphql' | 'curl' | 'js';
}

interface Fence {
  info: string;
  line: number;
  body: string[];
}

function fences(text: string): Fence[] {
  const out: Fence[] = [];
  const lines = text.split('\n');
  let open: Fence | undefined;
  lines.forEach((l, i) => {
    const m = /^\s*```(.*)$/.exec(l);
    if (m && !open) open = { info: m[1]!.trim(), line: i + 2, body: [] };
    else if (m && open) {
      out.push(open);
      open = undefined;
    } else open?.body.push(l);
  });
  return out;
}

/** A JSON string literal's content, unescaped (`\"` in a shell -d '…' argument is JSON's). */
function queriesInJson(command: string): string[] {
  return [...command.matchAll(/"query"\s*:\s*("(?:[^"\\]|\\.)*")/g)].map((m) => JSON.parse(m[1]!) as string);
}

function examples(file: string): Example[] {
  const out: Example[] = [];
  for (const f of fences(fs.readFileSync(path.join(root, file), 'utf8'))) {
    const [lang, ...flags] = f.info.split(/\s+/);
    if (lang === 'graphql') {
      if (flags.includes('schema')) continue;
      out.push({ where: `${file}:${f.line}`, source: f.body.join('\n'), line: f.line, kind: 'graphql' });
    } else if (lang === 'sh' || lang === 'bash' || lang === 'shell') {
      // One shell command may continue over several lines (`\` at the end).
      for (let i = 0; i < f.body.length; i++) {
        const start = i;
        let command = f.body[i]!;
        while (command.endsWith('\\') && i + 1 < f.body.length) command = command.slice(0, -1) + f.body[++i]!;
        if (!/\/graphql\b/.test(command)) continue; // the events hub's REST "query" is not GraphQL
        for (const q of queriesInJson(command)) out.push({ where: `${file}:${f.line + start}`, source: q, line: f.line + start, kind: 'curl' });
      }
    } else if (lang === 'js' || lang === 'javascript' || lang === 'ts' || lang === 'typescript') {
      const body = f.body.join('\n');
      if (!/\/graphql\b/.test(body)) continue;
      for (const m of body.matchAll(/(?:gql|graphql)`([^`]*)`|query:\s*`([^`]*)`/g)) {
        const before = body.slice(0, m.index).split('\n').length - 1;
        out.push({ where: `${file}:${f.line + before}`, source: (m[1] ?? m[2])!, line: f.line + before, kind: 'js' });
      }
    }
  }
  return out;
}

/** Each operation of an example on its own (the README lists several anonymous ones in a block), with its fragments. */
function operations(example: Example): { where: string; document: DocumentNode }[] {
  const document = parse(example.source, { maxTokens: limits.maxTokens });
  const executable = document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION || d.kind === Kind.FRAGMENT_DEFINITION);
  if (executable.length === 0) return []; // SDL only (should be marked ```graphql schema)
  const fragments = document.definitions.filter((d) => d.kind === Kind.FRAGMENT_DEFINITION);
  return document.definitions
    .filter((d) => d.kind === Kind.OPERATION_DEFINITION)
    .map((op) => {
      const line = example.kind === 'graphql' ? example.line + (op.loc?.startToken.line ?? 1) - 1 : example.line;
      const name = op.kind === Kind.OPERATION_DEFINITION ? `${op.operation}${op.name ? ` ${op.name.value}` : ''}` : '';
      return { where: `${example.where.replace(/:\d+$/, '')}:${line} (${name})`, document: { kind: Kind.DOCUMENT, definitions: [op, ...fragments] } };
    });
}

const schema = apiSchema();
const limits = queryLimitsSetting({});
const rules = [...specifiedRules, queryLimitsRule(limits)];
const all = docs.flatMap(examples);

describe('GraphQL examples in README.md and docs/', () => {
  it('finds the examples (graphql blocks and the curl queries)', () => {
    expect(all.filter((e) => e.kind === 'graphql').length).toBeGreaterThanOrEqual(3);
    expect(all.filter((e) => e.kind === 'curl').length).toBeGreaterThanOrEqual(2);
    expect(all.some((e) => e.source.includes('eventType='))).toBe(false);
  });

  const ops = all.flatMap((e): { where: string; document?: DocumentNode; error?: Error }[] => {
    try {
      return operations(e);
    } catch (error) {
      return [{ where: e.where, error: error as Error }];
    }
  });

  it.each(ops.map((o) => [o.where, o] as const))('%s is valid against the gateway’s API schema', (where, op) => {
    if (!op.document) throw new Error(`${where}: does not parse: ${op.error?.message}`);
    const errors = validate(schema, op.document, rules).map((e) => `${where}: ${e.message}`);
    expect(errors).toEqual([]);
  });

  it('the validation catches a wrong field', () => {
    const [bad] = operations({ where: 'x:1', source: '{ plans(first: 1) { edges { node { nope } } } }', line: 1, kind: 'graphql' });
    expect(validate(schema, bad!.document).length).toBeGreaterThan(0);
  });

  it('the validation catches a query over the gateway’s limits', () => {
    const [deep] = operations({ where: 'x:1', source: `{ billingAccount(id: "a") { ${'parentAccount { '.repeat(20)}id${' }'.repeat(20)} } }`, line: 1, kind: 'graphql' });
    expect(validate(schema, deep!.document).length).toBe(0);
    expect(validate(schema, deep!.document, rules).map((e) => e.message)).toEqual([expect.stringMatching(/GATEWAY_MAX_QUERY_DEPTH/)]);
  });

  it('the parse catches a document over the gateway’s token limit', () => {
    const source = `{ billingAccount(id: "a") { ${'id '.repeat(limits.maxTokens)}} }`;
    expect(() => operations({ where: 'x:1', source, line: 1, kind: 'graphql' })).toThrow(/Document contains more tha[nt] 15000 tokens/);
  });
});
