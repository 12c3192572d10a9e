/**
 * Subscribers' events: the line → subscription → plan version read model (consumer `subscribers`)
 * and who owns each billing account (consumer `owners`, for the read authorization of GraphQL).
 *
 * An event refused as it is (not a CloudEvent, an invalid time, an id or number that the read
 * model cannot store: see domain/line-context.ts) is refused the same way every time: it is
 * logged, counted (`onDropped`, ledgerline_usage_subscriber_events_dropped_total) and acknowledged
 * with its batch, so it never holds back the events after it (a batch that fails is retried until
 * it is stored). Anything else (the database unreachable) fails the batch, which comes back.
 */
import { EVENTS, isCurrencyCode, isTimeZone, parseCloudEvent, type CloudEvent, type LineStateData, type SubscriptionData } from '@ledgerline/contracts';
import type { Logger, Messaging } from '@ledgerline/platform';
import type { LineDirectory } from '../application/line-directory';
import { fillAccountTerms, recordAccountOwner, type AccountTerms } from '../application/record-account-owner';
import type { PartnerAccount } from '../application/reprocess-rejected';
import { accountOwnerProblem, billingAccountIdProblem, lineProblem, normalizeMsisdn, partnerVersionProblem, subscriptionProblem } from '../domain/line-context';
import type { Sql } from '../persistence/sql';
import { consumeBatches } from './jetstream';

/** Why an event was acknowledged without effect: `not_a_cloud_event`, `invalid`. */
export type DropEvent = (subject: string, reason: 'not_a_cloud_event' | 'invalid', details: Record<string, unknown>) => void;

function dropper(logger: Logger, onDropped?: (subject: string, reason: string) => void): DropEvent {
  return (subject, reason, details) => {
    logger.error({ subject, reason, ...details }, "subscribers' event refused; acknowledged without effect");
    onDropped?.(subject, reason);
  };
}

/** The CloudEvent and its time, or undefined (dropped) when it is not one. */
function eventOf(subject: string, payload: string, drop: DropEvent): { event: CloudEvent; at: Date } | undefined {
  let event: CloudEvent;
  try {
    event = parseCloudEvent(payload);
  } catch (error) {
    return void drop(subject, 'not_a_cloud_event', { err: error });
  }
  const at = new Date(event.time);
  if (Number.isNaN(at.getTime())) return void drop(subject, 'invalid', { id: event.id, field: 'time', problem: `time "${String(event.time).slice(0, 40)}" is not a date-time` });
  return { event, at };
}

/** Applies one subscribers event to the read model; returns the line (and number) it was about, if any. */
export async function applySubscriberEvent(directory: LineDirectory, subject: string, payload: string, drop: DropEvent): Promise<{ lineId: string; msisdn?: string | null } | undefined> {
  if (subject !== EVENTS.lineStateChanged.subject && subject !== EVENTS.subscriptionCreated.subject && subject !== EVENTS.subscriptionChanged.subject) return;
  const parsed = eventOf(subject, payload, drop);
  if (!parsed) return;
  const { event, at } = parsed;
  const invalid = (problem: { field: string; message: string }) => void drop(subject, 'invalid', { id: event.id, field: problem.field, problem: problem.message });
  if (typeof event.data !== 'object' || event.data === null) return invalid({ field: 'data', message: 'the event has no data' });
  if (subject === EVENTS.lineStateChanged.subject) {
    const d = event.data as LineStateData;
    const problem = lineProblem(d);
    if (problem) return invalid(problem);
    const msisdn = d.msisdn ? normalizeMsisdn(d.msisdn)! : '';
    await directory.applyLineState({ ...d, msisdn }, at);
    return { lineId: d.lineId, msisdn };
  } else {
    const d = event.data as SubscriptionData;
    const problem = lineProblem({ lineId: d.lineId, billingAccountId: d.billingAccountId, msisdn: d.msisdn, status: 'ACTIVE' }) ?? subscriptionProblem(d, '');
    if (problem) return invalid(problem);
    const msisdn = d.msisdn ? normalizeMsisdn(d.msisdn)! : '';
    await directory.applySubscription({ ...d, msisdn }, at);
    return { lineId: d.lineId, msisdn };
  }
}

