// Subscribers' billingaccount.changed says what changed of an account (its credit limit, autopay, its partner); of it
// invoicing keeps autopay only. Before, the subscribers consumer took every such account's billing lock (its row, FOR
// NO KEY UPDATE, lock 1 of lock-order.ts) before applying its batch, and wrote autopay whenever the event named it:
// a credit-limit or partner change, or autopay as it already was here, waited for a bill of the account holding that
// lock (and held up the whole batch behind it), then wrote the row for nothing. Now the batch looks first (no lock)
// and locks only the accounts whose row an event would change; under the lock the write looks again and changes the
// row only if it still differs. Real PostgreSQL; the batch through the consumer's own code (applyMessages).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS, createCloudEvent } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { lockAccountsForBilling } from '../src/application/bill-accounts';
import { sql } from '../src/application/sql';
import { applyMessages } from '../src/events/consumer';
import { account, startHarness, type Harness } from './support';

let h: Harness;
const run = Date.now().toString(36);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const BLOCKED_AFTER_MS = 1500;

beforeAll(async () => {
  h = await startHarness('2026-10-21T08:00:00Z', { consume: false, runBillRuns: false });
});
afterAll(async () => h?.svc.close());

const query = async (text: string, params: unknown[] = []) => (await h.svc.runtime.orm.em.fork().getConnection().execute(text, params)) as Record<string, any>[];
/** The row as stored, with its xmin: the transaction that last wrote it (unchanged: nothing wrote it). */
const rowOf = async (acc: string) => (await query('select autopay, autopay_token, xmin::text as xmin from billing_account where id = ?', [acc]))[0]!;

let n = 0;
const changed = (acc: string, what: string[], autopay: boolean, creditLimit: string | null = null) => ({
  subject: EVENTS.billingAccountChanged.subject,
  data: JSON.stringify(
    createCloudEvent({
      source: 'ledgerline/subscribers',
      type: EVENTS.billingAccountChanged.type,
      subject: acc,
      time: new Date('2026-10-21T08:00:00Z'),
      data: { billingAccountId: acc, customerId: `cus_${acc}`, paymentMode: 'POSTPAID', currency: 'EUR', creditLimit, autopay, partnerId: null, partnerVersion: 0, changed: what },
      key: [acc, String(++n)],
    }),
  ),
});

/** A batch applied as the consumer applies it, in its own transaction. */
const apply = (batch: { subject: string; data: string }[]) =>
  h.svc.runtime.orm.em.fork().transactional((em) => applyMessages(em as Em, batch, h.clock.now()));

/** A bill of the account in flight: its billing lock held (and `during` run under it) until `release()`. */
function billHolding(acc: string, during: (em: Em) => Promise<void> = async () => undefined) {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let locked!: () => void;
  const isLocked = new Promise<void>((r) => (locked = r));
  const done = h.svc.runtime.orm.em.fork().transactional(async (em) => {
    await lockAccountsForBilling(em as Em, [acc]);
    await during(em as Em);
    locked();
    await released;
  });
  return { isLocked, release, done };
}

/** 'applied' once `p` settles, or 'blocked' if it has not after BLOCKED_AFTER_MS. */
const within = (p: Promise<unknown>) => Promise.race([p.then(() => 'applied'), sleep(BLOCKED_AFTER_MS).then(() => 'blocked')]);

describe('billingaccount.changed: the account is locked only when something invoicing keeps changes', () => {
  it('a credit limit, a partner, or autopay as it already is: applied beside a bill holding the account, the row not written', async () => {
    const acc = `acc_chg_none_${run}`;
    await account(h, acc);
    const before = await rowOf(acc);
    expect(before).toMatchObject({ autopay: false, autopay_token: null });
    const bill = billHolding(acc);
    await bill.isLocked;
    const batch = apply([changed(acc, ['creditLimit'], false, '50.00'), changed(acc, ['partnerId'], false), changed(acc, ['autopay'], false), changed(acc, ['creditLimit', 'autopay'], false, '80.00')]);
    // Before: 'blocked' (the batch waited for the bill's lock), then the row written by the autopay events.
    const outcome = await within(batch);
    bill.release();
    await Promise.all([batch, bill.done]);
    expect(outcome).toBe('applied');
    expect(await rowOf(acc)).toEqual(before);
  });

  it('autopay turned on: the batch waits for the bill holding the account, then turns it on', async () => {
    const acc = `acc_chg_on_${run}`;
    await account(h, acc);
    const bill = billHolding(acc);
    await bill.isLocked;
    const batch = apply([changed(acc, ['partnerId'], false), changed(acc, ['autopay'], true)]);
    expect(await within(batch)).toBe('blocked');
    bill.release();
    await Promise.all([batch, bill.done]);
    expect(await rowOf(acc)).toMatchObject({ autopay: true, autopay_token: null });
  });

  it('looked at as a change, but the row was changed so while the batch waited for its lock: under the lock nothing is written', async () => {
    const acc = `acc_chg_race_${run}`;
    await account(h, acc);
    // The bill's transaction also turns autopay on (as an earlier delivery would have): the batch's look saw it off.
    let billWrote = '';
    const bill = billHolding(acc, async (em) => {
      await sql(em)('billing_account').where({ id: acc }).update({ autopay: true });
      billWrote = (await sql(em)('billing_account').where({ id: acc }).first(sql(em).raw('xmin::text as xmin'))).xmin;
    });
    await bill.isLocked;
    const batch = apply([changed(acc, ['autopay'], true)]);
    expect(await within(batch)).toBe('blocked');
    bill.release();
    await Promise.all([batch, bill.done]);
    // The row is as the bill's transaction wrote it: under the lock the batch found nothing left to change
    // (before, it wrote the row again).
    expect(await rowOf(acc)).toEqual({ autopay: true, autopay_token: null, xmin: billWrote });
  });

  it('autopay as it is, with a token registered here: the token gives way (a change), the same again changes nothing', async () => {
    const acc = `acc_chg_tok_${run}`;
    await account(h, acc, { autopayToken: 'tok_visa_direct' });
    expect(await rowOf(acc)).toMatchObject({ autopay: true, autopay_token: 'tok_visa_direct' });
    await apply([changed(acc, ['autopay'], true)]);
    const cleared = await rowOf(acc);
    expect(cleared).toMatchObject({ autopay: true, autopay_token: null });
    await apply([changed(acc, ['autopay'], true), changed(acc, ['creditLimit'], true, '10.00')]);
    expect(await rowOf(acc)).toEqual(cleared);
  });

  it('turned off and on again in one batch, or an account not known here: applied in order; nothing for the unknown one', async () => {
    const acc = `acc_chg_twice_${run}`;
    await account(h, acc);
    await apply([changed(acc, ['autopay'], true), changed(acc, ['autopay'], false), changed(`acc_chg_unknown_${run}`, ['autopay'], true)]);
    expect(await rowOf(acc)).toMatchObject({ autopay: false });
    expect(await query('select id from billing_account where id = ?', [`acc_chg_unknown_${run}`])).toEqual([]);
  });
});
