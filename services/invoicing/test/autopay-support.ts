// Shared set-up of the autopay-with-disputes tests (disputes-autopay-*.test.ts): a harness whose dunning
// starts are recorded and whose card charges can lose their answer, autopay accounts on POSTPAID_20GB,
// the due-date job, the September invoice and readers of its card charges and autopay attempts.
// The harness itself is support.ts's; each file keeps its own `h` and passes `() => h`. What is
// recorded belongs to that call (files share a worker process: no state at module level).
import { expect } from 'vitest';
import { dec } from '@ledgerline/contracts';
import type { ChargeCardRequest } from '../src/adapters/payment-provider';
import type { DunningStarter, StartDunningRequest } from '../src/ports/dunning';
import { account, startHarness, subscribe, type Harness } from './support';
import { NO_DISPUTE_WORKFLOW, customer, disputeCalls, disputeMutations } from './dispute-support';

/** The due-date job (autopay, then dunning). */
export const JOB = 'mutation { runDueDateJob { autopaid declined dunningStarted } }';
export const CLOSE = 'mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { invoice { id state total { amount } dueDate lines { id kind grossAmount { amount } } } } } }';
const INVOICE = 'query($id: ID!) { invoice(id: $id) { state amountDue { amount } amountPaid { amount } amountDisputed { amount } } }';
const { OPEN } = disputeMutations('id status');

