// A billing account's invoice series is free text (registerBillingAccount `series`, default INV),
// while credit notes and receipts are numbered under their own document-type prefixes, CN and RCT.
// An account whose invoices were numbered in series CN (or RCT) printed invoice numbers that read
// as credit notes (receipts): CN-00000001 on an invoice and on a credit note. Such a series is now
// refused, case-insensitively: the mutation with BAD_USER_INPUT INVOICE_SERIES_RESERVED on
// `input.series` (nothing written, an account already here keeps its series); subscribers' account
// event carrying one is left out like any other invalid account event (logged with its field,
// counted as `invalid`) while the rest of its batch is applied and the consumer goes on.
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

describe('an invoice series named like the credit notes\' or receipts\' prefix', () => {
  it('is refused by registerBillingAccount (any case), naming input.series; nothing is written', async () => {
    const r = `isr_${run()}_`;
    for (const [i, series] of ['CN', 'cn', 'Cn', 'RCT', 'rct', ' Rct '].entries()) {
      const error = await h.gqlError(REGISTER, register(`${r}${i}`, series));
      expect(error, series).toEqual({ code: 'BAD_USER_INPUT', reason: 'INVOICE_SERIES_RESERVED', field: 'input.series' });
      expect(await seriesOf(`${r}${i}`)).toBeUndefined();
    }
    // Other names, the default included, are taken as before.
    for (const [i, series] of ['INV', 'CNX', 'RCT2', 'B2B'].entries()) {
      await h.gql(REGISTER, register(`${r}ok_${i}`, series));
      expect(await seriesOf(`${r}ok_${i}`)).toBe(series);
    }
    await h.gql(REGISTER, register(`${r}default`));
    expect(await seriesOf(`${r}default`)).toBe('INV');
  });

  it('is refused when an account already here is registered again with it: the account keeps its series', async () => {
    const id = `isr_${run()}_again`;
    await h.gql(REGISTER, register(id, 'INV'));
    const error = await h.gqlError(REGISTER, register(id, 'cn'));
    expect(error).toEqual({ code: 'BAD_USER_INPUT', reason: 'INVOICE_SERIES_RESERVED', field: 'input.series' });
    expect(await seriesOf(id)).toBe('INV');
  });

  it("in subscribers' account event: that event is left out as invalid (logged, counted), the rest of its batch applied, the consumer goes on", async () => {
    const r = `ise_${run()}_`;
    const ACCOUNT = EVENTS.billingAccountCreated;
    const event = (id: string, over: Record<string, unknown> = {}) =>
      JSON.stringify(createCloudEvent({ source: 'ledgerline/subscribers', type: ACCOUNT.type, subject: id, time: new Date('2026-10-01T07:00:00Z'), key: [id],
        data: { billingAccountId: id, customerId: 'cus_1', paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 1, paymentTermsDays: 14, timezone: 'Europe/Berlin', creditLimit: null, autopay: false, ...over } }));
    const dropped = async () => (await scrapeMetrics(h.svc))['ledgerline_invoicing_subscriber_events_dropped_total{reason="invalid"}'] ?? 0;
    const before = await dropped();
    const warn = vi.spyOn(h.svc.runtime.logger, 'warn');
    const messages = [event(`${r}good_1`), event(`${r}bad_cn`, { series: 'CN' }), event(`${r}bad_rct`, { series: 'rct' }), event(`${r}good_2`, { series: 'B2B' })];
    for (const m of messages) await h.svc.runtime.messaging.js.publish(ACCOUNT.subject, m);
    stopConsumer = await startConsumer(h.svc.runtime);
    await waitFor(async () => (await query('select id from billing_account where id = ?', [`${r}good_2`])).length > 0);
    expect((await query('select id, series from billing_account where id like ? order by id', [`${r}%`]))).toEqual([
      { id: `${r}good_1`, series: 'INV' },
      { id: `${r}good_2`, series: 'B2B' },
    ]);
    await waitFor(async () => (await dropped()) - before >= 2);
    const idOf = (key: string) => (JSON.parse(messages.find((m) => JSON.parse(m).subject === key)!) as { id: string }).id;
    const about = (key: string) => warn.mock.calls.map(([fields]) => fields as unknown as Record<string, unknown>).filter((f) => f?.id === idOf(key));
    for (const key of [`${r}bad_cn`, `${r}bad_rct`]) {
      expect(about(key), key).toHaveLength(1);
      expect(about(key)[0]).toMatchObject({ type: ACCOUNT.type, reason: 'invalid', field: 'series', problem: expect.stringMatching(/reserved/) });
    }
    warn.mockRestore();
    // The consumer goes on.
    await h.svc.runtime.messaging.js.publish(ACCOUNT.subject, event(`${r}after`));
    await waitFor(async () => (await query('select id from billing_account where id = ?', [`${r}after`])).length > 0);
  });
});
