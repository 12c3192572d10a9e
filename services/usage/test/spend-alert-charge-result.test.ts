/**
 * A ChargeResult whose ledger figure is above the rating's estimate raises the bill period's spend (the spend counts
 * the ledger's figure once wallets applied a charge). An alert that difference takes the spend to is told at the
 * result, in the transaction that writes the outcome: not only at the account's next rated event, which never comes
 * when the customer uses nothing more that period. Same notice id as the rating path and the re-rate (once per alert,
 * amount and bill period).
 *
 * The ChargeResult consumer is on usage's throughput path: an account without alerts costs it nothing more than the
 * cached "no alerts" the rating path keeps, and a result not above its estimate no statement more (counted here on
 * usage's pool, as spend-alerts.test.ts counts its look-ups).
 *
 * Runs on a private nats-server as charge-result-consumer.test.ts does (results for made-up charges must not reach
 * other services' consumers of the shared stream); ChargeRequests are read where wallets reads them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { EVENTS, WORK_SUBJECTS, type Caller, type ChargeRequest, type ChargeResult } from '@ledgerline/contracts';
import { ManualClock, startPrivateNats, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { usageRuntimeOf } from '../src/usage-runtime';
import { RECORD_USAGE, filePlanSource, setLine, sqlOf, waitFor } from './support';

let nats: Awaited<ReturnType<typeof startPrivateNats>>;
let listener: NatsConnection;
/** Every ChargeRequest usage published, by chargeId. */
const requested = new Map<string, ChargeRequest>();
let svc: TestService;
let db: pg.Client;
const run = Math.random().toString(36).slice(2, 8);
const account = `acc_sc${run}`;
const lineA = `lin_sca${run}`;
const lineB = `lin_scb${run}`;
const budgetAccount = `acc_sd${run}`;
const budgetLine = `lin_sd${run}`;
const quietAccount = `acc_sq${run}`;
const quietLine = `lin_sq${run}`;
const AGENT: Caller = { role: 'AGENT', subject: 'care', scopes: [] };
const SET = `mutation($i: SetSpendAlertInput!) { setSpendAlert(input: $i) { spendAlert { id } } }`;
const ALERTS = `query($id: ID!) { _entities(representations: [{ __typename: "BillingAccount", id: $id }]) { ... on BillingAccount { spendAlerts { lineId spent { amount } notified } } } }`;

