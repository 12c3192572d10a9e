/**
 * Re-rating a month whose allowance period began the month before (a line renewing on the 15th),
 * after a catalog correction, against the real wallets service (child process, own schema) on a
 * private nats-server, as rerate-allowance-moves.test.ts runs it.
 *
 * The re-rate replays the allowance period's records from before the month to rebuild the counters
 * (they are not adjusted: their adjustments belong to their own month). Before the fix it replayed
 * them re-priced by the named correction, as if their month had been corrected too, and by the
 * catalog's draw rather than the ledger's: the month's records were adjusted against a bundle the
 * ledger never had. A 200 MB bundle, 100 MB of world roaming on 20 February (49 EUR, not from the
 * bundle), 150 MB at home on 2 March (from the bundle); the correction takes world roaming from the
 * bundle. Re-rating March alone gave 50 MB of the March usage back to the bucket and charged them
 * as overage (0.50): the customer paid 49.50 with 100 MB of the bundle unused. Re-rating February
 * first (its 100 MB find 50 in the bucket: 24.50 for the rest), then March, gave 50 MB back and
 * charged 0.50 again: 25 owed with 50 MB unused.
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

const RERATE = `mutation($i: RerateInput!) { rerate(input: $i) { recordsRerated adjustments { chargeId previousPrice newPrice } } }`;

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

async function rerate(l: Line, period: string): Promise<[string, string][]> {
  const res = await svc.request(RERATE, { i: { billingAccountId: l.account, period, planVersionId: 'plv_small_into' } });
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
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

describe('re-rating a month whose allowance period began the month before, after a correction', () => {
  it('March alone: February counts as the ledger charged it, so March keeps its bundle (no overage while the bundle holds units)', async () => {
    const l = await line('pa', '+4915100008301');
    await use(l);
    expect(await sides(l)).toEqual(same('150', '49'));
    // Before the fix: [['0', '0.5']] - 50 MB given back to the bucket and charged as overage, February's 49 EUR still owed.
    expect(await rerate(l, '2026-03')).toEqual([]);
    expect(await sides(l)).toEqual(same('150', '49'));
  });

  it('February, then March: March is re-rated against the bundle as February\'s correction left it', async () => {
    const l = await line('pb', '+4915100008302');
    await use(l);
    // February's roaming now draws on the bundle (the re-rating's figure: 0), but the bucket has 50 MB left in it
    // (March used 150): the ledger draws those, the other 50 MB stay money at 0.49.
    expect(await rerate(l, '2026-02')).toEqual([['49', '0']]);
    expect(await sides(l)).toEqual(same('200', '24.5'));
    // Before the fix: [['0', '0.5']] - the replay counted February's 100 MB as drawn where the ledger drew 50,
    // so 50 MB of March went back to the bucket (unused) and were charged as overage: 25 owed.
    expect(await rerate(l, '2026-03')).toEqual([]);
    expect(await sides(l)).toEqual(same('200', '24.5'));
    // And again: nothing moves.
    expect(await rerate(l, '2026-03')).toEqual([]);
    expect(await rerate(l, '2026-02')).toEqual([]);
    expect(await sides(l)).toEqual(same('200', '24.5'));
  });

  it('March, then February: the same figures as in calendar order (a re-rate of March does not anticipate February\'s)', async () => {
    const l = await line('pc', '+4915100008303');
    await use(l);
    expect(await rerate(l, '2026-03')).toEqual([]);
    expect(await rerate(l, '2026-02')).toEqual([['49', '0']]);
    // Before the fix March gave 50 MB back and charged 0.50, counting on February's correction to draw them: the
    // figure of the whole allowance period re-rated at once, but 49.50 owed with 100 MB unused if February was not
    // re-rated, and 25 with 50 MB unused when it was re-rated first. A period spanning two months re-rated as one: not done.
    expect(await sides(l)).toEqual(same('200', '24.5'));
    expect(await rerate(l, '2026-03')).toEqual([]);
    expect(await sides(l)).toEqual(same('200', '24.5'));
  });
});
