// The waiver of a posted one-off charge and a subscribers batch that re-posts it could deadlock.
// The batch (one transaction) first bills a closed account, taking the account's credit lock, then
// posts one-offs, each taking its id's lock (addOneOffCharge; a redelivered charge finds itself and
// adds nothing). The waiver took the id's lock first and then, the charge being there, the credit
// lock: the two waited on each other until PostgreSQL aborted one (40P01), a redelivery or an
// activity retry later. Now the waiver of a charge it can see takes the credit lock before the id's
// lock, the order the batch takes them in, so one waits for the other and both succeed.
// The same, when the charge commits between the waiver's look (nothing yet) and its id lock: the
// waiver then held the id's lock and asked for the credit lock, against a batch holding the credit
// lock and waiting for the id's. Now it lets go of the id's lock (rolls back to a savepoint) and
// takes both again in order.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addOneOffCharge } from '../src/application/read-model';
import { lockAccountCredit } from '../src/application/credit';
import { account, startHarness, subscribe, type Harness } from './support';
import { disputeCalls, SYSTEM } from './dispute-support';

let h: Harness;
const { as } = disputeCalls(() => h);
const WAIVE = 'mutation($i: WaiveOneOffChargeInput!) { waiveOneOffCharge(input: $i) { outcome } }';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false });
});
afterAll(async () => h?.svc.close());

describe('waiving a posted one-off beside a batch that holds the account credit lock and re-posts it', () => {
  it('neither deadlocks: the batch posts nothing twice, the waiver waits and waives', async () => {
    const acc = 'acc_waive_lock_order';
    await account(h, acc);
    await subscribe(h, acc, `sub_${acc}`, 'postpaid20', '2026-08-01T00:00:00Z');
    const id = `dunning-inv_${acc}:late-fee`;
    const charge = { id, billingAccountId: acc, code: 'LATE_FEE', description: 'Late payment fee', amount: { amount: '7.50', currency: 'EUR' }, now: new Date('2026-10-01T08:00:00Z') };
    await h.svc.runtime.orm.em.fork().transactional((em) => addOneOffCharge(em, charge));

    let creditHeld!: () => void;
    const held = new Promise<void>((r) => (creditHeld = r));
    // The batch: the credit lock (billing the closed account), a pause, then the redelivered one-off.
    const batch = h.svc.runtime.orm.em.fork().transactional(async (em) => {
      await lockAccountCredit(em, acc);
      creditHeld();
      await sleep(400); // the waiver starts meanwhile and queues on a lock
      return addOneOffCharge(em, charge);
    });
    await held;
    const waiver = as(SYSTEM, WAIVE, { i: { id, reason: 'the customer paid before the fee' } });
    const [posted, waived] = await Promise.allSettled([batch, waiver]);
    const seen = {
      batch: posted.status === 'fulfilled' ? posted.value : String((posted as PromiseRejectedResult).reason),
      waiver: waived.status === 'fulfilled' ? waived.value.waiveOneOffCharge.outcome : String((waived as PromiseRejectedResult).reason),
    };
    expect(seen).toEqual({ batch: { created: false, waived: false }, waiver: 'WAIVED' });
  });

  it('neither deadlocks when the charge commits between the waiver\'s look and its id lock', async () => {
    const acc = 'acc_waive_lock_race';
    await account(h, acc);
    await subscribe(h, acc, `sub_${acc}`, 'postpaid20', '2026-08-01T00:00:00Z');
    const id = `dunning-inv_${acc}:late-fee`;
    const charge = { id, billingAccountId: acc, code: 'LATE_FEE', description: 'Late payment fee', amount: { amount: '7.50', currency: 'EUR' }, now: new Date('2026-10-01T08:00:00Z') };
    const conn = h.svc.runtime.orm.em.fork().getConnection();
    // Transactions waiting on a two-key advisory lock (the ids' locks; the credit lock has one key).
    const waitingOnIds = async () => Number((await conn.execute<{ n: string }[]>(`select count(*) as n from pg_locks where locktype = 'advisory' and objsubid = 2 and not granted`))[0]!.n);
    const until = async (ok: () => Promise<boolean>) => {
      for (let i = 0; i < 200 && !(await ok()); i++) await sleep(25);
    };

    // The fee posted by a request that commits late: the charge is written under its id's lock, not yet committed.
    let posted!: () => void;
    let commit!: () => void;
    const written = new Promise<void>((r) => (posted = r));
    const release = new Promise<void>((r) => (commit = r));
    const late = h.svc.runtime.orm.em.fork().transactional(async (em) => {
      const r = await addOneOffCharge(em, charge);
      posted();
      await release;
      return r;
    });
    await written;
    // The waiver looks (no charge committed) and queues on the id's lock.
    const waiver = as(SYSTEM, WAIVE, { i: { id, reason: 'the customer paid before the fee' } });
    await until(async () => (await waitingOnIds()) >= 1);
    // The batch: the credit lock, then the redelivered one-off, queued behind the waiver on the id's lock.
    let creditHeld!: () => void;
    const held = new Promise<void>((r) => (creditHeld = r));
    const batch = h.svc.runtime.orm.em.fork().transactional(async (em) => {
      await lockAccountCredit(em, acc);
      creditHeld();
      return addOneOffCharge(em, charge);
    });
    await held;
    await until(async () => (await waitingOnIds()) >= 2);
    commit();
    const [first, again, waived] = await Promise.allSettled([late, batch, waiver]);
    const outcome = (r: PromiseSettledResult<any>, pick: (v: any) => unknown) => (r.status === 'fulfilled' ? pick(r.value) : String(r.reason));
    expect({
      late: outcome(first, (v) => v),
      batch: outcome(again, (v) => v),
      waiver: outcome(waived, (v) => v.waiveOneOffCharge?.outcome ?? JSON.stringify(v)),
    }).toEqual({ late: { created: true, waived: false }, batch: { created: false, waived: false }, waiver: 'WAIVED' });
  });
});
