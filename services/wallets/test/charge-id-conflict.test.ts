// Exactly once by chargeId, with the convention's other half: the same chargeId with the same
// charge is answered as the first time; the same chargeId with another charge is refused
// (REJECTED, CHARGE_ID_CONFLICT) and changes nothing. Before, such a copy was answered with the
// first charge's decision and the new request's echo, as if it had been applied.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { jetstream } from '@nats-io/jetstream';
import { WORK_SUBJECTS, chargeResultsOf, type ChargeRequest, type ChargeResult } from '@ledgerline/contracts';
import type { TestService } from '@ledgerline/platform';
import { APPLY, T0, balanceOf, charge, dbOf, expectInvariants, gql, openPrepaid, startWallets, uniq } from './support';
import { ChargeLanes, applyCharges, chargeResultMessageId, laneOf } from '../src/application/apply-charges';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets());
});
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const c = (billingAccountId: string, over: Partial<ChargeRequest> = {}) => charge(billingAccountId, over) as unknown as ChargeRequest;

/** What the ledger holds for some chargeIds: their transactions (with the stored decision) and entries. */
async function ledgerOf(chargeIds: string[]) {
  const keys = chargeIds.map((id) => `CHARGE:${id}`);
  const txs = await dbOf(svc).query<{ id: string; idempotency_key: string; billing_account_id: string; outcome: unknown; request_hash: string | null }>(
    `select id, idempotency_key, billing_account_id, outcome, request_hash from ledger_transaction where idempotency_key = any($1::text[]) order by idempotency_key`,
    [keys],
  );
  const entries = await dbOf(svc).query(`select transaction_id, account_id, amount::text from ledger_entry where transaction_id = any($1::text[]) order by transaction_id, account_id`, [txs.map((t) => t.id)]);
  return { txs, entries };
}

const conflictOf = (r: ChargeResult | undefined, chargeId: string) => {
  expect(r).toMatchObject({ chargeId, outcome: 'REJECTED', units: '0', unitsFromAllowances: '0', amountCharged: '0.000000' });
  expect(r!.reason).toMatch(/^CHARGE_ID_CONFLICT: /);
  expect(r!.reason).toContain(chargeId);
};

