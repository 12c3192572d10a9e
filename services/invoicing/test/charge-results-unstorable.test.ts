// A charge result invoicing cannot store (an amount that is not a number or has more digits than
// unbilled_charge.amount holds, an id longer than its column, a currency that is no ISO code, a
// date that is not one) failed the whole transaction of the charges consumer, and the consumer
// redelivered that batch for ever: no postpaid charge of anyone was recorded any more. Each result
// is now checked before the write; one that cannot be stored is skipped, logged with its chargeId
// and why, and counted, and the rest of the batch is recorded. Real PostgreSQL and NATS, through
// the charges consumer.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WORK_SUBJECTS, dec, type ChargeResult } from '@ledgerline/contracts';
import { scrapeMetrics } from '@ledgerline/platform';
import { account, startHarness, subscribe, waitFor, type Harness } from './support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('2026-10-05T10:00:00Z');
  await account(h, 'acc_bad');
  await subscribe(h, 'acc_bad', 'sub_bad', 'postpaid20', '2026-08-01T00:00:00Z');
});
afterAll(async () => h?.svc.close());

const result = (chargeId: string, over: Record<string, unknown> = {}) => ({
  chargeId, outcome: 'APPLIED', billingAccountId: 'acc_bad', lineId: 'lin_sub_bad', paymentMode: 'POSTPAID', usageType: 'DATA', zone: 'NATIONAL',
  occurredAt: '2026-10-02T12:00:00Z', units: '100', unit: 'MB', unitsFromAllowances: '0', amountCharged: '1.25', currency: 'EUR', ...over,
}) as ChargeResult;

async function unbilled(prefix: string): Promise<{ charge_id: string; amount: string; units: string }[]> {
  const rows = await h.svc.runtime.orm.em.fork().getConnection().execute(`select charge_id, amount, units from unbilled_charge where charge_id like ? order by charge_id`, [`${prefix}%`]);
  return rows.map((r: any) => ({ charge_id: r.charge_id, amount: dec(String(r.amount)).toFixed(), units: dec(String(r.units)).toFixed() }));
}

const dropped = async (reason: string) => (await scrapeMetrics(h.svc))[`ledgerline_invoicing_charge_results_dropped_total{reason="${reason}"}`] ?? 0;

