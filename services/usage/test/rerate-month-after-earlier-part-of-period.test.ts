/**
 * Re-rating a month whose allowance period began the month before (a line renewing on the 15th),
 * after a catalog correction, against the real wallets service (child process, own schema) on a
 * private nats-server, as rerate-allowance-moves.test.ts runs it.
 *
 * A 200 MB bundle, 100 MB of world roaming on 20 February (49 EUR, not from the bundle), 150 MB at
 * home on 2 March (from the bundle); the correction takes world roaming from the bundle. Under the
 * corrected catalog the allowance period (15 February - 15 March) costs 0.50: February's 100 MB from
 * the bundle, then March's 150 MB find 100 MB in it and 50 MB are overage at 0.01.
 *
 * A re-rate covers the whole allowance periods the month overlaps, so every order of month re-rates
 * reaches that figure. Before, a re-rate adjusted the month's records only (the allowance period's
 * records before the month replayed as the ledger held them, those after the month not at all): the
 * first review (859a9c5) made re-rating March alone adjust nothing (49 owed, 100 MB of the bundle
 * unused) and February then March, or March then February, both end at 24.50 (February's 100 MB find
 * 50 in the bucket that March's records had taken first).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { dec } from '@ledgerline/contracts';
import { ManualClock, startPrivateNats, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { CHARGED_RECORDS, RECORD_USAGE, filePlanSource, planDocument, setLine, sqlOf, startWalletsProcess, waitFor, type WalletsProcess } from './support';

let nats: Awaited<ReturnType<typeof startPrivateNats>>;
let wallets: WalletsProcess;
let svc: TestService;
let db: pg.Client;
const clock = new ManualClock(new Date('2026-03-20T12:00:00Z'));
const run = Math.random().toString(36).slice(2, 8);

type Rule = { name: string; event: { params: Record<string, unknown> } };
type Plan = { rules: Rule[]; allowances: { id: string; quantity?: string }[] };
/** The postpaid plan with a 200 MB data bundle (and its rules edited: a corrected version of it). */
function small(edit: (rules: Record<string, Rule['event']['params']>) => void = () => undefined): Record<string, unknown> {
  const document = planDocument('postpaid-20gb.json') as Plan;
  document.allowances.find((a) => a.id === 'data')!.quantity = '200';
  edit(Object.fromEntries(document.rules.map((r) => [r.name, r.event.params])));
  return document as unknown as Record<string, unknown>;
}
// The correction: world-roaming data comes out of the data bundle first.
const SMALL = small();
const SMALL_INTO = small((r) => (r['roaming-world-data']!.allowanceId = 'data'));

const RERATE = `mutation($i: RerateInput!) { rerate(input: $i) { from to recordsRerated adjustments { chargeId previousPrice newPrice } } }`;

