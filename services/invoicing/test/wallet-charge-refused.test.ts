// One-off charges a closed prepaid wallet refused (wallets' `billing.wallets.charge.refused`, since
// f7ccb9a): nothing was taken, so the customer still owes them, and before nobody billed them. Now
// invoicing's `refusedcharges` durable consumer bills each once per chargeId: a PREPAID account (no
// period invoices) at once on a WALLET_CHARGE invoice of its own, a POSTPAID one as a one-off on its
// next invoice (after its final bill: the adjustment invoice the next bill run makes, as late usage).
// What it cannot bill is held with a reason and counted, and the consumer goes on; one held because its
// account was not known yet is billed when invoicing learns the account (its billingaccount.created, a
// registration). A prepaid account's charge recorded before as an unbilled one-off is billed on its own invoice.
// Real PostgreSQL and NATS (shared by runs: accounts carry the run's schema).
import { afterAll, beforeAll, describe, expect, it, vi, type MockInstance } from 'vitest';
import { BILLING_STREAM, EVENTS, createCloudEvent, dec, type ChargeRefusedData } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { holdRefusedCharge, refusedChargeIn } from '../src/application/wallet-charge-refused';
import { account, invoicesOf, runBillRun, startHarness, subscribe, waitFor, type Harness } from './support';

let h: Harness;
let warn: MockInstance;
beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z');
  warn = vi.spyOn(h.svc.runtime.logger, 'warn');
});
/** An account of this run: runs share NATS, and every run's consumers read every run's events. */
const acc = (name: string): string => `acc_rf_${name}_${h.svc.schema.split('_')[1]}`;
afterAll(async () => {
  warn?.mockRestore();
  await h?.svc.close();
});

const CLOSE = 'mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { invoice { id } } } }';
const INVOICES = 'query($a: ID) { invoices(billingAccountId: $a) { edges { node { id kind sourceRef state number periodStart netTotal { amount } taxTotal { amount } total { amount } lines { kind description taxRate netAmount { amount } grossAmount { amount } } } } } }';

function refused(over: Partial<ChargeRefusedData> & { chargeId: string; billingAccountId: string }): ChargeRefusedData {
  return {
    walletId: `wal_${over.billingAccountId}`, lineId: 'lin_1', reason: 'ADD_ON_PURCHASE', description: 'Roaming pack EU 5 GB', amount: { amount: '9.99', currency: 'EUR' },
    refusal: 'WALLET_SETTLED', refusedBecause: 'The EUR wallet was settled', dueSince: null, transactionId: `wtx_${over.chargeId}`,
    closedAt: '2026-10-20T08:00:00.000Z', settledAt: '2026-10-23T08:00:00.000Z', refusedAt: '2026-10-25T09:00:00.000Z', ...over,
  };
}

/** Publishes a refused charge's event; its stream sequence (see `handled`). */
async function publish(data: unknown, key: string): Promise<number> {
  const d = data as ChargeRefusedData;
  const event = createCloudEvent({ source: 'ledgerline/wallets', type: EVENTS.chargeRefused.type, subject: String(d.billingAccountId), time: new Date('2026-10-25T09:00:00Z'), data, key: [key] });
  return (await h.svc.runtime.messaging.js.publish(EVENTS.chargeRefused.subject, JSON.stringify(event))).seq;
}

/** Publishes a message as it is; its held row's key if it names no charge (`message:<stream sequence>`). */
async function publishRaw(text: string): Promise<string> {
  return `message:${(await h.svc.runtime.messaging.js.publish(EVENTS.chargeRefused.subject, text)).seq}`;
}

const db = (text: string, params: unknown[] = []) => h.svc.runtime.orm.em.fork().getConnection().execute(text, params);

/** Subscribers' `billingaccount.created` of `id` (the event a charge held account_unknown waited for). */
async function accountCreated(id: string, paymentMode: 'PREPAID' | 'POSTPAID'): Promise<void> {
  const data = { billingAccountId: id, customerId: `cus_${id}`, paymentMode, currency: 'EUR', billCycleDay: 1, paymentTermsDays: 14, timezone: 'Europe/Berlin', creditLimit: null, autopay: false };
  const event = createCloudEvent({ source: 'ledgerline/subscribers', type: EVENTS.billingAccountCreated.type, subject: id, time: new Date('2026-10-26T08:00:00Z'), data, key: [id] });
  await h.svc.runtime.messaging.js.publish(EVENTS.billingAccountCreated.subject, JSON.stringify(event));
}

