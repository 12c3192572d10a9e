/**
 * A re-rate that moves usage between an allowance and money (review 16, ADR 0019), against the
 * real wallets service (child process, own schema) on a private nats-server, as
 * rerate-adjustment-resend.test.ts runs it. The adjustment carries the units it moves
 * (`allowanceMoves`) beside the money, and usage counts what the ledger says it moved: after every
 * re-rate the ledger's bucket (units used) equals usage's live counters, and what the account owes
 * equals what usage holds for its records, as the corrected catalog prices them.
 *
 * Before the fix the adjustment was money only: into the allowance the customer kept the credit AND
 * the units in the bucket; out of it they paid the overage while the bucket still counted the units.
 * A record the ledger left short (its bucket held fewer units) is settled: the same catalog again
 * adjusted nothing only since 2026-11-28 (each re-rate asked for the missing units again).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { dec, WORK_SUBJECTS } from '@ledgerline/contracts';
import { ManualClock, startPrivateNats, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { CHARGED_RECORDS, RECORD_USAGE, filePlanSource, planDocument, setLine, sqlOf, startWalletsProcess, waitFor, type WalletsProcess } from './support';

let nats: Awaited<ReturnType<typeof startPrivateNats>>;
let wallets: WalletsProcess;
let svc: TestService;
let db: pg.Client;
const clock = new ManualClock(new Date());
const run = Math.random().toString(36).slice(2, 8);

type Rule = { name: string; event: { params: Record<string, unknown> } };
/** The postpaid 20 GB plan with its rules edited: a corrected version. */
function corrected(edit: (rules: Record<string, Rule['event']['params']>) => void): Record<string, unknown> {
  const document = planDocument('postpaid-20gb.json') as { rules: Rule[] };
  edit(Object.fromEntries(document.rules.map((r) => [r.name, r.event.params])));
  return document;
}
// World-roaming data comes out of the data bundle first (it was priced per MB only).
const INTO = corrected((r) => (r['roaming-world-data']!.allowanceId = 'data'));
// Domestic data is priced per MB (graduated, 0.01 per MB) and no longer drawn from the bundle.
const OUT = corrected((r) => delete r['data-allowance']!.allowanceId);
// INTO, corrected again: world-roaming data still out of the bundle, at 0.59 per MB.
const INTO_DEARER = corrected((r) => Object.assign(r['roaming-world-data']!, { allowanceId: 'data', pricePerUnit: '0.5900' }));
// Both: the bundle moves from domestic data to world roaming.
const SWAP = corrected((r) => {
  r['roaming-world-data']!.allowanceId = 'data';
  delete r['data-allowance']!.allowanceId;
});

const RERATE = `mutation($i: RerateInput!) { rerate(input: $i) { recordsRerated adjustments { chargeId previousPrice newPrice } } }`;

beforeAll(async () => {
  nats = await startPrivateNats();
  wallets = await startWalletsProcess(nats.url);
  svc = await startServiceForTest(
    createUsageService({ planSource: filePlanSource({ plv_into: INTO, plv_out: OUT, plv_swap: SWAP, plv_into_dearer: INTO_DEARER }), consumers: ['charges'], deliverNew: true }),
    { env: { NATS_URL: nats.url }, clock },
  );
  db = await sqlOf(svc);
}, 120_000);

afterAll(async () => {
  await db?.end();
  await svc?.close();
  await wallets?.stop();
  await nats?.stop();
});

const q = (t: string) => `"${wallets.schema}".${t}`;

interface Line { lineId: string; account: string; walletId: string; at: string; period: string }

