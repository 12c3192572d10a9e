// Sink accounts (REVENUE, ALLOWANCE_USED) keep no balance (ADR 0018): the ledger writes their
// entries, the balance column stays null, and their balance is the sum of their entries.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TestService } from '@ledgerline/platform';
import { APPLY, charge, dbOf, expectInvariants, gql, openPrepaid, startWallets } from './support';
import { isSinkAccount } from '../src/application/ledger';
import { checkLedgerInvariants } from '../src/persistence/invariants';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets());
});
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const account = async (id: string) =>
  (await dbOf(svc).query<{ balance: string | null; entries: string | null }>(`select a.balance::text, (select sum(amount)::text from ledger_entry e where e.account_id = a.id) as entries from ledger_account a where a.id = $1`, [id]))[0];

describe('sink accounts', () => {
  it('a charge credits revenue with an entry and leaves its balance unkept; the wallet keeps its balance', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '10.00' });
    await gql(svc, APPLY, { i: charge(billingAccountId, { units: '3', pricePerUnit: '1.25' }) });
    await gql(svc, APPLY, { i: charge(billingAccountId, { units: '1', pricePerUnit: '0.50' }) });
    expect(await account(`${billingAccountId}:REVENUE:EUR`)).toEqual({ balance: null, entries: '4.250000' });
    expect(await account(walletId)).toEqual({ balance: '5.750000', entries: '5.750000' });
  });

  it('an account kept or unkept against its kind is reported by the invariant checker', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc);
    const revenue = `${billingAccountId}:REVENUE:EUR`;
    await dbOf(svc).query(`update ledger_account set balance = 0 where id = $1`, [revenue]);
    await dbOf(svc).query(`update ledger_account set balance = null where id = $1`, [walletId]);
    const problems = (await checkLedgerInvariants(dbOf(svc))).join('\n');
    expect(problems).toContain(revenue);
    expect(problems).toContain(walletId);
    await dbOf(svc).query(`update ledger_account set balance = null where id = $1`, [revenue]);
    await dbOf(svc).query(`update ledger_account set balance = 0 where id = $1`, [walletId]);
  });

  it('tells a sink account by the kind in its id, whatever the billing account id holds', () => {
    expect(isSinkAccount('acc_1:REVENUE:EUR')).toBe(true);
    expect(isSinkAccount('acc_1:ALLOWANCE_USED:MB')).toBe(true);
    expect(isSinkAccount('acc:REVENUE:x:UNBILLED_RECEIVABLE:EUR')).toBe(false);
    expect(isSinkAccount('acc_1:RESERVED:EUR')).toBe(false);
    expect(isSinkAccount('wal_123')).toBe(false);
    expect(isSinkAccount('REVENUE:EUR')).toBe(false);
  });
});
