/**
 * Re-rating one month after a catalog correction where a shared pool's period, or an add-on pass's,
 * straddles the month's boundary while the line's own allowance periods do not (they run on the
 * calendar month), against the real wallets service (child process, own schema) on a private
 * nats-server, as rerate-month-after-earlier-part-of-period.test.ts runs it.
 *
 * A record counts in several allowance periods at once (its line's, its plan's shared pool's, the
 * add-on purchases in force), so the records a correction touches are chained through those
 * periods across the month's boundary. A month's re-rate adjusts every record connected to the
 * month through them (see the rule in rerate-period.ts / STATUS.md), so that re-rating one month
 * applies the correction to all of them at once: the adjustments are what the corrected catalog
 * charges minus what was charged, re-rating the neighbouring month afterwards adjusts nothing, and
 * neither does re-rating the same month again. Before, a record was adjusted only when all its
 * allowance periods overlapped the month: the line's March record of a pool or pass period begun in
 * February was left to March's re-rate, and the line's February records to February's, each
 * adjusted against the other side as the ledger held it (half applied after one month, and by that rule
 * still wrong after March then February: March's record was adjusted against February's uncorrected draws).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { dec } from '@ledgerline/contracts';
import { ManualClock, startPrivateNats, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { CHARGED_RECORDS, RECORD_USAGE, UPSERT_LINE_CONTEXT, filePlanSource, planDocument, sqlOf, startWalletsProcess, waitFor, type WalletsProcess } from './support';

let nats: Awaited<ReturnType<typeof startPrivateNats>>;
let wallets: WalletsProcess;
let svc: TestService;
let db: pg.Client;
const clock = new ManualClock(new Date('2026-03-20T12:00:00Z'));
const run = Math.random().toString(36).slice(2, 8);

type Rule = { name: string; event: { params: Record<string, unknown> } };
type Plan = { rules: Rule[]; allowances: { id: string; quantity?: string }[] };
/** A catalog plan with its rules edited (a corrected version of it), and the family pool cut to 200 MB. */
function plan(file: string, edit: (rules: Record<string, Rule['event']['params']>) => void = () => undefined): Record<string, unknown> {
  const document = planDocument(file) as Plan;
  const pool = document.allowances.find((a) => a.id === 'family-data');
  if (pool) pool.quantity = '200';
  edit(Object.fromEntries(document.rules.map((r) => [r.name, r.event.params])));
  return document as unknown as Record<string, unknown>;
}
const PLANS = {
  // Family Share with a 200 MB pool; the correction takes world-roaming data from the pool.
  plv_fam: plan('family-share-50gb.json'),
  plv_fam_into: plan('family-share-50gb.json', (r) => (r['roaming-world-data']!.allowanceId = 'family-data')),
  // Postpaid 20 GB (World roaming pass compatible); the correction takes WORLD2 roaming data from the pass too.
  plv_pp: plan('postpaid-20gb.json'),
  plv_pp_into: plan('postpaid-20gb.json', (r) => (r['roaming-world-data']!.allowanceId = 'roam-pass-data')),
};

const RERATE = `mutation($i: RerateInput!) { rerate(input: $i) { from to recordsRerated adjustments { usageRecordId previousPrice newPrice } } }`;

beforeAll(async () => {
  nats = await startPrivateNats();
  wallets = await startWalletsProcess(nats.url);
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(PLANS), consumers: ['charges'], deliverNew: true }), { env: { NATS_URL: nats.url }, clock });
  db = await sqlOf(svc);
}, 120_000);

afterAll(async () => {
  await db?.end();
  await svc?.close();
  await wallets?.stop();
  await nats?.stop();
});

const q = (t: string) => `"${wallets.schema}".${t}`;

interface AddOn { code: string; startsAt: string; endsAt: string }
async function upsertLine(lineId: string, msisdn: string, account: string, planVersionId: string, startsAt: string, addOns: AddOn[] = []): Promise<void> {
  const res = await svc.request(UPSERT_LINE_CONTEXT, {
    input: {
      lineId, msisdn, billingAccountId: account, status: 'ACTIVE', at: startsAt,
      subscription: { subscriptionId: `sub_${lineId}`, paymentMode: 'POSTPAID', currency: 'EUR', planCode: planVersionId, planVersionId, startsAt, addOns },
    },
  });
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
}