/**
 * Until this run's `refused_charges` consumer has acknowledged every message up to stream sequence `seq`: it has
 * finished with them (billed, held, or found billed), so what they did, or did not do, can be read. Waited for
 * rather than slept: done as soon as it is, and not read too early on a busy machine. (That consumer acknowledges
 * each message, held ones too. Not for the `subscribers` one: a batch holding another run's one-off for an account
 * this run never learns comes back for ever, its other events applied, and its acknowledgements never pass it.)
 */
async function handled(seq: number): Promise<void> {
  const durable = `invoicing_refused_charges_${h.svc.schema}`;
  await waitFor(async () => (await h.svc.runtime.messaging.jsm.consumers.info(BILLING_STREAM.name, durable)).ack_floor.stream_seq >= seq, 30_000);
}
const seqOf = (key: string): number => Number(key.slice('message:'.length));

/**
 * What this run's charges made the consumer hold, as `[key, reason]`: one warning per count of
 * `ledgerline_invoicing_wallet_charges_held_total`. The counter itself counts every run's charges (the consumer
 * reads the shared NATS, and another run's charge for an account unknown here is held here too), so the exact
 * "counted once" is read from the warnings naming this run's keys (`charge:<chargeId>`, `message:<seq>`).
 */
const heldTold = (...keys: string[]): string[][] =>
  warn.mock.calls
    .filter(([, msg]) => String(msg).startsWith('refused wallet charge invoicing cannot bill; held'))
    .map(([fields]) => fields as { key: string; reason: string })
    .filter((f) => keys.includes(f.key))
    .map((f) => [f.key, f.reason]);
const chargeKey = (d: { chargeId: string }) => `charge:${d.chargeId}`;

/** What `ledgerline_invoicing_wallet_charges_held_total{reason}` has counted so far (every run's charges: see heldTold). */
async function heldCount(reason: string): Promise<number> {
  const text = await h.svc.runtime.metrics.getSingleMetricAsString('ledgerline_invoicing_wallet_charges_held_total');
  const m = text.match(new RegExp(`reason="${reason}"[^}]*\\} (\\d+)$`, 'm'));
  return m ? Number(m[1]) : 0;
}

