// A subscribers batch that re-posts a one-off charge (a redelivery: addOneOffCharge takes the id's
// lock and finds the charge) and, later in the same transaction, bills the charge's account closed
// (billingaccount.closed: the account's row, its credit lock), beside the waiver of that charge, which
// takes the account's row, its credit lock and then the id's lock. The batch held the id's lock and
// waited for the account's row, the waiver held the row and waited for the id's lock: PostgreSQL
// failed one of them (40P01), the batch redelivered or the waiver an INTERNAL_SERVER_ERROR. Now the
// batch takes the rows of the accounts it closes before applying any event (lock-order.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS, createCloudEvent, type OneOffChargeData } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { applyMessages } from '../src/events/consumer';
import { ONE_OFF_SUBJECT } from '../src/events/subscriber-events';
import { account, startHarness, subscribe, type Harness } from './support';
import { SYSTEM } from './dispute-support';

let h: Harness;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const WAIVE = 'mutation($i: WaiveOneOffChargeInput!) { waiveOneOffCharge(input: $i) { outcome } }';
const answer = (r: { errors?: readonly { extensions?: Record<string, unknown> }[]; data?: any }) => (r.errors?.length ? String(r.errors[0]!.extensions?.reason ?? r.errors[0]!.extensions?.code) : r.data.waiveOneOffCharge.outcome);

const cloudEvent = (type: string, key: string, data: unknown) =>
  JSON.stringify(createCloudEvent({ source: 'ledgerline/subscribers', type, subject: key, time: new Date('2026-10-20T08:00:00Z'), data, key: [key] }));
const oneOff = (acc: string, chargeId: string): OneOffChargeData => ({
  chargeId, billingAccountId: acc, lineId: null, subscriptionId: null, orderId: null, kind: 'CHARGE', reason: 'ACTIVATION_FEE',
  amount: '4.95', currency: 'EUR', description: 'Starter pack', periodStart: null, periodEnd: null, chargedAt: '2026-10-05T08:00:00Z',
} as OneOffChargeData);
const closed = (acc: string) => ({ subject: EVENTS.billingAccountClosed.subject, data: cloudEvent(EVENTS.billingAccountClosed.type, acc, { billingAccountId: acc, customerId: `cus_${acc}`, closedAt: '2026-10-20T08:00:00Z', reason: 'Moving abroad' }) });
const posted = (acc: string, chargeId: string) => ({ subject: ONE_OFF_SUBJECT, data: cloudEvent(EVENTS.oneOffChargeCreated.type, chargeId, oneOff(acc, chargeId)) });

beforeAll(async () => {
  h = await startHarness('2026-10-21T08:00:00Z', { consume: false, runBillRuns: false });
});
afterAll(async () => h?.svc.close());

describe('a subscribers batch re-posting a one-off, then closing its account, beside its waiver', () => {
  it('the batch and the waiver at once, 30 times: neither deadlocks', async () => {
    const now = new Date('2026-10-21T08:00:00Z');
    const orm = h.svc.runtime.orm;
    const seen: unknown[] = [];
    for (let i = 0; i < 30; i++) {
      const acc = `acc_batch_waive_${String(i).padStart(2, '0')}`;
      await account(h, acc);
      await subscribe(h, acc, `sub_${acc}`, 'postpaid20', '2026-08-31T22:00:00Z');
      const fee = `chg_${acc}`;
      // Delivered once already: the batch is its redelivery.
      await orm.em.fork().transactional((em) => applyMessages(em as Em, [posted(acc, fee)], now));
      // The re-posted fee first, other one-offs of the account after it (work between its id's lock and the closing), then the closing.
      const batch = [posted(acc, fee), ...Array.from({ length: 4 }, (_, n) => posted(acc, `${fee}_more_${n}`)), closed(acc)];
      const apply = async (delayMs: number) => {
        await sleep(delayMs);
        try {
          await orm.em.fork().transactional((em) => applyMessages(em as Em, batch, now));
          return 'applied';
        } catch (error) {
          return String((error as { code?: string }).code ?? error);
        }
      };
      const waive = async (delayMs: number) => {
        await sleep(delayMs);
        return answer(await h.svc.request(WAIVE, { i: { id: fee, reason: 'goodwill' } }, SYSTEM));
      };
      const offset = i % 6;
      const [applied, waived] = await Promise.all(i % 2 === 0 ? [apply(0), waive(offset)] : [apply(offset), waive(0)]);
      seen.push({ acc, applied, waivedOrCredited: ['WAIVED', 'CREDITED'].includes(waived) ? 'yes' : waived });
    }
    expect(seen).toEqual(Array.from({ length: 30 }, (_, i) => ({ acc: `acc_batch_waive_${String(i).padStart(2, '0')}`, applied: 'applied', waivedOrCredited: 'yes' })));
  });
});
