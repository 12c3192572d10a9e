// Durable pull consumers on the BILLING stream (CONSUMERS, below) for everything invoicing learns from others:
// POSTPAID charges from wallets (batched into `unbilled_charge`, idempotent by chargeId), and
// accounts, subscriptions and one-off charges from subscribers. Each fetched batch is applied in
// one transaction, then acknowledged; a crash before the ack redelivers, and every write is idempotent.
// What can never be applied (a message that is no charge result or CloudEvent, a value the tables
// refuse) is left out, logged and counted, so that it does not hold back what comes after it.
import type { JsMsg } from '@nats-io/jetstream';
import { DomainError, EVENTS, WORK_SUBJECTS, parseCloudEvent, chargeResultsOf, type BillingAccountChangedData, type BillingAccountClosedData, type BudgetReplenishmentData, type ChargeResult, type CloudEvent, type OneOffChargeData, type SubscriptionData } from '@ledgerline/contracts';
import { startDurableConsumers, type Em, type ServiceRuntime } from '@ledgerline/platform';
import { registerChargeResultsDropped, registerSubscriberEventsDropped, registerWalletChargesHeld, type WalletChargesHeld } from '../application/metrics';
import { accountsAutopayWouldChange, addOneOffCharge, autopayOfChange, isPrepaid, recordCharges, recordSubscription, recordSubscriptionState, registerBillingAccount, setAutopay, shown } from '../application/read-model';
import { invoiceBudgetReplenishment } from '../application/replenishment';
import { billChargesHeldForAccount, heldReasonOf, holdRefusedCharge, refusedChargeIn, takeRefusedCharge } from '../application/wallet-charge-refused';
import { billClosedAccount } from '../application/close-account';
import { lockAccountsForBilling, type BillingDeps } from '../application/bill-accounts';
import { ONE_OFF_SUBJECT, billedDescription, labelOf, subscriberEventIn } from './subscriber-events';

export const CONSUMED_SUBJECTS = [
  WORK_SUBJECTS.chargeApplied,
  EVENTS.billingAccountCreated.subject,
  EVENTS.billingAccountChanged.subject,
  EVENTS.billingAccountClosed.subject,
  EVENTS.subscriptionCreated.subject,
  EVENTS.subscriptionChanged.subject,
  ONE_OFF_SUBJECT,
];

/** A message as the consumers hand it on (`seq`: the stream's, for logs). */
type Message = { subject: string; data: Uint8Array | string; seq?: number };

/**
 * Why a charge result message, or a result in it, was left out: `not_json` (the message),
 * `invalid` (an entry that is not a ChargeResult), `unstorable` (a value unbilled_charge cannot hold),
 * `refused` (invoicing's rules refuse it the same every time: a charge in another currency than its account's).
 */
export type DroppedChargeReason = 'not_json' | 'invalid' | 'unstorable' | 'refused';
/** Told of what was left out (`count` results), to log and count it; the same input is left out every time. */
export type DropCharges = (reason: DroppedChargeReason, count: number, details: Record<string, unknown>) => void;

/**
 * Why a subscribers' event was left out: `not_a_cloud_event` (or not JSON), `invalid` (a value
 * its table cannot hold, see subscriber-events.ts), `unstorable` (the database refused it alone),
 * `refused` (invoicing's rules refuse it the same every time, e.g. a one-off in another currency
 * than its account's).
 */
export type DroppedEventReason = 'not_a_cloud_event' | 'invalid' | 'unstorable' | 'refused';
/** Told of a subscribers' event left out, to log and count it. */
export type DropEvent = (reason: DroppedEventReason, details: Record<string, unknown>) => void;

/** The ChargeResults of a chargeApplied message: one or a batch, bare or in a CloudEvent. */
function chargeResultsIn(text: string, seq: number | undefined, drop: DropCharges): ChargeResult[] {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    drop('not_json', 1, { seq, message: shown(text) });
    return [];
  }
  const { results, invalid } = chargeResultsOf(body);
  if (invalid > 0) drop('invalid', invalid, { seq });
  return results;
}

/** Without the service's deps (tests feeding messages): plans from `plan_version` only. */
const NO_DEPS: BillingDeps = { catalog: null };

