import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, ok, publishCatalog, startTestSystem, type System, freshMsisdn, usageKnowsLine } from './harness';
const msisdn0 = freshMsisdn();
const msisdn1 = freshMsisdn();
const msisdn2 = freshMsisdn();
const msisdn3 = freshMsisdn();
// Record ids derive from (source, eventId) and are the JetStream message ids: unique per run, since
// runs share NATS and its duplicate window.
const RUN = Math.random().toString(36).slice(2, 8);

/**
 * Usage through the whole chain: recordUsage (usage) → rated with the catalog's plan → a charge
 * request over JetStream → the wallets ledger → the charge result back to usage, all read
 * through the gateway.
 */
describe('usage is rated and charged end to end', () => {
  let system: System;

  beforeAll(async () => {
    system = await startTestSystem();
    await publishCatalog(system);
  });
  afterAll(() => system?.stop());

  async function lineOn(paymentMode: 'PREPAID' | 'POSTPAID', planCode: string, msisdn: string, extra: Record<string, unknown> = {}) {
    const { createCustomer } = ok(await system.graphql('mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }', { i: { name: `Owner of ${msisdn}`, kind: 'INDIVIDUAL', timezone: 'Europe/Berlin' } }));
    const { openBillingAccount } = ok(
      await system.graphql('mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }', { i: { customerId: createCustomer.customer.id, paymentMode, currency: 'EUR', ...extra } }),
    );
    const accountId = openBillingAccount.billingAccount.id as string;
    customerOf.set(accountId, createCustomer.customer.id);
    // A prepaid bundle is paid from the balance before its allowances are granted, and so is the
    // starter pack (4.95): top up both.
    const fee = planCode === 'PREPAID_BUNDLE_30D' ? '19.95' : null;
    if (fee) {
      await eventually(async () => ok(await system.graphql('query($id: ID!) { billingAccount(id: $id) { wallets { id } } }', { id: accountId })).billingAccount.wallets[0], 'the wallet');
      ok(await system.graphql('mutation($i: TopupBalanceInput!) { topupBalance(input: $i) { wallet { id } } }', { i: { billingAccountId: accountId, amount: { amount: fee, currency: 'EUR' }, idempotencyKey: `e2e-fee-${accountId}`, reference: 'e2e' } }));
    }
    const { addLine } = ok(await system.graphql('mutation($i: AddLineInput!) { addLine(input: $i) { line { id } } }', { i: { billingAccountId: accountId, msisdn, planCode } }));
    const activatedBy = Date.now();
    // Wallets opens the wallet and grants the plan's allowances from subscribers' events.
    await eventually(async () => {
      const d = ok(await system.graphql('query($id: ID!) { billingAccount(id: $id) { wallets { id } buckets { allowanceId } } }', { id: accountId }));
      return d.billingAccount.wallets.length && d.billingAccount.buckets.length ? true : null;
    }, 'wallet and buckets');
    // The bundle's first period and the starter pack take the whole top-up.
    if (fee) {
      const BALANCE = 'query($id: ID!) { billingAccount(id: $id) { wallets { balance { amount } } } }';
      await eventually(async () => (ok(await system.graphql(BALANCE, { id: accountId })).billingAccount.wallets[0].balance.amount === '0' ? true : null), 'the bundle fee and the starter pack taken from the balance');
    }
    await usageKnowsLine(system, addLine.line.id);
    // The tests record usage a few hundred ms in the past: it must still be after the subscription
    // started (usage rejects earlier events as SUBSCRIPTION_NOT_FOUND), however quickly the services answered.
    await new Promise((r) => setTimeout(r, Math.max(0, activatedBy + 1000 - Date.now())));
    return { accountId, lineId: addLine.line.id as string };
  }

  const customerOf = new Map<string, string>();
  const RECORD = 'mutation($i: RecordUsageInput!) { recordUsage(input: $i) { results { status duplicate rejectionCode } } }';
  const recordsOf = async (lineId: string) =>
    ok(
      await system.graphql('query($f: UsageRecordFilter) { usageRecords(filter: $f, first: 20) { edges { node { eventId status rejectionCode decision chargeStatus amountCharged { amount } unitsFromAllowances quantity } } } }', {
        f: { lineId },
      }),
    ).usageRecords.edges.map((e: { node: Record<string, any> }) => e.node);

  it('a prepaid line past its data bundle has its wallet debited, once even when the events are sent twice', async () => {
    const { accountId, lineId } = await lineOn('PREPAID', 'PREPAID_BUNDLE_30D', msisdn0);
    ok(
      await system.graphql('mutation($i: TopupBalanceInput!) { topupBalance(input: $i) { wallet { id } } }', {
        i: { billingAccountId: accountId, amount: { amount: '10.00', currency: 'EUR' }, idempotencyKey: 'e2e-topup-1', reference: 'e2e' },
      }),
    );
    const now = Date.now();
    const records = [
      { eventId: `e2e-data-1-${RUN}`, msisdn: msisdn0, usageType: 'DATA', quantity: '10000', occurredAt: new Date(now - 200).toISOString() },
      { eventId: `e2e-data-2-${RUN}`, msisdn: msisdn0, usageType: 'DATA', quantity: '500', occurredAt: new Date(now - 100).toISOString() },
    ];
    for (let i = 0; i < 2; i++) ok(await system.graphql(RECORD, { i: { source: 'e2e', records } }));

    const second = await eventually(async () => {
      const node = (await recordsOf(lineId)).find((r: { eventId: string }) => r.eventId === `e2e-data-2-${RUN}`);
      return node && !['PENDING', 'NONE'].includes(node.chargeStatus) ? node : null;
    }, 'the ledger to apply the charge', 30_000);
    expect(second).toMatchObject({ status: 'RATED', decision: 'RATED' });
    const first = (await recordsOf(lineId)).find((r: { eventId: string }) => r.eventId === `e2e-data-1-${RUN}`);
    expect(first).toMatchObject({ status: 'RATED', chargeStatus: 'APPLIED' });
    expect(Number(first.unitsFromAllowances)).toBe(10000);
    const buckets = ok(await system.graphql('query($id: ID!) { billingAccount(id: $id) { buckets { allowanceId unit initialQuantity remaining } } }', { id: accountId })).billingAccount.buckets;
    const data = buckets.filter((b: { allowanceId: string }) => b.allowanceId === 'data');
    expect(data.map((b: { initialQuantity: string; remaining: string }) => [Number(b.initialQuantity), Number(b.remaining)])).toEqual([[10240, 0]]);
    expect(Number(second.unitsFromAllowances)).toBe(240); // what was left of the 10,240 MB bundle
    expect(Number(second.amountCharged.amount)).toBeGreaterThan(0);

    const wallet = ok(await system.graphql('query($id: ID!) { billingAccount(id: $id) { wallets { balance { amount } } } }', { id: accountId })).billingAccount.wallets[0];
    expect(Number(wallet.balance.amount)).toBeCloseTo(10 - Number(second.amountCharged.amount), 6);
    expect((await recordsOf(lineId)).map((r: { eventId: string }) => r.eventId).sort()).toEqual([`e2e-data-1-${RUN}`, `e2e-data-2-${RUN}`].sort());

    // Which plan would have been cheaper for this account's month? The catalog prices its real usage.
    const cmp = ok(
      await system.graphql('query($i: ComparePlansInput!) { comparePlans(input: $i) { planCode total } }', {
        i: { planCodes: ['PREPAID_BUNDLE_30D', 'PREPAID_PAYG'], billingAccountId: accountId },
      }),
    ).comparePlans;
    expect(cmp.map((c: { planCode: string }) => c.planCode).sort()).toEqual(['PREPAID_BUNDLE_30D', 'PREPAID_PAYG']);
    expect(Number(cmp[0].total)).toBeLessThanOrEqual(Number(cmp[1].total));
    expect(Number(cmp.find((c: { planCode: string }) => c.planCode === 'PREPAID_PAYG').total)).toBeGreaterThan(0); // 10.5 GB pay-as-you-go is not free
  });

  it('a postpaid line roaming outside the EU has the charge accrued as unbilled; EU roaming comes out of the bundle', async () => {
    const { accountId, lineId } = await lineOn('POSTPAID', 'POSTPAID_20GB', msisdn2);
    const now = Date.now();
    ok(
      await system.graphql(RECORD, {
        i: {
          source: 'e2e',
          records: [
            { eventId: `e2e-roam-us-${RUN}`, msisdn: msisdn2, usageType: 'DATA', quantity: '12.34', occurredAt: new Date(now - 300).toISOString(), roamingCountry: 'US' },
            { eventId: `e2e-roam-fr-${RUN}`, msisdn: msisdn2, usageType: 'DATA', quantity: '300', occurredAt: new Date(now - 200).toISOString(), roamingCountry: 'FR' },
          ],
        },
      }),
    );
    const done = await eventually(async () => {
      const nodes = await recordsOf(lineId);
      return nodes.length === 2 && nodes.every((n: { chargeStatus: string }) => n.chargeStatus === 'APPLIED') ? nodes : null;
    }, 'both roaming charges applied by the ledger', 30_000);
    const us = done.find((n: { eventId: string }) => n.eventId === `e2e-roam-us-${RUN}`);
    const fr = done.find((n: { eventId: string }) => n.eventId === `e2e-roam-fr-${RUN}`);
    // Outside the EU: 12.34 MB rounded up to 0.1 MB increments = 12.4 MB at 0.49 EUR/MB, no bundle.
    expect(us).toMatchObject({ status: 'RATED', decision: 'RATED', chargeStatus: 'APPLIED' });
    expect(Number(us.unitsFromAllowances)).toBe(0);
    expect(us.amountCharged.amount).toMatch(/^6\.0760*$/);
    // In the EU, roam like at home: the 20 GB bundle pays, no money.
    expect(Number(fr.unitsFromAllowances)).toBe(300);
    expect(Number(fr.amountCharged.amount)).toBe(0);

    const wallet = ok(await system.graphql('query($id: ID!) { billingAccount(id: $id) { wallets { paymentMode balance { amount } unbilled { amount currency } } } }', { id: accountId })).billingAccount.wallets[0];
    expect(wallet.paymentMode).toBe('POSTPAID');
    expect(wallet.unbilled.currency).toBe('EUR');
    expect(wallet.unbilled.amount).toMatch(/^6\.0760*$/);
    expect(Number(wallet.balance.amount)).toBe(0);
    const trace = ok(await system.graphql('query($f: UsageRecordFilter) { usageRecords(filter: $f, first: 5) { edges { node { eventId ratingTrace } } } }', { f: { lineId } })).usageRecords.edges.find(
      (e: { node: { eventId: string } }) => e.node.eventId === `e2e-roam-us-${RUN}`,
    ).node.ratingTrace;
    expect(JSON.stringify(trace)).toContain('roaming-world-data');
  });

  it('a line that reaches 80 % of its data gets the notification once, and the upsell offer it can accept', async () => {
    const { accountId, lineId } = await lineOn('PREPAID', 'PREPAID_BUNDLE_30D', msisdn3);
    const now = Date.now();
    const data = (n: number, quantity: string) => ({ eventId: `e2e-80-${n}-${RUN}`, msisdn: msisdn3, usageType: 'DATA', quantity, occurredAt: new Date(now - 500 + n).toISOString() });
    ok(await system.graphql(RECORD, { i: { source: 'e2e', records: [data(1, '4000'), data(2, '4300')] } })); // 8,300 of 10,240 MB: 81 %
    ok(await system.graphql(RECORD, { i: { source: 'e2e', records: [data(3, '500')] } })); // 86 %: still the 80 % band

    const customer = { role: 'CUSTOMER' as const, subject: 'e2e-customer', customerId: customerOf.get(accountId)! };
    const NOTES = 'query($id: ID!) { line(id: $id) { notifications { channel receiver template content state } usage { period periodStart periodEnd allowances { allowanceId usedRatio } } } }';
    const line = await eventually(async () => {
      const l = ok(await system.graphql(NOTES, { id: lineId }, customer)).line;
      return l.notifications.some((n: { template: string; state: string }) => n.template === 'DATA_80_PERCENT' && n.state === 'SENT') ? l : null;
    }, 'the 80 % notification to be sent', 30_000);
    expect(Number(line.usage.allowances.find((a: { allowanceId: string }) => a.allowanceId === 'data').usedRatio)).toBeGreaterThanOrEqual(0.8);
    const eighty = line.notifications.filter((n: { template: string }) => n.template === 'DATA_80_PERCENT');
    // The bundle's allowance period: 30 days from the line's activation (not the calendar month).
    const { period, periodStart, periodEnd } = line.usage;
    expect(Date.parse(periodEnd) - Date.parse(periodStart)).toBe(30 * 86_400_000);
    expect(Date.parse(periodStart)).toBeLessThanOrEqual(now);
    expect(now - Date.parse(periodStart)).toBeLessThan(60_000);
    const content = `You have used 80% of your data allowance for the period from ${period}. It renews on ${periodEnd.slice(0, 10)}.`;
    expect(eighty).toEqual([{ channel: 'SMS', receiver: msisdn3, template: 'DATA_80_PERCENT', content, state: 'SENT' }]);
    expect(line.notifications.some((n: { template: string }) => n.template === 'DATA_50_PERCENT')).toBe(false); // the jump went past 50 % in one batch: only the band it landed in

    // The plan's offer rule fired at 80 % too: the worker's upsell workflow offers the data boost.
    const OFFERS = 'query($id: ID!) { line(id: $id) { offers { id state offerCode price { amount currency } } notifications { template } } }';
    const offered = await eventually(async () => {
      const l = ok(await system.graphql(OFFERS, { id: lineId }, customer)).line;
      return l.offers.length && l.notifications.some((n: { template: string }) => n.template === 'UPSELL_OFFER') ? l : null;
    }, 'the upsell offer', 30_000);
    expect(offered.offers).toEqual([{ id: expect.any(String), state: 'PRESENTED', offerCode: 'DATA_BOOST_5GB', price: { amount: '5.00', currency: 'EUR' } }]);
    // Accepting pays from the prepaid balance and grants the boost to the line.
    ok(
      await system.graphql('mutation($i: TopupBalanceInput!) { topupBalance(input: $i) { wallet { id } } }', {
        i: { billingAccountId: accountId, amount: { amount: '12.00', currency: 'EUR' }, idempotencyKey: `e2e-topup-80-${RUN}`, reference: 'e2e' },
      }),
    );
    const accepted = ok(
      await system.graphql('mutation($i: RespondToUpsellOfferInput!) { respondToUpsellOffer(input: $i) { offer { state } order { kind status failureCode } } }', { i: { offerId: offered.offers[0].id, accept: true } }, customer),
    ).respondToUpsellOffer;
    expect(accepted).toEqual({ offer: { state: 'ACCEPTED' }, order: { kind: 'ADD_ON', status: 'COMPLETED', failureCode: null } });
    const balances = ok(await system.graphql('query($id: ID!) { billingAccount(id: $id) { wallets { balance { amount } } buckets { allowanceId lineId remaining } } }', { id: accountId })).billingAccount;
    expect(Number(balances.wallets[0].balance.amount)).toBe(7);
    expect(balances.buckets.filter((b: { allowanceId: string }) => b.allowanceId === 'boost-data')).toEqual([{ allowanceId: 'boost-data', lineId, remaining: '5120' }]);
    // Another customer cannot read it.
    const stranger = await system.graphql(NOTES, { id: lineId }, { role: 'CUSTOMER', subject: 'e2e-stranger', customerId: 'cus_someone_else' });
    expect(stranger.data?.line ?? null).toBeNull();
  });

  it('a suspended line is denied', async () => {
    const { lineId } = await lineOn('PREPAID', 'PREPAID_BUNDLE_30D', msisdn1);
    ok(await system.graphql('mutation($i: LineChangeInput!) { suspendLine(input: $i) { line { status } } }', { i: { lineId } }));
    // The suspension reaches usage as an event: until then a call is still rated, so each try is a new call.
    let attempt = 0;
    const denied = await eventually(async () => {
      const eventId = `e2e-susp-${++attempt}-${RUN}`;
      const r = ok(await system.graphql(RECORD, { i: { source: 'e2e', records: [{ eventId, msisdn: msisdn1, usageType: 'VOICE', quantity: '60', occurredAt: new Date().toISOString(), calledNumber: '+4930123456' }] } }));
      const result = r.recordUsage.results[0];
      const node = (await recordsOf(lineId)).find((n: { eventId: string }) => n.eventId === eventId);
      // Denied either at validation (REJECTED LINE_SUSPENDED) or by rating (decision DENIED).
      const reason = result.status === 'REJECTED' ? result.rejectionCode : node?.decision;
      return /LINE_SUSPENDED|DENIED/.test(reason ?? '') ? { node } : null;
    }, 'a call on the suspended line to be denied');
    const node = denied.node;
    expect(node?.amountCharged ?? null).toBeNull();
  });

  it('a roaming call made before the line was suspended, whose record arrives after, is still rated and charged', async () => {
    const msisdn = freshMsisdn();
    const { lineId } = await lineOn('POSTPAID', 'POSTPAID_20GB', msisdn);
    const before = new Date(Date.now() - 300).toISOString();
    await new Promise((r) => setTimeout(r, 50));
    ok(await system.graphql('mutation($i: LineChangeInput!) { suspendLine(input: $i) { line { status } } }', { i: { lineId } }));
    // Once usage knows of the suspension, a call made now is denied…
    let attempt = 0;
    await eventually(async () => {
      const eventId = `e2e-late-susp-${++attempt}-${RUN}`;
      const r = ok(await system.graphql(RECORD, { i: { source: 'e2e', records: [{ eventId, msisdn, usageType: 'VOICE', quantity: '60', occurredAt: new Date().toISOString(), calledNumber: '+4930123456', roamingCountry: 'US' }] } }));
      return r.recordUsage.results[0].status === 'REJECTED' && r.recordUsage.results[0].rejectionCode === 'LINE_SUSPENDED' ? true : null;
    }, 'a call on the suspended line to be denied');
    // …but the late record of a call made before it is rated and its charge accrued.
    const late = ok(await system.graphql(RECORD, { i: { source: 'e2e', records: [{ eventId: `e2e-late-before-${RUN}`, msisdn, usageType: 'VOICE', quantity: '60', occurredAt: before, calledNumber: '+4930123456', roamingCountry: 'US' }] } }));
    expect(late.recordUsage.results[0]).toMatchObject({ status: 'RATED', duplicate: false });
    const charged = await eventually(async () => (await recordsOf(lineId)).find((n: { eventId: string; chargeStatus: string }) => n.eventId === `e2e-late-before-${RUN}` && n.chargeStatus === 'APPLIED') ?? null, 'the late call charged by the ledger', 30_000);
    expect(Number(charged.amountCharged.amount)).toBeGreaterThan(0);
  });
  it('an online charging session is charged exactly once under retries, and units past its grant are charged as usage', async () => {
    const msisdn = freshMsisdn();
    const { accountId, lineId } = await lineOn('PREPAID', 'PREPAID_BUNDLE_30D', msisdn);
    const SESSION = 'mutation($i: ChargingSessionInput!) { chargingSession(input: $i) { sessionId resultCode grantedUnit validityTime finalUnitIndication usageRecordId } }';
    const sessionId = `e2e-ocs-${RUN}`;
    const ask = async (i: Record<string, unknown>) => ok(await system.graphql(SESSION, { i: { sessionId, ...i } })).chargingSession;
    const state = async () => {
      const d = ok(await system.graphql('query($id: ID!) { billingAccount(id: $id) { buckets { allowanceId remaining } reservations { sessionId status grantedUnits usedUnits } } }', { id: accountId })).billingAccount;
      return { data: Number(d.buckets.find((b: { allowanceId: string }) => b.allowanceId === 'data').remaining), reservations: d.reservations.filter((r: { sessionId: string }) => r.sessionId === sessionId) };
    };
    const reserve = { operation: 'RESERVE', invocationSequenceNumber: 0, lineId, usageType: 'DATA', requestedUnits: '100' };
    const granted = await ask(reserve);
    expect(granted).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '100', finalUnitIndication: false });
    // The network element lost the reply and asks again: the same answer, nothing more held.
    expect(await ask(reserve)).toEqual(granted);
    expect((await state()).reservations).toHaveLength(1);
    expect((await state()).data).toBe(10240 - 100);

    // An update retried three times at once and once after: 100 MB used once, 50 more held once.
    const update = { operation: 'UPDATE', invocationSequenceNumber: 1, usedUnits: '100', requestedUnits: '50' };
    const updates = await Promise.all([ask(update), ask(update), ask(update)]);
    expect(updates[0]).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '50' });
    expect(updates.slice(1)).toEqual([updates[0], updates[0]]);
    expect(await ask(update)).toEqual(updates[0]);
    let s = await state();
    expect(s.reservations.map((r: { status: string; usedUnits: string | null }) => [r.status, r.usedUnits === null ? null : Number(r.usedUnits)]).sort()).toEqual([['COMMITTED', 100], ['RESERVED', null]]);
    expect(s.data).toBe(10240 - 150);
    // The same number with other figures, or a number out of turn, is refused and changes nothing.
    expect(await ask({ ...update, usedUnits: '99' })).toMatchObject({ resultCode: 'RATING_FAILED' });
    expect(await ask({ operation: 'UPDATE', invocationSequenceNumber: 3, usedUnits: '10' })).toMatchObject({ resultCode: 'RATING_FAILED' });
    const missing = await system.graphql(SESSION, { i: { sessionId, operation: 'UPDATE', usedUnits: '10' } });
    expect(missing.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.invocationSequenceNumber' });
    expect((await state()).data).toBe(10240 - 150);

    // The network went 30 MB past the 50 granted before it terminated (and it terminates twice).
    const terminate = { operation: 'TERMINATE', invocationSequenceNumber: 2, usedUnits: '80' };
    const [end, endAgain] = await Promise.all([ask(terminate), ask(terminate)]);
    expect(end).toMatchObject({ resultCode: 'SUCCESS', finalUnitIndication: true });
    expect(endAgain).toEqual(end);
    const records = await eventually(async () => {
      const rs = (await recordsOf(lineId)).filter((r: { eventId: string }) => r.eventId.startsWith(sessionId));
      return rs.length === 3 && rs.every((r: { chargeStatus: string }) => r.chargeStatus === 'APPLIED') ? rs : null;
    }, 'the session\'s records charged', 30_000);
    type Rec = { eventId: string; quantity: string; unitsFromAllowances: string; amountCharged: { amount: string } };
    const byEvent = new Map((records as Rec[]).map((r) => [r.eventId, r]));
    // What each commit took is a record (the update's 100 MB as it happened, the closing 50 MB), with the commit's figures:
    // from the bundle, no money. The 30 MB past the grant is a record of its own, charged by the ledger within the
    // TERMINATE (a prepaid line's: held and committed as `#2:unreserved`, once for both copies).
    const figures = (eventId: string) => { const r = byEvent.get(eventId)!; return [Number(r.quantity), Number(r.unitsFromAllowances), Number(r.amountCharged.amount)]; };
    expect(figures(`${sessionId}#1`)).toEqual([100, 100, 0]);
    expect(figures(sessionId)).toEqual([50, 50, 0]);
    expect(figures(`${sessionId}#2:unreserved`)).toEqual([30, 30, 0]);
    expect(end.usageRecordId).toBeTruthy();
    s = await state();
    expect(s.data).toBe(10240 - 180);
    expect(s.reservations.map((r: { status: string }) => r.status)).toEqual(['COMMITTED', 'COMMITTED', 'COMMITTED']);
  });
  it('a postpaid line\'s online session roaming outside the EU reaches its next invoice', async () => {
    const msisdn = freshMsisdn();
    const { accountId, lineId } = await lineOn('POSTPAID', 'POSTPAID_20GB', msisdn);
    const SESSION = 'mutation($i: ChargingSessionInput!) { chargingSession(input: $i) { resultCode grantedUnit usageRecordId } }';
    const sessionId = `e2e-ocs-post-${RUN}`;
    const ask = async (i: Record<string, unknown>) => ok(await system.graphql(SESSION, { i: { sessionId, ...i } })).chargingSession;
    expect(await ask({ operation: 'RESERVE', lineId, usageType: 'VOICE', requestedUnits: '120', calledNumber: '+4930123456', roamingCountry: 'US' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '120' });
    expect(await ask({ operation: 'TERMINATE', invocationSequenceNumber: 1, usedUnits: '90' })).toMatchObject({ resultCode: 'SUCCESS' });
    // Wallets accrued the commit as unbilled and published its ChargeResult; invoicing bills it with the account's usage.
    const line = await eventually(async () => {
      const p = ok(await system.graphql('query($a: ID!) { previewNextInvoice(billingAccountId: $a) { lines { kind usageType zone quantity netAmount } } }', { a: accountId })).previewNextInvoice;
      return p.lines.find((l: { kind: string; usageType: string }) => l.kind === 'USAGE' && l.usageType === 'VOICE') ?? null;
    }, 'the session on the next invoice', 30_000);
    expect(line.zone).toMatch(/^ROAMING_/);
    expect(Number(line.quantity)).toBe(90);
    expect(Number(line.netAmount)).toBeGreaterThan(0);
    // The same money as the session's record in usage.
    const record = await eventually(async () => (await recordsOf(lineId)).find((r: { eventId: string }) => r.eventId === sessionId) ?? null, 'the session record');
    expect(Number(record.amountCharged.amount)).toBeGreaterThan(0);
  });
});
