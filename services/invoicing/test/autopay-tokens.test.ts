// Autopay when the token stays with subscribers: the account event says only that there is one,
// and the due-date job asks for the token when it charges. Real PostgreSQL and NATS (the event
// comes over JetStream); subscribers' side of the question is its `autopayToken` query, stood in
// for here by the accounts' tokens (the end-to-end test asks the real subscribers).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS, createCloudEvent } from '@ledgerline/contracts';
import type { DunningStarter, StartDunningRequest } from '../src/ports/dunning';
import type { AutopayTokens } from '../src/ports/autopay-tokens';
import { invoicesOf, startHarness, subscribe, waitFor, type Harness } from './support';

const started: StartDunningRequest[] = [];
const dunning: DunningStarter = { start: async (req) => void started.push(req), poke: async () => undefined };
/** Subscribers' answers: a token, none (removed since), or subscribers cannot be reached. */
const tokens = new Map<string, string | null | Error>();
const asked: string[] = [];
const subscribersTokens: AutopayTokens = {
  async tokenOf(id) {
    asked.push(id);
    const t = tokens.get(id);
    if (t instanceof Error) throw t;
    return t ?? null;
  },
};

let h: Harness;
const JOB = 'mutation { runDueDateJob { autopaid declined dunningStarted } }';
const CLOSE = 'mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { invoice { id state total { amount } } } } }';
const SEP = { periodStart: '2026-08-31T22:00:00Z', periodEnd: '2026-09-30T22:00:00Z' };

beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { dunning, policy: { reminderDays: [1], lateFee: null, suspendAfterDays: 3 }, autopayTokens: subscribersTokens });
});
afterAll(async () => h?.svc.close());

/** Subscribers' billingaccount.created, as it is published now: `autopay`, never the token. */
async function accountEvent(billingAccountId: string, autopay: boolean) {
  const data = { billingAccountId, customerId: `cus_${billingAccountId}`, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 1, paymentTermsDays: 3, timezone: 'Europe/Berlin', creditLimit: null, autopay };
  const event = createCloudEvent({ source: 'ledgerline/subscribers', type: EVENTS.billingAccountCreated.type, subject: billingAccountId, time: new Date('2026-08-01T00:00:00Z'), data, key: [billingAccountId] });
  await h.svc.runtime.messaging.js.publish(EVENTS.billingAccountCreated.subject, JSON.stringify(event));
  await waitFor(async () => (await h.gql<any>(`query { _entities(representations: [{ __typename: "BillingAccount", id: "${billingAccountId}" }]) { ... on BillingAccount { id } } }`))._entities[0]?.id ?? null).catch(() => undefined);
}