describe('charges a closed prepaid wallet refused (billing.wallets.charge.refused)', () => {
  it('a prepaid account: billed once on an invoice of its own, naming the charge, however often the event comes', async () => {
    await account(h, acc('pre'), { paymentMode: 'PREPAID', customerName: 'Prepaid Pia' });
    const data = refused({ chargeId: `chg_${h.svc.schema}_pre`, billingAccountId: acc('pre'), dueSince: '2026-10-21T10:00:00.000Z' });
    await publish(data, 'a');
    await publish(data, 'a'); // redelivered
    await handled(await publish(data, 'b')); // the same charge under another event id; all three handled
    const all = (await h.gql<any>(INVOICES, { a: acc('pre') })).invoices.edges.map((e: any) => e.node);
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ kind: 'WALLET_CHARGE', sourceRef: data.chargeId, state: 'SENT', netTotal: { amount: '9.99' }, taxTotal: { amount: '1.9' }, total: { amount: '11.89' } });
    expect(all[0].number).toMatch(/^INV-\d{8}$/);
    expect(all[0].lines).toEqual([
      { kind: 'ONE_OFF', description: `Roaming pack EU 5 GB (ADD_ON_PURCHASE, charge ${data.chargeId}: not collected from the settled prepaid wallet)`, taxRate: '0.19', netAmount: { amount: '9.99' }, grossAmount: { amount: '11.89' } },
    ]);
    const [row] = await db(`select status, invoice_id from wallet_charge_refused where charge_id = ?`, [data.chargeId]);
    expect(row).toEqual({ status: 'BILLED', invoice_id: all[0].id });
  });

  it('a charge the settlement paid in part: the line says what the wallet collected and bills the rest', async () => {
    await account(h, acc('part'), { paymentMode: 'PREPAID' });
    const data = refused({
      chargeId: `chg_${h.svc.schema}_part`, billingAccountId: acc('part'), reason: 'SIM_REPLACEMENT_FEE', description: 'SIM replacement', dueSince: '2026-10-21T10:00:00.000Z',
      amount: { amount: '2.00', currency: 'EUR' }, chargeAmount: { amount: '5.00', currency: 'EUR' }, collected: { amount: '3.00', currency: 'EUR' },
    });
    await publish(data, 'a');
    await waitFor(async () => (await invoicesOf(h, acc('part'))).length > 0);
    const [invoice] = (await h.gql<any>(INVOICES, { a: acc('part') })).invoices.edges.map((e: any) => e.node);
    expect(invoice.lines).toEqual([
      { kind: 'ONE_OFF', description: `SIM replacement (SIM_REPLACEMENT_FEE, charge ${data.chargeId}: 3.00 of 5.00 collected from the settled prepaid wallet, 2.00 billed)`, taxRate: '0.19', netAmount: { amount: '2' }, grossAmount: { amount: '2.38' } },
    ]);
  });

  it('a postpaid account after its final bill: a one-off on the adjustment invoice of the next bill run, once', async () => {
    // Bill-cycle day 9 (Europe/Berlin), a day of its own: other runs' accounts reach this run's schema too (their
    // billingaccount.created on the shared NATS, nearly all of day 1), and the run of the 1st billed them all (701
    // for this one while another run published accounts; its wait could run out). No other run's account has day 9.
    h.clock.set('2026-10-09T08:00:00Z');
    await account(h, acc('post'), { paymentTermsDays: 14, billCycleDay: 9 });
    await subscribe(h, acc('post'), 'sub_rf_post', 'postpaid20', '2026-09-08T22:00:00Z');
    await h.gql(CLOSE, { i: { billingAccountId: acc('post'), periodStart: '2026-09-08T22:00:00Z', periodEnd: '2026-10-08T22:00:00Z' } });
    h.clock.set('2026-10-20T09:00:00Z');
    await h.gql(CLOSE, { i: { billingAccountId: acc('post'), periodStart: '2026-10-08T22:00:00Z', periodEnd: '2026-10-20T08:00:00Z', final: true } });
    h.clock.set('2026-10-25T09:00:00Z');
    const data = refused({ chargeId: `chg_${h.svc.schema}_post`, billingAccountId: acc('post'), amount: { amount: '5.00', currency: 'EUR' }, description: 'SIM replacement', reason: 'SIM_REPLACEMENT_FEE', refusal: 'WALLET_CLOSED', settledAt: null });
    await publish(data, 'a');
    await handled(await publish(data, 'a'));
    expect(await db(`select status from wallet_charge_refused where charge_id = ?`, [data.chargeId])).toEqual([{ status: 'BILLED' }]);
    expect(await invoicesOf(h, acc('post'))).toHaveLength(2); // nothing billed before the next run

    h.clock.set('2026-11-09T10:00:00Z');
    expect(await runBillRun(h, '2026-11-09')).toMatchObject({ totalAccounts: 1 }); // its own account only
    const all = await invoicesOf(h, acc('post'));
    expect(all).toHaveLength(3);
    const after = all.find((i: any) => i.periodStart === '2026-10-20T08:00:00.000Z');
    expect(after.lines.map((l: any) => [l.kind, l.description, l.netAmount.amount])).toEqual([
      ['ONE_OFF', `SIM replacement (SIM_REPLACEMENT_FEE, charge ${data.chargeId}: not collected from the closed prepaid wallet)`, '5'],
    ]);
    // The next bill run has nothing of it left.
    h.clock.set('2026-12-09T10:00:00Z');
    expect(await runBillRun(h, '2026-12-09')).toMatchObject({ totalAccounts: 1 });
    expect(await invoicesOf(h, acc('post'))).toHaveLength(3);
  });

  it('holds what it cannot bill, with a reason, counts it, and bills what comes after', async () => {
    await account(h, acc('held'), { paymentMode: 'PREPAID' });
    const other = refused({ chargeId: `chg_${h.svc.schema}_usd`, billingAccountId: acc('held'), amount: { amount: '3.00', currency: 'USD' } });
    const unknown = refused({ chargeId: `chg_${h.svc.schema}_unknown`, billingAccountId: acc('nobody') });
    const notAmount = refused({ chargeId: `chg_${h.svc.schema}_nan`, billingAccountId: acc('held'), amount: { amount: 'lots', currency: 'EUR' } });
    await publish(other, 'usd');
    await publish(other, 'usd');
    await publish(unknown, 'unknown');
    await publish(notAmount, 'nan');
    const notJson = await publishRaw(`not json (${h.svc.schema})`);
    const fine = refused({ chargeId: `chg_${h.svc.schema}_fine`, billingAccountId: acc('held') });
    await handled(await publish(fine, 'fine'));

    const held = await db(`select charge_id, billing_account_id, status, held_reason from wallet_charge_refused where status = 'HELD' and (charge_id like ? or key = ?) order by held_reason`, [`chg_${h.svc.schema}_%`, notJson]);
    expect(held.map((r: any) => [r.charge_id, r.billing_account_id, r.held_reason])).toEqual([
      [unknown.chargeId, acc('nobody'), 'account_unknown'],
      [other.chargeId, acc('held'), 'currency_mismatch'],
      [notAmount.chargeId, acc('held'), 'invalid'],
      [null, null, 'not_a_cloud_event'],
    ]);
    const [detail] = await db(`select held_because from wallet_charge_refused where charge_id = ?`, [other.chargeId]);
    expect(detail.held_because).toMatch(/bills in EUR.*USD/);
    // Each logged and counted once (the USD one came twice).
    const ours = [chargeKey(other), chargeKey(unknown), chargeKey(notAmount), notJson];
    expect(heldTold(...ours).sort()).toEqual([
      [chargeKey(unknown), 'account_unknown'],
      [chargeKey(other), 'currency_mismatch'],
      [chargeKey(notAmount), 'invalid'],
      [notJson, 'not_a_cloud_event'],
    ].sort());
    for (const reason of ['currency_mismatch', 'account_unknown', 'invalid', 'not_a_cloud_event']) expect(await heldCount(reason)).toBeGreaterThanOrEqual(1);
    const bills = await invoicesOf(h, acc('held'));
    expect(bills.map((i: any) => i.total.amount)).toEqual(['11.89']);

    // Its account registered by hand, the charge held for it is billed with the registration, and not counted
    // again; delivered again (a replay), it finds itself billed.
    await account(h, acc('nobody'), { paymentMode: 'PREPAID' });
    expect((await invoicesOf(h, acc('nobody'))).map((i: any) => i.total.amount)).toEqual(['11.89']);
    await handled(await publish(unknown, 'unknown'));
    expect(await invoicesOf(h, acc('nobody'))).toHaveLength(1);
    const [again] = await db(`select status, held_reason from wallet_charge_refused where charge_id = ?`, [unknown.chargeId]);
    expect(again).toEqual({ status: 'BILLED', held_reason: null });
    expect(heldTold(chargeKey(unknown))).toEqual([[chargeKey(unknown), 'account_unknown']]);
  });

  it('a charge is not held account_unknown once its account is known (learnt while the charge was tried): it is tried again', async () => {
    await account(h, acc('meanwhile'), { paymentMode: 'PREPAID' });
    const m = refusedChargeIn(JSON.stringify(refused({ chargeId: `chg_${h.svc.schema}_meanwhile`, billingAccountId: acc('meanwhile') })), 1);
    const held = await h.svc.runtime.orm.em.fork().transactional((em) => holdRefusedCharge(em as Em, m, 'account_unknown', 'Billing account is not known to invoicing', new Date('2026-10-25T09:00:00Z')));
    expect(held).toBe('account_known');
    expect(await db(`select 1 from wallet_charge_refused where key = ?`, [m.key])).toEqual([]);
  });

  it('a charge held because its account was not known yet is billed when the account is learnt (billingaccount.created), once, counted once', async () => {
    const countedBefore = await heldCount('account_unknown');
    const pre = refused({ chargeId: `chg_${h.svc.schema}_late_pre`, billingAccountId: acc('late_pre') });
    const post = refused({ chargeId: `chg_${h.svc.schema}_late_post`, billingAccountId: acc('late_post'), amount: { amount: '5.00', currency: 'EUR' } });
    const usd = refused({ chargeId: `chg_${h.svc.schema}_late_usd`, billingAccountId: acc('late_usd'), amount: { amount: '3.00', currency: 'USD' } });
    for (const d of [pre, post, usd]) await publish(d, 'late');
    const heldRows = () => db(`select charge_id, status, held_reason, invoice_id from wallet_charge_refused where charge_id in (?, ?, ?) order by charge_id`, [pre.chargeId, post.chargeId, usd.chargeId]);
    await waitFor(async () => (await heldRows()).length === 3);
    expect((await heldRows()).map((r: any) => [r.status, r.held_reason])).toEqual([['HELD', 'account_unknown'], ['HELD', 'account_unknown'], ['HELD', 'account_unknown']]);
    expect(heldTold(...[pre, post, usd].map(chargeKey))).toEqual([pre, post, usd].map((d) => [chargeKey(d), 'account_unknown']));
    expect(await heldCount('account_unknown')).toBeGreaterThanOrEqual(countedBefore + 3);

    // The accounts' events come after (no replay of the charges): invoicing bills what it held for them.
    await accountCreated(acc('late_pre'), 'PREPAID');
    await accountCreated(acc('late_post'), 'POSTPAID');
    await accountCreated(acc('late_usd'), 'PREPAID');
    // (Behind every other run's subscribers' events on the stream: given as long as `handled`.)
    await waitFor(async () => (await invoicesOf(h, acc('late_pre'))).length > 0, 30_000);
    await waitFor(async () => (await db(`select 1 from billing_account where id = ?`, [acc('late_usd')])).length > 0, 30_000);
    // Everything again: the accounts' events redelivered, the charges replayed.
    await accountCreated(acc('late_pre'), 'PREPAID');
    await accountCreated(acc('late_post'), 'POSTPAID');
    // Subscribers' events are applied in stream order (a batch another run's event holds back is applied, then comes
    // back): once an account published after them is known, they have been applied.
    await accountCreated(acc('late_mark'), 'PREPAID');
    let replayed = 0;
    for (const d of [pre, post, usd]) replayed = await publish(d, 'late');
    await waitFor(async () => (await db(`select 1 from billing_account where id = ?`, [acc('late_mark')])).length > 0, 30_000);
    await handled(replayed);

    const bills = (await h.gql<any>(INVOICES, { a: acc('late_pre') })).invoices.edges.map((e: any) => e.node);
    expect(bills.map((i: any) => [i.kind, i.sourceRef, i.state, i.total.amount])).toEqual([['WALLET_CHARGE', pre.chargeId, 'SENT', '11.89']]);
    const oneOffs = await db(`select id, amount, invoice_id from one_off_charge where id in (?, ?) order by id`, [post.chargeId, pre.chargeId]);
    expect(oneOffs.map((r: any) => [r.id, dec(String(r.amount)).toFixed(), r.invoice_id])).toEqual([[post.chargeId, '5', null], [pre.chargeId, '9.99', bills[0].id]]);
    expect((await heldRows()).map((r: any) => [r.charge_id, r.status, r.held_reason, r.invoice_id])).toEqual([
      [post.chargeId, 'BILLED', null, null], // the POSTPAID account's next invoice bills it
      [pre.chargeId, 'BILLED', null, bills[0].id],
      [usd.chargeId, 'HELD', 'currency_mismatch', null], // now known: held for what it is, and its account's event applied
    ]);
    // Counted once, when it was held: neither the billing nor the deliveries after it counted again.
    expect(heldTold(...[pre, post, usd].map(chargeKey)).filter(([, reason]) => reason === 'account_unknown')).toEqual([pre, post, usd].map((d) => [chargeKey(d), 'account_unknown']));
    expect(await invoicesOf(h, acc('late_usd'))).toEqual([]);
  });

  it('a prepaid account whose charge was recorded before as an unbilled one-off: billed on an invoice of its own, the one-off marked billed', async () => {
    await account(h, acc('pre_oo'), { paymentMode: 'PREPAID' });
    const data = refused({ chargeId: `chg_${h.svc.schema}_pre_oo`, billingAccountId: acc('pre_oo') });
    // Recorded before under the charge's id (by hand here; a prepaid account's own one-offs are never billed by a period invoice).
    await h.gql('mutation($i: AddOneOffChargeInput!) { addOneOffCharge(input: $i) { ok } }', {
      i: { id: data.chargeId, billingAccountId: acc('pre_oo'), lineId: 'lin_1', code: 'ADD_ON_PURCHASE', description: 'Roaming pack EU 5 GB', amount: { amount: '9.99', currency: 'EUR' } },
    });
    await publish(data, 'a');
    await handled(await publish(data, 'a'));
    const all = (await h.gql<any>(INVOICES, { a: acc('pre_oo') })).invoices.edges.map((e: any) => e.node);
    expect(all.map((i: any) => [i.kind, i.sourceRef, i.state, i.total.amount])).toEqual([['WALLET_CHARGE', data.chargeId, 'SENT', '11.89']]);
    expect(all[0].lines.map((l: any) => [l.kind, l.netAmount.amount])).toEqual([['ONE_OFF', '9.99']]);
    const [oneOff] = await db(`select invoice_id from one_off_charge where id = ?`, [data.chargeId]);
    expect(oneOff.invoice_id).toBe(all[0].id);
    const [row] = await db(`select status, invoice_id from wallet_charge_refused where charge_id = ?`, [data.chargeId]);
    expect(row).toEqual({ status: 'BILLED', invoice_id: all[0].id });
  });

  it('a message held not_a_cloud_event is no longer held once a corrected event bills the charge it names, counted once', async () => {
    // The held row (key message:<seq>, no chargeId read) stayed HELD after the charge it carried was billed from
    // the corrected event (key charge:<chargeId>, another row): operators saw a charge outstanding that was billed.
    await account(h, acc('nace'), { paymentMode: 'PREPAID' });
    const countedBefore = await heldCount('not_a_cloud_event');
    const lacking = refused({ chargeId: `chg_${h.svc.schema}_nace`, billingAccountId: acc('nace') });
    // Its ids first in its data (a text cut before the amount still holds them).
    const ids = { chargeId: `chg_${h.svc.schema}_nace_cut`, billingAccountId: acc('nace') };
    const cut: ChargeRefusedData = Object.assign({ ...ids }, refused({ ...ids, amount: { amount: '5.00', currency: 'EUR' } }));
    const event = (data: ChargeRefusedData) => createCloudEvent({ source: 'ledgerline/wallets', type: EVENTS.chargeRefused.type, subject: data.billingAccountId, time: new Date('2026-10-25T09:00:00Z'), data, key: ['nace'] });
    // One without its source (not a CloudEvent), one cut short before its amount (not JSON).
    const { source: _source, ...noSource } = event(lacking);
    const whole = JSON.stringify(event(cut));
    const broken = [await publishRaw(JSON.stringify(noSource)), await publishRaw(whole.slice(0, whole.indexOf('"amount"')))];
    const rows = () => db(`select message like ? as cut, status, held_reason, invoice_id from wallet_charge_refused where key like 'message:%' and (message like ? or message like ?) order by 1`, [`%${cut.chargeId}%`, `%"${lacking.chargeId}"%`, `%"${cut.chargeId}"%`]);
    await waitFor(async () => (await rows()).length === 2);
    expect((await rows()).map((r: any) => [r.status, r.held_reason])).toEqual([['HELD', 'not_a_cloud_event'], ['HELD', 'not_a_cloud_event']]);

    // Corrected: the same charges as they should have come.
    await publish(lacking, 'nace');
    await publish(cut, 'nace');
    await waitFor(async () => (await invoicesOf(h, acc('nace'))).length === 2);
    const bills = (await h.gql<any>(INVOICES, { a: acc('nace') })).invoices.edges.map((e: any) => e.node);
    const billOf = (chargeId: string) => bills.find((i: any) => i.sourceRef === chargeId)?.id;
    expect((await rows()).map((r: any) => [r.status, r.invoice_id])).toEqual([['BILLED', billOf(lacking.chargeId)], ['BILLED', billOf(cut.chargeId)]]);
    expect(await db(`select count(*)::int as n from wallet_charge_refused where status = 'HELD' and (charge_id in (?, ?) or message like ?)`, [lacking.chargeId, cut.chargeId, `%_nace%${h.svc.schema.split('_')[1]}%`])).toEqual([{ n: 0 }]);
    // Counted once each, when held; the billing counted nothing.
    expect(heldTold(...broken)).toEqual(broken.map((key) => [key, 'not_a_cloud_event']));
    expect(await heldCount('not_a_cloud_event')).toBeGreaterThanOrEqual(countedBefore + 2);

    // The broken message delivered again once the charge is billed is not held again as outstanding.
    const again = await publishRaw(JSON.stringify(noSource));
    await handled(seqOf(again));
    expect(await db(`select count(*)::int as n from wallet_charge_refused where status = 'HELD' and message like ?`, [`%"${lacking.chargeId}"%`])).toEqual([{ n: 0 }]);
    expect(heldTold(...broken, again)).toEqual(broken.map((key) => [key, 'not_a_cloud_event']));
    expect(await invoicesOf(h, acc('nace'))).toHaveLength(2);
  });
});