const textOf = (m: Message): string => (typeof m.data === 'string' ? m.data : new TextDecoder().decode(m.data));

/**
 * Applies one batch of messages; exported so tests can feed messages without NATS. A charge result
 * that cannot be recorded is handed to `drop`, and a subscribers' event that cannot be applied to
 * `dropEvent`, and left out: the others of the batch are applied. `deps` bills a closed account's
 * final period (its plans from the catalog, the workflows of disputes a bill closes told).
 */
export async function applyMessages(em: Em, messages: Message[], now: Date, drop: DropCharges = () => undefined, dropEvent: DropEvent = () => undefined, deps: BillingDeps = NO_DEPS): Promise<void> {
  const charges: ChargeResult[] = [];
  const events: { subject: string; event: CloudEvent }[] = [];
  for (const m of messages) {
    const text = textOf(m);
    if (m.subject === WORK_SUBJECTS.chargeApplied) {
      charges.push(...chargeResultsIn(text, m.seq, drop));
      continue;
    }
    const checked = subscriberEventIn(m.subject, text);
    if ('reason' in checked) dropEvent(checked.reason, { subject: m.subject, seq: m.seq, ...checked.details });
    else events.push({ subject: m.subject, event: checked.event });
  }
  const written = await accountRowsWritten(em, events);
  if (written.size > 0) await lockAccountsForBilling(em, [...written]);
  for (const { subject, event } of events) await applySubscriberEvent(em, subject, event, now, deps, written);
  if (charges.length) await recordCharges(em, charges, now, (c, problem) => drop(problem.reason ?? 'unstorable', 1, { chargeId: shown(c.chargeId), billingAccountId: shown(c.billingAccountId), field: problem.field, problem: problem.message }));
}

/** Events that update an account's row (and a closing bills it): the batch's first locks (lock-order.ts). */
const ROW_WRITING_SUBJECTS = [EVENTS.billingAccountCreated.subject, EVENTS.billingAccountClosed.subject];

/**
 * The accounts whose rows the batch's events update: locked before any event is applied, as every
 * billing of an account takes its row first. Taken when their event came, after a one-off's id lock or
 * a refund's credit lock of an earlier event, the batch waited for the row while a waiver or a bill
 * holding it waited for those: a deadlock (test/subscribers-batch-waiver-lock-order.test.ts).
 * A `billingaccount.changed` only when it changes what invoicing keeps of the row (autopay), as the row is
 * now (`accountsAutopayWouldChange`): the others (a credit limit, a partner, autopay as it is) neither wait
 * for a bill of the account nor hold one up (test/account-changed-lock.test.ts).
 */
async function accountRowsWritten(em: Em, events: { subject: string; event: CloudEvent }[]): Promise<Set<string>> {
  const rowsWritten = events.filter((e) => ROW_WRITING_SUBJECTS.includes(e.subject)).map((e) => (e.event.data as { billingAccountId: string }).billingAccountId);
  const autopayChanges = events.flatMap((e) => {
    if (e.subject !== EVENTS.billingAccountChanged.subject) return [];
    const d = e.event.data as BillingAccountChangedData;
    const autopay = autopayOfChange(d);
    return autopay == null ? [] : [{ billingAccountId: d.billingAccountId, autopay }];
  });
  return new Set([...rowsWritten, ...(await accountsAutopayWouldChange(em, autopayChanges))]);
}