/** A POSTPAID line (credit limit 150) whose ledger bucket holds `bucketMb` of the plan's 20 GB data allowance. */
async function line(tag: string, msisdn: string, bucketMb = '20480'): Promise<Line> {
  const lineId = `lin_${tag}${run}`;
  const account = `acc_${tag}${run}`;
  let walletId: string;
  if (bucketMb === '20480') walletId = await wallets.postpaidWallet(account, lineId);
  else {
    const opened = await wallets.gql<{ openWallet: { wallet: { id: string } } }>(`mutation($i: OpenWalletInput!) { openWallet(input: $i) { wallet { id } } }`, { i: { billingAccountId: account, currency: 'EUR', paymentMode: 'POSTPAID', creditLimit: '150' } });
    await wallets.gql(`mutation($i: GrantBucketInput!) { grantBucket(input: $i) { bucket { id } } }`, {
      i: { billingAccountId: account, lineId, allowanceId: 'data', unit: 'MB', quantity: bucketMb, validFrom: '2020-01-01T00:00:00Z', validTo: '2100-01-01T00:00:00Z', grantKey: `${account}-data` },
    });
    walletId = opened.openWallet.wallet.id;
  }
  await setLine(svc, { lineId, msisdn, account, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID' });
  const at = new Date(clock.now().getTime() - 3_600_000).toISOString();
  return { lineId, account, walletId, at, period: at.slice(0, 7) };
}

/** Records 100 MB events (`roaming`: in the US), one batch each in this order, and waits until wallets settled them. */
async function use(l: Line, events: { eventId: string; roaming: boolean }[]): Promise<void> {
  for (const e of events) {
    const res = await svc.request(RECORD_USAGE, { input: { source: `${l.lineId}`, records: [{ eventId: e.eventId, lineId: l.lineId, usageType: 'DATA', quantity: '100', ...(e.roaming ? { roamingCountry: 'US' } : {}), occurredAt: l.at }] } });
    expect(res.data.recordUsage.rated).toBe(1);
    // One at a time: a later arrival is rated after it (the ledger draws in that order).
    clock.advance(1000);
  }
  await waitFor(async () => (await db.query(`select count(*)::int as n from ${CHARGED_RECORDS} where line_id = $1 and charge_status = 'PENDING'`, [l.lineId])).rows[0].n === 0, 30_000, 'the charges settled');
}

async function rerate(l: Line, planVersionId: string): Promise<{ chargeId: string; previousPrice: string; newPrice: string }[]> {
  const res = await svc.request(RERATE, { i: { billingAccountId: l.account, period: l.period, planVersionId } });
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  const adjustments = res.data.rerate.adjustments as { chargeId: string; previousPrice: string; newPrice: string }[];
  await waitFor(async () => (await db.query(`select count(*)::int as n from rerate_adjustment where billing_account_id = $1 and status = 'PENDING'`, [l.account])).rows[0].n === 0, 30_000, 'the adjustments settled');
  return adjustments.map((a) => ({ ...a, previousPrice: dec(a.previousPrice).toString(), newPrice: dec(a.newPrice).toString() }));
}

/** The two sides: the ledger's bucket and money, usage's live counters and records. */
async function sides(l: Line) {
  // Summed over the account's data buckets (a test may grant a second one, a top-up).
  const [bucket] = (await db.query<{ initial: string; remaining: string }>(`select sum(b.initial_quantity) as initial, sum(a.balance) as remaining from ${q('bucket')} b join ${q('ledger_account')} a on a.id = b.id where b.billing_account_id = $1`, [l.account])).rows;
  const usage = await svc.request(`{ _entities(representations: [{ __typename: "Line", id: "${l.lineId}" }]) { ... on Line { usage(period: "${l.at}") { allowances { allowanceId used } } } } }`);
  expect(usage.errors).toBeUndefined();
  const data = usage.data._entities[0].usage.allowances.find((a: { allowanceId: string }) => a.allowanceId === 'data');
  const held = (await db.query<{ total: string | null }>(`select sum(amount_charged) as total from ${CHARGED_RECORDS} where line_id = $1`, [l.lineId])).rows[0].total;
  return {
    ledger: { bucketUsed: dec(bucket!.initial).minus(bucket!.remaining).toString(), owes: dec(await wallets.unbilledOf(l.walletId)).toString() },
    usage: { bucketUsed: dec(data.used).toString(), owes: dec(held ?? '0').toString() },
  };
}

/** Every ledger transaction of the account sums to zero per unit; every bucket's balance is the sum of its entries. */
async function ledgerHolds(l: Line): Promise<void> {
  const unbalanced = await db.query(`select e.transaction_id from ${q('ledger_entry')} e join ${q('ledger_transaction')} t on t.id = e.transaction_id where t.billing_account_id = $1 group by e.transaction_id, e.unit having sum(e.amount) <> 0`, [l.account]);
  expect(unbalanced.rows).toEqual([]);
  const drift = await db.query(`select a.id from ${q('bucket')} b join ${q('ledger_account')} a on a.id = b.id left join (select account_id, sum(amount) as total from ${q('ledger_entry')} group by 1) e on e.account_id = a.id where b.billing_account_id = $1 and a.balance <> coalesce(e.total, 0)`, [l.account]);
  expect(drift.rows).toEqual([]);
}

const same = (bucketUsed: string, owes: string) => ({ ledger: { bucketUsed, owes }, usage: { bucketUsed, owes } });

/** What a re-rate can leave behind for the account: its adjustment rows, the ChargeRequests usage sent, the ledger's transactions. */
async function traces(l: Line) {
  const n = async (text: string) => (await db.query<{ n: number }>(text, [l.account])).rows[0]!.n;
  return {
    adjustments: await n('select count(*)::int as n from rerate_adjustment where billing_account_id = $1'),
    chargeRequests: await n(`select count(*)::int as n from outbox where subject = '${WORK_SUBJECTS.chargeRequested}' and payload::jsonb->>'billingAccountId' = $1`),
    ledgerTransactions: await n(`select count(*)::int as n from ${q('ledger_transaction')} where billing_account_id = $1`),
  };
}

/** A second data bucket for the line (units that became available after the record was charged). */
async function topUp(l: Line, mb: string): Promise<void> {
  await wallets.gql(`mutation($i: GrantBucketInput!) { grantBucket(input: $i) { bucket { id } } }`, {
    i: { billingAccountId: l.account, lineId: l.lineId, allowanceId: 'data', unit: 'MB', quantity: mb, validFrom: '2020-01-01T00:00:00Z', validTo: '2100-01-01T00:00:00Z', grantKey: `${l.account}-data-topup` },
  });
}

describe('a re-rate moving usage between an allowance and money', () => {
  it('into the allowance: the ledger draws the units the credit is for', async () => {
    const l = await line('ma', '+4915100008201');
    await use(l, [{ eventId: 'us', roaming: true }]);
    expect(await sides(l)).toEqual(same('0', '49'));
    expect((await rerate(l, 'plv_into')).map((a) => [a.previousPrice, a.newPrice])).toEqual([['49', '0']]);
    // Before the fix: the ledger's bucket still held the 100 MB (bucketUsed 0) while usage counted them used.
    expect(await sides(l)).toEqual(same('100', '0'));
    // The same catalog again: nothing to move.
    expect(await rerate(l, 'plv_into')).toEqual([]);
    expect(await sides(l)).toEqual(same('100', '0'));
    await ledgerHolds(l);
  });

  it('out of the allowance: the ledger gives the units back that the overage is now charged for', async () => {
    const l = await line('mb', '+4915100008202');
    await use(l, [{ eventId: 'home', roaming: false }]);
    expect(await sides(l)).toEqual(same('100', '0'));
    expect((await rerate(l, 'plv_out')).map((a) => [a.previousPrice, a.newPrice])).toEqual([['0', '1']]);
    // Before the fix: the overage was charged while the ledger's bucket still counted the 100 MB used.
    expect(await sides(l)).toEqual(same('0', '1'));
    expect(await rerate(l, 'plv_out')).toEqual([]);
    // And back to the catalog as it was: the units are drawn again, the overage credited.
    expect((await rerate(l, 'plv_postpaid')).map((a) => [a.previousPrice, a.newPrice])).toEqual([['1', '0']]);
    expect(await sides(l)).toEqual(same('100', '0'));
    await ledgerHolds(l);
  });

  it('a bucket that no longer holds the units: it gives what it has, the rest stays money at the corrected price, and usage counts what the ledger drew', async () => {
    // The ledger's bucket holds 30 MB where the replay counts 20 GB (e.g. the period's usage after the month re-rated).
    const l = await line('mc', '+4915100008203', '30');
    await use(l, [{ eventId: 'us', roaming: true }]);
    expect(await sides(l)).toEqual(same('0', '49'));
    await rerate(l, 'plv_into');
    // 30 MB drawn, 70 MB at 0.49 = 34.30.
    expect(await sides(l)).toEqual(same('30', '34.3'));
    const [record] = (await db.query(`select units_from_allowances, amount_charged from ${CHARGED_RECORDS} where line_id = $1`, [l.lineId])).rows;
    expect([dec(record.units_from_allowances).toString(), dec(record.amount_charged).toString()]).toEqual(['30', '34.3']);
    await ledgerHolds(l);
  });

  it('a record left short is settled: the same catalog again adjusts nothing, even once the bucket holds units again; a further correction re-prices the shortfall', async () => {
    const l = await line('me', '+4915100008205', '30');
    await use(l, [{ eventId: 'us', roaming: true }]);
    await rerate(l, 'plv_into');
    // 30 MB drawn, 70 MB at 0.49 = 34.30.
    expect(await sides(l)).toEqual(same('30', '34.3'));
    // Units available again (a second bucket): a re-rate does not draw them for a record the ledger settled.
    await topUp(l, '100');
    const before = await traces(l);
    // Before the fix: a new adjustment asking for the 70 MB again (with the top-up: drawn, and the 34.30 credited).
    expect(await rerate(l, 'plv_into')).toEqual([]);
    expect(await traces(l)).toEqual(before);
    expect(await sides(l)).toEqual(same('30', '34.3'));
    // Corrected again, dearer: the 70 MB the bucket did not hold are re-priced (0.59: 41.30), money only.
    expect((await rerate(l, 'plv_into_dearer')).map((a) => [a.previousPrice, a.newPrice])).toEqual([['34.3', '41.3']]);
    const [last] = (await db.query(`select charge::jsonb as charge from rerate_adjustment where billing_account_id = $1 order by created_at desc, rating_version desc limit 1`, [l.account])).rows;
    expect(last.charge.allowanceMoves).toBeUndefined();
    expect(await sides(l)).toEqual(same('30', '41.3'));
    expect(await rerate(l, 'plv_into_dearer')).toEqual([]);
    // Back out of the bundle: the 30 MB drawn are given back, the 100 MB charged at 0.49.
    expect((await rerate(l, 'plv_postpaid')).map((a) => [a.previousPrice, a.newPrice])).toEqual([['41.3', '49']]);
    expect(await sides(l)).toEqual(same('0', '49'));
    expect(await rerate(l, 'plv_postpaid')).toEqual([]);
    await ledgerHolds(l);
  });

  it('a record left short draws the units another record of the same re-rate gives back to its bucket', async () => {
    // A 100 MB bucket: the domestic event (rated first) drew it all; the roaming one, moved into the bundle, found it empty.
    const l = await line('mf', '+4915100008206', '100');
    await use(l, [{ eventId: 'home', roaming: false }, { eventId: 'us', roaming: true }]);
    await rerate(l, 'plv_into');
    expect(await sides(l)).toEqual(same('100', '49'));
    // Left short, and nothing frees units: the same catalog adjusts nothing (before the fix: 100 MB asked again).
    expect(await rerate(l, 'plv_into')).toEqual([]);
    // The bundle moves to world roaming: the domestic record gives its 100 MB back (now 1 EUR), the short one draws them.
    expect((await rerate(l, 'plv_swap')).map((a) => [a.previousPrice, a.newPrice]).sort()).toEqual([['0', '1'], ['49', '0']]);
    expect(await sides(l)).toEqual(same('100', '1'));
    expect(await rerate(l, 'plv_swap')).toEqual([]);
    await ledgerHolds(l);
  });

  it('the bundle moves from one record to another in one re-rate: the units given back come first, so the draw finds them', async () => {
    // A 100 MB bucket: the roaming event (rated first) was money, the domestic one drew the whole bucket.
    const l = await line('md', '+4915100008204', '100');
    await use(l, [{ eventId: 'us', roaming: true }, { eventId: 'home', roaming: false }]);
    expect(await sides(l)).toEqual(same('100', '49'));
    // The replay draws for the roaming record first; sent in that order, its draw would find the bucket empty.
    expect((await rerate(l, 'plv_swap')).map((a) => [a.previousPrice, a.newPrice]).sort()).toEqual([['0', '1'], ['49', '0']]);
    expect(await sides(l)).toEqual(same('100', '1'));
    await ledgerHolds(l);
  });
});
