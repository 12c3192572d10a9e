import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seed } from '../../deploy/local/seed';
import { eventually, freshMsisdn, ok, startTestSystem, type System } from './harness';

/**
 * `npm start`'s demo data, loaded through the gateway as the quick start loads it: a family on a
 * shared postpaid plan and a prepaid customer whose bundle fee came out of a top-up, each with
 * usage to look at; loading it twice changes nothing.
 */
describe('the demo data of npm start', () => {
  let system: System;
  beforeAll(async () => {
    system = await startTestSystem();
  });
  afterAll(() => system?.stop());

  it('has lines on plans, rated usage and a prepaid balance, and a second load adds nothing', async () => {
    const familyMsisdns = [freshMsisdn(), freshMsisdn(), freshMsisdn()];
    const prepaidMsisdn = freshMsisdn();
    const options = { gatewayUrl: system.gatewayUrl, familyMsisdns, prepaidMsisdn };
    const demo = await seed(options);
    expect(demo.lineIds).toHaveLength(3);
    expect(demo.prepaid.lineIds).toHaveLength(1);

    const USAGE = 'query($id: ID!) { billingAccount(id: $id) { wallets { balance { amount } } lines { msisdn subscriptions { status } usage { totals { usageType quantity } } } } }';
    const totals = (line: { usage: { totals: { usageType: string; quantity: string }[] } }) => Object.fromEntries(line.usage.totals.map((t) => [t.usageType, Number(t.quantity)]));
    const family = await eventually(async () => {
      const d = ok(await system.graphql(USAGE, { id: demo.billingAccountId })).billingAccount;
      const first = d.lines.find((l: { msisdn: string }) => l.msisdn === familyMsisdns[0]);
      return first && totals(first).DATA === 2048 ? d : null;
    }, 'the family usage rated', 60_000);
    expect(family.lines.map((l: { subscriptions: { status: string }[] }) => l.subscriptions.map((s) => s.status))).toEqual([['ACTIVE'], ['ACTIVE'], ['ACTIVE']]);
    expect(totals(family.lines.find((l: { msisdn: string }) => l.msisdn === familyMsisdns[0]))).toMatchObject({ DATA: 2048, VOICE: 600, SMS: 3 });
    expect(totals(family.lines.find((l: { msisdn: string }) => l.msisdn === familyMsisdns[1]))).toMatchObject({ DATA: 512 });

    // 30.00 topped up, the bundle (15.00) and the starter pack (4.95) taken; the usage is inside the bundle.
    const prepaid = await eventually(async () => {
      const d = ok(await system.graphql(USAGE, { id: demo.prepaid.billingAccountId })).billingAccount;
      return d.wallets[0]?.balance.amount === '10.05' && totals(d.lines[0]).DATA === 1500 ? d : null;
    }, 'the prepaid bundle paid and its usage rated', 60_000);
    expect(totals(prepaid.lines[0])).toMatchObject({ DATA: 1500, VOICE: 300 });

    const again = await seed(options);
    expect(again).toEqual(demo);
    const after = ok(await system.graphql(USAGE, { id: demo.prepaid.billingAccountId })).billingAccount;
    expect(after.wallets[0].balance.amount).toBe('10.05');
    expect(totals(after.lines[0])).toEqual(totals(prepaid.lines[0]));
  });
});
