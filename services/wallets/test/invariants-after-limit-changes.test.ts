// The ledger invariants after limits change, and what they still catch.
//
// A postpaid credit limit lowered by subscribers below what is already unbilled is accepted on
// purpose (setCreditLimit: it refuses new charges, takes nothing back): the checker judges each
// charge by the limit in force when it was made (credit_limit_change), so this is no violation,
// while a charge that went past its limit stays one whatever the limit became later. An overdraft
// the balance already uses is lowered to what is used at most: below it, setWalletLimits refuses
// (BAD_USER_INPUT naming input.overdraftLimit) and changes nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Decimal } from '@ledgerline/contracts';
import type { TestService } from '@ledgerline/platform';
import { APPLY, T0, charge, dbOf, gql, openPrepaid, startWallets, uniq } from './support';
import { setCreditLimit } from '../src/application/wallets';
import { accountId, newTxId, postTransactions } from '../src/application/ledger';
import { checkLedgerInvariants } from '../src/persistence/invariants';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets());
});
afterAll(async () => svc?.close());

/** The violations that name this wallet (the checker looks at the whole schema). */
const invariants = async (walletId: string) => (await checkLedgerInvariants(svc.runtime.orm.em.fork())).filter((p) => p.includes(walletId));

const SET_LIMITS = `mutation($i: SetWalletLimitsInput!) { setWalletLimits(input: $i) { wallet { overdraftLimit { amount } } } }`;

describe('ledger invariants after limits change', () => {
  it('a postpaid credit limit lowered by subscribers below what is unbilled leaves the ledger invariants holding', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { paymentMode: 'POSTPAID', creditLimit: '100.00' });
    await gql(svc, APPLY, { i: charge(billingAccountId, { paymentMode: 'POSTPAID', units: '80', pricePerUnit: '1.00' }) });
    expect(await invariants(walletId)).toEqual([]);
    // subscribers' billingaccount.changed: the account now gets 50 of credit (the consumer calls this).
    expect(await dbOf(svc).tx((sql) => setCreditLimit(sql, billingAccountId, 'EUR', '50'))).toBe(true);
    // The next charge is refused, as intended…
    const next = await gql(svc, APPLY, { i: charge(billingAccountId, { paymentMode: 'POSTPAID', units: '1', pricePerUnit: '1.00' }) });
    expect(next.applyCharge.result.outcome).toBe('DENIED');
    // …and nothing in the ledger is wrong.
    expect(await invariants(walletId)).toEqual([]);
    // Raised again to 90: charges fill it up to the new limit, not past it.
    expect(await dbOf(svc).tx((sql) => setCreditLimit(sql, billingAccountId, 'EUR', '90'))).toBe(true);
    const partial = await gql(svc, APPLY, { i: charge(billingAccountId, { paymentMode: 'POSTPAID', units: '20', pricePerUnit: '1.00' }) });
    expect(partial.applyCharge.result).toMatchObject({ outcome: 'PARTIAL', units: '10' });
    expect(await invariants(walletId)).toEqual([]);
  });

  it('a charge that went past the credit limit in force is a violation, also after the limit was raised or lowered', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { paymentMode: 'POSTPAID', creditLimit: '100.00' });
    await gql(svc, APPLY, { i: charge(billingAccountId, { paymentMode: 'POSTPAID', units: '80', pricePerUnit: '1.00' }) });
    // Written past charging's decision (as a bug would): 80 + 50 = 130 unbilled under a limit of 100.
    await dbOf(svc).tx((sql) => postTransactions(sql, [{ id: newTxId(), idempotencyKey: `CHARGE:${uniq('bad')}`, kind: 'CHARGE', billingAccountId, entries: [
      { accountId: accountId(billingAccountId, 'UNBILLED_RECEIVABLE', 'EUR'), unit: 'EUR', amount: new Decimal('-50') },
      { accountId: accountId(billingAccountId, 'REVENUE', 'EUR'), unit: 'EUR', amount: new Decimal('50') },
    ] }], T0));
    const violation = (await invariants(walletId)).join('\n');
    expect(violation).toMatch(/^no postpaid charge took what is unbilled beyond the credit limit in force/);
    // A later, higher limit does not make it right (the old check, unbilled <= today's limit, said nothing)…
    expect(await dbOf(svc).tx((sql) => setCreditLimit(sql, billingAccountId, 'EUR', '500'))).toBe(true);
    expect((await invariants(walletId)).join('\n')).toBe(violation);
    // …and neither does a lower one.
    expect(await dbOf(svc).tx((sql) => setCreditLimit(sql, billingAccountId, 'EUR', '10'))).toBe(true);
    expect((await invariants(walletId)).join('\n')).toBe(violation);
  });

  it('an overdraft cannot be lowered under what the balance uses of it: refused naming input.overdraftLimit, nothing changed', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '10.00', overdraftLimit: '50.00' });
    await gql(svc, APPLY, { i: charge(billingAccountId, { units: '40', pricePerUnit: '1.00', allowOverdraft: true }) }); // 10 → -30
    expect(await invariants(walletId)).toEqual([]);
    const res = await svc.request(SET_LIMITS, { i: { walletId, overdraftLimit: '10.00' } });
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'OVERDRAFT_BELOW_USED', field: 'input.overdraftLimit' });
    expect((await gql(svc, `query($w: ID!) { wallet(id: $w) { overdraftLimit { amount } } }`, { w: walletId })).wallet.overdraftLimit).toEqual({ amount: '50' });
    // Down to exactly what is used is allowed: no more overdraft for new charges.
    expect((await gql(svc, SET_LIMITS, { i: { walletId, overdraftLimit: '30.00' } })).setWalletLimits.wallet.overdraftLimit).toEqual({ amount: '30' });
    expect(await invariants(walletId)).toEqual([]);
  });
});
