// Voiding a disputed draft released its charges to the next invoice without the dispute: the
// customer's dispute stayed on a voided invoice no one looks at, and the same charges were billed,
// issued and dunned as if never disputed. Now `voidInvoice` on a draft with an open dispute is
// INVOICE_DISPUTED (CONFLICT, input.invoiceId) and nothing changes: resolve the dispute first, or
// regenerate the draft (which carries the dispute over to the new draft).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { account, charges, invoicesOf, runBillRun, startHarness, subscribe, type Harness } from './support';

let h: Harness;
const drafts = new Map<string, any>();
beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false });
  for (const acc of ['acc_void_disputed', 'acc_regen_disputed']) {
    await account(h, acc);
    await subscribe(h, acc, `sub_${acc}`, 'postpaid20', '2026-08-01T00:00:00Z');
    await charges(h, [{ chargeId: `chg_${acc}`, billingAccountId: acc, lineId: `lin_sub_${acc}`, usageType: 'DATA', zone: 'ROAMING_WORLD', units: '100', unit: 'MB', amount: '5.00', currency: 'EUR', occurredAt: '2026-09-10T12:00:00Z' }]);
  }
  await runBillRun(h, '2026-10-01', { autoIssue: false });
  for (const acc of ['acc_void_disputed', 'acc_regen_disputed']) {
    const [draft] = await invoicesOf(h, acc);
    expect(draft).toMatchObject({ state: 'NEW', number: null });
    await h.gql('mutation($i: DisputeInvoiceInput!) { disputeInvoice(input: $i) { invoice { state } } }', { i: { invoiceId: draft.id, amount: '5.00', reason: 'Roaming fee looks wrong' } });
    drafts.set(acc, draft);
  }
});
afterAll(async () => h?.svc.close());

const FIELDS = 'id state total { amount } amountDisputed { amount }';
const VOID = `mutation($i: InvoiceIdInput!) { voidInvoice(input: $i) { invoice { ${FIELDS} } } }`;
const REGENERATE = `mutation($i: InvoiceIdInput!) { regenerateInvoice(input: $i) { invoice { ${FIELDS} } } }`;
const RESOLVE = 'mutation($i: InvoiceIdInput!) { resolveDispute(input: $i) { invoice { state } } }';
const view = async (acc: string) => (await invoicesOf(h, acc)).map((i: any) => [i.id, i.state]);
const released = async (acc: string) =>
  Number((await h.svc.runtime.orm.em.fork().getConnection().execute(`select count(*) as n from unbilled_charge where billing_account_id = '${acc}' and invoice_id is null`))[0].n) +
  Number((await h.svc.runtime.orm.em.fork().getConnection().execute(`select count(*) as n from one_off_charge where billing_account_id = '${acc}' and invoice_id is null`))[0].n);

describe('voiding a disputed draft', () => {
  it('is refused with INVOICE_DISPUTED and changes nothing; once the dispute is resolved it is voided', async () => {
    const draft = drafts.get('acc_void_disputed');
    expect(await released('acc_void_disputed'), 'the roaming charge is on the draft').toBe(0);
    expect(await h.gqlError(VOID, { i: { invoiceId: draft.id } }), 'voiding would drop the dispute and bill its charges again without it').toEqual({
      code: 'CONFLICT',
      reason: 'INVOICE_DISPUTED',
      field: 'input.invoiceId',
    });
    expect(await view('acc_void_disputed')).toEqual([[draft.id, 'ON_HOLD']]);
    expect((await invoicesOf(h, 'acc_void_disputed'))[0].amountDue.amount).toBe(draft.amountDue.amount);
    expect(await released('acc_void_disputed'), 'no charge handed on to the next invoice').toBe(0);

    await h.gql(RESOLVE, { i: { invoiceId: draft.id } });
    expect((await h.gql<any>(VOID, { i: { invoiceId: draft.id } })).voidInvoice.invoice.state).toBe('VOIDED');
    expect(await released('acc_void_disputed'), 'voided: its charges go to the next invoice').toBe(1);
    // Voiding again answers the voided invoice (as before).
    expect((await h.gql<any>(VOID, { i: { invoiceId: draft.id } })).voidInvoice.invoice.state).toBe('VOIDED');
  });

  it('regenerating a disputed draft still works and carries the dispute over', async () => {
    const draft = drafts.get('acc_regen_disputed');
    const regen = (await h.gql<any>(REGENERATE, { i: { invoiceId: draft.id } })).regenerateInvoice.invoice;
    expect({ state: regen.state, amountDisputed: regen.amountDisputed.amount }).toEqual({ state: 'ON_HOLD', amountDisputed: '5' });
    expect(await view('acc_regen_disputed')).toEqual(expect.arrayContaining([[draft.id, 'VOIDED'], [regen.id, 'ON_HOLD']]));
  });
});