describe('a chargeId reused', () => {
  it('with the same charge (decimals written otherwise too): one effect, the same answer, in a batch and across batches', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '10.00' });
    const a = c(billingAccountId, { units: '2', pricePerUnit: '1.50', zone: 'NATIONAL' });
    const same = { ...a, units: '2.0', pricePerUnit: '1.5000', zone: 'NATIONAL' };
    const first = await applyCharges(dbOf(svc), [a, same, { ...a }], T0);
    expect(first).toHaveLength(1);
    expect(first[0]).toMatchObject({ outcome: 'APPLIED', amountCharged: '3.000000', zone: 'NATIONAL' });
    const before = await ledgerOf([a.chargeId]);
    expect(before.txs).toHaveLength(1);
    // The fingerprint is kept with the decision, and short.
    expect(before.txs[0]!.request_hash).toMatch(/^[A-Za-z0-9_-]{8,24}$/);
    expect(await applyCharges(dbOf(svc), [same], new Date(T0.getTime() + 60_000))).toEqual([{ ...first[0]!, units: first[0]!.units }]);
    expect(await applyCharges(dbOf(svc), [a], T0)).toEqual(first);
    expect(await ledgerOf([a.chargeId])).toEqual(before);
    expect(await balanceOf(svc, walletId)).toBe('7');
  });

  it('with another charge in a later batch: REJECTED (CHARGE_ID_CONFLICT, naming the chargeId), the ledger unchanged', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '10.00' });
    const other = await openPrepaid(svc, { balance: '10.00' });
    const a = c(billingAccountId, { units: '2', pricePerUnit: '1.00' });
    const [first] = await applyCharges(dbOf(svc), [a], T0);
    expect(first).toMatchObject({ outcome: 'APPLIED', amountCharged: '2.000000' });
    const before = await ledgerOf([a.chargeId]);
    const fresh = c(billingAccountId);
    // Each field that defines the charge, changed alone.
    const copies: ChargeRequest[] = [
      { ...a, pricePerUnit: '9.00' },
      { ...a, units: '3' },
      { ...a, billingAccountId: other.billingAccountId },
      { ...a, lineId: 'lin_other' },
      { ...a, usageType: 'VOICE' },
      { ...a, occurredAt: new Date(T0.getTime() + 1000).toISOString() },
      { ...a, allowanceIds: ['data'] },
      { ...a, amount: '2.000000' },
      { ...a, allowOverdraft: true },
      { ...a, zone: 'ROAMING_EU' },
      { ...a, adjustsInvoiceId: 'inv_1' },
      { ...a, kind: 'ADJUSTMENT' },
    ];
    for (const copy of copies) {
      const results = await applyCharges(dbOf(svc), [copy, fresh], T0);
      conflictOf(results.find((r) => r.outcome === 'REJECTED'), a.chargeId);
      // The answer echoes the request it refuses.
      expect(results.find((r) => r.outcome === 'REJECTED')!.billingAccountId).toBe(copy.billingAccountId);
    }
    expect(await ledgerOf([a.chargeId])).toEqual(before);
    // The other charge of those batches was applied once; nothing else moved.
    expect(await balanceOf(svc, walletId)).toBe('7');
    expect(await balanceOf(svc, other.walletId)).toBe('10');
    // A refusal is not written to the outbox (the first charge's result is there, once).
    expect(await dbOf(svc).query(`select id from outbox where id = $1`, [chargeResultMessageId(a.chargeId)])).toHaveLength(1);
    // The first charge is still answered as the first time.
    expect(await applyCharges(dbOf(svc), [a], T0)).toEqual([first]);
  });

  it('two copies with different content in one batch: the first applied, the other REJECTED, in that order', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '10.00' });
    const a = c(billingAccountId, { pricePerUnit: '2.00' });
    const b = c(billingAccountId, { pricePerUnit: '1.00' });
    const results = await applyCharges(dbOf(svc), [{ ...a, pricePerUnit: '5.00' }, b, a, { ...a, pricePerUnit: '5.0' }], T0);
    // One answer per chargeId in arrival order, then the refusals.
    expect(results.map((r) => [r.chargeId, r.outcome, r.amountCharged])).toEqual([[a.chargeId, 'APPLIED', '5.000000'], [b.chargeId, 'APPLIED', '1.000000'], [a.chargeId, 'REJECTED', '0.000000']]);
    conflictOf(results[2], a.chargeId);
    const { txs } = await ledgerOf([a.chargeId]);
    expect(txs).toHaveLength(1);
    expect(await balanceOf(svc, walletId)).toBe('4');
    // Later, the first copy is the one the ledger holds.
    const again = await applyCharges(dbOf(svc), [a, { ...a, pricePerUnit: '5.00' }], T0);
    expect(again.map((r) => [r.outcome, r.amountCharged])).toEqual([['APPLIED', '5.000000'], ['REJECTED', '0.000000']]);
    expect(await balanceOf(svc, walletId)).toBe('4');
  });

  it('in lanes: copies naming other accounts (other lanes), in one call and in the next call while the first is in flight', async () => {
    const lanes = new ChargeLanes(dbOf(svc), { lanes: 2, batchSize: 1, results: 'caller' });
    const a = await openPrepaid(svc, { balance: '10.00' });
    let b = await openPrepaid(svc, { balance: '10.00' });
    while (laneOf(b.billingAccountId, 2) === laneOf(a.billingAccountId, 2)) b = await openPrepaid(svc, { balance: '10.00' });
    const x = c(a.billingAccountId);
    const y = c(a.billingAccountId);
    // Call 1: A's charges (one transaction each), X last; a copy of Y naming B in the same call.
    const first = lanes.apply([...Array.from({ length: 3 }, () => c(a.billingAccountId)), y, x, { ...y, billingAccountId: b.billingAccountId }], T0);
    // Call 2, handed over at once: X naming B (B's lane is free), and X itself again.
    const second = lanes.apply([{ ...x, billingAccountId: b.billingAccountId }, { ...x }], T0);
    const [r1, r2] = await Promise.all([first, second]);
    expect(r1.map((r) => r.outcome)).toEqual(['APPLIED', 'APPLIED', 'APPLIED', 'APPLIED', 'APPLIED', 'REJECTED']);
    conflictOf(r1[5], y.chargeId);
    expect(r2.map((r) => [r.chargeId, r.outcome])).toEqual([[x.chargeId, 'APPLIED'], [x.chargeId, 'REJECTED']]);
    expect(r2[0]).toEqual(r1[4]);
    conflictOf(r2[1], x.chargeId);
    expect(r2[1]!.billingAccountId).toBe(b.billingAccountId);
    expect(await balanceOf(svc, a.walletId)).toBe('5');
    expect(await balanceOf(svc, b.walletId)).toBe('10');
    const { txs } = await ledgerOf([x.chargeId, y.chargeId]);
    expect(txs.map((t) => t.billing_account_id)).toEqual([a.billingAccountId, a.billingAccountId]);
  });

  it('rows stored before fingerprints (a decision only, or a whole ChargeResult) are answered as stored, whatever the copy holds', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '10.00' });
    const decisionOnly = c(billingAccountId, { pricePerUnit: '1.00' });
    const whole = c(billingAccountId, { pricePerUnit: '1.00' });
    const [d1, w1] = await applyCharges(dbOf(svc), [decisionOnly, whole], T0);
    // As an older version wrote them: no fingerprint; one of them with its whole ChargeResult.
    await dbOf(svc).query(`update ledger_transaction set request_hash = null where idempotency_key = any($1::text[])`, [[`CHARGE:${decisionOnly.chargeId}`, `CHARGE:${whole.chargeId}`]]);
    await dbOf(svc).query(`update ledger_transaction set outcome = $2::jsonb where idempotency_key = $1`, [`CHARGE:${whole.chargeId}`, JSON.stringify({ ...w1, lineId: 'lin_as_stored' })]);
    const results = await applyCharges(dbOf(svc), [{ ...decisionOnly, pricePerUnit: '4.00' }, decisionOnly, { ...whole, units: '7' }], T0);
    expect(results).toEqual([d1, { ...w1, lineId: 'lin_as_stored' }]);
    expect(await balanceOf(svc, walletId)).toBe('8');
  });

  it('through GraphQL applyCharge: the same input answers the same result; other input is a CONFLICT (CHARGE_ID_CONFLICT) and changes nothing', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '10.00' });
    const a = charge(billingAccountId, { units: '3', pricePerUnit: '0.50' });
    const first = await gql(svc, APPLY, { i: a });
    expect(await gql(svc, APPLY, { i: { ...a, pricePerUnit: '0.5' } })).toEqual(first);
    const reused = await svc.request<any>(APPLY, { i: { ...a, units: '4' } });
    expect(reused.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'CHARGE_ID_CONFLICT' });
    expect(reused.errors?.[0]?.message).toContain(a.chargeId);
    expect(await balanceOf(svc, walletId)).toBe('8.5');
    expect((await ledgerOf([a.chargeId])).txs).toHaveLength(1);
  });

  it('through JetStream: a copy with other content, in the same message or a later one, is published REJECTED; the first is applied once', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '10.00' });
    const js = jetstream(svc.runtime.messaging.nc);
    const a = c(billingAccountId, { pricePerUnit: '2.00' });
    const b = c(billingAccountId, { pricePerUnit: '1.00' });
    const d = c(billingAccountId, { pricePerUnit: '1.00' });
    const published: ChargeResult[] = [];
    const sub = svc.runtime.messaging.nc.subscribe(WORK_SUBJECTS.chargeApplied, {
      callback: (_e, m) => {
        published.push(...chargeResultsOf(m.json()).results.filter((r) => r.billingAccountId === billingAccountId));
      },
    });
    const deadline = Date.now() + 45_000;
    const send = async (body: unknown, results: number) => {
      await js.publish(WORK_SUBJECTS.chargeRequested, JSON.stringify(body), { msgID: uniq('m') });
      while (published.length < results && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    };
    await send([a, { ...a, pricePerUnit: '3.00' }, b], 3);
    await send({ ...b, units: '5' }, 4);
    // Alone in a message, as the first copy was: its answer is published all the same (not taken
    // for a repeat of the first answer's message).
    await send(d, 5);
    await send({ ...d, units: '2' }, 6);
    sub.unsubscribe();
    expect(published.map((r) => [r.chargeId, r.outcome])).toEqual([[a.chargeId, 'APPLIED'], [b.chargeId, 'APPLIED'], [a.chargeId, 'REJECTED'], [b.chargeId, 'REJECTED'], [d.chargeId, 'APPLIED'], [d.chargeId, 'REJECTED']]);
    conflictOf(published[2], a.chargeId);
    conflictOf(published[3], b.chargeId);
    conflictOf(published[5], d.chargeId);
    expect(await balanceOf(svc, walletId)).toBe('6');
    expect((await ledgerOf([a.chargeId, b.chargeId, d.chargeId])).txs).toHaveLength(3);
  });
});