async function openWallet(account: string): Promise<string> {
  const opened = await wallets.gql<{ openWallet: { wallet: { id: string } } }>(`mutation($i: OpenWalletInput!) { openWallet(input: $i) { wallet { id } } }`, { i: { billingAccountId: account, currency: 'EUR', paymentMode: 'POSTPAID', creditLimit: '300' } });
  return opened.openWallet.wallet.id;
}

async function grant(account: string, lineId: string | null, allowanceId: string, quantity: string, validFrom: string, validTo: string): Promise<void> {
  await wallets.gql(`mutation($i: GrantBucketInput!) { grantBucket(input: $i) { bucket { id } } }`, {
    i: { billingAccountId: account, ...(lineId ? { lineId } : {}), allowanceId, unit: 'MB', quantity, validFrom, validTo, grantKey: `${account}-${allowanceId}-${validFrom}` },
  });
}

type Usage = { eventId: string; lineId: string; quantity: string; occurredAt: string; roamingCountry?: string };
/** One batch per record, in the order given, settled by wallets. */
async function use(account: string, records: Usage[]): Promise<void> {
  for (const r of records) {
    const res = await svc.request(RECORD_USAGE, { input: { source: `xm-${account}`, records: [{ usageType: 'DATA', ...r }] } });
    expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
    expect(res.data.recordUsage.rated, JSON.stringify(res.data.recordUsage.results)).toBe(1);
    clock.advance(1000);
  }
  await waitFor(async () => (await db.query(`select count(*)::int as n from ${CHARGED_RECORDS} where billing_account_id = $1 and charge_status = 'PENDING'`, [account])).rows[0].n === 0, 30_000, 'the charges settled');
}

/** Re-rates `period` by `planVersionId`, waits for wallets to settle the adjustments: the range and each adjustment by event id. */
async function rerate(account: string, period: string, planVersionId: string) {
  const res = await svc.request(RERATE, { i: { billingAccountId: account, period, planVersionId } });
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  await waitFor(async () => (await db.query(`select count(*)::int as n from rerate_adjustment where billing_account_id = $1 and status = 'PENDING'`, [account])).rows[0].n === 0, 30_000, 'the adjustments settled');
  const events = new Map((await db.query<{ id: string; event_id: string }>('select id, event_id from usage_record where billing_account_id = $1', [account])).rows.map((r) => [r.id, r.event_id]));
  const adjustments = Object.fromEntries((res.data.rerate.adjustments as { usageRecordId: string; previousPrice: string; newPrice: string }[]).map((a) => [events.get(a.usageRecordId)!, [dec(a.previousPrice).toString(), dec(a.newPrice).toString()]]));
  return { from: res.data.rerate.from as string, to: res.data.rerate.to as string, adjustments };
}

/** What each record holds in the ledger (money, units drawn), what the account owes in wallets, and the units used of `allowanceId`'s buckets there. */
async function ledger(account: string, walletId: string, allowanceId: string) {
  const records = Object.fromEntries((await db.query<{ event_id: string; amount_charged: string; units_from_allowances: string }>(
    `select event_id, amount_charged::text, units_from_allowances::text from ${CHARGED_RECORDS} where billing_account_id = $1`, [account],
  )).rows.map((r) => [r.event_id, [dec(r.amount_charged).toString(), dec(r.units_from_allowances).toString()]]));
  const [bucket] = (await db.query<{ initial: string; remaining: string }>(`select sum(b.initial_quantity) as initial, sum(a.balance) as remaining from ${q('bucket')} b join ${q('ledger_account')} a on a.id = b.id where b.billing_account_id = $1 and b.allowance_id = $2`, [account, allowanceId])).rows;
  return { records, owes: dec(await wallets.unbilledOf(walletId)).toString(), bucketUsed: dec(bucket!.initial).minus(bucket!.remaining).toString() };
}