/** One subscribers' event that passed `subscriberEventIn`, into the read model (`locked`: the accounts whose rows the batch locked). */
async function applySubscriberEvent(em: Em, subject: string, event: CloudEvent, now: Date, deps: BillingDeps, locked: ReadonlySet<string>): Promise<void> {
  if (subject === EVENTS.billingAccountCreated.subject) {
    const d = event.data as { billingAccountId: string; customerId: string; paymentMode: 'PREPAID' | 'POSTPAID'; currency: string; billCycleDay: number; timezone: string; paymentTermsDays?: number; autopay?: boolean };
    // The token is not on the event (partners read it): only that there is one. Redelivered after a
    // bill-cycle change, its (old) day and zone change nothing (asCreated).
    await registerBillingAccount(em, { ...d, autopay: d.autopay === true, autopayToken: null, asCreated: true, now });
    // Charges closed wallets refused that were held until invoicing knew the account: billed now, once.
    await billChargesHeldForAccount(em, d.billingAccountId, now);
  } else if (subject === EVENTS.billingAccountChanged.subject) {
    const d = event.data as BillingAccountChangedData;
    const autopay = autopayOfChange(d);
    // An account not locked for it: the batch's look found its row as the event says (nothing to write). Under the
    // lock, setAutopay looks again and writes only what still differs.
    if (autopay != null && locked.has(d.billingAccountId)) await setAutopay(em, d.billingAccountId, autopay);
  } else if (subject === EVENTS.billingAccountClosed.subject) {
    // The final period billed up to closedAt, once (a redelivery finds the account CLOSED).
    const d = event.data as BillingAccountClosedData;
    await billClosedAccount(em, { billingAccountId: d.billingAccountId, closedAt: new Date(d.closedAt), now }, deps);
  } else if (subject === EVENTS.subscriptionCreated.subject || subject === EVENTS.subscriptionChanged.subject) {
    const d = event.data as SubscriptionData & { effectiveAt?: string };
    const facts = { subscriptionId: d.subscriptionId, lineId: d.lineId, msisdn: d.msisdn, billingAccountId: d.billingAccountId, planCode: d.planCode, planVersionId: d.planVersionId, endsAt: d.endsAt ? new Date(d.endsAt) : null };
    // A plan change on the same subscription, dated: takes effect when the event says.
    if (subject === EVENTS.subscriptionChanged.subject && d.effectiveAt != null) await recordSubscription(em, { ...facts, startsAt: new Date(d.effectiveAt) });
    // Subscribers' subscription (one plan version from its startsAt to its endsAt), sent again for any
    // change of it: its dates, never the event's time (recordSubscriptionState).
    else await recordSubscriptionState(em, { ...facts, status: d.status, startsAt: new Date(d.startsAt) });
  } else if (subject === ONE_OFF_SUBJECT) {
    const d = event.data as OneOffChargeData;
    // A prepaid account's one-offs come out of its balance (wallets); it has no bill to put them on.
    if (await isPrepaid(em, d.billingAccountId)) return;
    // A postpaid line's plan change is billed by the period's plan segments (each day once, on
    // the plan held then); the proration one-offs an older subscribers sent would bill it again.
    // Subscribers no longer sends them; this guards a deployment's overlap and old events replayed.
    if (d.reason === 'PLAN_CHANGE_PRORATION') return;
    await addOneOffCharge(em, { id: d.chargeId, billingAccountId: d.billingAccountId, lineId: d.lineId, code: d.reason, description: billedDescription(d.description, d.reason), amount: { amount: d.amount, currency: d.currency }, occurredAt: new Date(d.chargedAt), now });
  }
}

/**
 * Four durable consumers (single filter subjects, so NATS servers before 2.10 work too): wallets'
 * charge results, everything subscribers publishes (we skip what we do not need), budget
 * replenishments, and the one-off charges closed prepaid wallets refused (billed here instead).
 */
export const CONSUMERS = [
  { name: 'charges', filter: WORK_SUBJECTS.chargeApplied },
  { name: 'subscribers', filter: 'billing.subscribers.>' },
  { name: 'budgets', filter: EVENTS.budgetReplenished.subject },
  { name: 'refused_charges', filter: EVENTS.chargeRefused.subject },
];

/**
 * Charges closed prepaid wallets refused, one message per transaction (wallet-charge-refused.ts):
 * billed once per chargeId; what cannot be billed is held (a row with its reason), logged and
 * counted once, and acknowledged, so it never holds back what follows; a failure that may pass (the
 * database unavailable) comes again.
 */
