// One-off charges a closed prepaid wallet refused (wallets' `billing.wallets.charge.refused`, since
// f7ccb9a): nothing was taken, so the customer still owes them, and before nobody billed them. Now
// invoicing's `refusedcharges` durable consumer bills each once per chargeId: a PREPAID account (no
// period invoices) at once on a WALLET_CHARGE invoice of its own, a POSTPAID one as a one-off on its
// next invoice (after its final bill: the adjustment invoice the next bill run makes, as late usage).
// What it cannot bill is held with a reason and counted, and the consumer goes on. Real PostgreSQL and NATS.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS, createCloudEvent, type ChargeRefusedData } from '@ledgerline/contracts';
import { account, invoicesOf, runBillRun, startHarness, subscribe, waitFor, type Harness } from './support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z');
});
afterAll(async () => h?.svc.close());

const CLOSE = 'mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { invoice { id } } } }';
const INVOICES = 'query($a: ID) { invoices(billingAccountId: $a) { edges { node { id kind sourceRef state number periodStart netTotal { amount } taxTotal { amount } total { amount } lines { kind description taxRate netAmount { amount } grossAmount { amount } } } } } }';

function refused(over: Partial<ChargeRefusedData> & { chargeId: string; billingAccountId: string }): ChargeRefusedData {
  return {
    walletId: `wal_${over.billingAccountId}`, lineId: 'lin_1', reason: 'ADD_ON_PURCHASE', description: 'Roaming pack EU 5 GB', amount: { amount: '9.99', currency: 'EUR' },
    refusal: 'WALLET_SETTLED', refusedBecause: 'The EUR wallet was settled', dueSince: null, transactionId: `wtx_${over.chargeId}`,
    closedAt: '2026-10-20T08:00:00.000Z', settledAt: '2026-10-23T08:00:00.000Z', refusedAt: '2026-10-25T09:00:00.000Z', ...over,
  };
}

async function publish(data: unknown, key: string): Promise<void> {
  const d = data as ChargeRefusedData;
  const event = createCloudEvent({ source: 'ledgerline/wallets', type: EVENTS.chargeRefused.type, subject: String(d.billingAccountId), time: new Date('2026-10-25T09:00:00Z'), data, key: [key] });
  await h.svc.runtime.messaging.js.publish(EVENTS.chargeRefused.subject, JSON.stringify(event));
}

const db = (text: string, params: unknown[] = []) => h.svc.runtime.orm.em.fork().getConnection().execute(text, params);

