/**
 * A re-rate whose range reaches the allowance period running now replays the records usage accepted
 * ahead of now (a network element's clock a little ahead: up to MAX_CLOCK_SKEW_MS, 5 minutes, after
 * usage's clock), against the real wallets service (child process, own schema) on a private
 * nats-server, as rerate-month-after-earlier-part-of-period.test.ts runs it.
 *
 * A 200 MB bundle, allowance periods from the 15th; 100 MB of world roaming (49 EUR, not from the
 * bundle), then 150 MB at home dated two minutes after now (from the bundle); the correction takes
 * world roaming from the bundle. The corrected catalog's figure for the allowance period is 0.50: the
 * roaming's 100 MB from the bundle, then the 150 MB find 100 MB in it and 50 MB are overage at 0.01.
 *
 * Before, the range was cut at now: the record two minutes ahead was left out of the replay. The
 * roaming record alone drew 100 MB of a bucket the ledger had already given 150 of to the record left
 * out: the ledger had 50 MB for it and charged the other 50 at the roaming price (24.50 owed instead of
 * 0.50), and usage's record of the 150 MB was never re-rated.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { dec } from '@ledgerline/contracts';
import { ManualClock, startPrivateNats, startServiceForTest, type TestService } from '@ledgerline/platform';
import { MAX_CLOCK_SKEW_MS } from '../src/domain/usage-input';
import { createUsageService } from '../src/service';
import { CHARGED_RECORDS, RECORD_USAGE, filePlanSource, planDocument, setLine, sqlOf, startWalletsProcess, waitFor, type WalletsProcess } from './support';

let nats: Awaited<ReturnType<typeof startPrivateNats>>;
let wallets: WalletsProcess;
let svc: TestService;
let db: pg.Client;
const clock = new ManualClock(new Date('2026-03-02T10:00:00Z'));
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
const SMALL = small();
// The correction: world-roaming data comes out of the data bundle first.
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

/** 100 MB of world roaming at `roamingAt`, then 150 MB at home two minutes after now (accepted: within the clock skew); settled by wallets. */
async function use(l: Line, roamingAt: string): Promise<string> {
  const ahead = new Date(clock.now().getTime() + 2 * 60_000).toISOString();
  for (const r of [
    { eventId: 'us', quantity: '100', roamingCountry: 'US', occurredAt: roamingAt },
    { eventId: 'home-ahead', quantity: '150', occurredAt: ahead },
  ]) {
    const res = await svc.request(RECORD_USAGE, { input: { source: l.lineId, records: [{ lineId: l.lineId, usageType: 'DATA', ...r }] } });
    expect(res.errors).toBeUndefined();
    expect(res.data.recordUsage.rated).toBe(1);
  }
  await waitFor(async () => (await db.query(`select count(*)::int as n from ${CHARGED_RECORDS} where line_id = $1 and charge_status = 'PENDING'`, [l.lineId])).rows[0].n === 0, 30_000, 'the charges settled');
  return ahead;
}

async function rerate(l: Line, period: string): Promise<{ from: string; to: string; adjustments: [string, string][] }> {
  const res = await svc.request(RERATE, { i: { billingAccountId: l.account, period, planVersionId: 'plv_small_into' } });
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  await waitFor(async () => (await db.query(`select count(*)::int as n from rerate_adjustment where billing_account_id = $1 and status = 'PENDING'`, [l.account])).rows[0].n === 0, 30_000, 'the adjustments settled');
  const adjustments = (res.data.rerate.adjustments as { previousPrice: string; newPrice: string }[]).map((a) => [dec(a.previousPrice).toString(), dec(a.newPrice).toString()] as [string, string]);
  return { from: res.data.rerate.from, to: res.data.rerate.to, adjustments };
}

