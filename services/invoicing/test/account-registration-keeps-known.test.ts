// registerBillingAccount is an upsert fed by two callers that each know part of an account: an operator (or a
// test) by hand, and subscribers' `billingaccount.created`, which carries no customer name, jurisdiction, rounding
// mode or invoice series. Before, every call overwrote those with what it sent, so a registration that left the
// name out cleared it, and the created event redelivered or replayed after a registration by hand cleared the name
// (drafts, the receivables-aging report and future invoices then showed the account id) and reset jurisdiction
// (its tax), rounding and series to their defaults. Left out now keeps what is on file; an explicit null still
// clears the name (and, for a field with a default, asks for the default, as before). Real PostgreSQL; the event
// through the consumer's own code (applyMessages).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS, createCloudEvent } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { applyMessages } from '../src/events/consumer';
import { startHarness, type Harness } from './support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false });
});
afterAll(async () => h?.svc.close());

const run = Date.now().toString(36);
const REGISTER = 'mutation($i: RegisterBillingAccountInput!) { registerBillingAccount(input: $i) { ok } }';
/** Only the required fields and what `over` adds: whatever is left out is left out of the call. */
const register = (id: string, over: Record<string, unknown> = {}) => h.gql(REGISTER, { i: { billingAccountId: id, paymentMode: 'POSTPAID', currency: 'EUR', ...over } });
const FULL = { customerName: 'Erika Mustermann', billCycleDay: 15, timezone: 'Europe/Vienna', jurisdiction: 'AT', roundingMode: 'HALF_UP', series: 'ATX', paymentTermsDays: 30 };
const rowOf = async (id: string) =>
  ((await h.svc.runtime.orm.em.fork().getConnection().execute(
    'select customer_name, bill_cycle_day, timezone, jurisdiction, rounding_mode, series, payment_terms_days, bill_cycle_changes_at from billing_account where id = ?',
    [id],
  )) as Record<string, unknown>[])[0];
const AS_REGISTERED = { customer_name: 'Erika Mustermann', bill_cycle_day: 15, timezone: 'Europe/Vienna', jurisdiction: 'AT', rounding_mode: 'HALF_UP', series: 'ATX', payment_terms_days: 30, bill_cycle_changes_at: null };

/** Subscribers' created event for `id` as subscribers sends it (no name, jurisdiction, rounding or series), applied as the consumer applies it. */
const created = (id: string, paymentTermsDays = 30) =>
  h.svc.runtime.orm.em.fork().transactional((em) =>
    applyMessages(em as Em, [{
      subject: EVENTS.billingAccountCreated.subject,
      seq: 1,
      data: JSON.stringify(createCloudEvent({
        source: 'ledgerline/subscribers',
        type: EVENTS.billingAccountCreated.type,
        subject: id,
        time: new Date('2026-10-01T08:00:00Z'),
        data: { billingAccountId: id, customerId: `cus_${id}`, parentAccountId: null, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 15, paymentTermsDays, timezone: 'Europe/Vienna', creditLimit: null, autopay: false, partnerId: null, partnerVersion: 0 },
        key: [id],
      })),
    }], h.clock.now()),
  );

describe('registering an account again keeps what the call leaves out', () => {
  it('registered with a name, then again without one: the name stays', async () => {
    const id = `acc_keep_name_${run}`;
    await register(id, { customerName: 'Erika Mustermann' });
    await register(id);
    expect((await rowOf(id))?.customer_name).toBe('Erika Mustermann');
  });

  it("registered by hand, then subscribers' billingaccount.created (redelivered, replayed): name, jurisdiction, rounding, series stay", async () => {
    const id = `acc_keep_event_${run}`;
    await register(id, FULL);
    await created(id);
    expect(await rowOf(id)).toEqual(AS_REGISTERED);
  });

  it('the event first, then by hand, then the event again: what the hand added stays', async () => {
    const id = `acc_keep_first_${run}`;
    await created(id);
    expect(await rowOf(id)).toMatchObject({ customer_name: null, jurisdiction: 'DE', rounding_mode: 'HALF_EVEN', series: 'INV' });
    await register(id, FULL);
    await created(id);
    expect(await rowOf(id)).toEqual(AS_REGISTERED);
  });

  it('registered again with only the required fields: cycle, zone, jurisdiction, rounding, series, terms stay (no cycle change)', async () => {
    const id = `acc_keep_all_${run}`;
    await register(id, FULL);
    await register(id);
    expect(await rowOf(id)).toEqual(AS_REGISTERED);
  });

  it('what a call does give still changes: a new name, new terms (also from the event), an explicit null clears the name', async () => {
    const id = `acc_keep_change_${run}`;
    await register(id, FULL);
    await register(id, { customerName: 'Erika Musterfrau-Neu', paymentTermsDays: 21 });
    expect(await rowOf(id)).toMatchObject({ customer_name: 'Erika Musterfrau-Neu', payment_terms_days: 21 });
    await created(id, 10);
    expect(await rowOf(id)).toMatchObject({ customer_name: 'Erika Musterfrau-Neu', payment_terms_days: 10 });
    await register(id, { customerName: null });
    expect(await rowOf(id)).toMatchObject({ customer_name: null, jurisdiction: 'AT', series: 'ATX' });
  });

  it('an explicit null for a field with a default asks for the default, as before', async () => {
    const id = `acc_keep_default_${run}`;
    await register(id, FULL);
    await register(id, { jurisdiction: null, roundingMode: null, series: null, paymentTermsDays: null });
    expect(await rowOf(id)).toMatchObject({ jurisdiction: 'DE', rounding_mode: 'HALF_EVEN', series: 'INV', payment_terms_days: 14 });
  });
});
