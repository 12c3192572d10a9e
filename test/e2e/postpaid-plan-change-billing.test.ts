import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dec, roundDecimal } from '@ledgerline/contracts';
import { periodContaining, periodDays } from '../../services/invoicing/src/domain/period';
import { eventually, freshMsisdn, ok, publishCatalog, startTestSystem, type System } from './harness';

/**
 * A postpaid line's plan change placed through subscribers, billed by invoicing: every day of the
 * period's recurring fees is billed once. Invoicing bills a postpaid line's fees at the period's
 * close from its subscription segments (the old plan for the days it was held, the new plan for the
 * rest); before 2026-12 subscribers also sent a prorated credit and charge for the change
 * (`oneoffcharge.created`, PLAN_CHANGE_PRORATION) that invoicing put on the same bill, so an
 * upgrade from 29.99 to 59.99 half-way through a month billed ~60.00 instead of ~45.00.
 *
 * An add-on bought and ended early on a postpaid line: its price and the CREDIT for its unused days
 * (subscribers' `oneoffcharge.created`, both) are on the period's bill.
 *
 * Time: the change is made now (subscribers' clock is the wall's in a running system) in the
 * current period, so the bill shown is `previewNextInvoice`, the invoice the account gets at the
 * end of that period (the same composition the period's close runs). The weeks of the period
 * before today are fed to invoicing as the line's history (`recordSubscription`), as in
 * billing-scenarios.test.ts.
 */
const TZ = 'Europe/Berlin';
const RUN = Math.random().toString(36).slice(2, 8);
const PREVIEW = 'query($a: ID!) { previewNextInvoice(billingAccountId: $a) { periodStart periodEnd netTotal { amount currency } lines { kind description netAmount } } }';

