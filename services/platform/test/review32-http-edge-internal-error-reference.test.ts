// review32: the HTTP edge every subgraph (and the gateway) shares answered a failure outside GraphQL (a `/metrics`
// scrape whose gauge queries PostgreSQL, a request body that broke off) `{"errors":[{"message":"Internal error"}]}`:
// nothing a caller could quote, while the log line ("request failed") had no reference to find it by. Now it is
// answered as GraphQL's unexpected failures are: "internal error (reference <uuid>)" with `extensions.reference`
// (INTERNAL_SERVER_ERROR), logged at error with the same reference and the failure (PostgreSQL's text only there).
// The body-size refusal (413) keeps its message: it is the caller's to act on.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import client from 'prom-client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { addOutboxFailureColumns, createOutboxTable, PortableMigration, schemaSql, startServiceForTest, type Knex, type ServiceDefinition, type TestService } from '../src';

class WithOutbox extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return [...schemaSql(createOutboxTable(knex)), ...schemaSql(addOutboxFailureColumns(knex))];
  }
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'review32-edge-'));
const schemaFile = path.join(dir, 'schema.graphql');
fs.writeFileSync(schemaFile, `extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key", "@shareable"])\ntype Query { ok: Int }\n`);
const definition: ServiceDefinition = { name: 'catalog', schemaPath: pathToFileURL(schemaFile), entities: [], migrations: [{ name: 'Migration00000000000000_review32', class: WithOutbox }], resolvers: { Query: { ok: () => 1 } } };

let svc: TestService;
beforeAll(async () => {
  svc = await startServiceForTest(definition);
});
afterAll(async () => {
  await svc?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The fields of the error-level log entry carrying `reference`. */
function loggedWith(logged: ReturnType<typeof vi.spyOn>, reference: unknown): { err?: Error; msg?: string } | undefined {
  const entries: { reference?: string; err?: Error; msg?: string }[] = logged.mock.calls.map((args: unknown[]) => args[0] as { reference?: string; err?: Error });
  return entries.find((fields) => fields?.reference === reference);
}

describe('review32: a request the subgraph server fails outside GraphQL is answered with a reference its log line has', () => {
  it('a /metrics scrape whose gauge fails in PostgreSQL: 500 "internal error (reference …)", the database text only in the log', async () => {
    // A gauge reading the database at scrape time, as outbox, wallets' and invoicing's gauges do.
    new client.Gauge({
      name: 'review32_probe',
      help: 'reads a table that is not there',
      registers: [svc.runtime.metrics],
      async collect() {
        await svc.runtime.orm.em.getConnection().execute('select count(*) from review32_missing_table');
        this.set(1);
      },
    });
    const logged = vi.spyOn(svc.runtime.logger, 'error');
    try {
      const response = await fetch(svc.url.replace(/\/graphql$/, '/metrics'));
      const text = await response.text();
      expect({ status: response.status, text }).toMatchObject({ status: 500 });
      expect(text).not.toMatch(/review32_missing_table|relation|does not exist/);
      const error = (JSON.parse(text) as { errors: { message: string; extensions?: { code?: string; reference?: string } }[] }).errors[0];
      const reference = error?.extensions?.reference;
      expect(reference).toMatch(/^[0-9a-f-]{36}$/);
      expect(error).toEqual({ message: `internal error (reference ${reference})`, extensions: { code: 'INTERNAL_SERVER_ERROR', reference } });
      expect(String(loggedWith(logged, reference)?.err?.message)).toContain('review32_missing_table');
    } finally {
      logged.mockRestore();
      svc.runtime.metrics.removeSingleMetric('review32_probe');
    }
  });

  it('a body over the size limit is still refused 413 with its message, no reference', async () => {
    const response = await fetch(svc.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'x'.repeat(5 * 1024 * 1024 + 10) });
    expect(response.status).toBe(413);
    expect(await response.json()).toEqual({ errors: [{ message: 'request body too large' }] });
  });
});