/**
 * `onLines`: called once per batch, after its events are applied and before they are acked, with
 * the lines and numbers they were about (usage waiting for them is rated then; see reprocessWaiting).
 */
export function startSubscriberEventsConsumer(
  messaging: Messaging,
  directory: LineDirectory,
  o: { durable: string; deliverNew: boolean; logger: Logger; onLines?: (lines: { lineIds: string[]; msisdns: string[] }) => Promise<unknown>; onDropped?: (subject: string, reason: string) => void },
) {
  const drop = dropper(o.logger, o.onDropped);
  return consumeBatches(messaging, { durable: o.durable, filter: 'billing.subscribers.>', max: 200, deliverNew: o.deliverNew, logger: o.logger }, async (batch) => {
    const lineIds = new Set<string>();
    const msisdns = new Set<string>();
    for (const m of batch) {
      const about = await applySubscriberEvent(directory, m.subject, m.string(), drop);
      if (about) lineIds.add(about.lineId);
      if (about?.msisdn) msisdns.add(about.msisdn);
    }
    if (o.onLines && lineIds.size > 0) await o.onLines({ lineIds: [...lineIds], msisdns: [...msisdns] });
    for (const m of batch) m.ack();
  });
}

/**
 * Records the owner a billingaccount event names (created: always; changed: when it carries a customerId), and the
 * partner it assigns the account to: created's `partnerId` (absent or null: none) as version 0 (or its
 * `partnerVersion`), changed's `partnerId` with its `partnerVersion` (subscribers' updateBillingAccount: the partner
 * assigned, changed or cleared, and every other change carrying it as it is). A changed event naming a partner
 * without a usable version is refused as invalid: it could not be ordered against the others. Returns the account and
 * partner when the event creates the account with a partner (the partner's usage refused meanwhile, while the account's
 * event had not been read, is looked at again: reprocessPartnersRecords).
 */
export async function applyAccountOwnerEvent(sql: Sql, subject: string, payload: string, drop: DropEvent): Promise<PartnerAccount | undefined> {
  if (subject !== EVENTS.billingAccountCreated.subject && subject !== EVENTS.billingAccountChanged.subject) return;
  const parsed = eventOf(subject, payload, drop);
  if (!parsed) return;
  const { event, at } = parsed;
  const d = (typeof event.data === 'object' && event.data !== null ? event.data : {}) as { billingAccountId?: unknown; customerId?: unknown; partnerId?: unknown; partnerVersion?: unknown; currency?: unknown; billCycleDay?: unknown; timezone?: unknown };
  // billingaccount.changed from before 2027-01-29 carries no owner (an account stays with its customer): nothing to record.
  if (subject === EVENTS.billingAccountChanged.subject && d.customerId === undefined) return;
  const created = subject === EVENTS.billingAccountCreated.subject;
  const carriesPartner = created || d.partnerId !== undefined || d.partnerVersion !== undefined;
  const problem = accountOwnerProblem(d) ?? (carriesPartner && (!created || d.partnerVersion !== undefined) ? partnerVersionProblem(d.partnerVersion) : undefined);
  if (problem) return void drop(subject, 'invalid', { id: event.id, field: problem.field, problem: problem.message });
  const partner = carriesPartner ? { partnerId: (d.partnerId as string | null | undefined) || null, version: (d.partnerVersion as number | undefined) ?? 0 } : undefined;
  await recordAccountOwner(sql, d.billingAccountId as string, d.customerId as string, at, partner, accountTermsOf(d));
  // Only an account's creation re-checks the partner's refused records: they were refused because its event came after
  // the line's (the race). A later change (a move to this partner) does not make usage sent before the move the partner's.
  return created && partner?.partnerId ? { billingAccountId: d.billingAccountId as string, partnerId: partner.partnerId } : undefined;
}