describe('re-rating one month of a shared pool whose period straddles the month\'s start (the lines\' periods do not)', () => {
  // Line A opens the pool on 15 January (pool periods from the 15th: 15 February - 15 March straddles 1 March);
  // line B joins on 1 February (its own periods: calendar months). 200 MB pool.
  // A: 20 MB at home on 16 February (pool); B: 100 MB roaming in the US on 20 February (49 EUR, not from the pool),
  // 150 MB at home on 5 March (pool: 170 of 200 used). The correction takes world roaming from the pool: the pool
  // period then holds A's 20, B's 100 and 80 of B's 150 MB; 70 MB overage at 0.01 (0.70).
  async function family(tag: string, n: number) {
    const account = `acc_xp${tag}${run}`;
    const a = `lin_xpa${tag}${run}`;
    const b = `lin_xpb${tag}${run}`;
    const walletId = await openWallet(account);
    await grant(account, null, 'family-data', '200', '2026-02-15T00:00:00Z', '2026-03-15T00:00:00Z');
    await upsertLine(a, `+49151000084${n}1`, account, 'plv_fam', '2026-01-15T00:00:00Z');
    await upsertLine(b, `+49151000084${n}2`, account, 'plv_fam', '2026-02-01T00:00:00Z');
    await use(account, [
      { eventId: 'a-feb-home', lineId: a, quantity: '20', occurredAt: '2026-02-16T10:00:00Z' },
      { eventId: 'b-feb-us', lineId: b, quantity: '100', roamingCountry: 'US', occurredAt: '2026-02-20T10:00:00Z' },
      { eventId: 'b-mar-home', lineId: b, quantity: '150', occurredAt: '2026-03-05T10:00:00Z' },
    ]);
    const before = await ledger(account, walletId, 'family-data');
    expect(before).toEqual({ records: { 'a-feb-home': ['0', '20'], 'b-feb-us': ['49', '0'], 'b-mar-home': ['0', '150'] }, owes: '49', bucketUsed: '170' });
    return { account, walletId };
  }
  // What the corrected catalog charges for the pool period, record by record.
  const CORRECTED = { records: { 'a-feb-home': ['0', '20'], 'b-feb-us': ['0', '100'], 'b-mar-home': ['0.7', '80'] }, owes: '0.7', bucketUsed: '200' };
  const ADJUSTED = { 'b-feb-us': ['49', '0'], 'b-mar-home': ['0', '0.7'] };

  it('March first: the pool period\'s February records are adjusted with March\'s; February afterwards and March again adjust nothing', async () => {
    const { account, walletId } = await family('m', 1);
    const march = await rerate(account, '2026-03', 'plv_fam_into');
    // Before: {} - B's February record (its line period February only) was left to February, March's adjusted against it as the ledger held it.
    expect(march.adjustments).toEqual(ADJUSTED);
    // From the start of B's February period (B's February record counts in it and in the pool's), to March's end.
    expect({ from: march.from, to: march.to }).toEqual({ from: '2026-02-01T00:00:00.000Z', to: '2026-04-01T00:00:00.000Z' });
    expect(await ledger(account, walletId, 'family-data')).toEqual(CORRECTED);
    expect((await rerate(account, '2026-02', 'plv_fam_into')).adjustments).toEqual({});
    expect((await rerate(account, '2026-03', 'plv_fam_into')).adjustments).toEqual({});
    expect(await ledger(account, walletId, 'family-data')).toEqual(CORRECTED);
  }, 120_000);

  it('February first: the pool period\'s March record is adjusted with February\'s; March afterwards and February again adjust nothing', async () => {
    const { account, walletId } = await family('f', 2);
    const february = await rerate(account, '2026-02', 'plv_fam_into');
    // Before: { b-feb-us: 49 -> 0 } only - B's March record (its line period March only) replayed as the ledger held it.
    expect(february.adjustments).toEqual(ADJUSTED);
    expect(february.from).toBe('2026-01-15T00:00:00.000Z');
    expect(await ledger(account, walletId, 'family-data')).toEqual(CORRECTED);
    expect((await rerate(account, '2026-03', 'plv_fam_into')).adjustments).toEqual({});
    expect((await rerate(account, '2026-02', 'plv_fam_into')).adjustments).toEqual({});
    expect(await ledger(account, walletId, 'family-data')).toEqual(CORRECTED);
  }, 120_000);
});

