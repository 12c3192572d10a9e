// An account a bill run's batch cannot bill because PostgreSQL refuses a value of its invoice (a charge no invoice can
// hold: 10^15 EUR, invoice totals are NUMERIC(18,4)) is set aside BILL_UNSTORABLE (bill-run-set-aside.ts). Its reason
// was stored, shown to staff (BillRun.setAsideAccounts.message) and logged as "PostgreSQL refused the account's invoice
// (SQLSTATE 22003): " followed by the driver's own text: the whole SQL statement (knex puts it first) with its values.
// The house rule: internal errors carry a reference, never raw text. Now the message says what PostgreSQL refused
// (SQLSTATE, and the column / constraint when PostgreSQL names them) and a reference; the full error is logged with it.
// Real PostgreSQL, through the service's API (its own logger captured).
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Logger } from '@ledgerline/platform';
import { permanentRefusal } from '../src/application/bill-run-set-aside';
import { account, charges, startHarness, subscribe, type Harness } from './support';

let h: Harness;
const lines: string[] = [];

beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false, logger: pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) }) as unknown as Logger });
}, 120_000);
afterAll(async () => h?.svc.close());

const usage = (acc: string, chargeId: string, amount: string) => ({
  chargeId, billingAccountId: acc, lineId: `lin_sub_${acc}`, usageType: 'DATA', zone: 'EU_ROAMING', units: '1', unit: 'MB', amount, currency: 'EUR', occurredAt: '2026-09-10T10:00:00Z',
});
/** The log lines carrying `reference`. */
const loggedWith = (reference: string) => lines.map((l) => JSON.parse(l) as Record<string, any>).filter((l) => l.reference === reference);
const RAW = /insert into|update |select |1000000000000000|numeric field overflow|"invoice/i;
const setAside = async () => (await h.gql<any>('query { billRun(cycleDate: "2026-10-01") { setAsideAccounts { billingAccountId code message field attempts } } }')).billRun.setAsideAccounts;

describe('an account set aside BILL_UNSTORABLE', () => {
  it('is shown and stored with a plain reason and a reference, never the statement or its values; the full error is logged under the reference', async () => {
    for (const acc of ['acc_unst_ok', 'acc_unst_bad']) {
      await account(h, acc, { customerId: `cus_${acc}` });
      await subscribe(h, acc, `sub_${acc}`, 'postpaid20', '2026-08-01T00:00:00Z');
    }
    await charges(h, [usage('acc_unst_ok', 'chg_unst_ok', '10.00'), usage('acc_unst_bad', 'chg_unst_huge', '1000000000000000.00')]);
    const run = (await h.gql<any>('mutation($i: StartBillRunInput!) { startBillRun(input: $i) { billRun { id totalBatches } } }', { i: { cycleDate: '2026-10-01', driver: 'WORKFLOW' } })).startBillRun.billRun;
    const r = (await h.gql<any>('mutation($i: ProcessBillRunBatchInput!) { processBillRunBatch(input: $i) { accountsSetAside invoicesCreated } }', { i: { billRunId: run.id, batchNo: 0 } })).processBillRunBatch;
    expect(r).toEqual({ accountsSetAside: 1, invoicesCreated: 1 });

    const [first] = await setAside();
    expect(first).toMatchObject({ billingAccountId: 'acc_unst_bad', code: 'BILL_UNSTORABLE', field: null, attempts: 1 });
    expect(first.message).toContain('SQLSTATE 22003');
    expect(first.message).not.toMatch(RAW);
    const reference = /reference ([0-9a-f-]{36})/.exec(first.message)?.[1];
    expect(reference, first.message).toBeDefined();
    // The set-aside account's log line has the reference and the whole error (PostgreSQL's text, the statement).
    const logged = loggedWith(reference!);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ billRunId: run.id, billingAccountId: 'acc_unst_bad', code: 'BILL_UNSTORABLE' });
    expect(JSON.stringify(logged[0]!.err)).toMatch(/numeric field overflow/);
    expect(JSON.stringify(logged[0]!.err)).toMatch(/insert into|update /i);
    // The stored row is what staff see.
    const [row] = (await h.svc.runtime.orm.em.fork().getConnection().execute(`select message from bill_run_account_set_aside where billing_account_id = 'acc_unst_bad'`)) as { message: string }[];
    expect(row!.message).toBe(first.message);

    // Billed again, still refused: a new reference, as plain, logged with it.
    const again = await h.gql<any>('mutation($i: BillSetAsideAccountsInput!) { billSetAsideAccounts(input: $i) { billed stillSetAside { billingAccountId code message attempts } } }', { i: { billRunId: run.id } });
    const [still] = again.billSetAsideAccounts.stillSetAside;
    expect(still).toMatchObject({ billingAccountId: 'acc_unst_bad', code: 'BILL_UNSTORABLE', attempts: 2 });
    expect(still.message).not.toMatch(RAW);
    const second = /reference ([0-9a-f-]{36})/.exec(still.message)?.[1];
    expect(second).toBeDefined();
    expect(second).not.toBe(reference);
    expect(JSON.stringify(loggedWith(second!)[0]?.err)).toMatch(/numeric field overflow/);
  });
});

describe('permanentRefusal (the refusal of a value PostgreSQL refuses)', () => {
  it('names the SQLSTATE, column and constraint PostgreSQL gives, not its text, detail or a name that is not an identifier', () => {
    const pg = Object.assign(new Error('update "invoice" set "total" = $1 - null value in column "total" of relation "invoice" violates not-null constraint'), {
      code: '23502', column: 'total', constraint: 'invoice_total_not_null', table: 'invoice', detail: 'Failing row contains (inv_1, acc_secret, …)',
    });
    const r = permanentRefusal(pg)!;
    expect(r).toMatchObject({ code: 'BILL_UNSTORABLE', field: null, err: pg });
    expect(r.message).toBe(`PostgreSQL refused the account's invoice: a required value missing (SQLSTATE 23502, column total, constraint invoice_total_not_null); details in the log under reference ${r.reference}`);
    const odd = permanentRefusal(Object.assign(new Error('x'), { code: '22001', column: 'a"; drop', constraint: 42 }))!;
    expect(odd.message).toMatch(/^PostgreSQL refused the account's invoice: a text too long for its column \(SQLSTATE 22001\); details in the log under reference [0-9a-f-]{36}$/);
    // Anything else is transient (retried), not set aside.
    expect(permanentRefusal(Object.assign(new Error('deadlock detected'), { code: '40P01' }))).toBeNull();
  });
});