/** The terms spend alerts need (currency, bill-cycle day, time zone), those the event carries readably; the rest is left unknown. */
function accountTermsOf(d: { currency?: unknown; billCycleDay?: unknown; timezone?: unknown }): AccountTerms {
  return {
    ...(isCurrencyCode(d.currency) ? { currency: d.currency } : {}),
    ...(Number.isInteger(d.billCycleDay) && (d.billCycleDay as number) >= 1 && (d.billCycleDay as number) <= 31 ? { billCycleDay: d.billCycleDay as number } : {}),
    ...(isTimeZone(d.timezone) && d.timezone.length <= 64 ? { timezone: d.timezone } : {}),
  };
}

/**
 * Consumer `owners`: billing account → customer, from subscribers' billingaccount events. Its own
 * durable (not the `subscribers` one), so that a deployment that adds it reads every account
 * opened before from the stream's start (new durables start there unless USAGE_DELIVER_NEW=1). `onPartners`: called
 * once per batch, after its events are recorded and before they are acked, with the accounts they assigned to a
 * partner (each account and partner once; the partner's usage refused before is rated then: reprocessPartnersRecords).
 */
export function startAccountOwnersConsumer(
  messaging: Messaging,
  sql: Sql,
  o: { durable: string; deliverNew: boolean; logger: Logger; onPartners?: (accounts: PartnerAccount[]) => Promise<unknown>; onDropped?: (subject: string, reason: string) => void },
) {
  const drop = dropper(o.logger, o.onDropped);
  return consumeBatches(messaging, { durable: o.durable, filter: 'billing.subscribers.billingaccount.>', max: 200, deliverNew: o.deliverNew, logger: o.logger }, async (batch) => {
    const assigned = new Map<string, PartnerAccount>();
    for (const m of batch) {
      const a = await applyAccountOwnerEvent(sql, m.subject, m.string(), drop);
      if (a) assigned.set(`${a.billingAccountId}\u0000${a.partnerId}`, a);
    }
    if (o.onPartners && assigned.size > 0) await o.onPartners([...assigned.values()]);
    for (const m of batch) m.ack();
  });
}

/**
 * Fills in the terms (currency, bill-cycle day, time zone) of an account `owners` recorded without them, from its
 * billingaccount.created. Quiet about events it cannot read: `owners` reads the same ones and reports them.
 */
export async function applyAccountTermsEvent(sql: Sql, subject: string, payload: string): Promise<boolean> {
  if (subject !== EVENTS.billingAccountCreated.subject) return false;
  let event: CloudEvent;
  try {
    event = parseCloudEvent(payload);
  } catch {
    return false;
  }
  const d = (typeof event.data === 'object' && event.data !== null ? event.data : {}) as { billingAccountId?: unknown; currency?: unknown; billCycleDay?: unknown; timezone?: unknown };
  if (billingAccountIdProblem(d.billingAccountId)) return false;
  return fillAccountTerms(sql, d.billingAccountId as string, accountTermsOf(d));
}

/**
 * Consumer of billingaccount.created for the accounts' terms, on a durable of its own (run with `owners`): `owners`
 * keeps the terms since 2027-01-31 (spend alerts' bill periods), but had read and acked the created event of every
 * account opened before - their rows have none, and their alerts counted calendar months in UTC. A new durable reads
 * the stream from its start (as `owners` did when it was added), so an upgraded deployment learns them once; after
 * that each created event finds its row complete (or not there yet: `owners` records it with its terms) and changes
 * nothing. The rating path reads an account's terms with its alerts: within USAGE_SPEND_ALERT_CACHE_MS of learning them.
 */
export function startAccountTermsConsumer(messaging: Messaging, sql: Sql, o: { durable: string; deliverNew: boolean; logger: Logger }) {
  return consumeBatches(messaging, { durable: o.durable, filter: EVENTS.billingAccountCreated.subject, max: 200, deliverNew: o.deliverNew, logger: o.logger }, async (batch) => {
    let learnt = 0;
    for (const m of batch) if (await applyAccountTermsEvent(sql, m.subject, m.string())) learnt++;
    if (learnt > 0) o.logger.info({ accounts: learnt }, "billing accounts' bill cycles learnt from billingaccount.created read again (spend alerts count their bill periods)");
    for (const m of batch) m.ack();
  });
}