describe('autopay with the token kept by subscribers', () => {
  it('asks subscribers for the token on the due date and charges it once; no token after all, or no autopay, goes to dunning', async () => {
    tokens.set('acc_tok_sub', 'tok_visa_at_subscribers');
    tokens.set('acc_tok_gone', null);
    tokens.set('acc_tok_down', new Error('subscribers is down'));
    for (const [acc, autopay] of [['acc_tok_sub', true], ['acc_tok_gone', true], ['acc_tok_down', true], ['acc_tok_none', false]] as const) {
      await accountEvent(acc, autopay);
      await subscribe(h, acc, `sub_${acc}`, 'postpaid20', '2026-08-01T00:00:00Z');
    }
    const invoices = new Map<string, any>();
    for (const acc of ['acc_tok_sub', 'acc_tok_gone', 'acc_tok_down', 'acc_tok_none']) {
      const inv = await waitFor(async () => {
        const r = await h.gql<any>(CLOSE, { i: { billingAccountId: acc, ...SEP } }).catch(() => null);
        return r?.closeBillingPeriod.billingPeriod.invoice ?? null;
      });
      invoices.set(acc, inv);
    }

    h.clock.set(new Date('2026-10-04T09:00:00Z'));
    expect((await h.gql<any>(JOB)).runDueDateJob).toEqual({ autopaid: 1, declined: 0, dunningStarted: 2 });
    expect([...h.payments.charges.values()].map((c) => [c.req.paymentMethodToken, c.req.idempotencyKey])).toEqual([['tok_visa_at_subscribers', `autopay:${invoices.get('acc_tok_sub').id}`]]);
    expect((await invoicesOf(h, 'acc_tok_sub'))[0].state).toBe('SETTLED');
    // No token after all and no autopay: dunning. Subscribers down: neither charged nor dunned; asked again next pass.
    expect(started.map((s) => s.billingAccountId).sort()).toEqual(['acc_tok_gone', 'acc_tok_none']);
    expect(asked.sort()).toEqual(['acc_tok_down', 'acc_tok_gone', 'acc_tok_sub']);

    tokens.set('acc_tok_down', 'tok_visa_back');
    expect((await h.gql<any>(JOB)).runDueDateJob).toEqual({ autopaid: 1, declined: 0, dunningStarted: 0 });
    expect([...h.payments.charges.values()].map((c) => c.req.paymentMethodToken).sort()).toEqual(['tok_visa_at_subscribers', 'tok_visa_back']);
    expect((await h.gql<any>(JOB)).runDueDateJob).toEqual({ autopaid: 0, declined: 0, dunningStarted: 0 });
    expect(asked.filter((a) => a === 'acc_tok_sub')).toHaveLength(1);
  });

  it('follows billingaccount.changed: autopay turned on later is charged on the due date, turned off goes to dunning', async () => {
    tokens.set('acc_ap_on', 'tok_mc_later');
    tokens.set('acc_ap_off', 'tok_visa_removed');
    await accountEvent('acc_ap_on', false);
    await accountEvent('acc_ap_off', true);
    for (const [acc, autopay] of [['acc_ap_on', true], ['acc_ap_off', false]] as const) {
      const data = { billingAccountId: acc, paymentMode: 'POSTPAID', currency: 'EUR', creditLimit: null, autopay, changed: ['autopay'] };
      await h.svc.runtime.messaging.js.publish(EVENTS.billingAccountChanged.subject, JSON.stringify(createCloudEvent({ source: 'ledgerline/subscribers', type: EVENTS.billingAccountChanged.type, subject: acc, time: new Date('2026-08-02T00:00:00Z'), data, key: [acc, String(autopay)] })));
      await subscribe(h, acc, `sub_${acc}`, 'postpaid20', '2026-08-01T00:00:00Z');
    }
    const flag = async (acc: string) => (await h.svc.runtime.orm.em.fork().getConnection().execute('select autopay from billing_account where id = ?', [acc]))[0]?.autopay;
    await waitFor(async () => (await flag('acc_ap_on')) === true && (await flag('acc_ap_off')) === false);
    const invoices = new Map<string, any>();
    for (const acc of ['acc_ap_on', 'acc_ap_off']) invoices.set(acc, await waitFor(async () => (await h.gql<any>(CLOSE, { i: { billingAccountId: acc, ...SEP } }).catch(() => null))?.closeBillingPeriod.billingPeriod.invoice ?? null));

    started.length = 0;
    h.clock.set(new Date('2026-10-09T09:00:00Z'));
    expect((await h.gql<any>(JOB)).runDueDateJob).toEqual({ autopaid: 1, declined: 0, dunningStarted: 1 });
    expect([...h.payments.charges.values()].filter((c) => c.req.paymentMethodToken === 'tok_mc_later').map((c) => c.req.idempotencyKey)).toEqual([`autopay:${invoices.get('acc_ap_on').id}`]);
    expect([...h.payments.charges.values()].some((c) => c.req.paymentMethodToken === 'tok_visa_removed')).toBe(false);
    expect(started.map((s) => s.billingAccountId)).toEqual(['acc_ap_off']);
  });
});
