// Review 3: a bill run started on its cycle date before every account's period has ended in the
// account's own time zone (startBillRun allows it from the moment the date has begun anywhere,
// UTC+14) marks the batch DONE with those accounts "skipped" and the run COMPLETED. Starting the
// same cycle date again later returns that finished run, so those accounts are never billed by it:
// an American account's September is simply not invoiced.
// Correct (ARCHITECTURE: "A bill run workflow bills a cycle for many accounts"; STATUS: "exactly one
// invoice per account+period", "resumable"): every account of the cycle gets its invoice once its
// period has ended — the run is not COMPLETED while an account of it is still unbilled (its batch
// stays pending, or a later start bills it).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { account, invoicesOf, runBillRun, startHarness, subscribe, waitFor, type Harness } from './support';

let h: Harness;
beforeAll(async () => {
  // 03:00 UTC on 1 Oct: 05:00 in Berlin (period ended), 20:00 on 30 Sep in Los Angeles (not yet).
  h = await startHarness('2026-10-01T03:00:00Z', { consume: false });
  await account(h, 'acc_early_berlin');
  await subscribe(h, 'acc_early_berlin', 'sub_early_berlin', 'postpaid20', '2026-08-01T00:00:00Z');
  await account(h, 'acc_early_la', { timezone: 'America/Los_Angeles' });
  await subscribe(h, 'acc_early_la', 'sub_early_la', 'postpaid20', '2026-08-01T07:00:00Z');
});
afterAll(async () => h?.svc.close());

describe('review3: a bill run started before every period has ended', () => {
  it('still bills the account whose period ends later that day', async () => {
    const first = await runBillRun(h, '2026-10-01');
    expect(first.totalAccounts).toBe(2);
    expect(await invoicesOf(h, 'acc_early_berlin')).toHaveLength(1);

    // The next day Los Angeles' September has long ended; the operator starts the run again.
    h.clock.set(new Date('2026-10-02T12:00:00Z'));
    const again = await runBillRun(h, '2026-10-01');
    const la = await waitFor(async () => ((await invoicesOf(h, 'acc_early_la')).length ? invoicesOf(h, 'acc_early_la') : null), 3_000).catch(() => []);
    expect(
      la.length,
      `bill run ${again.id} is ${again.state} with ${again.invoicesCreated} invoice(s) for ${again.totalAccounts} accounts; the Los Angeles account's period ended at 07:00 UTC on 1 Oct and it must get its one invoice`,
    ).toBe(1);
  });
});
