// An account's invoice series is stored in varchar(16) columns (billing_account.series, and the
// invoices' and counters' series). registerBillingAccount took any length: a longer series failed in
// the database (an INTERNAL error naming no field), and subscribers' account event carrying one
// failed its batch's write.
// Correct: a series of more than 16 characters (or with a NUL) is refused with BAD_USER_INPUT
// INVOICE_SERIES_INVALID on `input.series`, nothing written (an account already here keeps its
// series); 16 characters are taken. The account event carrying one is left out as invalid (logged
// with `field: series`, counted), the rest of its batch applied, the consumer goes on.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { EVENTS, createCloudEvent } from '@ledgerline/contracts';
import { scrapeMetrics } from '@ledgerline/platform';
import { startConsumer } from '../src/events/consumer';
import { startHarness, waitFor, type Harness } from './support';
import { NO_DISPUTE_WORKFLOW } from './dispute-support';

let h: Harness;
let stopConsumer: (() => Promise<void>) | undefined;
beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false, disputes: NO_DISPUTE_WORKFLOW });
});
afterAll(async () => {
  await stopConsumer?.();
  await h?.svc.close();
});

const REGISTER = 'mutation($i: RegisterBillingAccountInput!) { registerBillingAccount(input: $i) { ok } }';
const register = (id: string, series?: string) => ({ i: { billingAccountId: id, customerName: `Customer ${id}`, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 1, timezone: 'Europe/Berlin', ...(series === undefined ? {} : { series }) } });
const query = async (text: string, params: unknown[]) => (await h.svc.runtime.orm.em.fork().getConnection().execute(text, params)) as Record<string, unknown>[];
const seriesOf = async (id: string) => (await query('select series from billing_account where id = ?', [id]))[0]?.series;
const run = () => Date.now().toString(36);

const SIXTEEN = 'B2B-ENTERPRISE-1';
const SEVENTEEN = 'B2B-ENTERPRISE-12';

describe('an invoice series longer than its column (16 characters)', () => {
  it('is refused by registerBillingAccount naming input.series, INVOICE_SERIES_INVALID; nothing is written', async () => {
    const r = `isl_${run()}_`;
    expect(SIXTEEN).toHaveLength(16);
    for (const [i, series] of [SEVENTEEN, 'X'.repeat(200), 'Ä'.repeat(17), 'INV\u0000'].entries()) {
      const error = await h.gqlError(REGISTER, register(`${r}${i}`, series));
      expect(error, series).toEqual({ code: 'BAD_USER_INPUT', reason: 'INVOICE_SERIES_INVALID', field: 'input.series' });
      expect(await seriesOf(`${r}${i}`)).toBeUndefined();
    }
    // 16 characters (counted as characters, not UTF-16 units) are taken.
    for (const [i, series] of [SIXTEEN, 'Ä'.repeat(16), '😀'.repeat(16)].entries()) {
      await h.gql(REGISTER, register(`${r}ok_${i}`, series));
      expect(await seriesOf(`${r}ok_${i}`)).toBe(series);
    }
  });

  it('is refused when an account already here is registered again with it: the account keeps its series', async () => {
    const id = `isl_${run()}_again`;
    await h.gql(REGISTER, register(id, 'B2B'));
    expect(await h.gqlError(REGISTER, register(id, SEVENTEEN))).toEqual({ code: 'BAD_USER_INPUT', reason: 'INVOICE_SERIES_INVALID', field: 'input.series' });
    expect(await seriesOf(id)).toBe('B2B');
  });

  it("in subscribers' account event: that event is left out as invalid (logged, counted), the rest of its batch applied, the consumer goes on", async () => {
    const r = `isle_${run()}_`;
    const ACCOUNT = EVENTS.billingAccountCreated;
    const event = (id: string, over: Record<string, unknown> = {}) =>
      JSON.stringify(createCloudEvent({ source: 'ledgerline/subscribers', type: ACCOUNT.type, subject: id, time: new Date('2026-10-01T07:00:00Z'), key: [id],
        data: { billingAccountId: id, customerId: 'cus_1', paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 1, paymentTermsDays: 14, timezone: 'Europe/Berlin', creditLimit: null, autopay: false, ...over } }));
    const dropped = async () => (await scrapeMetrics(h.svc))['ledgerline_invoicing_subscriber_events_dropped_total{reason="invalid"}'] ?? 0;
    const before = await dropped();
    const warn = vi.spyOn(h.svc.runtime.logger, 'warn');
    const messages = [event(`${r}good_1`), event(`${r}bad_long`, { series: SEVENTEEN }), event(`${r}good_2`, { series: SIXTEEN })];
    for (const m of messages) await h.svc.runtime.messaging.js.publish(ACCOUNT.subject, m);
    stopConsumer = await startConsumer(h.svc.runtime);
    await waitFor(async () => (await query('select id from billing_account where id = ?', [`${r}good_2`])).length > 0);
    expect(await query('select id, series from billing_account where id like ? order by id', [`${r}%`])).toEqual([
      { id: `${r}good_1`, series: 'INV' },
      { id: `${r}good_2`, series: SIXTEEN },
    ]);
    await waitFor(async () => (await dropped()) - before >= 1);
    const badId = (JSON.parse(messages[1]!) as { id: string }).id;
    const about = warn.mock.calls.map(([fields]) => fields as unknown as Record<string, unknown>).filter((f) => f?.id === badId);
    expect(about).toHaveLength(1);
    expect(about[0]).toMatchObject({ type: ACCOUNT.type, reason: 'invalid', field: 'series', problem: expect.stringMatching(/at most 16 characters/) });
    warn.mockRestore();
    // The consumer goes on.
    await h.svc.runtime.messaging.js.publish(ACCOUNT.subject, event(`${r}after`));
    await waitFor(async () => (await query('select id from billing_account where id = ?', [`${r}after`])).length > 0);
  });
});
