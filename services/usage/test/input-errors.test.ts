/**
 * A GraphQL input error comes back as BAD_USER_INPUT naming the field at fault (a page size out of
 * range used to be INTERNAL_SERVER_ERROR, in every subgraph: the shared pageSize threw a plain Error).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { filePlanSource } from './support';

let svc: TestService;

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: [] }), { clock: new ManualClock(new Date('2026-03-20T12:00:00Z')) });
});

afterAll(async () => {
  await svc?.close();
});

describe('input errors of the usage subgraph', () => {
  it('usageRecords(first: 500) is BAD_USER_INPUT naming `first`', async () => {
    const res = await svc.request(`{ usageRecords(first: 500) { totalCount } }`);
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'first' });
  });

  it('rejectedUsage(first: -1) is BAD_USER_INPUT naming `first`', async () => {
    const res = await svc.request(`{ rejectedUsage(first: -1) { totalCount } }`);
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'first' });
  });

  it('rerate with a malformed period names the input field `input.period` (as it names input.billingAccountId)', async () => {
    const res = await svc.request(`mutation { rerate(input: { billingAccountId: "acc_x", period: "2026-3" }) { recordsRerated } }`);
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.period' });
  });
});
