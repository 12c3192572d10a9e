// A bank transfer finds its invoice by payment reference, exact or normalised (invoice-reference.ts).
// Without an index each payment read every invoice ever issued. The indexes must match the queries'
// expressions exactly or the planner ignores them: with sequential scans disabled (a small test
// table would otherwise be scanned anyway), each lookup's condition is an index condition.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './support';
import { closedSeptember, NO_DISPUTE_WORKFLOW } from './dispute-support';
import { NORMALISED_REFERENCE_LOOKUP } from '../src/application/invoice-reference';
import { rows } from '../src/application/sql';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false, disputes: NO_DISPUTE_WORKFLOW });
});
afterAll(async () => h?.svc.close());

async function planOf(query: string, bindings: unknown[]): Promise<string> {
  return h.svc.runtime.orm.em.fork().transactional(async (em) => {
    await rows(em, 'set local enable_seqscan = off');
    const plan = await rows<Record<string, string>>(em, `explain ${query}`, bindings);
    return plan.map((r) => Object.values(r)[0]).join('\n');
  });
}

describe('payment reference lookups', () => {
  it('use an index: the exact reference and the normalised one', async () => {
    // Some invoices and fresh statistics, so the planner weighs the two indexes by what they select.
    for (const n of [1, 2, 3]) await closedSeptember(h, `acc_pri_${n}`, `cus_pri_${n}`);
    await rows(h.svc.runtime.orm.em.fork(), 'analyze invoice');
    // An index used for the condition itself (Index Cond), not read whole as a stand-in for the table.
    expect(await planOf(`select id from invoice where payment_reference = ? and voided_at is null limit 1`, ['INV-2026-000001'])).toMatch(/Index Cond: \(\(payment_reference\)::text = /);
    expect(await planOf(NORMALISED_REFERENCE_LOOKUP, [['INV2026000001']])).toMatch(/Index Cond: \(upper\(regexp_replace\(/);
  });
});