async function applyRefusedCharges(runtime: ServiceRuntime, batch: JsMsg[], held: WalletChargesHeld): Promise<void> {
  const tell = (m: JsMsg, reason: string, because: string, details: Record<string, unknown>): void => {
    runtime.logger.warn({ ...details, subject: m.subject, seq: m.seq, reason, because }, 'refused wallet charge invoicing cannot bill; held (wallet_charge_refused)');
    held.inc({ reason });
  };
  for (const m of batch) {
    const message = refusedChargeIn(new TextDecoder().decode(m.data), m.seq);
    const label = { key: message.key, chargeId: message.chargeId, billingAccountId: message.billingAccountId };
    try {
      const r = await runtime.orm.em.fork().transactional((em) => takeRefusedCharge(em as Em, message, runtime.clock.now()));
      if (r.outcome === 'HELD' && r.counted) tell(m, r.reason, r.because, label);
      runtime.relay.nudge();
      m.ack();
    } catch (error) {
      const reason = heldReasonOf(error);
      if (!reason) {
        runtime.logger.warn({ err: error, ...label }, 'refused wallet charge failed; it will be redelivered');
        m.nak(1_000);
        continue;
      }
      try {
        const because = (error as Error).message ?? String(error);
        const held = await runtime.orm.em.fork().transactional((em) => holdRefusedCharge(em as Em, message, reason, because, runtime.clock.now()));
        // Its account was learnt meanwhile (its sweep found nothing held yet): tried again, not held.
        if (held === 'account_known') {
          m.nak(0);
          continue;
        }
        if (held) tell(m, reason, because, label);
        m.ack();
      } catch (again) {
        runtime.logger.warn({ err: again, ...label }, 'refused wallet charge could not be held; it will be redelivered');
        m.nak(5_000);
      }
    }
  }
}

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

/**
 * A database error about the data itself (SQLSTATE class 22: too long, out of range, an invalid
 * byte; a NOT NULL or CHECK constraint), not about the database being unavailable: the same
 * messages fail the same way every time.
 */
const isDataError = (error: unknown): boolean => {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' && (code.startsWith('22') || code === '23502' || code === '23514');
};

/** An event about something invoicing does not know yet (a one-off's account): its own event may still be on the way. */
const isNotKnownYet = (error: unknown): boolean => error instanceof DomainError && error.code.endsWith('_NOT_FOUND');

/**
 * An event refused the same way every time it comes: a data error, or one of invoicing's rules
 * (a one-off in another currency than its account's, a chargeId used for another one-off).
 */
const isRefusedEvent = (error: unknown): boolean => isDataError(error) || (error instanceof DomainError && !isNotKnownYet(error));