describe('re-rating one month of an add-on pass bought mid-period whose validity straddles the month\'s start (the line\'s period does not)', () => {
  // A postpaid line since 1 January (periods: calendar months) buys a World roaming pass (1 GB, 7 days) on 26 February:
  // valid 26 February - 5 March. 100 MB in Brazil (WORLD2) on 26 February: 49 EUR, not from the pass; 1000 MB in the US
  // on 27 February: from the pass; 100 MB in the US on 3 March: the pass's last 24 MB, 76 at 0.49 (37.24). The
  // correction takes WORLD2 data from the pass: Brazil's 100 MB from it, then 924 of the 27th's 1000 (76 at 0.49:
  // 37.24), and nothing left for 3 March (49).
  async function passLine(tag: string, n: number) {
    const account = `acc_xq${tag}${run}`;
    const lineId = `lin_xq${tag}${run}`;
    const walletId = await openWallet(account);
    await grant(account, lineId, 'roam-pass-data', '1024', '2026-02-26T00:00:00Z', '2026-03-05T00:00:00Z');
    await upsertLine(lineId, `+49151000085${n}1`, account, 'plv_pp', '2026-01-01T00:00:00Z', [{ code: 'ROAM_WORLD_PASS_7D', startsAt: '2026-02-26T00:00:00Z', endsAt: '2026-03-05T00:00:00Z' }]);
    await use(account, [
      { eventId: 'feb-br', lineId, quantity: '100', roamingCountry: 'BR', occurredAt: '2026-02-26T10:00:00Z' },
      { eventId: 'feb-us', lineId, quantity: '1000', roamingCountry: 'US', occurredAt: '2026-02-27T10:00:00Z' },
      { eventId: 'mar-us', lineId, quantity: '100', roamingCountry: 'US', occurredAt: '2026-03-03T10:00:00Z' },
    ]);
    expect(await ledger(account, walletId, 'roam-pass-data')).toEqual({ records: { 'feb-br': ['49', '0'], 'feb-us': ['0', '1000'], 'mar-us': ['37.24', '24'] }, owes: '86.24', bucketUsed: '1024' });
    return { account, walletId };
  }
  const CORRECTED = { records: { 'feb-br': ['0', '100'], 'feb-us': ['37.24', '924'], 'mar-us': ['49', '0'] }, owes: '86.24', bucketUsed: '1024' };
  const ADJUSTED = { 'feb-br': ['49', '0'], 'feb-us': ['0', '37.24'], 'mar-us': ['37.24', '49'] };

  it('March first: the pass\'s February records are adjusted with March\'s; February afterwards and March again adjust nothing', async () => {
    const { account, walletId } = await passLine('m', 1);
    const march = await rerate(account, '2026-03', 'plv_pp_into');
    // Before: {} - the February records (line period February only) replayed as the ledger held them, March's record
    // left at 37.24; February's re-rate then adjusted the February records against it as the ledger held it.
    expect(march.adjustments).toEqual(ADJUSTED);
    expect({ from: march.from, to: march.to }).toEqual({ from: '2026-02-01T00:00:00.000Z', to: '2026-04-01T00:00:00.000Z' });
    expect(await ledger(account, walletId, 'roam-pass-data')).toEqual(CORRECTED);
    expect((await rerate(account, '2026-02', 'plv_pp_into')).adjustments).toEqual({});
    expect((await rerate(account, '2026-03', 'plv_pp_into')).adjustments).toEqual({});
    expect(await ledger(account, walletId, 'roam-pass-data')).toEqual(CORRECTED);
  }, 120_000);

  it('February first: the pass\'s March record is adjusted with February\'s; March afterwards and February again adjust nothing', async () => {
    const { account, walletId } = await passLine('f', 2);
    const february = await rerate(account, '2026-02', 'plv_pp_into');
    // Before: the February records only, against March's record as the ledger held it (the pass over-drawn by 24 MB).
    expect(february.adjustments).toEqual(ADJUSTED);
    expect(february.from).toBe('2026-02-01T00:00:00.000Z');
    expect(await ledger(account, walletId, 'roam-pass-data')).toEqual(CORRECTED);
    expect((await rerate(account, '2026-03', 'plv_pp_into')).adjustments).toEqual({});
    expect((await rerate(account, '2026-02', 'plv_pp_into')).adjustments).toEqual({});
    expect(await ledger(account, walletId, 'roam-pass-data')).toEqual(CORRECTED);
  }, 120_000);
});