describe('charges a closed prepaid wallet refused (billing.wallets.charge.refused)', () => {
  it('a prepaid account: billed once on an invoice of its own, naming the charge, however often the event comes', async () => {
    await account(h, 'acc_rf_pre', { paymentMode: 'PREPAID', customerName: 'Prepaid Pia' });
    const data = refused({ chargeId: `chg_${h.svc.schema}_pre`, billingAccountId: 'acc_rf_pre', dueSince: '2026-10-21T10:00:00.000Z' });
    await publish(data, 'a');
    await publish(data, 'a'); // redelivered
    await publish(data, 'b'); // the same charge under another event id
    await waitFor(async () => (await invoicesOf(h, 'acc_rf_pre')).length > 0);
    await new Promise((r) => setTimeout(r, 1500)); // the other deliveries have been handled too
    const all = (await h.gql<any>(INVOICES, { a: 'acc_rf_pre' })).invoices.edges.map((e: any) => e.node);
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ kind: 'WALLET_CHARGE', sourceRef: data.chargeId, state: 'SENT', netTotal: { amount: '9.99' }, taxTotal: { amount: '1.9' }, total: { amount: '11.89' } });
    expect(all[0].number).toMatch(/^INV-\d{8}$/);
    expect(all[0].lines).toEqual([
      { kind: 'ONE_OFF', description: `Roaming pack EU 5 GB (ADD_ON_PURCHASE, charge ${data.chargeId}: not collected from the settled prepaid wallet)`, taxRate: '0.19', netAmount: { amount: '9.99' }, grossAmount: { amount: '11.89' } },
    ]);
    const [row] = await db(`select status, invoice_id from wallet_charge_refused where charge_id = ?`, [data.chargeId]);
    expect(row).toEqual({ status: 'BILLED', invoice_id: all[0].id });
  });

  it('a postpaid account after its final bill: a one-off on the adjustment invoice of the next bill run, once', async () => {
    h.clock.set('2026-10-01T08:00:00Z');
    await account(h, 'acc_rf_post', { paymentTermsDays: 14 });
    await subscribe(h, 'acc_rf_post', 'sub_rf_post', 'postpaid20', '2026-08-31T22:00:00Z');
    await h.gql(CLOSE, { i: { billingAccountId: 'acc_rf_post', periodStart: '2026-08-31T22:00:00Z', periodEnd: '2026-09-30T22:00:00Z' } });
    h.clock.set('2026-10-20T09:00:00Z');
    await h.gql(CLOSE, { i: { billingAccountId: 'acc_rf_post', periodStart: '2026-09-30T22:00:00Z', periodEnd: '2026-10-20T08:00:00Z', final: true } });
    h.clock.set('2026-10-25T09:00:00Z');
    const data = refused({ chargeId: `chg_${h.svc.schema}_post`, billingAccountId: 'acc_rf_post', amount: { amount: '5.00', currency: 'EUR' }, description: 'SIM replacement', reason: 'SIM_REPLACEMENT_FEE', refusal: 'WALLET_CLOSED', settledAt: null });
    await publish(data, 'a');
    await publish(data, 'a');
    await waitFor(async () => (await db(`select 1 from wallet_charge_refused where charge_id = ?`, [data.chargeId])).length > 0);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await invoicesOf(h, 'acc_rf_post')).toHaveLength(2); // nothing billed before the next run

    h.clock.set('2026-11-01T10:00:00Z');
    await runBillRun(h, '2026-11-01');
    const all = await invoicesOf(h, 'acc_rf_post');
    expect(all).toHaveLength(3);
    const after = all.find((i: any) => i.periodStart === '2026-10-20T08:00:00.000Z');
    expect(after.lines.map((l: any) => [l.kind, l.description, l.netAmount.amount])).toEqual([
      ['ONE_OFF', `SIM replacement (SIM_REPLACEMENT_FEE, charge ${data.chargeId}: not collected from the closed prepaid wallet)`, '5'],
    ]);
    // The next bill run has nothing of it left.
    h.clock.set('2026-12-01T10:00:00Z');
    await runBillRun(h, '2026-12-01');
    expect(await invoicesOf(h, 'acc_rf_post')).toHaveLength(3);
  });

  it('holds what it cannot bill, with a reason, counts it, and bills what comes after', async () => {
    await account(h, 'acc_rf_held', { paymentMode: 'PREPAID' });
    const other = refused({ chargeId: `chg_${h.svc.schema}_usd`, billingAccountId: 'acc_rf_held', amount: { amount: '3.00', currency: 'USD' } });
    const unknown = refused({ chargeId: `chg_${h.svc.schema}_unknown`, billingAccountId: 'acc_rf_nobody' });
    const notAmount = refused({ chargeId: `chg_${h.svc.schema}_nan`, billingAccountId: 'acc_rf_held', amount: { amount: 'lots', currency: 'EUR' } });
    await publish(other, 'usd');
    await publish(other, 'usd');
    await publish(unknown, 'unknown');
    await publish(notAmount, 'nan');
    await h.svc.runtime.messaging.js.publish(EVENTS.chargeRefused.subject, 'not json');
    const fine = refused({ chargeId: `chg_${h.svc.schema}_fine`, billingAccountId: 'acc_rf_held' });
    await publish(fine, 'fine');
    await waitFor(async () => (await invoicesOf(h, 'acc_rf_held')).length > 0);

    const held = await db(`select charge_id, billing_account_id, status, held_reason from wallet_charge_refused where status = 'HELD' and (charge_id like ? or charge_id is null) order by held_reason`, [`chg_${h.svc.schema}_%`]);
    expect(held.map((r: any) => [r.charge_id, r.billing_account_id, r.held_reason])).toEqual([
      [unknown.chargeId, 'acc_rf_nobody', 'account_unknown'],
      [other.chargeId, 'acc_rf_held', 'currency_mismatch'],
      [notAmount.chargeId, 'acc_rf_held', 'invalid'],
      [null, null, 'not_a_cloud_event'],
    ]);
    const [detail] = await db(`select held_because from wallet_charge_refused where charge_id = ?`, [other.chargeId]);
    expect(detail.held_because).toMatch(/bills in EUR.*USD/);
    const metric = await h.svc.runtime.metrics.getSingleMetricAsString('ledgerline_invoicing_wallet_charges_held_total');
    expect(metric).toMatch(/reason="currency_mismatch"[^}]*\} 1$/m);
    expect(metric).toMatch(/reason="account_unknown"[^}]*\} 1$/m);
    expect(metric).toMatch(/reason="invalid"[^}]*\} 1$/m);
    expect(metric).toMatch(/reason="not_a_cloud_event"[^}]*\} 1$/m);
    const bills = await invoicesOf(h, 'acc_rf_held');
    expect(bills.map((i: any) => i.total.amount)).toEqual(['11.89']);

    // Delivered again once its account is known (a replay), a held charge is billed, and not counted again.
    await account(h, 'acc_rf_nobody', { paymentMode: 'PREPAID' });
    await publish(unknown, 'unknown');
    await waitFor(async () => (await invoicesOf(h, 'acc_rf_nobody')).length > 0);
    const [again] = await db(`select status, held_reason from wallet_charge_refused where charge_id = ?`, [unknown.chargeId]);
    expect(again).toEqual({ status: 'BILLED', held_reason: null });
    expect(await h.svc.runtime.metrics.getSingleMetricAsString('ledgerline_invoicing_wallet_charges_held_total')).toMatch(/reason="account_unknown"[^}]*\} 1$/m);
  });
});