describe('charge results invoicing cannot store', () => {
  it('are skipped, logged with their chargeId and counted, while the rest of their batch is recorded and the consumer goes on', async () => {
    const run = `chg_bad_${Date.now().toString(36)}_`;
    const warn = vi.spyOn(h.svc.runtime.logger, 'warn');
    const before = await dropped('unstorable');
    const bad = {
      notanumber: { amountCharged: 'abc' },
      toomanydigits: { amountCharged: '12345678901234567.50' },
      toomanydecimals: { amountCharged: '1.123456789' },
      units: { units: '1e3' },
      currency: { currency: 'EURO' },
      account: { billingAccountId: 'a'.repeat(41) },
      date: { occurredAt: 'yesterday' },
      year: { occurredAt: '+275000-01-01T00:00:00Z' },
      nul: { zone: 'NATIONAL\u0000' },
      usagetype: { usageType: 5 },
    };
    const longId = `${run}long_${'x'.repeat(80)}`;
    const batch = [
      result(`${run}good_1`),
      ...Object.entries(bad).map(([name, over]) => result(`${run}bad_${name}`, over)),
      result(longId),
      result(`${run}good_2`, { outcome: 'PARTIAL', amountCharged: '-0.50', units: '12.5' }),
      // Not invoicing's to record, whatever its values: never counted as dropped.
      result(`${run}prepaid`, { paymentMode: 'PREPAID', amountCharged: 'abc' }),
    ];
    await h.svc.runtime.messaging.js.publish(WORK_SUBJECTS.chargeApplied, JSON.stringify(batch));
    await waitFor(async () => (await unbilled(`${run}good_2`)).length > 0);
    expect(await unbilled(run)).toEqual([
      { charge_id: `${run}good_1`, amount: '1.25', units: '100' },
      { charge_id: `${run}good_2`, amount: '-0.5', units: '12.5' },
    ]);
    // The counter counts every run's results (the consumer reads all of the shared NATS): at least ours; which were
    // left out is in the warnings naming them.
    await waitFor(async () => (await dropped('unstorable')) - before >= Object.keys(bad).length + 1);
    const logged = warn.mock.calls.map(([fields]) => fields as unknown as { chargeId?: string; field?: string; problem?: string }).filter((f) => f?.chargeId?.startsWith(run));
    expect(logged.map((f) => f.chargeId).sort()).toEqual([...Object.keys(bad).map((name) => `${run}bad_${name}`), longId.slice(0, 100)].sort());
    expect(logged.find((f) => f.chargeId === `${run}bad_notanumber`)).toMatchObject({ field: 'amountCharged', problem: expect.stringMatching(/not a decimal/) });
    expect(logged.find((f) => f.chargeId === `${run}bad_currency`)).toMatchObject({ field: 'currency' });

    // Not even JSON: dropped and counted, and what comes after it is recorded.
    const notJson = await dropped('not_json');
    await h.svc.runtime.messaging.js.publish(WORK_SUBJECTS.chargeApplied, `{"chargeId": "${run}notjson`);
    await h.svc.runtime.messaging.js.publish(WORK_SUBJECTS.chargeApplied, JSON.stringify(result(`${run}after`, { amountCharged: '3.00' })));
    await waitFor(async () => (await unbilled(`${run}after`)).length > 0);
    expect(await unbilled(`${run}after`)).toEqual([{ charge_id: `${run}after`, amount: '3', units: '100' }]);
    await waitFor(async () => (await dropped('not_json')) - notJson >= 1);
    const notJsonLogged = warn.mock.calls.map(([fields]) => fields as unknown as { reason?: string; message?: string }).filter((f) => f?.reason === 'not_json' && f.message?.includes(run));
    expect(notJsonLogged).toHaveLength(1);
    warn.mockRestore();
  });

  it('a value the database refuses though the checks let it through costs only that result: its batch and its own message are recorded without it', async () => {
    const run = `chg_poison_${Date.now().toString(36)}_`;
    const schema = h.svc.runtime.config.databaseSchema;
    const db = h.svc.runtime.orm.em.fork().getConnection();
    // Stands for a refusal nobody foresaw (SQLSTATE 22023, a data exception).
    await db.execute(`create or replace function "${schema}".refuse_poison() returns trigger language plpgsql as $$
      begin if new.charge_id like '%_refused' then raise exception 'refused' using errcode = '22023'; end if; return new; end $$`);
    await db.execute(`create trigger refuse_poison before insert on "${schema}".unbilled_charge for each row execute function "${schema}".refuse_poison()`);
    const warn = vi.spyOn(h.svc.runtime.logger, 'warn');
    try {
      const before = await dropped('unstorable');
      const js = h.svc.runtime.messaging.js;
      await js.publish(WORK_SUBJECTS.chargeApplied, JSON.stringify([result(`${run}a`)]));
      await js.publish(WORK_SUBJECTS.chargeApplied, JSON.stringify([result(`${run}b`), result(`${run}refused`), result(`${run}c`), null]));
      await js.publish(WORK_SUBJECTS.chargeApplied, JSON.stringify(result(`${run}d`)));
      await waitFor(async () => (await unbilled(run)).length === 4);
      expect((await unbilled(run)).map((r) => r.charge_id)).toEqual([`${run}a`, `${run}b`, `${run}c`, `${run}d`]);
      await waitFor(async () => (await dropped('unstorable')) - before >= 1);
      await waitFor(async () => (await dropped('invalid')) >= 1);
      const logged = warn.mock.calls.map(([fields]) => fields as unknown as { chargeId?: string; reason?: string }).filter((f) => f?.chargeId?.startsWith(run));
      expect(logged.map((f) => [f.chargeId, f.reason])).toEqual([[`${run}refused`, 'unstorable']]);
    } finally {
      warn.mockRestore();
      await db.execute(`drop trigger refuse_poison on "${schema}".unbilled_charge`);
    }
  });

  it('through the recordCharges mutation, is refused with a coded error naming the field', async () => {
    const error = await h.gqlError('mutation($i: [RecordChargeInput!]!) { recordCharges(input: $i) { ok } }', {
      i: [{ chargeId: `chg_${'x'.repeat(90)}`, billingAccountId: 'acc_bad', usageType: 'DATA', units: '1', unit: 'MB', amount: '1.00', currency: 'EUR', occurredAt: '2026-10-02T12:00:00Z' }],
    });
    expect(error).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'CHARGE_UNSTORABLE', field: 'input.chargeId' });
    expect(await h.gqlError('mutation($i: [RecordChargeInput!]!) { recordCharges(input: $i) { ok } }', {
      i: [{ chargeId: 'chg_too_precise', billingAccountId: 'acc_bad', usageType: 'DATA', units: '1', unit: 'MB', amount: '1.123456789', currency: 'EUR', occurredAt: '2026-10-02T12:00:00Z' }],
    })).toMatchObject({ field: 'input.amount' });
  });
});