/** The ledger's bucket (units used) and money owed, and usage's: its live counters of the allowance period at `at` and what its records hold. */
async function sides(l: Line, at: string) {
  const [bucket] = (await db.query<{ initial: string; remaining: string }>(`select sum(b.initial_quantity) as initial, sum(a.balance) as remaining from ${q('bucket')} b join ${q('ledger_account')} a on a.id = b.id where b.billing_account_id = $1`, [l.account])).rows;
  const usage = await svc.request(`{ _entities(representations: [{ __typename: "Line", id: "${l.lineId}" }]) { ... on Line { usage(period: "${at}") { allowances { allowanceId used } } } } }`);
  expect(usage.errors).toBeUndefined();
  const data = usage.data._entities[0].usage.allowances.find((a: { allowanceId: string }) => a.allowanceId === 'data');
  const held = (await db.query<{ total: string | null }>(`select sum(amount_charged) as total from ${CHARGED_RECORDS} where line_id = $1`, [l.lineId])).rows[0].total;
  return {
    ledger: { bucketUsed: dec(bucket!.initial).minus(bucket!.remaining).toString(), owes: dec(await wallets.unbilledOf(l.walletId)).toString() },
    usage: { bucketUsed: dec(data.used).toString(), owes: dec(held ?? '0').toString() },
  };
}

const same = (bucketUsed: string, owes: string) => ({ ledger: { bucketUsed, owes }, usage: { bucketUsed, owes } });

// The corrected catalog's figure for the allowance period: the roaming from the bundle (49 -> 0), the 150 MB ahead of now:
// 100 from the bundle, 50 overage at 0.01 (0 -> 0.50).
const WHOLE_PERIOD: [string, string][] = [['49', '0'], ['0', '0.5']];

const statusOf = async (l: Line, eventId: string) => (await db.query<{ status: string }>('select status from usage_record where line_id = $1 and event_id = $2', [l.lineId, eventId])).rows[0]?.status;

describe('a re-rate reaching the allowance period running now replays the records dated ahead of now (clock skew)', () => {
  it('the month before, whose allowance period runs now: the record two minutes ahead is re-rated (0.50, not 24.50)', async () => {
    clock.set('2026-03-02T10:00:00Z');
    const l = await line('ah', '+4915100008401');
    const ahead = await use(l, '2026-02-20T10:00:00Z');
    expect(await sides(l, ahead)).toEqual(same('150', '49'));
    const february = await rerate(l, '2026-02');
    // Before: to = now, [['49', '0']] only - the ledger's bucket gave the roaming 50 MB, 24.50 owed; the 150 MB record never re-rated.
    expect(february.adjustments).toEqual(WHOLE_PERIOD);
    expect(await statusOf(l, 'home-ahead')).toBe('RERATED');
    expect(await sides(l, ahead)).toEqual(same('200', '0.5'));
    // The allowance period (15 February - 15 March) is running: the range ends at what usage can have accepted by now.
    expect({ from: february.from, to: february.to }).toEqual({ from: '2026-02-01T00:00:00.000Z', to: new Date(clock.now().getTime() + MAX_CLOCK_SKEW_MS).toISOString() });
    // Again, and the month of the record ahead, with the same catalog: nothing moves (no second charge).
    expect((await rerate(l, '2026-02')).adjustments).toEqual([]);
    expect((await rerate(l, '2026-03')).adjustments).toEqual([]);
    expect(await sides(l, ahead)).toEqual(same('200', '0.5'));
  });

  it('the current month in its last minutes: the record dated just past the month\'s end, in the same allowance period, is re-rated', async () => {
    clock.set('2026-03-31T23:59:00Z');
    const l = await line('am', '+4915100008402');
    const ahead = await use(l, '2026-03-20T10:00:00Z');
    expect(ahead).toBe('2026-04-01T00:01:00.000Z');
    expect(await sides(l, ahead)).toEqual(same('150', '49'));
    const march = await rerate(l, '2026-03');
    // Before: to = the month's end, the record of 1 April left out (24.50 owed).
    expect(march.adjustments).toEqual(WHOLE_PERIOD);
    expect(await sides(l, ahead)).toEqual(same('200', '0.5'));
    // 15 March - 15 April runs past the month's end: the range ends at now + the clock skew (past the month's end).
    expect({ from: march.from, to: march.to }).toEqual({ from: '2026-02-15T10:00:00.000Z', to: '2026-04-01T00:04:00.000Z' });
    expect((await rerate(l, '2026-04')).adjustments).toEqual([]);
    expect((await rerate(l, '2026-03')).adjustments).toEqual([]);
    expect(await sides(l, ahead)).toEqual(same('200', '0.5'));
  });
});
