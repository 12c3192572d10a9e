// The bill-cycle workflow (workflows/src/workflows/bill-cycle.ts) on Temporal's time-skipping test
// server, closing its periods in the real invoicing service through the worker's own GraphQL
// adapter (GraphqlBillingPeriodsClient; its fetch goes straight to the service in this process, whose
// clock is set to the period's end when the activity calls). The account changes its bill-cycle day
// from 1 to 15 during a period: invoicing moves it at the end of that period, with a bridging period
// to the next 15th prorated over the new cycle's days (as bill runs do). The workflow follows
// invoicing's cycle (the next period's end comes back from closeBillingPeriod), not the day it was
// started with. Before: it kept closing 1st-to-1st periods, each billed with a whole month's fee,
// and the account never moved to its new cycle on this path. Closing the account (signal
// `accountClosed`) closes the last period with `final: true`: invoicing marks the account CLOSED.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { dec } from '@ledgerline/contracts';
import { startBillCycle } from '../../../workflows/src/client';
import { GraphqlBillingPeriodsClient } from '../../../workflows/src/adapters/graphql';
import { nextPeriodEnd } from '../../../workflows/src/domain/bill-cycle';
import { accountClosedSignal } from '../../../workflows/src/workflows/bill-cycle';
import { createTimeSkippingEnv, fakeSystems, startWorker, uniqueId, workflowBundle } from '../../../workflows/test/support/env';
import { account, startHarness, subscribe, type Harness } from './support';
import { rows } from '../src/application/sql';

let env: TestWorkflowEnvironment;
let h: Harness;
const DAY_MS = 86_400_000;
const TZ = 'Europe/Berlin';
const closed: { billingAccountId: string; periodStart: string; periodEnd: string; final?: boolean }[] = [];

/** The worker's GraphQL adapter, answered by the service in this process at the period's end. */
const billingPeriods = new GraphqlBillingPeriodsClient({
  url: 'http://invoicing.test/graphql',
  fetch: (async (_url: string, init: { body: string }) => {
    const { query, variables } = JSON.parse(init.body);
    const input = variables.input;
    closed.push({ billingAccountId: input.billingAccountId, periodStart: input.periodStart, periodEnd: input.periodEnd, ...(input.final ? { final: true } : {}) });
    const end = new Date(Date.parse(input.periodEnd) + 60_000);
    if (end > h.clock.now()) h.clock.set(end);
    const r = await h.svc.request(query, variables);
    return new Response(JSON.stringify(r), { status: 200, headers: { 'content-type': 'application/json' } });
  }) as unknown as typeof fetch,
});

beforeAll(async () => {
  [env] = await Promise.all([createTimeSkippingEnv(), workflowBundle()]);
  h = await startHarness(new Date(await env.currentTimeMs()).toISOString(), { consume: false, runBillRuns: false });
}, 120_000);

afterAll(async () => {
  await h?.svc.close();
  await env?.teardown();
});

/** The start of the day-`day` period (local midnight in TZ) containing `at`, by the workflows' own cycle arithmetic. */
function periodStartContaining(at: number, day: number): string {
  let start = new Date(at - 40 * DAY_MS).toISOString();
  for (let end = nextPeriodEnd(start, day, TZ); Date.parse(end) <= at; end = nextPeriodEnd(end, day, TZ)) start = end;
  return start;
}

describe('bill-cycle workflow after a bill-cycle change', () => {
  it('follows the new cycle from the end of the period in effect (a prorated bridge, then the new day), and closes the last period as final', async () => {
    const taskQueue = uniqueId('bill-cycle-change');
    const acc = uniqueId('acc_bcc');
    const now = await env.currentTimeMs();
    const p1Start = periodStartContaining(now, 1);
    const p1End = nextPeriodEnd(p1Start, 1, TZ);
    h.clock.set(new Date(p1Start));
    await account(h, acc, { billCycleDay: 1, timezone: TZ });
    await subscribe(h, acc, `sub_${acc}`, 'postpaid20', p1Start);
    // Today (within the first period): the customer asks for the 15th.
    h.clock.set(new Date(now));
    await account(h, acc, { billCycleDay: 15, timezone: TZ });
    const bridgeEnd = nextPeriodEnd(p1End, 15, TZ);
    const nextEnd = nextPeriodEnd(bridgeEnd, 15, TZ);

    const systems = { ...fakeSystems(), billingPeriods } as unknown as ReturnType<typeof fakeSystems>;
    const worker = await startWorker(env.nativeConnection, systems, { taskQueue });
    await worker.runUntil(async () => {
      const handle = await startBillCycle(env.client, { billingAccountId: acc, billCycleDay: 1, timezone: TZ, startFrom: p1Start }, { taskQueue });
      // Past the second 15th: three periods are over.
      await env.sleep(Date.parse(nextEnd) - (await env.currentTimeMs()) + DAY_MS);
      const mine = () => closed.filter((c) => c.billingAccountId === acc).map(({ periodStart, periodEnd, final }) => ({ periodStart, periodEnd, ...(final ? { final } : {}) }));
      expect(mine()).toEqual([
        { periodStart: p1Start, periodEnd: p1End },
        { periodStart: p1End, periodEnd: bridgeEnd },
        { periodStart: bridgeEnd, periodEnd: nextEnd },
      ]);
      // The bridge's fee is prorated over the new cycle's period it lies in, as a bill run bills it.
      const invoices = await rows<{ period_start: Date; period_end: Date; net: string }>(
        h.svc.runtime.orm.em.fork() as never,
        `select i.period_start, i.period_end, sum(l.net_amount)::text as net from invoice i join invoice_line l on l.invoice_id = i.id
          where i.billing_account_id = ? and l.kind = 'RECURRING' and i.voided_at is null group by i.id order by i.period_start`,
        [acc],
      );
      const bridgeDays = Math.round((Date.parse(bridgeEnd) - Date.parse(p1End)) / DAY_MS);
      const cycleDays = Math.round((Date.parse(bridgeEnd) - Date.parse(nextPeriodEnd(new Date(Date.parse(bridgeEnd) - 32 * DAY_MS).toISOString(), 15, TZ))) / DAY_MS);
      expect(invoices.map((i) => i.net)).toHaveLength(3);
      // The whole month (29.99) on the first, 14 of the new cycle's 30 days on the bridge (before: the whole fee again).
      expect(dec(invoices[1]!.net).toFixed(2)).toBe(dec(invoices[0]!.net).times(bridgeDays).dividedBy(cycleDays).toFixed(2));
      expect(dec(invoices[1]!.net).lt(invoices[0]!.net)).toBe(true);

      // The account closes: its last period is closed as final, and invoicing marks the account CLOSED.
      await handle.signal(accountClosedSignal);
      await handle.result();
      expect(mine().at(-1)).toMatchObject({ periodStart: nextEnd, final: true });
      const [a] = await rows<{ status: string; closed_at: Date | null }>(h.svc.runtime.orm.em.fork() as never, 'select status, closed_at from billing_account where id = ?', [acc]);
      expect(a!.status).toBe('CLOSED');
    });
  }, 180_000);
});