beforeAll(async () => {
  nats = await startPrivateNats();
  wallets = await startWalletsProcess(nats.url);
  svc = await startServiceForTest(
    createUsageService({ planSource: filePlanSource({ plv_small: SMALL, plv_small_into: SMALL_INTO }), consumers: ['charges'], deliverNew: true }),
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

interface Line { lineId: string; account: string; walletId: string }

/** A POSTPAID line on the 200 MB plan since 15 February (allowance periods from the 15th), its ledger bucket 200 MB. */
async function line(tag: string, msisdn: string): Promise<Line> {
  const lineId = `lin_${tag}${run}`;
  const account = `acc_${tag}${run}`;
  const opened = await wallets.gql<{ openWallet: { wallet: { id: string } } }>(`mutation($i: OpenWalletInput!) { openWallet(input: $i) { wallet { id } } }`, { i: { billingAccountId: account, currency: 'EUR', paymentMode: 'POSTPAID', creditLimit: '150' } });
  await wallets.gql(`mutation($i: GrantBucketInput!) { grantBucket(input: $i) { bucket { id } } }`, {
    i: { billingAccountId: account, lineId, allowanceId: 'data', unit: 'MB', quantity: '200', validFrom: '2020-01-01T00:00:00Z', validTo: '2100-01-01T00:00:00Z', grantKey: `${account}-data` },
  });
  await setLine(svc, { lineId, msisdn, account, planVersionId: 'plv_small', paymentMode: 'POSTPAID', startsAt: '2026-02-15T10:00:00Z', at: '2026-02-15T10:00:00Z' });
  return { lineId, account, walletId: opened.openWallet.wallet.id };
}

/** 100 MB of world roaming on 20 February, then 150 MB at home on 2 March (one batch each, in that order), settled by wallets. */
async function use(l: Line): Promise<void> {
  for (const r of [
    { eventId: 'feb-us', quantity: '100', roamingCountry: 'US', occurredAt: '2026-02-20T10:00:00Z' },
    { eventId: 'mar-home', quantity: '150', occurredAt: '2026-03-02T10:00:00Z' },
  ]) {
    const res = await svc.request(RECORD_USAGE, { input: { source: l.lineId, records: [{ lineId: l.lineId, usageType: 'DATA', ...r }] } });
    expect(res.data.recordUsage.rated).toBe(1);
    clock.advance(1000);
  }
  await waitFor(async () => (await db.query(`select count(*)::int as n from ${CHARGED_RECORDS} where line_id = $1 and charge_status = 'PENDING'`, [l.lineId])).rows[0].n === 0, 30_000, 'the charges settled');
}

// The range each month's re-rate covers: the allowance periods it overlaps (past the month's end, to now at most).
const RANGE: Record<string, { from: string; to: string }> = {
  // The line started on 15 February: its first period, 15 February - 15 March, is the only one in February.
  '2026-02': { from: '2026-02-01T00:00:00.000Z', to: '2026-03-15T10:00:00.000Z' },
  // 15 February - 15 March and 15 March - 15 April; March has not ended (the clock is on 20 March): to its end.
  '2026-03': { from: '2026-02-15T10:00:00.000Z', to: '2026-04-01T00:00:00.000Z' },
};

async function rerate(l: Line, period: string): Promise<[string, string][]> {
  const res = await svc.request(RERATE, { i: { billingAccountId: l.account, period, planVersionId: 'plv_small_into' } });
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  const range = RANGE[period]!;
  expect({ from: res.data.rerate.from, to: res.data.rerate.to }).toEqual(range);
  await waitFor(async () => (await db.query(`select count(*)::int as n from rerate_adjustment where billing_account_id = $1 and status = 'PENDING'`, [l.account])).rows[0].n === 0, 30_000, 'the adjustments settled');
  return (res.data.rerate.adjustments as { previousPrice: string; newPrice: string }[]).map((a) => [dec(a.previousPrice).toString(), dec(a.newPrice).toString()]);
}

/** The ledger's bucket (units used) and money owed, and usage's: its live counters of the allowance period and what its records hold. */
async function sides(l: Line) {
  const [bucket] = (await db.query<{ initial: string; remaining: string }>(`select sum(b.initial_quantity) as initial, sum(a.balance) as remaining from ${q('bucket')} b join ${q('ledger_account')} a on a.id = b.id where b.billing_account_id = $1`, [l.account])).rows;
  const usage = await svc.request(`{ _entities(representations: [{ __typename: "Line", id: "${l.lineId}" }]) { ... on Line { usage(period: "2026-03-02T10:00:00Z") { allowances { allowanceId used } } } } }`);
  expect(usage.errors).toBeUndefined();
  const data = usage.data._entities[0].usage.allowances.find((a: { allowanceId: string }) => a.allowanceId === 'data');
  const held = (await db.query<{ total: string | null }>(`select sum(amount_charged) as total from ${CHARGED_RECORDS} where line_id = $1`, [l.lineId])).rows[0].total;
  return {
    ledger: { bucketUsed: dec(bucket!.initial).minus(bucket!.remaining).toString(), owes: dec(await wallets.unbilledOf(l.walletId)).toString() },
    usage: { bucketUsed: dec(data.used).toString(), owes: dec(held ?? '0').toString() },
  };
}

const same = (bucketUsed: string, owes: string) => ({ ledger: { bucketUsed, owes }, usage: { bucketUsed, owes } });

// The corrected catalog's figure for the allowance period: February's roaming from the bundle (49 -> 0), March's
// 150 MB: 100 from the bundle, 50 overage at 0.01 (0 -> 0.50).
const WHOLE_PERIOD: [string, string][] = [['49', '0'], ['0', '0.5']];

describe('re-rating a month whose allowance period began the month before, after a correction', () => {
  it('March alone: the whole allowance period is re-rated, February\'s roaming included (0.50, the bundle used up)', async () => {
    const l = await line('pa', '+4915100008301');
    await use(l);
    expect(await sides(l)).toEqual(same('150', '49'));
    // Before (month-only scope): [] - February's 49 EUR stayed, 100 MB of the bundle unused.
    expect(await rerate(l, '2026-03')).toEqual(WHOLE_PERIOD);
    expect(await sides(l)).toEqual(same('200', '0.5'));
    // Again, and the neighbouring month with the same catalog: nothing moves.
    expect(await rerate(l, '2026-03')).toEqual([]);
    expect(await rerate(l, '2026-02')).toEqual([]);
    expect(await sides(l)).toEqual(same('200', '0.5'));
  });

  it('February, then March: February\'s re-rate adjusts the allowance period\'s March records too (the month\'s end)', async () => {
    const l = await line('pb', '+4915100008302');
    await use(l);
    // Before: [['49', '0']] - February's 100 MB found 50 in the bucket (March's records had taken it first): 24.50 owed.
    expect(await rerate(l, '2026-02')).toEqual(WHOLE_PERIOD);
    expect(await sides(l)).toEqual(same('200', '0.5'));
    expect(await rerate(l, '2026-03')).toEqual([]);
    expect(await sides(l)).toEqual(same('200', '0.5'));
    // And again: nothing moves.
    expect(await rerate(l, '2026-03')).toEqual([]);
    expect(await rerate(l, '2026-02')).toEqual([]);
    expect(await sides(l)).toEqual(same('200', '0.5'));
  });

  it('March, then February: the same figure (the month\'s start)', async () => {
    const l = await line('pc', '+4915100008303');
    await use(l);
    expect(await rerate(l, '2026-03')).toEqual(WHOLE_PERIOD);
    // Before: [] then [['49', '0']]: 24.50 owed.
    expect(await rerate(l, '2026-02')).toEqual([]);
    expect(await sides(l)).toEqual(same('200', '0.5'));
    expect(await rerate(l, '2026-03')).toEqual([]);
    expect(await sides(l)).toEqual(same('200', '0.5'));
  });
});