export function startConsumer(runtime: ServiceRuntime, deps: BillingDeps = NO_DEPS): Promise<() => Promise<void>> {
  const schema = runtime.config.databaseSchema;
  // Tests and end-to-end runs share one NATS: their consumers are their own and start at "now".
  const throwaway = /^(t|e2e)_/.test(schema) || process.env.INVOICING_CONSUMER_DELIVER === 'new';
  const dropped = registerChargeResultsDropped(runtime.metrics);
  const drop: DropCharges = (reason, count, details) => {
    runtime.logger.warn({ ...details, reason, results: count }, 'charge result invoicing cannot record; skipped (the rest of its batch is recorded)');
    dropped.inc({ reason }, count);
  };
  const walletChargesHeld = registerWalletChargesHeld(runtime.metrics);
  const eventsDropped = registerSubscriberEventsDropped(runtime.metrics);
  const dropEvent: DropEvent = (reason, details) => {
    runtime.logger.warn({ ...details, reason }, "subscribers' event invoicing cannot apply; skipped (the rest of its batch is applied)");
    eventsDropped.inc({ reason });
  };
  // What a transaction left out is told once it commits: a batch tried again is not counted twice. Nor is
  // one redelivered: a batch with a one-off whose account is not known yet comes back until it is, and
  // its other events are applied (and left out) again each time. A subscribers' event is one message:
  // told once per stream sequence (the last few thousand kept; after a restart, once more at most).
  const toldEvents = new Set<number>();
  const firstTold = (details: Record<string, unknown>): boolean => {
    const seq = details.seq;
    if (typeof seq !== 'number') return true;
    if (toldEvents.has(seq)) return false;
    toldEvents.add(seq);
    if (toldEvents.size > 10_000) toldEvents.delete(toldEvents.values().next().value!);
    return true;
  };
  const apply = async (messages: Message[]): Promise<void> => {
    const left: Parameters<DropCharges>[] = [];
    const leftEvents: Parameters<DropEvent>[] = [];
    await runtime.orm.em.fork().transactional((em) => applyMessages(em as Em, messages, runtime.clock.now(), (...d) => void left.push(d), (...d) => void leftEvents.push(d), deps));
    // A closed account's final invoice is issued with its events (outbox).
    runtime.relay.nudge();
    for (const d of left) drop(...d);
    for (const d of leftEvents) if (firstTold(d[1])) dropEvent(...d);
  };
  /** Runs `step`; an error `isRefusal` (the same every time) goes to `refused`, anything else is thrown (the batch is redelivered). */
  const unlessRefused = async (step: () => Promise<void>, refused: (error: unknown) => Promise<void> | void, isRefusal = isDataError): Promise<void> => {
    try {
      await step();
    } catch (error) {
      if (!isRefusal(error)) throw error;
      await refused(error);
    }
  };
  /** A message the database refuses as a whole: each of its results alone, and only the refused ones dropped. */
  const applyResultsAlone = async (m: Message): Promise<void> => {
    for (const r of chargeResultsIn(textOf(m), m.seq, drop)) {
      await unlessRefused(
        () => apply([{ subject: m.subject, data: JSON.stringify(r), seq: m.seq }]),
        (error) => drop('unstorable', 1, { err: error, seq: m.seq, chargeId: shown(r.chargeId), billingAccountId: shown(r.billingAccountId), problem: 'the database refuses it' }),
      );
    }
  };
  /**
   * The charges' batch in one transaction; should the database refuse a value the checks before
   * the write did not foresee, each message alone, and a message still refused result by result:
   * only what the database refuses is dropped (and counted), not the batch redelivered for ever
   * while no other postpaid charge is recorded.
   */
  const applyCharges = (batch: Message[]): Promise<void> => unlessRefused(() => apply(batch), async () => {
    for (const m of batch) await unlessRefused(() => apply([m]), () => applyResultsAlone(m));
  });
  /** A subscribers' event refused on its own: left out, logged with its id and type, and counted (once, as above). */
  const dropRefusedEvent = (m: Message, error: unknown): void => {
    const label = { subject: m.subject, seq: m.seq, ...labelOf(textOf(m)) };
    if (!firstTold(label)) return;
    if (error instanceof DomainError) dropEvent('refused', { ...label, code: error.code, problem: error.message });
    else dropEvent('unstorable', { ...label, err: error, problem: `the database refuses it: ${(error as Error)?.message ?? String(error)}` });
  };
  /**
   * The subscribers' batch in one transaction; should the database or invoicing's rules refuse
   * one of its events (what the checks before the write do not foresee), each event alone: only
   * the refused ones are dropped (and counted), not the batch redelivered for ever while invoicing
   * learns of no later account, subscription or one-off. An event about an account not known yet
   * is not dropped: the others are applied, then the batch fails and comes back (what was applied
   * is applied again, idempotently) until its account is there.
   */
  const applyEvents = (batch: Message[]): Promise<void> => unlessRefused(() => apply(batch), async () => {
    let notYet: unknown;
    for (const m of batch) {
      try {
        await unlessRefused(() => apply([m]), (error) => dropRefusedEvent(m, error), isRefusedEvent);
      } catch (error) {
        if (!isNotKnownYet(error)) throw error;
        notYet ??= error;
      }
    }
    if (notYet) throw notYet;
  }, (error) => isRefusedEvent(error) || isNotKnownYet(error));
  return startDurableConsumers(
    runtime,
    CONSUMERS.map((c) => ({
      ...c,
      batchSize: 1000,
      maxAckPending: 20_000,
      ...(c.name === 'budgets'
        ? { settlesItself: true, handle: (batch: JsMsg[]) => applyReplenishments(runtime, batch) }
        : c.name === 'refused_charges'
        ? { settlesItself: true, handle: (batch: JsMsg[]) => applyRefusedCharges(runtime, batch, walletChargesHeld) }
        : {
            handle: async (batch: JsMsg[]) => {
              const wanted = batch.filter((m) => CONSUMED_SUBJECTS.includes(m.subject));
              if (wanted.length === 0) return;
              const messages = wanted.map((m) => ({ subject: m.subject, data: m.data, seq: m.seq }));
              await (c.name === 'charges' ? applyCharges(messages) : applyEvents(messages));
            },
          }),
    })),
    { throwaway },
  );
}
