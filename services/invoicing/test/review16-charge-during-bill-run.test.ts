// Review 16: a postpaid charge of the period that is recorded while the account's bill is being
// composed (READ COMMITTED: the bill loads the charges with one statement, then marks "what was
// billed" with a later one) must land on that invoice or stay unbilled for the next one, never be
// marked billed by an invoice that has no line for it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Em } from '@ledgerline/platform';
import { closeBillingPeriod } from '../src/application/bill-run';
import { sql } from '../src/application/sql';
import { account, charges, startHarness, subscribe, waitFor, type Harness } from './support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('2026-10-05T10:00:00Z', { consume: false, runBillRuns: false });
  await account(h, 'acc_r16');
  await subscribe(h, 'acc_r16', 'sub_r16', 'postpaid20', '2026-08-01T00:00:00Z');
});
afterAll(async () => h?.svc.close());

const usage = (chargeId: string, amount: string, occurredAt: string) => ({
  chargeId, billingAccountId: 'acc_r16', lineId: 'lin_sub_r16', usageType: 'DATA', zone: 'ROAMING_WORLD', units: '10', unit: 'MB', amount, currency: 'EUR', occurredAt,
});

describe('review 16: a charge recorded while its period is being billed', () => {
  it('is on the invoice that marks it billed, or left for the next one', async () => {
    const orm = h.svc.runtime.orm;
    await charges(h, [usage('chg_r16_a', '4.00', '2026-09-10T12:00:00Z')]);
    // A pause point between loading the charges and marking them billed: the invoice lines' insert
    // waits for an advisory lock the test holds (as a slow bill run would be, between statements).
    const exec = (q: string) => orm.em.fork().getConnection().execute(q);
    await exec(`create or replace function r16_pause() returns trigger language plpgsql as $$ begin perform pg_advisory_xact_lock(161616); return null; end $$`);
    await exec(`create trigger r16_pause after insert on invoice_line for each statement execute function r16_pause()`);

    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const holder = orm.em.fork().transactional(async (em) => {
      await sql(em as Em).raw('select pg_advisory_xact_lock(161616)');
      await released;
    });
    await waitFor(async () => (await exec(`select 1 from pg_locks where locktype = 'advisory' and objid = 161616 and granted`)).length > 0);

    const billing = orm.em.fork().transactional((em) =>
      closeBillingPeriod(em as Em, { billingAccountId: 'acc_r16', periodStart: new Date('2026-08-31T22:00:00Z'), periodEnd: new Date('2026-09-30T22:00:00Z'), now: h.clock.now() }, { catalog: null }),
    );
    await waitFor(async () => (await exec(`select 1 from pg_locks where locktype = 'advisory' and objid = 161616 and not granted`)).length > 0);
    // The charges consumer records a late September charge meanwhile (committed).
    await charges(h, [usage('chg_r16_b', '2.00', '2026-09-20T12:00:00Z')]);
    release();
    await holder;
    const { invoiceId } = await billing;
    await exec(`drop trigger r16_pause on invoice_line`);

    const [marked] = await exec(`select coalesce(sum(amount), 0)::text as s, count(*)::int as n from unbilled_charge where invoice_id = '${invoiceId}'`);
    const [onLines] = await exec(`select coalesce(sum(net_amount), 0)::text as s from invoice_line where invoice_id = '${invoiceId}' and kind = 'USAGE'`);
    // What the invoice marked billed is what its usage lines bill (tax exclusive plan: net = charges).
    expect({ markedBilled: Number(marked.s), onUsageLines: Number(onLines.s) }).toEqual({ markedBilled: Number(onLines.s), onUsageLines: Number(onLines.s) });
    // The charge recorded meanwhile is left for the next invoice, and the ledger's event counts only what the invoice bills.
    const [late] = await exec(`select invoice_id from unbilled_charge where charge_id = 'chg_r16_b'`);
    expect(late.invoice_id).toBeNull();
    const [event] = await exec(`select payload from outbox where payload::jsonb->>'subject' = '${invoiceId}' and payload::jsonb->'data'->>'usageAmount' is not null`);
    const data = JSON.parse(typeof event.payload === 'string' ? event.payload : JSON.stringify(event.payload)).data;
    expect({ usageAmount: Number(data.usageAmount), usageRecords: data.usageRecords }).toEqual({ usageAmount: Number(onLines.s), usageRecords: 1 });
  });
});