/** Calls against the file's harness (read when called, so after its `beforeAll`). */
export function autopayCalls(harness: () => Harness) {
  const { as, db } = disputeCalls(harness);
  /** Every dunning started, in order. */
  const dunned: StartDunningRequest[] = [];
  const dunning: DunningStarter = { start: async (r) => void dunned.push(r), poke: async () => undefined };
  /** Every charge request asked of the provider, retries included, as [key, amount]. */
  const asked: [string, string][] = [];
  let loseAnswerOf: string | null = null;

  const view = async (id: string) => {
    const i = (await harness().gql<any>(INVOICE, { id })).invoice;
    return { state: i.state, amountDue: i.amountDue.amount, amountPaid: i.amountPaid.amount, amountDisputed: i.amountDisputed.amount };
  };
  /** Every card charge asked of the provider for the invoice, as [key, amount], in the order first asked. */
  const cardCharges = (invoiceId: string) => [...harness().payments.charges.values()].filter((c) => c.req.idempotencyKey.startsWith(`autopay:${invoiceId}`)).map((c) => [c.req.idempotencyKey, c.req.amount]);

  /** The account's September period closed: its invoice (id, state, total, dueDate, lines), SENT for 35.69. */
  const closeSeptember = async (acc: string): Promise<any> => {
    const inv = (await harness().gql<any>(CLOSE, { i: { billingAccountId: acc, periodStart: '2026-08-31T22:00:00Z', periodEnd: '2026-09-30T22:00:00Z' } })).closeBillingPeriod.billingPeriod.invoice;
    expect(inv).toMatchObject({ state: 'SENT', total: { amount: '35.69' } });
    return inv;
  };

  /**
   * The account's September invoice (35.69) closed on 2026-10-01, disputed in part by `hold` before its
   * due date, and charged its undisputed part (`undisputed`) to the card by the due-date job on
   * 2026-10-04: the invoice and what `hold` answered.
   */
  const septemberHeldThenCharged = async <T extends object>(acc: string, undisputed: string, hold: (inv: any) => Promise<T>): Promise<{ inv: any } & T> => {
    const h = harness();
    h.clock.set(new Date('2026-10-01T08:00:00Z'));
    const inv = await closeSeptember(acc);
    const held = await hold(inv);
    h.clock.set(new Date('2026-10-04T09:00:00Z'));
    await h.gql(JOB);
    expect(cardCharges(inv.id), `the undisputed ${undisputed} on the due date`).toEqual([[`autopay:${inv.id}`, undisputed]]);
    return { inv, ...held };
  };

  return {
    dunned,
    asked,
    /**
     * Starts the harness on 2026-10-01 (no consumers, no bill runs, dunning recorded, no dispute
     * workflow; a reminder after 1 day, no late fee, suspension after 3) and registers each account:
     * customer `cus_<acc>`, 3 days' payment terms, autopay with `tok_visa_<acc>`, on POSTPAID_20GB
     * since 2026-08-01 (subscription `sub_<acc>`).
     */
    async startWithAutopayAccounts(accounts: string[]): Promise<Harness> {
      const h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false, dunning, disputes: NO_DISPUTE_WORKFLOW, policy: { reminderDays: [1], lateFee: null, suspendAfterDays: 3 } });
      const charge = h.payments.charge.bind(h.payments);
      h.payments.charge = async (req: ChargeCardRequest) => {
        asked.push([req.idempotencyKey, req.amount]);
        const r = await charge(req);
        if (loseAnswerOf && req.idempotencyKey.endsWith(loseAnswerOf)) {
          loseAnswerOf = null;
          throw new Error('connection terminated after the capture');
        }
        return r;
      };
      for (const acc of accounts) {
        await account(h, acc, { customerId: `cus_${acc}`, paymentTermsDays: 3, autopayToken: `tok_visa_${acc}` });
        await subscribe(h, acc, `sub_${acc}`, 'postpaid20', '2026-08-01T00:00:00Z');
      }
      return h;
    },
    /** The next charge whose key ends so (a whole key, or its tail) is captured at the provider, then the pass fails before it commits (the answer lost). */
    failAfterCapture(keyEnd: string): void {
      loseAnswerOf = keyEnd;
    },
    /** The invoice's state and amounts due, paid and disputed. */
    view,
    cardCharges,
    /**
     * The invoice's autopay attempts as [attempt, state, amount, key, dispute], in order; with
     * `releasesOnly` those after the due-date one. Amounts as exact text with two decimals (money is never a JS number).
     */
    attemptsOf: async (invoiceId: string, { releasesOnly = false }: { releasesOnly?: boolean } = {}) =>
      ((await db().execute(`select attempt, state, amount::text as amount, idempotency_key, dispute_id from autopay_attempt where invoice_id = ?${releasesOnly ? ' and attempt > 1' : ''} order by attempt`, [invoiceId])) as any[]).map((t) => [
        t.attempt,
        t.state,
        t.amount == null ? null : dec(t.amount).toFixed(2),
        t.idempotency_key,
        t.dispute_id,
      ]),
    /** How many times dunning was started for the invoice. */
    wasDunned: (invoiceId: string) => dunned.filter((r) => r.invoiceId === invoiceId).length,
    closeSeptember,
    septemberHeldThenCharged,
    /**
     * The September invoice (35.69) with two disputes opened before its due date (a: 5.00 of its first
     * line, b: 3.00 of the invoice), charged its undisputed 27.69 on the due date.
     */
    async twoDisputesCharged(acc: string): Promise<{ inv: any; a: string; b: string }> {
      const { inv, a, b } = await septemberHeldThenCharged(acc, '27.69', async (inv) => {
        const cus = customer(`cus_${acc}`);
        const a: string = (await as(cus, OPEN, { i: { invoiceId: inv.id, invoiceLineId: inv.lines[0].id, amount: '5.00', reason: 'A roaming day I never had', idempotencyKey: `${acc}-a` } })).openDispute.dispute.id;
        const b: string = (await as(cus, OPEN, { i: { invoiceId: inv.id, amount: '3.00', reason: 'A fee I did not agree to', idempotencyKey: `${acc}-b` } })).openDispute.dispute.id;
        return { a, b };
      });
      expect(await view(inv.id)).toEqual({ state: 'ON_HOLD', amountDue: '8', amountPaid: '27.69', amountDisputed: '8' });
      return { inv, a, b };
    },
  };
}
