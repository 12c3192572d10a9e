/**
 * 2026-11-29, thirtieth session (T1): the shared DateTime scalar took any four-digit year with an offset, so
 * `importPlan(input: { effectiveFrom: "9999-12-31T23:59:59-23:59" })` (year 10000 in UTC) reached the ORM, which wrote
 * "+010000-01-01T23:58:59.000Z", and PostgreSQL refused the insert ("time zone displacement out of range"): the call
 * was INTERNAL_SERVER_ERROR. The scalar now refuses an instant whose UTC year is outside 1..9999 like any other bad
 * DateTime: a variable is BAD_USER_INPUT naming its path (`at "i.effectiveFrom"`), an inline literal fails
 * validation (HTTP 400, which the gateway answers as BAD_USER_INPUT with the same message). Nothing is stored; the
 * last instant of 9999 is still taken.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestService } from '@ledgerline/platform';
import { readJson, startCatalog } from './support';

let svc: TestService;
beforeAll(async () => {
  svc = await startCatalog('2026-03-01T09:00:00Z');
});
afterAll(async () => svc?.close());

const IMPORT = 'mutation($i: ImportPlanInput!) { importPlan(input: $i) { created version { version effectiveFrom } } }';
const RANGE = /DateTime cannot represent .*between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59\.999Z/;
const plan = readJson('plans/prepaid-bundle-30d.json');

/** The first error's code and message, or the data when it answered. */
async function outcome(query: string, variables?: Record<string, unknown>) {
  const res = await svc.request(query, variables);
  const e = res.errors?.[0];
  return e ? { code: e.extensions?.code, message: e.message } : { data: res.data };
}
const versions = async () => (await svc.runtime.orm.em.fork().getConnection().execute(`select count(*)::int as n from plan_version`))[0].n as number;

describe('importPlan: an effectiveFrom PostgreSQL cannot store', () => {
  it('year 10000 once the offset is applied is BAD_USER_INPUT naming i.effectiveFrom (not INTERNAL), nothing stored; the end of 9999 is imported', async () => {
    const before = await versions();
    expect({
      variable: await outcome(IMPORT, { i: { document: plan, effectiveFrom: '9999-12-31T23:59:59-23:59' } }),
      literal: await outcome(`mutation($d: JSON!) { importPlan(input: { document: $d, effectiveFrom: "9999-12-31T23:00:00-01:00" }) { created } }`, { d: plan }),
    }).toEqual({
      variable: { code: 'BAD_USER_INPUT', message: expect.stringMatching(/^Variable "\$i" got invalid value "9999-12-31T23:59:59-23:59" at "i\.effectiveFrom"; .*between 0001-01-01T00:00:00Z/) },
      literal: { code: 'GRAPHQL_VALIDATION_FAILED', message: expect.stringMatching(RANGE) },
    });
    expect(await versions()).toBe(before);

    expect(await outcome(IMPORT, { i: { document: plan, effectiveFrom: '9999-12-31T23:59:59.999Z' } })).toEqual({
      data: { importPlan: { created: true, version: { version: 1, effectiveFrom: '9999-12-31T23:59:59.999Z' } } },
    });
  });
});
