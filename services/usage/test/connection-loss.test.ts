/**
 * PostgreSQL may drop a connection the pool holds idle (a restart, a failover, an administrator's
 * pg_terminate_backend). The pool reports it as an 'error' event; without a listener Node exits the
 * whole service on it (seen when `npm start` was stopped: usage died of "terminating connection due
 * to administrator command"). The service must log it, replace the connection and keep answering.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServiceForTest, TEST_DATABASE_URL, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { usageRuntimeOf } from '../src/usage-runtime';
import { filePlanSource } from './support';

let svc: TestService;

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: [] }));
});

afterAll(async () => {
  await svc?.close();
});

describe('an idle database connection lost under the service', () => {
  it('is replaced: the process lives on and the next query answers', async () => {
    const pool = usageRuntimeOf(svc.runtime).sql;
    const { rows } = await pool.query<{ pid: number }>('select pg_backend_pid() as pid');
    const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
    try {
      expect((await admin.query('select pg_terminate_backend($1) as done', [rows[0]!.pid])).rows).toEqual([{ done: true }]);
    } finally {
      await admin.end();
    }
    // The pool notices the dead connection (its 'error' event) within moments.
    await new Promise((r) => setTimeout(r, 300));
    expect((await pool.query('select 1 as one')).rows).toEqual([{ one: 1 }]);
    const res = await svc.request('{ usageRecords(first: 1) { totalCount } }');
    expect(res.errors).toBeUndefined();
  });
});