beforeAll(async () => {
  nats = await startPrivateNats();
  listener = await connect({ servers: nats.url });
  listener.subscribe(WORK_SUBJECTS.chargeRequested, {
    callback: (_, msg) => {
      const body = msg.json<ChargeRequest | ChargeRequest[]>();
      for (const c of Array.isArray(body) ? body : [body]) requested.set(c.chargeId, c);
    },
  });
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: ['charges'], deliverNew: true }), {
    env: { NATS_URL: nats.url },
    clock: new ManualClock(new Date('2026-03-20T12:00:00Z')),
  });
  db = await sqlOf(svc);
  await setLine(svc, { lineId: lineA, msisdn: '+4915100009871', account, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID' });
  await setLine(svc, { lineId: lineB, msisdn: '+4915100009872', account, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID' });
  await setLine(svc, { lineId: budgetLine, msisdn: '+4915100009873', account: budgetAccount, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID' });
  await setLine(svc, { lineId: quietLine, msisdn: '+4915100009874', account: quietAccount, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID' });
});

afterAll(async () => {
  await db?.end();
  await svc?.close();
  await listener?.close();
  await nats?.stop();
});

const alert = async (billingAccountId: string, amount: string, lineId?: string) => {
  const res = await svc.request(SET, { i: { billingAccountId, lineId, amount: { amount, currency: 'EUR' }, idempotencyKey: `${billingAccountId}-${lineId ?? ''}-${amount}` } }, AGENT);
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
};

let seq = 0;
/** Roaming data in Brazil (0.49 EUR per MB on the postpaid plan, none of it in the allowance): its ChargeRequest as published. */
async function roam(lineId: string, mb: string): Promise<ChargeRequest> {
  const res = await svc.request(RECORD_USAGE, { input: { source: `sc-${run}`, records: [{ eventId: `e${++seq}`, lineId, usageType: 'DATA', quantity: mb, roamingCountry: 'BR', occurredAt: '2026-03-18T10:00:00Z' }] } });
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  expect(res.data.recordUsage.rated).toBe(1);
  const id: string = res.data.recordUsage.results[0].id;
  return waitFor(async () => requested.get(id), 10_000, 'the ChargeRequest');
}

/** What wallets publishes when its ledger took `amountCharged` for the charge. */
const resultOf = (c: ChargeRequest, amountCharged: string): ChargeResult => ({
  chargeId: c.chargeId, outcome: 'APPLIED', billingAccountId: c.billingAccountId, lineId: c.lineId, paymentMode: c.paymentMode, usageType: c.usageType, occurredAt: c.occurredAt,
  units: c.units, unit: c.unit, unitsFromAllowances: '0', amountCharged, currency: c.currency,
});

/** Wallets' results in one message; resolves once usage has settled every one of them. */
async function answer(results: ChargeResult[]): Promise<void> {
  await svc.runtime.messaging.js.publish(WORK_SUBJECTS.chargeApplied, JSON.stringify(results));
  const ids = results.map((r) => r.chargeId);
  await waitFor(async () => (await db.query('select 1 from charge_outcome where usage_record_id = any($1::text[])', [ids])).rowCount === ids.length, 10_000, 'the results settled');
}

/** The account's SPEND_ALERT notices: [lineId, alertAmount, spent, usageRecordId, msisdn]. */
async function spendNotices(of: string) {
  const { rows } = await db.query(`select payload from outbox where subject = $1 order by seq`, [EVENTS.usageNotificationRequested.subject]);
  return rows.map((r) => JSON.parse(r.payload).data).filter((d) => d.template === 'SPEND_ALERT' && d.billingAccountId === of)
    .map((d) => [d.lineId, d.alertAmount, d.spent, d.usageRecordId, d.msisdn]);
}

/**
 * The statements usage's pool runs while `work` runs: `pool.query`'s, and those of the transactions it opens
 * (`transactions`: clients taken for one).
 */
async function statementsDuring(work: () => Promise<void>): Promise<{ texts: string[]; transactions: number }> {
  const pool = usageRuntimeOf(svc.runtime).sql as unknown as { query: (...a: unknown[]) => Promise<unknown>; connect: (cb?: unknown) => Promise<any> };
  const [query, take] = [pool.query, pool.connect];
  const seen = { texts: [] as string[], transactions: 0 };
  const note = (text: unknown) => seen.texts.push(typeof text === 'string' ? text.trim() : String((text as { text?: string })?.text ?? text));
  pool.query = (...args: unknown[]) => {
    note(args[0]);
    return query.apply(pool, args);
  };
  pool.connect = (cb?: unknown) => {
    if (typeof cb === 'function') return take.call(pool, cb);
    seen.transactions++;
    return take.call(pool).then((client: any) => {
      const own = client.query;
      client.query = (...args: unknown[]) => {
        note(args[0]);
        return own.apply(client, args);
      };
      const release = client.release;
      client.release = (...args: unknown[]) => {
        delete client.query;
        delete client.release;
        return release.apply(client, args);
      };
      return client;
    });
  };
  try {
    await work();
  } finally {
    pool.query = query;
    pool.connect = take;
  }
  return seen;
}

describe('spend alerts and ChargeResults', () => {
  it('a ChargeResult whose ledger figure is above the estimate tells the alert it takes the spend to, at the result, once', async () => {
    await alert(account, '10');
    await alert(account, '10', lineA);
    const charge = await roam(lineA, '20'); // estimate 9.80: below both alerts
    expect(await spendNotices(account)).toEqual([]);

    // The ledger took 10.20 (e.g. its own rounding of a tariff change): both alerts are reached, told now.
    await answer([resultOf(charge, '10.20')]);
    expect(await spendNotices(account)).toEqual([[null, '10.00', '10.20', charge.chargeId, null], [lineA, '10.00', '10.20', charge.chargeId, '+4915100009871']]);
    expect((await svc.request(ALERTS, { id: account }, AGENT)).data._entities[0].spendAlerts).toEqual([
      { lineId: null, spent: { amount: '10.20' }, notified: true },
      { lineId: lineA, spent: { amount: '10.20' }, notified: true },
    ]);

    // The rating path's own notice: the next rated event tells nothing again, nor a redelivery of the result.
    const next = await roam(lineB, '1');
    await answer([resultOf(charge, '10.20'), resultOf(next, '0.60')]);
    expect(await spendNotices(account)).toHaveLength(2);
  });

  it('costs an account without alerts, and a result not above its estimate, no statement more than the outcome', async () => {
    await alert(budgetAccount, '50');
    // Rated here: the rating path cached both accounts' alerts ("no alerts" for the quiet one).
    const [q1, q2] = [await roam(quietLine, '1'), await roam(quietLine, '1')];
    const [b1, b2, b3] = [await roam(budgetLine, '1'), await roam(budgetLine, '1'), await roam(budgetLine, '1')];

    // The quiet account's results, above and at the estimate, and the alerted account's at and below it: the outcome
    // statement alone (no alert look-up, no spend sums, no transaction).
    const settled = await statementsDuring(() => answer([resultOf(q1, '0.49'), resultOf(q2, '0.60'), resultOf(b1, '0.49'), resultOf(b2, '0.40')]));
    expect(settled.transactions).toBe(0);
    expect(settled.texts).toHaveLength(1);
    expect(settled.texts[0]).toMatch(/^with r as/);

    // The alerted account's result above its estimate: its bill period's spend is summed, in a transaction with the
    // outcome (below the alert of 50: nothing told).
    const rose = await statementsDuring(() => answer([resultOf(b3, '0.55')]));
    expect(rose.transactions).toBe(1);
    expect(rose.texts.some((t) => t.includes('spend_alert'))).toBe(false);
    expect(rose.texts.some((t) => t.includes('charge_outcome co on co.usage_record_id'))).toBe(true);
    expect(await spendNotices(budgetAccount)).toEqual([]);

    // An account this instance has not looked up yet: one look-up, then cached.
    usageRuntimeOf(svc.runtime).pipeline.forgetSpendAlerts(quietAccount);
    const [q3, q4] = [await roam(quietLine, '1'), await roam(quietLine, '1')];
    usageRuntimeOf(svc.runtime).pipeline.forgetSpendAlerts(quietAccount);
    const first = await statementsDuring(() => answer([resultOf(q3, '0.60')]));
    expect(first.texts.filter((t) => t.includes('spend_alert'))).toHaveLength(1);
    expect(first.transactions).toBe(0);
    const next = await statementsDuring(() => answer([resultOf(q4, '0.60')]));
    expect(next.texts).toHaveLength(1);
  });
});
