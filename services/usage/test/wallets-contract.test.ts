/**
 * What usage sends wallets must be something the ledger applies. Usage here talks to the real
 * wallets service (child process, own schema) on a private nats-server, as the benchmark does.
 *
 * - A charge whose rated price is not a flat unit price (price tiers: the postpaid plan's
 *   GRADUATED data tiers) goes out with `pricePerUnit = price / units` to 10 decimals
 *   ("0.0084126508") and the rated `amount`. Wallets refused a unit price with more than 6
 *   decimals: the charge was DENIED (RATING_FAILED), the allowance not drawn, nothing charged.
 * - A re-rate that lowers a price sends the credit as an ADJUSTMENT with a negative price; wallets
 *   refused negative unit prices, so the customer never got the credit while usage's records said
 *   the lower amount was charged.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { dec, WORK_SUBJECTS, type ChargeResult } from '@ledgerline/contracts';
import { startPrivateNats, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { RECORD_USAGE, filePlanSource, planDocument, setLine, startWalletsProcess, waitFor, type WalletsProcess } from './support';

let nats: Awaited<ReturnType<typeof startPrivateNats>>;
let wallets: WalletsProcess;
let listener: NatsConnection;
/** Every ChargeResult wallets published, by chargeId. */
const results = new Map<string, ChargeResult>();
let svc: TestService;
const run = Math.random().toString(36).slice(2, 8);

// A catalog correction (as in rerate.test.ts): world roaming data at 0.39 instead of 0.49 per MB.
const corrected = planDocument('postpaid-20gb.json') as { rules: { name: string; event: { params: Record<string, unknown> } }[] };
corrected.rules.find((r) => r.name === 'roaming-world-data')!.event.params.pricePerUnit = '0.3900';


beforeAll(async () => {
  nats = await startPrivateNats();
  wallets = await startWalletsProcess(nats.url);
  listener = await connect({ servers: nats.url });
  listener.subscribe(WORK_SUBJECTS.chargeApplied, {
    callback: (_, msg) => {
      const body = msg.json<ChargeResult | ChargeResult[]>();
      for (const r of Array.isArray(body) ? body : [body]) results.set(r.chargeId, r);
    },
  });
});

// A usage service per test: one test's charge results must not be held up by another's.
beforeEach(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource({ plv_fixed: corrected }), consumers: ['charges'], deliverNew: true }), { env: { NATS_URL: nats.url } });
});

afterEach(async () => {
  await svc?.close();
});

afterAll(async () => {
  await listener?.close();
  await wallets?.stop();
  await nats?.stop();
});

const hoursAgo = (h: number) => new Date(Date.now() - h * 3_600_000).toISOString();
const chargeStatusOf = async (id: string): Promise<string> => (await svc.request(`query($id: ID!) { usageRecord(id: $id) { chargeStatus } }`, { id })).data.usageRecord.chargeStatus;

describe('usage → wallets', () => {
  it('a postpaid data session of 1,500.3 MB (across price tiers) is drawn from the data bucket and settled APPLIED', async () => {
    const lineId = `lin_wt${run}`;
    const account = `acc_wt${run}`;
    await wallets.postpaidWallet(account, lineId);
    await setLine(svc, { lineId, msisdn: '+4915100007951', account, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID' });
    const res = await svc.request(RECORD_USAGE, { input: { source: `wt-${run}`, records: [{ eventId: 'big', lineId, usageType: 'DATA', quantity: '1500.3', occurredAt: hoursAgo(1) }] } });
    expect(res.data.recordUsage.rated).toBe(1);
    const id = res.data.recordUsage.results[0].id as string;
    const result = await waitFor(async () => results.get(id), 30_000, "wallets' ChargeResult");
    expect({ outcome: result.outcome, unitsFromAllowances: result.unitsFromAllowances, reason: result.reason }).toEqual({ outcome: 'APPLIED', unitsFromAllowances: '1500.3', reason: undefined });
    const status = await waitFor(async () => { const s = await chargeStatusOf(id); return s !== 'PENDING' && s; }, 10_000, 'usage to settle the record').catch(() => chargeStatusOf(id));
    expect(status).toBe('APPLIED');
  });

  it('a re-rate that lowers the price credits the difference on the wallet', async () => {
    const lineId = `lin_wc${run}`;
    const account = `acc_wc${run}`;
    const walletId = await wallets.postpaidWallet(account, lineId);
    await setLine(svc, { lineId, msisdn: '+4915100007952', account, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID' });
    const at = hoursAgo(1);
    const res = await svc.request(RECORD_USAGE, { input: { source: `wc-${run}`, records: [{ eventId: 'us', lineId, usageType: 'DATA', quantity: '10', roamingCountry: 'US', occurredAt: at }] } });
    expect(res.data.recordUsage.rated).toBe(1);
    const id = res.data.recordUsage.results[0].id as string;
    await waitFor(async () => (await chargeStatusOf(id)) === 'APPLIED', 30_000, 'the charge applied');
    expect(dec(await wallets.unbilledOf(walletId)).toString()).toBe('4.9');

    const rerate = await svc.request(`mutation($i: RerateInput!) { rerate(input: $i) { adjustments { chargeId previousPrice newPrice } } }`, { i: { billingAccountId: account, period: at.slice(0, 7), planVersionId: 'plv_fixed' } });
    expect(rerate.errors, JSON.stringify(rerate.errors)).toBeUndefined();
    const [credit] = rerate.data.rerate.adjustments;
    expect(credit).toMatchObject({ previousPrice: '4.9', newPrice: '3.9' });
    const answer = await waitFor(async () => results.get(credit.chargeId), 30_000, "wallets' answer to the credit");
    expect({ outcome: answer.outcome, reason: answer.reason }).toEqual({ outcome: 'APPLIED', reason: undefined });
    expect(dec(await wallets.unbilledOf(walletId)).toString()).toBe('3.9');
  });
});
