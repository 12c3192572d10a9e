// Durable pull consumers on the BILLING stream (CONSUMERS, below) for everything invoicing learns from others:
// POSTPAID charges from wallets (batched into `unbilled_charge`, idempotent by chargeId), and
// accounts, subscriptions and one-off charges from subscribers. Each fetched batch is applied in
// one transaction, then acknowledged; a crash before the ack redelivers, and every write is idempotent.
import type { JsMsg } from '@nats-io/jetstream';
import { DomainError, EVENTS, WORK_SUBJECTS, parseCloudEvent, chargeResultsOf, type BillingAccountChangedData, type BudgetReplenishmentData, type ChargeResult, type OneOffChargeData, type SubscriptionData } from '@ledgerline/contracts';
import { startDurableConsumers, type Em, type ServiceRuntime } from '@ledgerline/platform';
import { addOneOffCharge, isPrepaid, recordCharges, recordSubscription, registerBillingAccount, setAutopay } from '../application/read-model';
import { invoiceBudgetReplenishment } from '../application/replenishment';

const ONE_OFF_SUBJECT = (EVENTS as Record<string, { subject: string }>).oneOffChargeCreated?.subject ?? 'billing.subscribers.oneoffcharge.created';

export const CONSUMED_SUBJECTS = [
  WORK_SUBJECTS.chargeApplied,
  EVENTS.billingAccountCreated.subject,
  EVENTS.billingAccountChanged.subject,
  EVENTS.subscriptionCreated.subject,
  EVENTS.subscriptionChanged.subject,
  ONE_OFF_SUBJECT,
];

/** Applies one batch of messages; exported so tests can feed messages without NATS. */
export async function applyMessages(em: Em, messages: { subject: string; data: Uint8Array | string }[], now: Date): Promise<void> {
  const charges: ChargeResult[] = [];
  for (const m of messages) {
    const text = typeof m.data === 'string' ? m.data : new TextDecoder().decode(m.data);
    if (m.subject === WORK_SUBJECTS.chargeApplied) {
      // One result or a batch of them, bare or in a CloudEvent.
      charges.push(...chargeResultsOf(JSON.parse(text)).results);
      continue;
    }
    const event = parseCloudEvent(text);
    if (m.subject === EVENTS.billingAccountCreated.subject) {
      const d = event.data as { billingAccountId: string; customerId: string; paymentMode: 'PREPAID' | 'POSTPAID'; currency: string; billCycleDay: number; timezone: string; paymentTermsDays?: number; autopay?: boolean };
      // The token is not on the event (partners read it): only that there is one.
      await registerBillingAccount(em, { ...d, autopay: d.autopay === true, autopayToken: null, now });
    } else if (m.subject === EVENTS.billingAccountChanged.subject) {
      const d = event.data as BillingAccountChangedData;
      if (d.changed?.includes('autopay')) await setAutopay(em, d.billingAccountId, d.autopay === true);
    } else if (m.subject === EVENTS.subscriptionCreated.subject || m.subject === EVENTS.subscriptionChanged.subject) {
      const d = event.data as SubscriptionData & { effectiveAt?: string };
      // A plan change takes effect when the event says (or at the event's time).
      const startsAt = m.subject === EVENTS.subscriptionChanged.subject ? new Date(d.effectiveAt ?? event.time) : new Date(d.startsAt);
      await recordSubscription(em, { subscriptionId: d.subscriptionId, lineId: d.lineId, msisdn: d.msisdn, billingAccountId: d.billingAccountId, planCode: d.planCode, planVersionId: d.planVersionId, startsAt, endsAt: d.endsAt ? new Date(d.endsAt) : null });
    } else if (m.subject === ONE_OFF_SUBJECT) {
      const d = event.data as OneOffChargeData;
      // A prepaid account's one-offs come out of its balance (wallets); it has no bill to put them on.
      if (await isPrepaid(em, d.billingAccountId)) continue;
      // A postpaid line's plan change is billed by the period's plan segments (each day once, on
      // the plan held then); the proration one-offs an older subscribers sent would bill it again.
      // Subscribers no longer sends them; this guards a deployment's overlap and old events replayed.
      if (d.reason === 'PLAN_CHANGE_PRORATION') continue;
      await addOneOffCharge(em, { id: d.chargeId, billingAccountId: d.billingAccountId, lineId: d.lineId, code: d.reason, description: d.description, amount: { amount: d.amount, currency: d.currency }, occurredAt: new Date(d.chargedAt), now });
    }
  }
  if (charges.length) await recordCharges(em, charges, now);
}

/**
 * Three durable consumers (single filter subjects, so NATS servers before 2.10 work too): wallets'
 * charge results, everything subscribers publishes (we skip what we do not need), and budget replenishments.
 */
export const CONSUMERS = [
  { name: 'charges', filter: WORK_SUBJECTS.chargeApplied },
  { name: 'subscribers', filter: 'billing.subscribers.>' },
  { name: 'budgets', filter: EVENTS.budgetReplenished.subject },
];

/**
 * Budget replenishments, one message per transaction: the invoice is idempotent per
 * replenishmentId; an account not known yet (its event still on the way) is retried later; an
 * event that can never be invoiced (a currency mismatch) is logged and dropped.
 */
async function applyReplenishments(runtime: ServiceRuntime, batch: JsMsg[]): Promise<void> {
  for (const m of batch) {
    let data: BudgetReplenishmentData;
    try {
      // A CloudEvent (the outbox's form), or the bare data.
      const body = JSON.parse(new TextDecoder().decode(m.data));
      data = (body?.specversion ? parseCloudEvent(JSON.stringify(body)).data : body) as BudgetReplenishmentData;
    } catch (error) {
      runtime.logger.error({ err: error, subject: m.subject, seq: m.seq }, 'budget replenishment message is not JSON; dropped');
      m.term();
      continue;
    }
    try {
      await runtime.orm.em.fork().transactional((em) => invoiceBudgetReplenishment(em as Em, data, runtime.clock.now()));
      runtime.relay.nudge();
      m.ack();
    } catch (error) {
      if (error instanceof DomainError && error.code === 'BILLINGACCOUNT_NOT_FOUND') {
        m.nak(5_000);
      } else if (error instanceof DomainError) {
        runtime.logger.error({ err: error, subject: m.subject, seq: m.seq }, 'budget replenishment cannot be invoiced; dropped');
        m.term();
      } else {
        runtime.logger.warn({ err: error }, 'budget replenishment failed; it will be redelivered');
        m.nak(1_000);
      }
    }
  }
}

export function startConsumer(runtime: ServiceRuntime): Promise<() => Promise<void>> {
  const schema = runtime.config.databaseSchema;
  // Tests and end-to-end runs share one NATS: their consumers are their own and start at "now".
  const throwaway = /^(t|e2e)_/.test(schema) || process.env.INVOICING_CONSUMER_DELIVER === 'new';
  return startDurableConsumers(
    runtime,
    CONSUMERS.map((c) => ({
      ...c,
      batchSize: 1000,
      maxAckPending: 20_000,
      ...(c.name === 'budgets'
        ? { settlesItself: true, handle: (batch: JsMsg[]) => applyReplenishments(runtime, batch) }
        : {
            handle: async (batch: JsMsg[]) => {
              const wanted = batch.filter((m) => CONSUMED_SUBJECTS.includes(m.subject));
              if (wanted.length) await runtime.orm.em.fork().transactional((em) => applyMessages(em as Em, wanted.map((m) => ({ subject: m.subject, data: m.data })), runtime.clock.now()));
            },
          }),
    })),
    { throwaway },
  );
}
