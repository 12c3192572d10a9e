// Review 8: a PREPAID plan's INVOICE-scope surcharge is published and never charged.
//
// Commit fe5049c fixed "a plan rule surcharge with scope INVOICE validated and published but was
// never billed" — for postpaid accounts only: invoicing bills periods of POSTPAID accounts
// (bill runs and closeBillingPeriod select payment_mode = 'POSTPAID'), rating lists an INVOICE
// surcharge on each event "with nothing applied", and wallets, which charges a prepaid balance,
// reads no plan rules. catalog/README.md now promises "`INVOICE`: billed by invoicing on a line of
// its own for the days the plan was held", and the validator, changed in the same commit to check
// INVOICE surcharges "as invoicing reads them", still accepts the rule on a PREPAID plan without a
// word: the operator's "regulatory fee" on the prepaid plan is silently never collected.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validatePlan, type OfferDocument } from '@ledgerline/rating';
import { account, invoicesOf, runBillRun, startHarness, type Harness } from './support';

const catalogFile = (path: string) => JSON.parse(fs.readFileSync(new URL(`../../../catalog/${path}`, import.meta.url), 'utf8'));
const knownOffers: OfferDocument[] = [catalogFile('offers/data-boost-5gb.json'), catalogFile('offers/roam-world-pass-7d.json')];

const payg = catalogFile('plans/prepaid-payg.json');
const SURCHARGED = {
  id: 'plv_r8_prepaid_surcharged_v1',
  document: {
    ...payg,
    code: 'R8_PREPAID_SURCHARGED',
    name: 'Prepaid with regulatory fee',
    rules: [
      ...payg.rules,
      { name: 'regulatory-fee', conditions: { all: [{ fact: 'lineCount', operator: 'greaterThanInclusive', value: 1 }] }, event: { type: 'surcharge', params: { amount: '1.50', scope: 'INVOICE', label: 'Regulatory fee' } } },
    ],
  },
};
const RULE = SURCHARGED.document.rules.length - 1;

let h: Harness;
beforeAll(async () => {
  // No NATS consumer: this file's data comes through GraphQL, and a consumer would take in other runs' accounts from
  // the shared stream, which its bill runs would bill too (one with a plan version unknown here stalls the run).
  h = await startHarness('2026-10-05T10:00:00Z', { consume: false });
  await h.gql('mutation($i: RegisterPlanVersionInput!) { registerPlanVersion(input: $i) { ok } }', { i: SURCHARGED });
  await account(h, 'acc_r8_prepaid_surcharge', { paymentMode: 'PREPAID' });
  await h.gql('mutation($i: RecordSubscriptionInput!) { recordSubscription(input: $i) { ok } }', {
    i: { subscriptionId: 'sub_r8_ps', lineId: 'lin_r8_ps', billingAccountId: 'acc_r8_prepaid_surcharge', planCode: SURCHARGED.document.code, planVersionId: SURCHARGED.id, startsAt: '2026-08-01T00:00:00Z' },
  });
  await runBillRun(h, '2026-10-01');
});
afterAll(async () => {
  await h?.svc.close();
});

describe('review8: an INVOICE surcharge on a PREPAID plan', () => {
  it('is charged nowhere: the bill run does not bill a prepaid account (so nothing ever collects it)', async () => {
    expect(await invoicesOf(h, 'acc_r8_prepaid_surcharge')).toEqual([]);
  });

  it('so the catalog must not publish it silently: the validator flags the rule', () => {
    const report = validatePlan(SURCHARGED.document, { knownOffers });
    expect(report.problems.filter((p) => p.pointer.startsWith(`/rules/${RULE}`)), JSON.stringify(report)).not.toEqual([]);
  });
});