describe('a postpaid plan change, billed end to end', () => {
  let system: System;
  const planVersion = new Map<string, string>();

  beforeAll(async () => {
    system = await startTestSystem();
    await publishCatalog(system);
    for (const code of ['POSTPAID_20GB', 'FAMILY_SHARE_50GB']) {
      planVersion.set(code, ok(await system.graphql('query($c: String!) { plan(code: $c) { currentVersion { id } } }', { c: code })).plan.currentVersion.id);
    }
  }, 240_000);
  afterAll(() => system?.stop());

  const gql = async (query: string, variables: Record<string, unknown> = {}) => ok(await system.graphql(query, variables));
  const preview = async (accountId: string) => (await gql(PREVIEW, { a: accountId })).previewNextInvoice;

  /** A POSTPAID account (Berlin, bill-cycle day 1) with one line on `planCode`, once invoicing bills its fee. */
  async function postpaidLine(name: string, planCode: string) {
    const { createCustomer } = await gql('mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }', { i: { name, kind: 'INDIVIDUAL', timezone: TZ } });
    const { openBillingAccount } = await gql('mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }', {
      i: { customerId: createCustomer.customer.id, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 1, timezone: TZ },
    });
    const accountId = openBillingAccount.billingAccount.id as string;
    const msisdn = freshMsisdn();
    const { addLine } = await gql('mutation($i: AddLineInput!) { addLine(input: $i) { line { id subscription { id } } } }', { i: { billingAccountId: accountId, msisdn, planCode } });
    await eventually(async () => ((await system.graphql(PREVIEW, { a: accountId })).data?.previewNextInvoice.lines.some((l: { kind: string }) => l.kind === 'RECURRING') ? true : null), `invoicing to bill ${name}'s plan`, 30_000);
    return { accountId, line: { lineId: addLine.line.id as string, msisdn, subscriptionId: addLine.line.subscription.id as string } };
  }

  it('an upgrade in the middle of the period bills the old plan for the days before it and the new plan for the rest, nothing twice', async () => {
    const period = periodContaining(new Date(), 1, TZ);
    const { accountId, line } = await postpaidLine(`Upgrader ${RUN}`, 'POSTPAID_20GB');
    // The line has been on POSTPAID_20GB since the period began (its history, fed with its instant).
    await gql('mutation($i: RecordSubscriptionInput!) { recordSubscription(input: $i) { ok } }', {
      i: { ...line, billingAccountId: accountId, planCode: 'POSTPAID_20GB', planVersionId: planVersion.get('POSTPAID_20GB'), startsAt: period.start.toISOString() },
    });

    // The upgrade through subscribers (29.99 → 59.99, daily proration: applies at once).
    const changed = (await gql('mutation($i: ChangePlanInput!) { changePlan(input: $i) { order { id status } preview { timing effectiveAt } } }', { i: { lineId: line.lineId, planCode: 'FAMILY_SHARE_50GB', idempotencyKey: `e2e-upgrade-${RUN}` } })).changePlan;
    expect(changed.preview.timing).toBe('IMMEDIATE');
    const effectiveAt = new Date(changed.preview.effectiveAt);
    await eventually(async () => ((await gql('query($id: ID!) { line(id: $id) { planCode } }', { id: line.lineId })).line.planCode === 'FAMILY_SHARE_50GB' ? true : null), 'the plan change to be fulfilled', 60_000);

    // Everything subscribers published for the change (the subscription events and, before the
    // fix, the one-offs) precedes a later account's events on the one stream invoicing reads in
    // order: once invoicing bills that account, it has applied all of the change.
    await postpaidLine(`Marker ${RUN}`, 'POSTPAID_20GB');

    const days = periodDays(period, TZ);
    const used = days.dayOf(effectiveAt); // the day of the change is billed on the new plan
    const prorated = (fee: string, n: number) => dec(roundDecimal(dec(fee).times(n).dividedBy(days.total), 2, 'HALF_EVEN'));
    const expected = used > 0 ? [prorated('29.99', used), prorated('59.99', days.total - used)] : [prorated('59.99', days.total)];

    const bill = await preview(accountId);
    expect(bill).toMatchObject({ periodStart: period.start.toISOString(), periodEnd: period.end.toISOString() });
    const recurring = bill.lines.filter((l: { kind: string }) => l.kind === 'RECURRING');
    expect(recurring.map((l: { netAmount: string }) => dec(l.netAmount).toFixed(2)).sort()).toEqual(expected.map((e) => e.toFixed(2)).sort());
    // The period's bill: old fee × used days / period days + new fee × remaining days / period
    // days, plus the line's activation fee; before the fix also the change's credit and charge.
    const activation = bill.lines.find((l: { kind: string; description: string }) => l.kind === 'ONE_OFF' && l.description === `Activation fee for ${line.msisdn}`);
    expect(dec(bill.netTotal.amount).toFixed(2), JSON.stringify(bill.lines)).toBe(expected.reduce((a, e) => a.plus(e), dec(activation.netAmount)).toFixed(2));
    // No prorated one-off credit or charge for the change: the activation fee is the only one-off.
    expect(bill.lines.filter((l: { kind: string }) => l.kind !== 'RECURRING').map((l: { kind: string; description: string }) => [l.kind, l.description])).toEqual([['ONE_OFF', `Activation fee for ${line.msisdn}`]]);
  });

  it("an add-on bought and ended early: its price and the credit for its unused days are both on the period's bill", async () => {
    const { accountId, line } = await postpaidLine(`Booster ${RUN}`, 'POSTPAID_20GB');
    const bought = (await gql('mutation($i: AddAddOnInput!) { addAddOn(input: $i) { order { id } } }', { i: { lineId: line.lineId, offerCode: 'DATA_BOOST_5GB', idempotencyKey: `e2e-boost-${RUN}` } })).addAddOn;
    await eventually(async () => ((await gql('query($id: ID!) { productOrder(id: $id) { status } }', { id: bought.order.id })).productOrder?.status === 'COMPLETED' ? true : null), 'the add-on order to complete', 60_000);
    const ended = (await gql('mutation($i: EndAddOnInput!) { endAddOn(input: $i) { refund { amount currency } unusedDays } }', {
      i: { lineId: line.lineId, offerCode: 'DATA_BOOST_5GB', reason: 'Bought by mistake', idempotencyKey: `e2e-boost-end-${RUN}` },
    })).endAddOn;
    expect(ended.unusedDays).toBe(29); // ended the day it was bought: that day counts as used
    expect(ended.refund).toEqual({ amount: dec('5.00').times(29).dividedBy(30).toFixed(2), currency: 'EUR' });

    // Both one-offs reach invoicing (oneoffcharge.created) and wait for the period's invoice.
    const oneOffs = async () => (await preview(accountId)).lines.filter((l: { kind: string; description: string }) => l.kind === 'ONE_OFF' && l.description.includes('DATA_BOOST_5GB'));
    await eventually(async () => ((await oneOffs()).length === 2 ? true : null), "the add-on's charge and credit on the next invoice", 60_000);
    // The account's jurisdiction adds tax on top (net = the one-off's amount): 5.00 and the refund, net.
    const [charge, credit] = (await oneOffs()).sort((a: { netAmount: string }, b: { netAmount: string }) => dec(b.netAmount).comparedTo(dec(a.netAmount)));
    expect({ charge: [charge.description, dec(charge.netAmount).toFixed(2)], credit: [credit.description, dec(credit.netAmount).toFixed(2)] }).toEqual({
      charge: [`DATA_BOOST_5GB for ${line.msisdn}`, '5.00'],
      credit: [`Refund: DATA_BOOST_5GB for ${line.msisdn} ended, 29 of 30 days unused`, `-${ended.refund.amount}`],
    });
  });
});
